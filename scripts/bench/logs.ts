/**
 * Container log figures: what the workshop's cluster keeps in its containers' logs (and saves with its dataplane
 * state) after an hour of background traffic in virtual time, against the per-attempt cap; and the time to read a
 * full attempt's log with `--previous`, `--tail` and `--timestamps`.
 */
import { VirtualClock } from "../../server/src/shared/clock.ts";
import { createSimCluster } from "../../server/src/sim/cluster.ts";
import { ContainerLogs, MAX_ATTEMPT_BYTES } from "../../server/src/sim/runtime/logs.ts";
import type { LogOptions } from "../../server/src/sim/types.ts";

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function workshopHour(): Promise<void> {
  const clock = new VirtualClock(Date.UTC(2026, 0, 1));
  const c = await createSimCluster({ id: "bench-logs", profile: "egress-workshop", clock, seed: 1 });
  try {
    for (let m = 0; m < 60; m++) await clock.advance(60_000);
    const logs = c.image().dataplane?.logs ?? [];
    const lines = logs.flatMap((p) => p.containers.flatMap((x) => x.attempts.flatMap((a) => a.lines)));
    const bytes = Buffer.byteLength(JSON.stringify(logs));
    const biggest = Math.max(
      0,
      ...logs.flatMap((p) =>
        p.containers.flatMap((x) => x.attempts.map((a) => a.lines.reduce((n, [, t]) => n + t.length + 1, 0))),
      ),
    );
    console.log(
      `workshop cluster, 1 h of traffic:  ${logs.length} pods with logs, ${lines.length} lines, ${(bytes / 1024).toFixed(0)} KiB saved; largest attempt ${(biggest / 1024).toFixed(1)} KiB (cap ${MAX_ATTEMPT_BYTES / 1024} KiB)`,
    );
  } finally {
    await c.close();
  }
}

function readFull(): void {
  const logs = new ContainerLogs({ defaultContainer: () => "app" });
  const t0 = Date.UTC(2026, 0, 1);
  for (let i = 0; i < 2000; i++) logs.write("ns", "p", t0 + i * 1000, `line ${i} ${"x".repeat(50)}`);
  const time = (opts: LogOptions): number => {
    const xs: number[] = [];
    for (let i = 0; i < 50; i++) {
      const t = performance.now();
      logs.read("ns", "p", "app", 0, opts, t0 + 3_000_000);
      xs.push(performance.now() - t);
    }
    return median(xs);
  };
  const full = logs.read("ns", "p", "app", 0, {}, t0);
  console.log(
    `read a full attempt (${(Buffer.byteLength(full) / 1024).toFixed(0)} KiB, ${full.split("\n").length - 1} lines): median ${time({}).toFixed(2)} ms`,
  );
  console.log(`  with timestamps:                  median ${time({ timestamps: true }).toFixed(2)} ms`);
  console.log(`  --tail=10:                        median ${time({ tailLines: 10 }).toFixed(2)} ms`);
  console.log(
    `  --since=10m --limit-bytes=4096:   median ${time({ sinceSeconds: 600, limitBytes: 4096 }).toFixed(2)} ms`,
  );
}

export async function run(): Promise<void> {
  await workshopHour();
  readFull();
}
