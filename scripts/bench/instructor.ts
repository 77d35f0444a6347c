/**
 * The instructor's board under a room: 300 attendees connected, each checking about every 20 s (a third pass, the
 * rest fail with a mistake the lab names), 30 of them with a shell printing a line every second, and one instructor
 * with the board open, watching one attendee's terminal. The server runs in a child process so its CPU and
 * event-loop delay are its own; reported: server CPU, event-loop delay p99, and the bytes per second the instructor's
 * page receives at steady state (board diffs and the watched terminal; target < 50 KB/s).
 */
import { fork } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { Learner, connected, type TestSocket } from "../../test/integration/web-client.ts";

const self = fileURLToPath(import.meta.url);
const ATTENDEES = 300;
const SHELLS = 30;
const STEADY_MS = 30_000;

type FromChild =
  { url: string; token: string } | { stats: { cpuMs: number; eldP99: number; rssMiB: number } };

async function serverMain(): Promise<void> {
  const { startWorkshopServer } = await import("../../server/src/http/server.ts");
  const { FakeProvider, fakeLab } = await import("../../test/integration/web-doubles.ts");
  const dataDir = mkdtempSync(path.join(tmpdir(), "egl-bench-instructor-"));
  const provider = new FakeProvider();
  const lab = fakeLab(provider);
  const resolution = 5;
  const eld = monitorEventLoopDelay({ resolution });
  const server = await startWorkshopServer({
    port: 0, host: "127.0.0.1", dataDir, provider, local: true, idleTimeoutSeconds: 3600, pool: 0,
    capacity: ATTENDEES + 10, checkRate: { burst: 100, perMinute: 600 }, joinRate: { burst: 1000, perMinute: 6000 },
    instructorToken: "bench-instructor",
    lab: { ...lab, mistakes: (i) => (i === 0 ? [{ name: "wrong-workload", why: "named another workload", fails: ["c0"] }] : []) },
  }); // prettier-ignore
  let cpu = process.cpuUsage();
  process.on("message", (m: { cmd: string }) => {
    if (m.cmd === "reset") {
      eld.reset();
      eld.enable();
      cpu = process.cpuUsage();
      process.send?.({ ok: true });
    } else if (m.cmd === "stats") {
      const d = process.cpuUsage(cpu);
      process.send?.({
        stats: {
          cpuMs: (d.user + d.system) / 1000,
          eldP99: Math.max(0, eld.percentile(99) / 1e6 - resolution),
          rssMiB: process.memoryUsage().rss / 1048576,
        },
      } satisfies FromChild);
    }
  });
  process.on("disconnect", () => {
    void server.close().finally(() => {
      rmSync(dataDir, { recursive: true, force: true });
      process.exit(0);
    });
  });
  process.send?.({ url: server.url, token: server.instructorToken } satisfies FromChild);
}

export async function run(): Promise<void> {
  const child = fork(self, ["--bench-server"], {
    execArgv: ["--import", "tsx"],
    stdio: ["ignore", "ignore", "inherit", "ipc"],
  });
  const next = (): Promise<FromChild> => new Promise((r) => child.once("message", (m: FromChild) => r(m)));
  const { url, token } = (await next()) as { url: string; token: string };
  const learners: Learner[] = [];
  const sockets: TestSocket[] = [];
  for (let i = 0; i < ATTENDEES; i++) {
    const l = new Learner(url);
    await l.join(`attendee-${i}`);
    learners.push(l);
  }
  await Promise.all(
    learners.map(async (l, i) => {
      const s = l.socket();
      sockets.push(s);
      await connected(s);
      if (i < SHELLS) {
        s.on("term:output", (o) => s.emit("term:ack", { end: o.end }));
        s.emit("term:attach", { cols: 100, rows: 30 });
      }
    }),
  );
  await new Promise((r) => setTimeout(r, 2000));
  for (const s of sockets.slice(0, SHELLS))
    s.emit("term:input", { data: 'while :; do echo "$(date +%T) working on it $RANDOM"; sleep 1; done\r' });

  const board = new Learner(url).socket({ instructor: token });
  let bytes = 0;
  let diffs = 0;
  let changes = 0;
  board.onAny((event: string, payload: unknown) => {
    bytes += event.length + JSON.stringify(payload ?? null).length;
    if (event === "board:diff") {
      diffs++;
      changes += (payload as { changes: unknown[] }).changes.length;
    }
  });
  await connected(board);
  board.emit("seat:watch", { attendeeId: (await learners[0]!.call("GET", "/api/session")).json.learner.id });

  let stop = false;
  const checking = learners.map(async (l, i) => {
    await new Promise((r) => setTimeout(r, Math.random() * 20_000));
    while (!stop) {
      await l.call("PUT", "/api/stages/0/answers", {
        answers: { compromised: i % 3 === 0 ? "shop/checkout" : "nope/nope" },
      });
      await l.call("POST", "/api/stages/0/check");
      await new Promise((r) => setTimeout(r, 18_000 + Math.random() * 4000));
    }
  });
  // Warm up: every attendee has checked once and the board has caught up.
  await new Promise((r) => setTimeout(r, 22_000));
  child.send({ cmd: "reset" });
  await next();
  const b0 = bytes;
  const d0 = diffs;
  const c0 = changes;
  await new Promise((r) => setTimeout(r, STEADY_MS));
  child.send({ cmd: "stats" });
  const { stats } = (await next()) as { stats: { cpuMs: number; eldP99: number; rssMiB: number } };
  const secs = STEADY_MS / 1000;
  const kbs = (bytes - b0) / 1024 / secs;
  process.stdout.write(
    `${ATTENDEES} attendees checking every ~20 s, ${SHELLS} shells printing every second, one instructor watching one terminal, over ${secs} s of steady state:\n` +
      `  server CPU ${((stats.cpuMs / STEADY_MS) * 100).toFixed(1)} % of one core, event-loop delay p99 ${stats.eldP99.toFixed(1)} ms, RSS ${stats.rssMiB.toFixed(0)} MiB\n` +
      `  to the instructor's page: ${kbs.toFixed(1)} KB/s (target < 50 KB/s), ${((diffs - d0) / secs).toFixed(1)} diffs/s carrying ${((changes - c0) / secs).toFixed(1)} attendee changes/s\n`,
  );
  stop = true;
  for (const s of sockets) s.close();
  board.close();
  await Promise.race([Promise.all(checking), new Promise((r) => setTimeout(r, 25_000))]);
  await new Promise<void>((r) => {
    child.once("exit", () => r());
    child.disconnect();
  });
}

if (process.argv.includes("--bench-server")) await serverMain();
