/**
 * Web server benchmark. The server runs in a child process (this file, with `--bench-server`) so that its event-loop
 * delay and memory are its own; the learners are socket.io clients in this process.
 *
 *   1. join → terminal prompt (median, p95) with a warm pool, on the simulated provider;
 *   2. keystroke echo round trip (median, p95);
 *   3. 200 learners connected with terminals and flow streams (flows arriving live): server memory and event-loop
 *      delay p99 (perf_hooks.monitorEventLoopDelay), on a provider double so the figure is the web server's.
 */
import { fork, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { Learner, TermWatcher, connected, type TestSocket } from "../../test/integration/web-client.ts";

const self = fileURLToPath(import.meta.url);
const root = path.resolve(path.dirname(self), "..", "..");

interface Stats {
  rss: number;
  heapUsed: number;
  eldP50: number;
  eldP99: number;
  terminals: number;
}

type ToChild = { cmd: "stats" } | { cmd: "reset-eld" } | { cmd: "push-flows"; perCluster: number };
type FromChild = { url: string } | { stats: Stats } | { ok: true };

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
};
const ms = (n: number): string => `${n.toFixed(1)} ms`;
const mib = (n: number): string => `${(n / 1024 / 1024).toFixed(0)} MiB`;

async function serverMain(mode: "sim" | "double", pool: number): Promise<void> {
  const { startWorkshopServer } = await import("../../server/src/http/server.ts");
  const dataDir = mkdtempSync(path.join(tmpdir(), "egl-bench-web-"));
  // The histogram records whole timer intervals: subtract the resolution to get the delay.
  const resolution = 5;
  const eld = monitorEventLoopDelay({ resolution });
  eld.enable();
  let push: ((perCluster: number) => void) | undefined;
  let server;
  if (mode === "sim") {
    const { createProvider } = await import("../../server/src/providers/select.ts");
    const { loadLab } = await import("../../server/src/labs/index.ts");
    const grading = await import("../../server/src/grading/index.ts");
    const { labRunner } = await import("../../server/src/sessions/lab-runner.ts");
    const lab = await loadLab(path.join(root, "test", "e2e", "fixtures", "mini-lab"));
    server = await startWorkshopServer({
      port: 0, host: "127.0.0.1", dataDir, provider: await createProvider({ provider: "sim", dataDir }),
      lab: labRunner(lab, grading), local: true, idleTimeoutSeconds: 3600, pool,
    }); // prettier-ignore
  } else {
    const { FakeProvider, fakeLab } = await import("../../test/integration/web-doubles.ts");
    const provider = new FakeProvider();
    server = await startWorkshopServer({
      port: 0, host: "127.0.0.1", dataDir, provider, lab: fakeLab(provider), local: true, idleTimeoutSeconds: 3600,
      pool, checkRate: { burst: 100, perMinute: 600 }, joinRate: { burst: 1000, perMinute: 6000 },
    }); // prettier-ignore
    let n = 0;
    push = (perCluster) => {
      for (const id of provider.clusters.keys())
        for (let i = 0; i < perCluster; i++)
          provider.push(id, {
            source_namespace: "shop", source_name: `w${n % 7}-*`, dest_type: "net", dest_name: "pub",
            dest_domains: [`d${n++ % 40}.example`], dest_port: 443, action: n % 3 ? "allow" : "deny", reporter: "src",
            end_time: Math.floor(Date.now() / 1000), num_flows_started: 1,
          }); // prettier-ignore
    };
  }
  const send = (m: FromChild): void => void process.send?.(m);
  process.on("message", (m: ToChild) => {
    if (m.cmd === "stats") {
      const mem = process.memoryUsage();
      send({
        stats: {
          rss: mem.rss,
          heapUsed: mem.heapUsed,
          eldP50: Math.max(0, eld.percentile(50) / 1e6 - resolution),
          eldP99: Math.max(0, eld.percentile(99) / 1e6 - resolution),
          terminals: server.terminals.size,
        },
      });
    } else if (m.cmd === "reset-eld") {
      eld.reset();
      send({ ok: true });
    } else if (m.cmd === "push-flows") {
      push?.(m.perCluster);
      send({ ok: true });
    }
  });
  process.on("disconnect", () => {
    void server.close().finally(() => {
      rmSync(dataDir, { recursive: true, force: true });
      process.exit(0);
    });
  });
  send({ url: server.url });
}

class Child {
  private readonly proc: ChildProcess;
  private waiters: ((m: FromChild) => void)[] = [];
  constructor(mode: "sim" | "double", pool: number) {
    this.proc = fork(self, ["--bench-server", mode, String(pool)], {
      execArgv: ["--import", "tsx"],
      stdio: ["ignore", "ignore", "inherit", "ipc"],
    });
    this.proc.on("message", (m: FromChild) => this.waiters.shift()?.(m));
  }
  next(): Promise<FromChild> {
    return new Promise((r) => this.waiters.push(r));
  }
  async ask(m: ToChild): Promise<FromChild> {
    const p = this.next();
    this.proc.send(m);
    return p;
  }
  async stats(): Promise<Stats> {
    return ((await this.ask({ cmd: "stats" })) as { stats: Stats }).stats;
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
  await w.waitText(/learner@egresslab:~\/stage-0\$ $/, 30_000);
  return { s, w };
}

async function joinAndEcho(): Promise<void> {
  const joins = 8;
  const child = new Child("sim", joins);
  const { url } = (await child.next()) as { url: string };
  for (let t0 = Date.now(); Date.now() - t0 < 120_000;) {
    const h = (await (await fetch(url + "/healthz")).json()) as { pool: number };
    if (h.pool >= joins) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  const joinMs: number[] = [];
  const apiMs: number[] = [];
  const sockets: TestSocket[] = [];
  let last: { s: TestSocket; w: TermWatcher } | undefined;
  for (let i = 0; i < joins; i++) {
    const l = new Learner(url);
    const t = performance.now();
    await l.join(`bench-${i}`);
    apiMs.push(performance.now() - t);
    last = await attach(l);
    joinMs.push(performance.now() - t);
    sockets.push(last.s);
  }
  process.stdout.write(
    `join → terminal prompt (warm pool, simulated cluster, ${joins} joins): median ${ms(pct(joinMs, 50))}, p95 ${ms(pct(joinMs, 95))}  (target < 1000 ms); of which the join request: median ${ms(pct(apiMs, 50))}\n`,
  );

  const echo: number[] = [];
  const { s } = last!;
  for (let i = 0; i < 200; i++) {
    const ch = String.fromCharCode(97 + (i % 26));
    const t = performance.now();
    const echoed = new Promise<void>((resolve) => {
      const on = (o: { data: string }): void => {
        if (!o.data.includes(ch)) return;
        s.off("term:output", on);
        resolve();
      };
      s.on("term:output", on);
    });
    s.emit("term:input", { data: ch });
    await echoed;
    echo.push(performance.now() - t);
    if (i % 20 === 19) s.emit("term:input", { data: "\x15" });
  }
  process.stdout.write(
    `keystroke echo round trip (200 keys): median ${ms(pct(echo, 50))}, p95 ${ms(pct(echo, 95))}  (target < 20 ms)\n`,
  );
  for (const x of sockets) x.close();
  await child.stop();
}

async function twoHundred(): Promise<void> {
  const n = 200;
  const child = new Child("double", 0);
  const { url } = (await child.next()) as { url: string };
  const idle = await child.stats();
  const conns: { s: TestSocket; w: TermWatcher }[] = [];
  const t0 = performance.now();
  for (let i = 0; i < n; i += 10) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(10, n - i) }, async (_, k) => {
        const l = new Learner(url);
        await l.join(`learner-${i + k}`);
        const c = await attach(l);
        c.s.emit("flows:subscribe", {});
        return c;
      }),
    );
    conns.push(...batch);
  }
  const connectSec = (performance.now() - t0) / 1000;
  await child.ask({ cmd: "reset-eld" });
  // 20 s of activity: every learner types a command every 2 s; every cluster gets 2 new flows a second.
  const until = Date.now() + 20_000;
  let turn = 0;
  while (Date.now() < until) {
    await child.ask({ cmd: "push-flows", perCluster: 1 });
    for (let i = turn % 4; i < conns.length; i += 4) conns[i]!.s.emit("term:input", { data: "echo hi\r" });
    turn++;
    await new Promise((r) => setTimeout(r, 500));
  }
  const busy = await child.stats();
  process.stdout.write(
    `${n} learners with terminals and flow streams (connected in ${connectSec.toFixed(1)} s): server RSS ${mib(busy.rss)} (idle ${mib(idle.rss)}, ${((busy.rss - idle.rss) / n / 1024).toFixed(0)} KiB per learner; shells are separate processes), heap ${mib(busy.heapUsed)}; ` +
      `event-loop delay p50 ${ms(busy.eldP50)}, p99 ${ms(busy.eldP99)}  (target p99 < 50 ms); shells ${busy.terminals}; machine load average ${loadavg()[0]!.toFixed(1)} on ${cpus().length} cores\n`,
  );
  for (const c of conns) c.s.close();
  await child.stop();
}

export async function run(): Promise<void> {
  await joinAndEcho();
  await twoHundred();
}

const at = process.argv.indexOf("--bench-server");
if (at >= 0) {
  void serverMain(process.argv[at + 1] === "sim" ? "sim" : "double", Number(process.argv[at + 2] ?? 0));
} else if (process.argv[1] === self) {
  await run();
}
