/**
 * Throwaway Postgres and Redis servers for the tests of several replicas: Debian's postgresql and redis-server,
 * started on loopback with their data in a temp directory, and removed afterwards. Postgres refuses to run as root,
 * so as root it runs as the `postgres` user the Debian package creates.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir, userInfo } from "node:os";
import path from "node:path";

/** A free TCP port on loopback (free now; the server started next binds it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      s.close(() => (typeof a === "object" && a ? resolve(a.port) : reject(new Error("no port"))));
    });
  });
}

/** Debian's Postgres programs (the newest major installed). */
export function postgresBin(): string {
  const root = "/usr/lib/postgresql";
  const majors = existsSync(root)
    ? readdirSync(root)
        .filter((d) => /^\d+$/.test(d))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (!majors.length) throw new Error("Postgres is not installed: apt-get install postgresql");
  return path.join(root, majors[0]!, "bin");
}

const asRoot = (): boolean => process.getuid?.() === 0;

/** Runs a Postgres program, as the `postgres` user when we are root. */
function pgRun(program: string, args: string[]): void {
  const bin = path.join(postgresBin(), program);
  if (asRoot()) execFileSync("runuser", ["-u", "postgres", "--", bin, ...args], { stdio: "pipe" });
  else execFileSync(bin, args, { stdio: "pipe" });
}

export interface PostgresServer {
  url: string;
  port: number;
  /** Creates an empty database and returns its URL. */
  createDatabase(name: string): string;
  stop(): void;
}

/**
 * Starts a Postgres server on loopback with its data in a new temp directory. Tests run it without fsync; `durable`
 * keeps Postgres's default (a commit is on disk when it returns), for benchmarks of what a commit costs.
 */
export async function startPostgres(opts: { durable?: boolean } = {}): Promise<PostgresServer> {
  const dir = mkdtempSync(path.join(tmpdir(), "egl-pg-"));
  const data = path.join(dir, "data");
  if (asRoot()) {
    const ids = execFileSync("id", ["-u", "postgres"]).toString().trim();
    const gid = execFileSync("id", ["-g", "postgres"]).toString().trim();
    chownSync(dir, Number(ids), Number(gid));
  }
  const user = "egresslab";
  pgRun("initdb", ["-D", data, "-A", "trust", "-U", user, "--no-sync", "-E", "UTF8"]);
  const port = await freePort();
  pgRun("pg_ctl", [
    "-D",
    data,
    "-l",
    path.join(dir, "log"),
    "-w",
    "-o",
    `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1${opts.durable ? "" : " -c fsync=off"} -c max_connections=200`,
    "start",
  ]);
  const base = `postgres://${user}@127.0.0.1:${port}`;
  return {
    url: `${base}/postgres`,
    port,
    createDatabase(name) {
      if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`bad database name ${name}`);
      pgRun("createdb", ["-h", "127.0.0.1", "-p", String(port), "-U", user, name]);
      return `${base}/${name}`;
    },
    stop() {
      try {
        pgRun("pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"]);
      } catch {
        // Already gone.
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface RedisServer {
  url: string;
  port: number;
  /** Stops the server (SIGKILL, as a crash) and starts it again on the same port with the same data. */
  restart(downMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/** Starts redis-server on loopback (append-only file in a temp directory, so a restart keeps the streams). */
export async function startRedis(): Promise<RedisServer> {
  const dir = mkdtempSync(path.join(tmpdir(), "egl-redis-"));
  const port = await freePort();
  let child: ChildProcess | undefined;
  const launch = async (): Promise<void> => {
    const c = spawn(
      "redis-server",
      [
        "--port",
        String(port),
        "--bind",
        "127.0.0.1",
        "--dir",
        dir,
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
        "--save",
        "",
        ...(asRoot() ? [] : []),
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    child = c;
    await new Promise<void>((resolve, reject) => {
      let out = "";
      const onData = (b: Buffer): void => {
        out += b.toString();
        if (/Ready to accept connections/.test(out)) {
          c.stdout?.off("data", onData);
          c.stdout?.resume();
          resolve();
        }
      };
      c.stdout?.on("data", onData);
      c.stderr?.resume();
      c.once("exit", (code) => reject(new Error(`redis-server exited (${code}): ${out}`)));
    });
  };
  await launch();
  const kill = async (): Promise<void> => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null) return;
    const gone = new Promise((r) => c.once("exit", r));
    c.kill("SIGKILL");
    await gone;
  };
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    async restart(downMs = 500) {
      await kill();
      await new Promise((r) => setTimeout(r, downMs));
      await launch();
    },
    async stop() {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The user name tests run as (for messages). */
export const whoami = (): string => userInfo().username;
