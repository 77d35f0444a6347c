/**
 * Sandbox benchmark (multi-user mode, real bubblewrap): what one learner's shell costs, and whether a hostile one
 * slows the others.
 *
 *   1. memory of an idle sandboxed shell (PSS of bwrap, its PID 1, bash and the socat forwarder);
 *   2. keystroke echo p50/p99 of 4 attendees typing a key every 50 ms, first alone, then while a 5th runs a fork bomb
 *      bounded by its process limit whose children spin on the CPU, and a memory hog.
 * Nothing here asserts a time.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Learner, TermWatcher, connected, type TestSocket } from "../../test/integration/web-client.ts";

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
};

function descendants(pid: number): number[] {
  const parent = new Map<number, number>();
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const st = readFileSync(`/proc/${d}/stat`, "utf8");
      parent.set(Number(d), Number(st.slice(st.lastIndexOf(")") + 2).split(" ")[1]));
    } catch {
      /* gone */
    }
  }
  const out = [pid];
  for (let i = 0; i < out.length; i++) for (const [c, p] of parent) if (p === out[i]) out.push(c);
  return out;
}

function pssKiB(pid: number): number {
  try {
    return Number(/^Pss:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, "utf8"))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

interface Attendee {
  id: string;
  s: TestSocket;
  w: TermWatcher;
}

export async function run(): Promise<void> {
  const { startWorkshopServer } = await import("../../server/src/http/server.ts");
  const { FakeProvider, fakeLab } = await import("../../test/integration/web-doubles.ts");
  const dataDir = mkdtempSync(path.join(tmpdir(), "egl-bench-sandbox-"));
  const provider = new FakeProvider();
  const server = await startWorkshopServer({
    port: 0, host: "127.0.0.1", dataDir, provider, lab: fakeLab(provider), local: false, shellMode: "bwrap",
    idleTimeoutSeconds: 3600, pool: 0, buildWeb: false, shellLimits: { processes: 128, memoryMiB: 256 },
  }); // prettier-ignore
  const people: Attendee[] = [];
  try {
    for (let i = 0; i < 5; i++) {
      const l = new Learner(server.url);
      const id = (await l.join(`P${i}`)).learner.id;
      const s = l.socket();
      const w = new TermWatcher(s);
      await connected(s);
      s.emit("term:attach", { cols: 120, rows: 30 });
      await w.waitText(/learner@egresslab/, 20_000);
      people.push({ id, s, w });
    }
    await new Promise((r) => setTimeout(r, 500));
    const costs = people.map((p) => {
      const pids = descendants(server.terminals.get(p.id)!.pid);
      return pids.reduce((a, pid) => a + pssKiB(pid), 0);
    });
    console.log(
      `idle sandboxed shell: PSS median ${(pct(costs, 50) / 1024).toFixed(1)} MiB (bwrap, PID 1, bash, socat; ${costs.length} shells)`,
    );

    const typists = people.slice(0, 4);
    const type = async (ms: number): Promise<number[]> => {
      const times: number[] = [];
      const until = Date.now() + ms;
      await Promise.all(
        typists.map(async (p) => {
          let n = 0;
          while (Date.now() < until) {
            const before = p.w.text.length;
            const t = performance.now();
            p.s.emit("term:input", { data: n++ % 20 === 19 ? "\x15" : "x" });
            await p.w.waitFor(() => p.w.text.length > before, "echo", 10_000).catch(() => undefined);
            times.push(performance.now() - t);
            await new Promise((r) => setTimeout(r, 50));
          }
        }),
      );
      return times;
    };
    const calm = await type(5000);
    const hostile = people[4]!;
    hostile.s.emit("term:input", {
      data:
        "python3 -c 'import os, time\nfor i in range(1000):\n    try:\n        pid = os.fork()\n    except OSError:\n        break\n    if pid == 0:\n        t = time.time() + 9\n        while time.time() < t: pass\n        os._exit(0)\n' & " +
        "python3 -c 'b = b\"x\" * (400 * 1024 * 1024)' &\r",
    });
    await new Promise((r) => setTimeout(r, 2000));
    const held = descendants(server.terminals.get(hostile.id)!.pid).length;
    const cpuGroup = readFileSync("/proc/self/cgroup", "utf8").match(/^\d+:cpu(?:,[^:]*)?:(.*)$/m)?.[1];
    let inGroup = "no cpu cgroup";
    try {
      if (cpuGroup !== undefined)
        inGroup = `${
          readFileSync(
            path.join("/sys/fs/cgroup/cpu", cpuGroup, "egresslab-shells", hostile.id, "tasks"),
            "utf8",
          )
            .trim()
            .split("\n").length
        } tasks in its cpu cgroup`;
    } catch {
      /* no v1 cpu group */
    }
    const stormy = await type(5000);
    console.log(`fork bomb held at ${held} processes (limit 128; ${inGroup})`);
    const row = (name: string, xs: number[]): string =>
      `${name}: echo p50 ${pct(xs, 50).toFixed(1)} ms, p99 ${pct(xs, 99).toFixed(1)} ms (${xs.length} keys)`;
    console.log(row("4 attendees typing", calm));
    console.log(row("4 attendees typing, a 5th running a fork bomb + memory hog", stormy));
  } finally {
    for (const p of people) p.s.close();
    await server.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
