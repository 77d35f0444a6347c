/**
 * What "acknowledged means durable" costs: API write latency (p50/p99) with every write journalled and synced before
 * it is answered, against the same writes in memory only (what a write cost before the journal, when state was saved
 * on a 250 ms debounce off the response path); over HTTPS as kubectl sees it and as a function call; then the
 * background work: compacting a cluster into its snapshot, and replaying a journal at start.
 */
import { mkdtempSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { SimHost } from "../../server/src/sim/host.ts";
import { createSimCluster, type SimCluster } from "../../server/src/sim/cluster.ts";
import { journalFile } from "../../server/src/sim/persistence.ts";
import { rawRequest } from "../../test/helpers/https.ts";
import { parse } from "yaml";

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
};
const fmt = (xs: number[]): string => `p50 ${pct(xs, 50).toFixed(3)} ms, p99 ${pct(xs, 99).toFixed(3)} ms`;

const cm = (name: string) => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name },
  data: { policy: "x".repeat(400) },
});

function callWrites(c: SimCluster, n: number, prefix: string): number[] {
  const type = c.api.findType("configmaps")!;
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    c.api.create(type, "default", cm(`${prefix}-${i}`));
    out.push(performance.now() - t);
  }
  return out;
}

async function httpWrites(dataDir: string | undefined, n: number): Promise<number[]> {
  const host = await SimHost.start({ port: 0, ...(dataDir ? { dataDir } : {}) });
  try {
    const created = await host.createCluster({ id: "bench" });
    const k = parse(created.kubeconfig) as {
      clusters: { cluster: { "certificate-authority-data": string } }[];
    };
    const ca = Buffer.from(k.clusters[0]!.cluster["certificate-authority-data"], "base64").toString();
    const base = host.clusterUrl("bench");
    const out: number[] = [];
    for (let i = 0; i < n; i++) {
      const body = JSON.stringify(cm(`h-${i}`));
      const t = performance.now();
      const r = await rawRequest(base, ca, {
        method: "POST",
        path: `${new URL(base).pathname}/api/v1/namespaces/default/configmaps`,
        token: created.token,
        body,
        headers: { "Content-Type": "application/json" },
      });
      out.push(performance.now() - t);
      if (r.status !== 201) throw new Error(`create answered ${r.status}: ${r.body}`);
    }
    return out;
  } finally {
    await host.close();
  }
}

export async function run(): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "egresslab-bench-durable-"));
  try {
    const N = 2000;
    const mem = await createSimCluster({ id: "mem", dataplane: false });
    callWrites(mem, 200, "warm");
    const inMemory = callWrites(mem, N, "w");
    await mem.close();
    const disk = await createSimCluster({ id: "disk", dataDir: dir, dataplane: false });
    callWrites(disk, 200, "warm");
    const journalled = callWrites(disk, N, "w");
    process.stdout.write(`create ConfigMap (function call), ${N} writes:\n`);
    process.stdout.write(`  in memory only (before): ${fmt(inMemory)}\n`);
    process.stdout.write(`  journalled + fdatasync:  ${fmt(journalled)}\n`);

    const H = 300;
    const httpMem = await httpWrites(undefined, H);
    const httpDisk = await httpWrites(path.join(dir, "host"), H);
    process.stdout.write(`create ConfigMap over HTTPS (what kubectl waits for), ${H} writes:\n`);
    process.stdout.write(`  in memory only (before): ${fmt(httpMem)}\n`);
    process.stdout.write(`  journalled + fdatasync:  ${fmt(httpDisk)}\n`);

    // Background work: a snapshot of the whole cluster (bare profile + 2,200 ConfigMaps), then a restart's replay.
    const objects = disk.store.keys().reduce((n, k) => n + disk.store.count(k), 0);
    const journalBytes = statSync(journalFile(dir, "disk")).size;
    const t0 = performance.now();
    await disk.close();
    const compact = performance.now() - t0;
    process.stdout.write(
      `compaction into the snapshot (${objects} objects, journal ${(journalBytes / 1e6).toFixed(1)} MB): ${compact.toFixed(1)} ms\n`,
    );
    const replayDir = path.join(dir, "replay");
    const r = await createSimCluster({ id: "replay", dataDir: replayDir, dataplane: false });
    callWrites(r, N, "w");
    const lines = N;
    const t1 = performance.now();
    const back = await createSimCluster({ id: "replay", dataDir: replayDir, dataplane: false });
    const replay = performance.now() - t1;
    process.stdout.write(`start with a journal of ${lines} writes to replay: ${replay.toFixed(1)} ms\n`);
    await back.close();
    await r.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
