/**
 * Several egresslab replicas on this machine, as the multi-replica tests and the benchmark run them: a throwaway
 * Postgres and redis-server, N `egresslab serve` child processes (the real entry point) on loopback ports sharing one
 * data directory and one database, and the cookie-affinity proxy in front. Each child's output is kept, to print when
 * a test fails (`logs()`).
 *
 *   const set = await startReplicas({ replicas: 3 });
 *   const l = new StickyLearner(set.url);     // cookies as a browser keeps them
 *   await set.kill("r2");                      // SIGKILL
 *   await set.restart("r2");
 *   await set.stop();
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { execa, type ResultPromise } from "execa";
import { environment } from "../../server/src/config/options.ts";
import { readOrCreateSecretFile, serverSecretFile } from "../../server/src/sessions/credentials.ts";
import {
  createAffinityProxy,
  replicaCookie,
  type AffinityProxy,
  type RouteEvent,
} from "../../server/src/scale/affinity-proxy.ts";
import { freePort, startPostgres, startRedis, type PostgresServer, type RedisServer } from "./services.ts";
import { Learner } from "../integration/web-client.ts";

const root = path.join(import.meta.dirname, "..", "..");
const logCap = 256 * 1024;

export interface ReplicaSetOptions {
  /** How many replicas (named r1, r2, …), or their names. */
  replicas: number | string[];
  /** The lab (default the egress workshop). */
  lab?: string;
  /** `--capacity` of each replica (the workshop's room, counted in the shared database). */
  capacity?: number;
  /** `--pool`: warm clusters each replica keeps (default 2). */
  pool?: number;
  /** Learners' shells: plain local shells (default, as the benchmarks run them) or the bubblewrap sandbox. */
  shell?: "local" | "bwrap";
  /** The instructor token of every replica (default a fixed test token). */
  instructorToken?: string;
  /** More `serve` options, and more environment, for every replica. */
  args?: string[];
  env?: Record<string, string>;
  /** Start Redis (default true) and give it to the replicas (`EGRESSLAB_REDIS`). */
  redis?: boolean;
  /** How often the proxy checks replicas (default 1000 ms). */
  healthIntervalMs?: number;
  /** Every request the proxy routes (tests record where each learner went). */
  onRoute?: (e: RouteEvent) => void;
}

export interface ReplicaInfo {
  name: string;
  /** The replica's own address (not through the proxy). */
  url: string;
  port: number;
  /** Its process id while it runs. */
  pid: number | undefined;
  running: boolean;
}

export interface ReplicaSet {
  /** The proxy's address: where attendees go. */
  url: string;
  names: string[];
  replica(name: string): ReplicaInfo;
  proxy: AffinityProxy;
  postgres: PostgresServer;
  redis: RedisServer | undefined;
  databaseUrl: string;
  dataDir: string;
  instructorToken: string;
  /** Sends `signal` (default SIGKILL) to a replica and waits until it is gone. */
  kill(name: string, signal?: NodeJS.Signals): Promise<void>;
  /** Starts a stopped replica again on its port (stops it first with SIGTERM when it runs); resolves once ready. */
  restart(name: string): Promise<void>;
  /** Every replica's output so far (or one's), with a header per replica. */
  logs(name?: string): string;
  /** Stops the replicas, the proxy, Redis and Postgres, and removes the data. */
  stop(): Promise<void>;
}

interface Child {
  info: ReplicaInfo;
  proc?: ResultPromise;
  log: string;
}

/** Starts the services, the replicas (all at once) and the proxy; resolves when every replica is ready. */
export async function startReplicas(opts: ReplicaSetOptions): Promise<ReplicaSet> {
  const names =
    typeof opts.replicas === "number"
      ? Array.from({ length: opts.replicas }, (_, i) => `r${i + 1}`)
      : opts.replicas;
  const dir = mkdtempSync(path.join(tmpdir(), "egl-replicas-"));
  const dataDir = path.join(dir, "data");
  // Made once before the replicas start, so they do not race to create different ones.
  readOrCreateSecretFile(serverSecretFile(dataDir));
  const instructorToken = opts.instructorToken ?? "replicas-instructor-token";
  const postgres = await startPostgres();
  let redis: RedisServer | undefined;
  const children = new Map<string, Child>();
  let proxy: AffinityProxy | undefined;
  const stopAll = async (): Promise<void> => {
    await Promise.all([...children.values()].map((c) => stopChild(c, "SIGTERM")));
    await proxy?.close();
    await redis?.stop();
    postgres.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const databaseUrl = postgres.createDatabase("egresslab");
    if (opts.redis !== false) redis = await startRedis();
    for (const name of names) {
      const port = await freePort();
      children.set(name, {
        info: { name, url: `http://127.0.0.1:${port}`, port, pid: undefined, running: false },
        log: "",
      });
    }
    const launch = (c: Child): Promise<void> => {
      const args = [
        "serve",
        "--port",
        String(c.info.port),
        "--host",
        "127.0.0.1",
        "--data",
        dataDir,
        "--database",
        databaseUrl,
        "--trust-proxy",
        "--instructor-token",
        instructorToken,
        "--pool",
        String(opts.pool ?? 2),
        "--lab",
        opts.lab ?? "egress-workshop",
        ...(opts.capacity !== undefined ? ["--capacity", String(opts.capacity)] : []),
        ...(opts.shell === "bwrap" ? [] : ["--local"]),
        ...(opts.args ?? []),
      ];
      const proc = execa(process.execPath, [path.join(root, "scripts", "egresslab.mjs"), ...args], {
        cwd: dir,
        env: {
          ...environment(),
          // Replica identity, how others reach it, and the event bus: options of serve that read these variables
          // take them; until then they are ignored.
          EGRESSLAB_REPLICA: c.info.name,
          EGRESSLAB_ADVERTISE: c.info.url,
          ...(redis ? { EGRESSLAB_REDIS: redis.url } : {}),
          EGRESSLAB_LOG_LEVEL: "info",
          ...opts.env,
        },
        extendEnv: false,
        reject: false,
        stdin: "ignore",
        all: true,
      });
      c.proc = proc;
      c.info.pid = proc.pid;
      c.info.running = true;
      c.log += `--- ${c.info.name} started (pid ${proc.pid}) at ${new Date().toISOString()}\n`;
      const keep = (b: Buffer): void => {
        c.log += b.toString();
        if (c.log.length > logCap) c.log = c.log.slice(-logCap);
      };
      proc.all!.on("data", keep);
      void proc.then((r) => {
        c.info.running = false;
        c.info.pid = undefined;
        c.log += `--- ${c.info.name} exited (${r.signal ?? r.exitCode}) at ${new Date().toISOString()}\n`;
      });
      return new Promise<void>((resolve, reject) => {
        let out = "";
        const onData = (b: Buffer): void => {
          out += b.toString();
          if (out.includes("egresslab: open ")) {
            proc.stdout!.off("data", onData);
            resolve();
          }
        };
        proc.stdout!.on("data", onData);
        void proc.then((r) =>
          reject(
            new Error(
              `replica ${c.info.name} exited before it was ready (${r.signal ?? r.exitCode}):\n${c.log}`,
            ),
          ),
        );
      }).then(() => waitReady(c));
    };
    const waitReady = async (c: Child): Promise<void> => {
      const t0 = Date.now();
      for (;;) {
        try {
          const r = await fetch(`${c.info.url}/readyz`);
          if (r.status === 200) return;
        } catch {
          // Not listening yet.
        }
        if (!c.info.running) throw new Error(`replica ${c.info.name} exited:\n${c.log}`);
        if (Date.now() - t0 > 120_000)
          throw new Error(`replica ${c.info.name} not ready in 120 s:\n${c.log}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    await Promise.all([...children.values()].map(launch));
    proxy = createAffinityProxy({
      backends: [...children.values()].map((c) => ({ name: c.info.name, url: c.info.url })),
      healthIntervalMs: opts.healthIntervalMs ?? 1000,
      ...(opts.onRoute ? { onRoute: opts.onRoute } : {}),
    });
    const url = await proxy.listen(0, "127.0.0.1");
    const p = proxy;
    const child = (name: string): Child => {
      const c = children.get(name);
      if (!c) throw new Error(`no replica ${name} (there are ${names.join(", ")})`);
      return c;
    };
    return {
      url,
      names,
      replica: (name) => ({ ...child(name).info }),
      proxy: p,
      postgres,
      redis,
      databaseUrl,
      dataDir,
      instructorToken,
      kill: (name, signal = "SIGKILL") => stopChild(child(name), signal),
      async restart(name) {
        const c = child(name);
        await stopChild(c, "SIGTERM");
        await launch(c);
        await p.checkNow();
      },
      logs(name) {
        return [...children.values()]
          .filter((c) => name === undefined || c.info.name === name)
          .map((c) => `===== replica ${c.info.name} (${c.info.url}) =====\n${c.log}`)
          .join("\n");
      },
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

/** Signals a replica and waits for it to exit (SIGKILL after 10 s of a gentler signal). */
async function stopChild(c: Child, signal: NodeJS.Signals): Promise<void> {
  const proc = c.proc;
  if (!proc || !c.info.running) return;
  proc.kill(signal);
  const late = signal === "SIGKILL" ? undefined : setTimeout(() => proc.kill("SIGKILL"), 10_000);
  await proc;
  if (late) clearTimeout(late);
}

/**
 * A learner whose cookies are kept as a browser keeps them (every cookie the servers or the proxy set, by name), so
 * the affinity cookie travels with the session cookie on HTTP requests and on the socket.
 */
export class StickyLearner extends Learner {
  readonly jar = new Map<string, string>();

  /** The replica the affinity cookie names. */
  get replica(): string | undefined {
    return this.jar.get(replicaCookie);
  }

  override async call(
    method: string,
    apiPath: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): ReturnType<Learner["call"]> {
    const res = await fetch(this.base + apiPath, {
      method,
      headers: {
        ...(body !== undefined ? { "Content-Type": "application/json" } : {}),
        ...(this.cookie ? { Cookie: this.cookie } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
    });
    for (const set of res.headers.getSetCookie()) {
      const pair = set.split(";")[0]!;
      const eq = pair.indexOf("=");
      if (eq <= 0) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      if (/;\s*max-age=0/i.test(set) || value === "") this.jar.delete(name);
      else this.jar.set(name, value);
    }
    this.cookie = [...this.jar].map(([k, v]) => `${k}=${v}`).join("; ");
    const text = await res.text();
    return { status: res.status, json: text ? JSON.parse(text) : undefined, headers: res.headers };
  }
}
