/**
 * Joins at room speed, and memory per attendee. The workshop server (the egress workshop on simulated clusters, as
 * `egresslab serve --capacity N` runs it) is a child process (this file, with `--bench-server`), so its memory and
 * event-loop delay are its own; attendees are real HTTP joins and socket.io terminals from this process.
 *
 *   1. time to pre-warm N clusters at start;
 *   2. join → terminal prompt (p50/p95/max) for 200 joins spread over 60 s, and for 500 joins in 60 s;
 *   3. server RSS with 100 and 1,000 idle attendees (terminals open), event-loop delay p99 while they idle;
 *   4. where an attendee's memory goes: the cluster (objects, store indexes, dataplane, flow log) and the rest
 *      (terminal, socket, session).
 *
 * BENCH_QUICK=1 scales every figure down (a few minutes). BENCH_SHELL=bwrap runs attendees' shells in the bubblewrap
 * sandbox instead of plain local shells (the server's figures do not include shells: they are separate processes).
 * All joins come from one address, so the bench lifts the per-address join rate limit.
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
const quick = Boolean(process.env.BENCH_QUICK);
const shell = process.env.BENCH_SHELL === "bwrap" ? "bwrap" : "local";

interface Stats {
  rss: number;
  heapUsed: number;
  eldP99: number;
  eldMax: number;
  terminals: number;
  ready: number;
}

interface Breakdown {
  /** Heap of one cluster copy, and of its parts. */
  cluster: number;
  objects: number;
  store: number;
  dataplane: number;
  objectCount: number;
  flowRecords: number;
  flowBytes: number;
}

type ToChild = { cmd: "stats" } | { cmd: "reset-eld" } | { cmd: "prewarm" } | { cmd: "breakdown" };
type FromChild =
  | { url: string; startRss: number; startHeap: number }
  | { stats: Stats }
  | { prewarm: { ms: number; clusters: number } }
  | { breakdown: Breakdown }
  | { ok: true };

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
};
const ms = (n: number): string => `${n.toFixed(0)} ms`;
const mib = (n: number): string => `${(n / 1024 / 1024).toFixed(0)} MiB`;
const kib = (n: number): string => `${(n / 1024).toFixed(0)} KiB`;
const gc = (): void => (globalThis as { gc?: () => void }).gc?.();
const sleep = (t: number) => new Promise((r) => setTimeout(r, t));

async function serverMain(capacity: number, shellMode: "local" | "bwrap"): Promise<void> {
  const { startWorkshopServer } = await import("../../server/src/http/server.ts");
  const { createProvider } = await import("../../server/src/providers/select.ts");
  const { loadLab } = await import("../../server/src/labs/index.ts");
  const grading = await import("../../server/src/grading/index.ts");
  const { labRunner } = await import("../../server/src/sessions/lab-runner.ts");
  const { createSimCluster } = await import("../../server/src/sim/cluster.ts");
  const { instantiateImage } = await import("../../server/src/sim/image.ts");
  const dataDir = mkdtempSync(path.join(tmpdir(), "egl-bench-joins-"));
  const resolution = 5;
  const eld = monitorEventLoopDelay({ resolution });
  eld.enable();
  gc();
  const startRss = process.memoryUsage().rss;
  const startHeap = process.memoryUsage().heapUsed;
  const provider = await createProvider({ provider: "sim", dataDir });
  const lab = await loadLab(path.join(root, "labs", "egress-workshop"));
  const started = performance.now();
  const server = await startWorkshopServer({
    port: 0, host: "127.0.0.1", dataDir, provider, lab: labRunner(lab, grading), local: false, shellMode,
    idleTimeoutSeconds: 3600, pool: 2, capacity, buildWeb: false, joinRate: { burst: 100_000, perMinute: 100_000 },
  }); // prettier-ignore
  let prewarmed: { ms: number; clusters: number } | undefined;
  const waiting: (() => void)[] = [];
  const onPool = (s: { ready: number; target: number }): void => {
    if (prewarmed || s.ready < s.target) return;
    prewarmed = { ms: performance.now() - started, clusters: s.ready };
    for (const w of waiting.splice(0)) w();
  };
  server.workshop.on("pool", onPool);
  onPool(server.workshop.poolStatus());

  const breakdown = async (): Promise<Breakdown> => {
    const host = (provider as unknown as { simHost: import("../../server/src/sim/host.ts").SimHost }).simHost;
    // Every cluster is a copy of the stage-0 cluster of one of the lab's variants; any of them will do.
    const cluster = host.clusterIds()[0]!;
    const image = host.captureImage(cluster);
    const k = 50;
    const heapOf = async (make: (i: number) => Promise<unknown> | unknown): Promise<number> => {
      const keep: unknown[] = [];
      gc();
      const h0 = process.memoryUsage().heapUsed;
      for (let i = 0; i < k; i++) keep.push(await make(i));
      gc();
      const per = (process.memoryUsage().heapUsed - h0) / k;
      for (const c of keep) await (c as { close?: () => Promise<void> }).close?.();
      return per;
    };
    const full = await heapOf((i) => createSimCluster({ id: `bench-full-${i}`, image, dataplane: true }));
    const bare = await heapOf((i) => createSimCluster({ id: `bench-bare-${i}`, image, dataplane: false }));
    const objects = await heapOf(() => instantiateImage(image, () => crypto.randomUUID()));
    const flows = (
      host.getCluster(cluster)!.dataplane.queryFlows(new URLSearchParams({ limit: "100000" })) as {
        items: unknown[];
      }
    ).items;
    return {
      cluster: full,
      objects,
      store: bare - objects,
      dataplane: full - bare,
      objectCount: Object.values(image.objects).reduce((n, l) => n + l.length, 0),
      flowRecords: flows.length,
      flowBytes: JSON.stringify(flows).length,
    };
  };

  const send = (m: FromChild): void => void process.send?.(m);
  process.on("message", (m: ToChild) => {
    if (m.cmd === "stats") {
      gc();
      const mem = process.memoryUsage();
      send({
        stats: {
          rss: mem.rss,
          heapUsed: mem.heapUsed,
          eldP99: Math.max(0, eld.percentile(99) / 1e6 - resolution),
          eldMax: Math.max(0, eld.max / 1e6 - resolution),
          terminals: server.terminals.size,
          ready: server.workshop.poolStatus().ready,
        },
      });
    } else if (m.cmd === "reset-eld") {
      eld.reset();
      send({ ok: true });
    } else if (m.cmd === "prewarm") {
      if (prewarmed) send({ prewarm: prewarmed });
      else waiting.push(() => send({ prewarm: prewarmed! }));
    } else if (m.cmd === "breakdown") {
      void breakdown().then((b) => send({ breakdown: b }));
    }
  });
  process.on("disconnect", () => {
    void server.close().finally(() => {
      rmSync(dataDir, { recursive: true, force: true });
      process.exit(0);
    });
  });
  send({ url: server.url, startRss, startHeap });
}

class Child {
  private readonly proc: ChildProcess;
  private waiters: ((m: FromChild) => void)[] = [];
  constructor(capacity: number) {
    this.proc = fork(self, ["--bench-server", String(capacity), shell], {
      execArgv: ["--expose-gc", "--import", "tsx"],
      stdio: ["ignore", "ignore", "inherit", "ipc"],
    });
    this.proc.on("message", (m: FromChild) => this.waiters.shift()?.(m));
  }
  next(): Promise<FromChild> {
    return new Promise((r) => this.waiters.push(r));
  }
  ask<T extends FromChild>(m: ToChild): Promise<T> {
    const p = this.next();
    this.proc.send(m);
    return p as Promise<T>;
  }
  async stats(): Promise<Stats> {
    return (await this.ask<{ stats: Stats }>({ cmd: "stats" })).stats;
  }
  stop(): Promise<void> {
    return new Promise((r) => {
      this.proc.once("exit", () => r());
      this.proc.disconnect();
    });
  }
}

/** One attendee: join over HTTP, open the terminal, wait for the prompt. Returns the time it took and the socket. */
async function attend(url: string, name: string): Promise<{ ms: number; s: TestSocket }> {
  const t = performance.now();
  const l = new Learner(url);
  await l.join(name);
  const s = l.socket();
  const w = new TermWatcher(s);
  await connected(s);
  s.on("term:output", (o) => s.emit("term:ack", { end: o.end }));
  s.emit("term:attach", { cols: 120, rows: 30 });
  await w.waitText(/learner@egresslab:~\/stage-0\$ $/, 120_000);
  const took = performance.now() - t;
  // An idle attendee's page keeps nothing of the terminal here.
  s.off("term:output");
  s.on("term:output", (o) => s.emit("term:ack", { end: o.end }));
  return { ms: took, s };
}

async function started(
  capacity: number,
): Promise<{ child: Child; url: string; startRss: number; startHeap: number }> {
  const child = new Child(capacity);
  const first = (await child.next()) as { url: string; startRss: number; startHeap: number };
  return { child, ...first };
}

/** `n` joins arriving evenly over `seconds`, on a server pre-warmed for them. */
export async function arrivals(n: number, seconds: number): Promise<void> {
  const { child, url } = await started(n);
  const warm = (await child.ask<{ prewarm: { ms: number; clusters: number } }>({ cmd: "prewarm" })).prewarm;
  process.stdout.write(
    `pre-warm ${warm.clusters} clusters (egress workshop, stage 0 set up): ${(warm.ms / 1000).toFixed(1)} s\n`,
  );
  await child.ask({ cmd: "reset-eld" });
  const times: number[] = [];
  const sockets: TestSocket[] = [];
  let failed = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: n }, async (_, i) => {
      await sleep((i * seconds * 1000) / n);
      try {
        const a = await attend(url, `attendee-${i}`);
        times.push(a.ms);
        sockets.push(a.s);
      } catch (err) {
        failed++;
        if (failed === 1) process.stderr.write(`join failed: ${String(err)}\n`);
      }
    }),
  );
  const wall = (performance.now() - t0) / 1000;
  const st = await child.stats();
  process.stdout.write(
    `${n} joins over ${seconds} s (${shell} shells): join → prompt p50 ${ms(pct(times, 50))}, p95 ${ms(pct(times, 95))}, max ${ms(Math.max(...times))}` +
      `${failed ? `, ${failed} FAILED` : ""}; all in ${wall.toFixed(1)} s; server event-loop delay p99 ${ms(st.eldP99)}, RSS ${mib(st.rss)}; ` +
      `load average ${loadavg()[0]!.toFixed(1)} on ${cpus().length} cores\n`,
  );
  for (const s of sockets) s.close();
  await child.stop();
}

/** `n` attendees join (16 at a time) and idle with their terminals open. */
export async function idle(n: number, idleSeconds: number): Promise<Breakdown | undefined> {
  const { child, url, startRss, startHeap } = await started(n);
  await child.ask({ cmd: "prewarm" });
  const sockets: TestSocket[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < n) {
        const i = next++;
        sockets.push((await attend(url, `idle-${i}`)).s);
      }
    }),
  );
  await child.ask({ cmd: "reset-eld" });
  await sleep(idleSeconds * 1000);
  const st = await child.stats();
  process.stdout.write(
    `${n} idle attendees with terminals: server RSS ${mib(st.rss)} (${kib((st.rss - startRss) / n)} per attendee over the empty server's ${mib(startRss)}), heap ${mib(st.heapUsed)}; ` +
      `event-loop delay over ${idleSeconds} s idle p99 ${ms(st.eldP99)}, max ${ms(st.eldMax)}; shells ${st.terminals}\n`,
  );
  let b: Breakdown | undefined;
  if (n >= 100) {
    b = (await child.ask<{ breakdown: Breakdown }>({ cmd: "breakdown" })).breakdown;
    const rest = (st.heapUsed - startHeap) / n - b.cluster;
    process.stdout.write(
      `memory per attendee (heap): cluster ${kib(b.cluster)} = ${b.objectCount} objects ${kib(b.objects)} + store indexes and history ${kib(b.store)} + dataplane ${kib(b.dataplane)} ` +
        `(flow log now ${b.flowRecords} records, ${kib(b.flowBytes)} as JSON); terminal, socket and session ${kib(Math.max(0, rest))}; ` +
        `RSS beyond the heap ${kib(Math.max(0, (st.rss - startRss) / n - b.cluster - Math.max(0, rest)))} (V8 and native buffers)\n`,
    );
  }
  for (const s of sockets) s.close();
  await child.stop();
  return b;
}

export async function run(): Promise<void> {
  if (quick) {
    await arrivals(40, 12);
    await arrivals(100, 12);
    await idle(20, 3);
    await idle(100, 5);
  } else {
    await arrivals(200, 60);
    await arrivals(500, 60);
    await idle(100, 10);
    await idle(1000, 20);
  }
}

const at = process.argv.indexOf("--bench-server");
if (at >= 0) {
  void serverMain(Number(process.argv[at + 1] ?? 1), process.argv[at + 2] === "bwrap" ? "bwrap" : "local");
} else if (process.argv[1] === self) {
  await run();
}
