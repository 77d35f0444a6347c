/**
 * Several replicas on this machine: the same offered load (joins arriving evenly, then a check by each attendee) on
 * 1, 2 and 3 `egresslab serve` processes sharing one Postgres and Redis behind the affinity proxy
 * (test/helpers/replicas.ts). Prints join p95 (join → terminal prompt) and check p95 at each size and the ratios 2/1
 * and 3/1: on one machine the replicas share its cores, so the ratio says what the extra process, the database and the
 * proxy cost, not what more machines would buy. Then failover: a replica is killed with SIGKILL, and the time until
 * each of its attendees is served again by another replica (a terminal prompt, and their cluster answering kubectl).
 *
 * BENCH_QUICK=1 offers less load (a few minutes in all).
 */
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { cpus, loadavg } from "node:os";
import { io } from "socket.io-client";
import { startReplicas, StickyLearner, type ReplicaSet } from "../../test/helpers/replicas.ts";
import { TermWatcher, connected, type TestSocket } from "../../test/integration/web-client.ts";

const self = fileURLToPath(import.meta.url);
const root = path.resolve(path.dirname(self), "..", "..");
const quick = Boolean(process.env.BENCH_QUICK);
const joins = quick ? 24 : 60;
const seconds = quick ? 12 : 30;
const prompt = /learner@egresslab:~\/stage-\d+\$ $/;

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
};
const ms = (n: number): string => (Number.isFinite(n) ? `${n.toFixed(0)} ms` : "n/a");
const sleep = (t: number) => new Promise((r) => setTimeout(r, t));

interface Attendee {
  l: StickyLearner;
  s: TestSocket;
  w: TermWatcher;
  replica: string;
}

/** The page's socket through the proxy (long-polling, then the upgrade), attached to the terminal. */
function openTerminal(set: ReplicaSet, l: StickyLearner): { s: TestSocket; w: TermWatcher } {
  const s: TestSocket = io(set.url, {
    transports: ["polling", "websocket"],
    forceNew: true,
    reconnection: false,
    extraHeaders: { Cookie: l.cookie },
  });
  const w = new TermWatcher(s);
  s.on("term:output", (o) => s.emit("term:ack", { end: o.end }));
  return { s, w };
}

/** One attendee: the page, the join, the socket, the prompt. */
async function attend(set: ReplicaSet, name: string): Promise<{ ms: number; a: Attendee }> {
  const t = performance.now();
  const l = new StickyLearner(set.url);
  await l.call("GET", "/api/workshop");
  await l.join(name);
  const { s, w } = openTerminal(set, l);
  await connected(s);
  s.emit("term:attach", { cols: 120, rows: 30 });
  await w.waitText(prompt, 120_000);
  return { ms: performance.now() - t, a: { l, s, w, replica: l.replica ?? "?" } };
}

/** Waits until every replica has its warm clusters, so each size starts alike. */
async function warm(set: ReplicaSet, pool: number): Promise<void> {
  const t0 = Date.now();
  for (const name of set.names) {
    for (;;) {
      const h = (await (await fetch(`${set.replica(name).url}/healthz`)).json()) as { pool: number };
      if (h.pool >= pool || Date.now() - t0 > 180_000) break;
      await sleep(250);
    }
  }
}

interface Figures {
  replicas: number;
  joinP50: number;
  joinP95: number;
  checkP50: number;
  checkP95: number;
  failed: number;
  spread: string;
}

/** The offered load on `n` replicas: `joins` joins evenly over `seconds`, then one check each, evenly over `seconds`. */
async function load(n: number): Promise<Figures> {
  const pool = 2;
  const set = await startReplicas({ replicas: n, capacity: joins + 10, pool });
  const attendees: Attendee[] = [];
  try {
    await warm(set, pool);
    const joinTimes: number[] = [];
    let failed = 0;
    await Promise.all(
      Array.from({ length: joins }, async (_, i) => {
        await sleep((i * seconds * 1000) / joins);
        try {
          const r = await attend(set, `attendee-${i}`);
          joinTimes.push(r.ms);
          attendees.push(r.a);
        } catch (err) {
          if (failed++ === 0) process.stderr.write(`join failed: ${String(err)}\n`);
        }
      }),
    );
    const checkTimes: number[] = [];
    await Promise.all(
      attendees.map(async (a, i) => {
        await sleep((i * seconds * 1000) / attendees.length);
        await a.l.call("PUT", "/api/stages/0/answers", { answers: { compromised: "nope/nope" } });
        const t = performance.now();
        const r = await a.l.call("POST", "/api/stages/0/check");
        if (r.status === 200) checkTimes.push(performance.now() - t);
        else if (failed++ === 0)
          process.stderr.write(`check failed: ${r.status} ${JSON.stringify(r.json)}\n`);
      }),
    );
    const per = new Map<string, number>();
    for (const a of attendees) per.set(a.replica, (per.get(a.replica) ?? 0) + 1);
    const f: Figures = {
      replicas: n,
      joinP50: pct(joinTimes, 50),
      joinP95: pct(joinTimes, 95),
      checkP50: pct(checkTimes, 50),
      checkP95: pct(checkTimes, 95),
      failed,
      spread: [...per].map(([k, v]) => `${k} ${v}`).join(", "),
    };
    process.stdout.write(
      `${n} replica${n > 1 ? "s" : ""}: ${joins} joins over ${seconds} s, join → prompt p50 ${ms(f.joinP50)}, p95 ${ms(f.joinP95)}; ` +
        `check p50 ${ms(f.checkP50)}, p95 ${ms(f.checkP95)}${failed ? `; ${failed} FAILED` : ""} (attendees per replica: ${f.spread}; ` +
        `load average ${loadavg()[0]!.toFixed(1)} on ${cpus().length} cores)\n`,
    );
    return f;
  } catch (err) {
    process.stderr.write(set.logs().slice(-20_000));
    throw err;
  } finally {
    for (const a of attendees) a.s.close();
    await set.stop();
  }
}

/** Whether replicas hold learners under leases, which failover needs (another replica takes an expired lease). */
const leasesLanded = (): boolean => existsSync(path.join(root, "server", "src", "scale", "leases.ts"));

/** SIGKILL one of two replicas; the time until each of its attendees has a prompt and a cluster again elsewhere. */
export async function failover(): Promise<void> {
  if (!leasesLanded()) {
    process.stdout.write(
      "failover after SIGKILL: n/a — replicas do not hold learners under leases yet (server/src/scale/leases.ts), " +
        "so no replica takes over a dead one's attendees\n",
    );
    return;
  }
  const n = quick ? 6 : 12;
  const set = await startReplicas({ replicas: 2, capacity: n + 10, pool: 2 });
  const attendees: Attendee[] = [];
  try {
    await warm(set, 2);
    for (let i = 0; i < n; i++) attendees.push((await attend(set, `failover-${i}`)).a);
    // Something of theirs in the cluster, so "back" means the cluster was rebuilt, not made anew.
    for (const a of attendees) {
      a.s.emit("term:input", { data: "kubectl create configmap failover-probe\r" });
      await a.w.waitText(/configmap\/failover-probe created/, 60_000);
    }
    const victim = set.names[0]!;
    const theirs = attendees.filter((a) => a.replica === victim);
    const killedAt = performance.now();
    await set.kill(victim, "SIGKILL");
    const back = await Promise.all(
      theirs.map(async (a) => {
        a.s.close();
        const deadline = killedAt + 60_000;
        let promptAt = NaN;
        while (performance.now() < deadline) {
          try {
            // As the page reconnects: the API first (which takes the proxy's new cookie), then the socket.
            const r = await a.l.call("GET", "/api/session");
            if (r.status !== 200) throw new Error(`session ${r.status}`);
            const { s, w } = openTerminal(set, a.l);
            try {
              await connected(s);
              s.emit("term:attach", { cols: 120, rows: 30 });
              await w.waitText(prompt, 10_000);
              promptAt = performance.now() - killedAt;
              s.emit("term:input", { data: "kubectl get configmap failover-probe -o name\r" });
              await w.waitText(/configmap\/failover-probe\s/, 30_000);
              const cluster = performance.now() - killedAt;
              // Where the learner is served now: the replica holding their lease names itself in the cookie.
              await a.l.call("GET", "/api/session");
              return { prompt: promptAt, cluster, on: a.l.replica };
            } finally {
              s.close();
            }
          } catch {
            await sleep(250);
          }
        }
        return { prompt: promptAt, cluster: NaN, on: a.l.replica };
      }),
    );
    const ok = back.filter((b) => Number.isFinite(b.cluster));
    process.stdout.write(
      `failover after SIGKILL: ${theirs.length} of ${n} attendees were on the killed replica; ${ok.length} back on another ` +
        `(${[...new Set(ok.map((b) => b.on))].join(", ")}) — prompt p50 ${ms(pct(back.map((b) => b.prompt).filter(Number.isFinite), 50))}, ` +
        `max ${ms(Math.max(...back.map((b) => b.prompt)))}; their cluster answering (with their objects) p50 ${ms(
          pct(
            ok.map((b) => b.cluster),
            50,
          ),
        )}, ` +
        `max ${ms(Math.max(...back.map((b) => b.cluster)))}${ok.length < theirs.length ? ` (${theirs.length - ok.length} NOT back within 60 s)` : ""}\n`,
    );
  } catch (err) {
    process.stderr.write(set.logs().slice(-20_000));
    throw err;
  } finally {
    for (const a of attendees) a.s.close();
    await set.stop();
  }
}

export async function run(): Promise<void> {
  const figures: Figures[] = [];
  for (const n of [1, 2, 3]) figures.push(await load(n));
  const [one, two, three] = figures as [Figures, Figures, Figures];
  const ratio = (a: number, b: number): string => (b > 0 ? (a / b).toFixed(2) : "n/a");
  process.stdout.write(
    `same offered load, p95 ratios — join: 2/1 ${ratio(two.joinP95, one.joinP95)}, 3/1 ${ratio(three.joinP95, one.joinP95)}; ` +
      `check: 2/1 ${ratio(two.checkP95, one.checkP95)}, 3/1 ${ratio(three.checkP95, one.checkP95)}\n`,
  );
  await failover();
}

if (process.argv[1] === self) await run();
