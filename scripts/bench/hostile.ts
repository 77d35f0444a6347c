/**
 * Hostile-input benchmark. A real server (this file with `--bench-server`, in a child process so that its event-loop
 * delay is its own) on the simulated provider; 20 attendees with terminals type a key every 50 ms and time its echo,
 * `/healthz` is fetched every 50 ms, and a 21st attendee sends one pathological input after another against its own
 * cluster: a regex bomb and an endless loop inside a pod (`kubectl exec`), a 256 KiB protobuf body of 0xff bytes,
 * JSON nested 100,000 deep, a YAML alias bomb, a label selector of 100,000 `(`, and `%ZZ` in paths.
 *
 * For each input: the server's event-loop delay p99 (perf_hooks.monitorEventLoopDelay), the 20 attendees' keystroke
 * echo p50/p99, `/healthz` p99, and what the input's own requests answered. Nothing here asserts a time.
 */
import { fork, type ChildProcess } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import https from "node:https";
import { cpus, loadavg, tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { execa } from "execa";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import { Learner, TermWatcher, connected, type TestSocket } from "../../test/integration/web-client.ts";

const self = fileURLToPath(import.meta.url);
const root = path.resolve(path.dirname(self), "..", "..");
const ATTENDEES = 20;

type ToChild = { cmd: "eld" } | { cmd: "reset-eld" };
type FromChild =
  | { url: string; dataDir: string; apiOrigin?: string }
  | { eld: { p50: number; p99: number; max: number } }
  | { ok: true };

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
};
const ms = (n: number): string => (Number.isNaN(n) ? "n/a" : `${n.toFixed(1)} ms`);
const sleep = (t: number): Promise<void> => new Promise((r) => setTimeout(r, t));

async function serverMain(pool: number): Promise<void> {
  const { startWorkshopServer } = await import("../../server/src/http/server.ts");
  const { createProvider } = await import("../../server/src/providers/select.ts");
  const { loadLab } = await import("../../server/src/labs/index.ts");
  const grading = await import("../../server/src/grading/index.ts");
  const { labRunner } = await import("../../server/src/sessions/lab-runner.ts");
  const dataDir = mkdtempSync(path.join(tmpdir(), "egl-bench-hostile-"));
  // The histogram records whole timer intervals: subtract the resolution to get the delay.
  const resolution = 5;
  const eld = monitorEventLoopDelay({ resolution });
  eld.enable();
  const lab = await loadLab(path.join(root, "test", "e2e", "fixtures", "mini-lab"));
  const provider = await createProvider({ provider: "sim", dataDir });
  // Learners' kubeconfigs name the forwarder inside their sandbox; the bench reaches the simulated API directly.
  const apiOrigin = (provider as { simHost?: { url?: unknown } }).simHost?.url;
  const server = await startWorkshopServer({
    port: 0, host: "127.0.0.1", dataDir, provider,
    lab: labRunner(lab, grading), local: true, idleTimeoutSeconds: 3600, pool,
    joinRate: { burst: 1000, perMinute: 6000 },
  }); // prettier-ignore
  const send = (m: FromChild): void => void process.send?.(m);
  process.on("message", (m: ToChild) => {
    if (m.cmd === "eld") {
      const d = (p: number): number => Math.max(0, eld.percentile(p) / 1e6 - resolution);
      send({ eld: { p50: d(50), p99: d(99), max: Math.max(0, eld.max / 1e6 - resolution) } });
    } else {
      eld.reset();
      send({ ok: true });
    }
  });
  process.on("disconnect", () => {
    void server.close().finally(() => {
      rmSync(dataDir, { recursive: true, force: true });
      process.exit(0);
    });
  });
  send({
    url: server.url,
    dataDir,
    ...(typeof apiOrigin === "string" ? { apiOrigin: new URL(apiOrigin).origin } : {}),
  });
}

class Child {
  private readonly proc: ChildProcess;
  private waiters: ((m: FromChild) => void)[] = [];
  constructor(pool: number) {
    this.proc = fork(self, ["--bench-server", String(pool)], {
      execArgv: ["--import", "tsx"],
      stdio: ["ignore", "ignore", "inherit", "ipc"],
    });
    this.proc.on("message", (m: FromChild) => this.waiters.shift()?.(m));
  }
  next(): Promise<FromChild> {
    return new Promise((r) => this.waiters.push(r));
  }
  ask(m: ToChild): Promise<FromChild> {
    const p = this.next();
    this.proc.send(m);
    return p;
  }
  stop(): Promise<void> {
    return new Promise((r) => {
      this.proc.once("exit", () => r());
      this.proc.disconnect();
    });
  }
}

async function attach(l: Learner): Promise<{ s: TestSocket; w: TermWatcher }> {
  const s = l.socket();
  const w = new TermWatcher(s);
  await connected(s);
  s.on("term:output", (o) => s.emit("term:ack", { end: o.end }));
  s.emit("term:attach", { cols: 120, rows: 30 });
  await w.waitText(/learner@egresslab:~\/stage-0\$ $/, 60_000);
  return { s, w };
}

/** Where the current figures go: the phase (input) running now. */
interface Phase {
  echo: number[];
  health: number[];
}

/** One attendee typing: a key every 50 ms, its echo timed; the line is cleared every 20 keys. */
async function typist(s: TestSocket, phase: () => Phase, stop: () => boolean): Promise<void> {
  for (let i = 0; !stop(); i++) {
    const ch = String.fromCharCode(97 + (i % 26));
    const t = performance.now();
    const echoed = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        s.off("term:output", on);
        resolve(false);
      }, 30_000);
      const on = (o: { data: string }): void => {
        if (!o.data.includes(ch)) return;
        clearTimeout(timer);
        s.off("term:output", on);
        resolve(true);
      };
      s.on("term:output", on);
    });
    s.emit("term:input", { data: ch });
    const at = phase();
    if (await echoed) at.echo.push(performance.now() - t);
    else at.echo.push(30_000);
    if (i % 20 === 19) s.emit("term:input", { data: "\x15" });
    await sleep(50);
  }
}

async function prober(url: string, phase: () => Phase, stop: () => boolean): Promise<void> {
  while (!stop()) {
    const at = phase();
    const t = performance.now();
    try {
      await (await fetch(url + "/healthz", { signal: AbortSignal.timeout(60_000) })).text();
    } catch {
      // counted as the time it took
    }
    at.health.push(performance.now() - t);
    await sleep(50);
  }
}

interface Api {
  server: string;
  token: string;
  ca: Buffer;
  kubeconfig: string;
}

/**
 * The newest learner's kubeconfig (the attacker joins last), pointed at the simulated API's own address when the
 * learner's names the forwarder inside the sandbox; written to `dir` for kubectl.
 */
function attackerApi(dataDir: string, dir: string, apiOrigin: string | undefined): Api {
  const learners = path.join(dataDir, "learners");
  const newest = readdirSync(learners)
    .map((d) => path.join(learners, d, "home", ".kube", "config"))
    .filter((f) => {
      try {
        return statSync(f).isFile();
      } catch {
        return false;
      }
    })
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0];
  if (!newest) throw new Error("no learner kubeconfig found");
  const kc = parseYaml(readFileSync(newest, "utf8")) as {
    clusters: { cluster: { server: string; "certificate-authority-data": string } }[];
    users: { user: { token: string } }[];
  };
  const cluster = kc.clusters[0]!.cluster;
  if (apiOrigin) cluster.server = apiOrigin + new URL(cluster.server).pathname.replace(/\/$/, "");
  const kubeconfig = path.join(dir, "kubeconfig");
  writeFileSync(kubeconfig, stringifyYaml(kc), { mode: 0o600 });
  return {
    server: cluster.server,
    token: kc.users[0]!.user.token,
    ca: Buffer.from(cluster["certificate-authority-data"], "base64"),
    kubeconfig,
  };
}

/** One request to the attacker's cluster API: its status and time. */
function request(
  api: Api,
  method: string,
  p: string,
  body?: Buffer | string,
  contentType = "application/json",
): Promise<{ status: number; ms: number }> {
  const u = new URL(api.server + p);
  const t = performance.now();
  return new Promise((resolve) => {
    const req = https.request(
      {
        method,
        host: u.hostname,
        port: u.port,
        // The path as given: `%ZZ` must reach the server undecoded.
        path: api.server.slice(u.origin.length) + p,
        ca: api.ca,
        headers: {
          Authorization: `Bearer ${api.token}`,
          ...(body !== undefined
            ? { "Content-Type": contentType, "Content-Length": Buffer.byteLength(body) }
            : {}),
        },
        timeout: 120_000,
      },
      (res) => {
        res.resume();
        res.on("end", () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - t }));
      },
    );
    req.on("error", () => resolve({ status: -1, ms: performance.now() - t }));
    req.on("timeout", () => req.destroy());
    req.end(body);
  });
}

function kubectl(api: Api, home: string, args: string[], timeoutMs: number) {
  return execa("kubectl", ["--kubeconfig", api.kubeconfig, ...args], {
    env: { HOME: home, PATH: process.env.PATH ?? "" },
    extendEnv: false,
    reject: false,
    timeout: timeoutMs,
  });
}

interface Attack {
  name: string;
  /** Sends the input (a few times); returns a line about what the server answered. */
  run(api: Api, home: string): Promise<string>;
}

const summary = (rs: { status: number; ms: number }[]): string => {
  const codes = [...new Set(rs.map((r) => r.status))].join("/");
  return `${rs.length}× → HTTP ${codes}, slowest ${ms(Math.max(...rs.map((r) => r.ms)))}`;
};

async function repeat(n: number, f: () => Promise<{ status: number; ms: number }>) {
  const out: { status: number; ms: number }[] = [];
  for (let i = 0; i < n; i++) out.push(await f());
  return out;
}

function yamlAliasBomb(): string {
  const lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
  let prev = "a";
  for (const k of "bcdefghi") {
    lines.push(`${k}: &${k} [${Array(9).fill(`*${prev}`).join(",")}]`);
    prev = k;
  }
  return lines.join("\n") + "\n";
}

const ATTACKS: Attack[] = [
  { name: "none (baseline)", run: async () => (await sleep(1000), "—") },
  {
    name: "regex bomb in a pod: echo a×28! | grep -E '(a+)+$' (and a×5000)",
    run: async (api, home) => {
      const out: string[] = [];
      for (const n of [28, 28, 5000, 5000]) {
        const t = performance.now();
        const r = await kubectl(api, home, ["exec", "bomb", "--", "sh", "-c", `echo ${"a".repeat(n)}! | grep -E '(a+)+$'; echo $?`], 120_000); // prettier-ignore
        out.push(`${n}: exit ${r.stdout.trim()} in ${ms(performance.now() - t)}`);
      }
      return out.join(", ");
    },
  },
  {
    name: "endless loop in a pod: sh -c 'while true; do :; done' for 5 s",
    run: async (api, home) => {
      const r = await kubectl(api, home, ["exec", "bomb", "--", "sh", "-c", "while true; do :; done"], 5000);
      return `kubectl ${r.timedOut ? "stopped after 5 s" : `ended: ${r.exitCode}`}`;
    },
  },
  {
    name: "256 KiB protobuf body of 0xff bytes (POST configmaps)",
    run: async (api) =>
      summary(await repeat(3, () => request(api, "POST", "/api/v1/namespaces/default/configmaps", Buffer.alloc(256 * 1024, 0xff), "application/vnd.kubernetes.protobuf"))), // prettier-ignore
  },
  {
    name: "JSON nested 100,000 deep (POST configmaps)",
    run: async (api) =>
      summary(await repeat(3, () => request(api, "POST", "/api/v1/namespaces/default/configmaps", `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"deep"},"data":{"a":${"[".repeat(100_000)}${"]".repeat(100_000)}}}`))), // prettier-ignore
  },
  {
    name: "YAML alias bomb, 9 levels of 9 (POST configmaps)",
    run: async (api) =>
      summary(await repeat(3, () => request(api, "POST", "/api/v1/namespaces/default/configmaps", yamlAliasBomb(), "application/yaml"))), // prettier-ignore
  },
  {
    name: "label selector of 100,000 '(' (GET pods)",
    run: async (api) =>
      summary(await repeat(3, () => request(api, "GET", `/api/v1/namespaces/default/pods?labelSelector=${"(".repeat(100_000)}`))), // prettier-ignore
  },
  {
    name: "%ZZ in paths (GET /api/v1/namespaces/%ZZ/pods ×200)",
    run: async (api) => summary(await repeat(200, () => request(api, "GET", "/api/v1/namespaces/%ZZ/pods"))),
  },
];

export async function run(): Promise<void> {
  const joins = ATTENDEES + 1;
  const child = new Child(joins);
  const { url, dataDir, apiOrigin } = (await child.next()) as {
    url: string;
    dataDir: string;
    apiOrigin?: string;
  };
  const kubeHome = mkdtempSync(path.join(tmpdir(), "egl-bench-kube-"));
  let stopping = false;
  try {
    for (let t0 = Date.now(); Date.now() - t0 < 300_000;) {
      const h = (await (await fetch(url + "/healthz")).json()) as { pool: number };
      if (h.pool >= joins) break;
      await sleep(500);
    }
    const terms: TestSocket[] = [];
    for (let i = 0; i < ATTENDEES; i++) {
      const l = new Learner(url);
      await l.join(`typist-${i}`);
      terms.push((await attach(l)).s);
    }
    const attacker = new Learner(url);
    await attacker.join("attacker");
    const api = attackerApi(dataDir, kubeHome, apiOrigin);
    const pod = await request(api, "POST", "/api/v1/namespaces/default/pods", JSON.stringify({
      apiVersion: "v1", kind: "Pod", metadata: { name: "bomb" },
      spec: { containers: [{ name: "c", image: "busybox:1.36", command: ["sleep", "3600"] }] },
    })); // prettier-ignore
    if (pod.status !== 201) throw new Error(`could not create the attacker's pod: HTTP ${pod.status}`);
    await kubectl(api, kubeHome, ["wait", "--for=condition=Ready", "pod/bomb", "--timeout=60s"], 90_000);

    let current: Phase = { echo: [], health: [] };
    const workers = [
      ...terms.map((s) =>
        typist(
          s,
          () => current,
          () => stopping,
        ),
      ),
      prober(
        url,
        () => current,
        () => stopping,
      ),
    ];
    await sleep(2000); // warm up
    process.stdout.write(
      `${ATTENDEES} attendees typing a key every 50 ms, /healthz every 50 ms; a 21st sends each input (targets: echo and /healthz p99 < 100 ms, event-loop delay p99 < 50 ms)\n`,
    );
    for (const a of ATTACKS) {
      current = { echo: [], health: [] };
      await child.ask({ cmd: "reset-eld" });
      // Each input is sent again and again for at least 4 s, so that every figure has enough samples.
      const t = performance.now();
      let said = "";
      let rounds = 0;
      do {
        said = await a.run(api, kubeHome);
        rounds++;
      } while (performance.now() - t < 4000);
      const took = performance.now() - t;
      await sleep(500); // let the echoes of keys typed during the input arrive
      const eld = ((await child.ask({ cmd: "eld" })) as { eld: { p50: number; p99: number; max: number } })
        .eld;
      const p = current;
      process.stdout.write(
        `- ${a.name}: event-loop delay p99 ${ms(eld.p99)} (max ${ms(eld.max)}); echo p50 ${ms(pct(p.echo, 50))}, p99 ${ms(pct(p.echo, 99))} (${p.echo.length} keys); /healthz p99 ${ms(pct(p.health, 99))} (${p.health.length}); ${rounds} round(s) in ${(took / 1000).toFixed(1)} s, the last: ${said}\n`,
      );
    }
    process.stdout.write(`machine load average ${loadavg()[0]!.toFixed(1)} on ${cpus().length} cores\n`);
    stopping = true;
    await Promise.race([Promise.all(workers), sleep(35_000)]);
    for (const s of terms) s.close();
  } finally {
    stopping = true;
    rmSync(kubeHome, { recursive: true, force: true });
    await child.stop();
  }
}

const at = process.argv.indexOf("--bench-server");
if (at >= 0) {
  void serverMain(Number(process.argv[at + 1] ?? 0));
} else if (process.argv[1] === self) {
  await run();
}
