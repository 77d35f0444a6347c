/**
 * Where simulated clusters' state is kept, and what a write costs there: the files journal (fdatasync on every write,
 * the default) against Postgres (group commit; `--database`), with Postgres durable (fsync on, synchronous_commit on).
 * A mutating API request over HTTPS, answered only once its change is committed: latency one at a time (p50/p95), then
 * 20 clusters each with a client writing back to back, where the group commit shares one Postgres transaction among
 * the writes that arrive together (writes/s, p50/p95, writes per commit). Postgres twice: unfenced (one process), and
 * fenced (`replica` set, each cluster's lease held: every commit checks and locks the lease rows).
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { SimHost } from "../../server/src/sim/host.ts";
import { openPg } from "../../server/src/scale/pg-db.ts";
import { PgClusterState } from "../../server/src/scale/pg-cluster-state.ts";
import { rawRequest } from "../../test/helpers/https.ts";
import { startPostgres } from "../../test/helpers/services.ts";

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
};
const fmt = (xs: number[]): string => `p50 ${pct(xs, 50).toFixed(2)} ms, p95 ${pct(xs, 95).toFixed(2)} ms`;

const cm = (name: string) => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name },
  data: { policy: "x".repeat(400) },
});

interface Writer {
  /** Creates one ConfigMap over HTTPS; resolves with the request's latency (ms). */
  create(name: string): Promise<number>;
}

async function writers(host: SimHost, n: number): Promise<Writer[]> {
  const out: Writer[] = [];
  for (let i = 0; i < n; i++) {
    const id = `bench-${i}`;
    const created = await host.createCluster({ id });
    const base = host.clusterUrl(id);
    out.push({
      async create(name) {
        const t = performance.now();
        const r = await rawRequest(base, host.caCert, {
          method: "POST",
          path: `${new URL(base).pathname}/api/v1/namespaces/default/configmaps`,
          token: created.token,
          body: JSON.stringify(cm(name)),
          headers: { "Content-Type": "application/json" },
        });
        if (r.status !== 201) throw new Error(`create answered ${r.status}: ${r.body}`);
        return performance.now() - t;
      },
    });
  }
  return out;
}

/** One write at a time on one cluster. */
async function sequential(w: Writer, n: number): Promise<number[]> {
  for (let i = 0; i < 30; i++) await w.create(`warm-${i}`);
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(await w.create(`s-${i}`));
  return out;
}

/** Every writer writing back to back for `ms`: the latencies and the writes per second. */
async function concurrent(ws: Writer[], ms: number): Promise<{ lat: number[]; perSecond: number }> {
  const lat: number[] = [];
  const end = performance.now() + ms;
  const t0 = performance.now();
  await Promise.all(
    ws.map(async (w, k) => {
      for (let i = 0; performance.now() < end; i++) lat.push(await w.create(`c-${k}-${i}`));
    }),
  );
  return { lat, perSecond: lat.length / ((performance.now() - t0) / 1000) };
}

export async function run(): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "egresslab-bench-state-"));
  const postgres = await startPostgres({ durable: true });
  try {
    const N = 300;
    const CLUSTERS = 20;
    const MS = 5000;

    const files = await SimHost.start({ dataDir: path.join(dir, "files") });
    const fileWriters = await writers(files, CLUSTERS);
    const fileOne = await sequential(fileWriters[0]!, N);
    const fileMany = await concurrent(fileWriters, MS);
    await files.close();

    /** The Postgres runs: one client, then every cluster's client; fenced, with each cluster's lease held. */
    const postgresRun = async (db: string, fenced: boolean) => {
      const url = postgres.createDatabase(db);
      const state = new PgClusterState(
        await openPg(url, { max: 4 }),
        fenced ? { replica: "bench" } : {},
        true,
      );
      if (fenced)
        await state.pool.query(
          `INSERT INTO leases (cluster_id, replica, address, expires_at)
           SELECT 'bench-' || i, 'bench', '', now() + interval '1 hour' FROM generate_series(0, $1 - 1) AS i`,
          [CLUSTERS],
        );
      const pg = await SimHost.start({ clusterState: state });
      const pgWriters = await writers(pg, CLUSTERS);
      await state.idle();
      const one = await sequential(pgWriters[0]!, N);
      const before = { ...state.stats };
      const many = await concurrent(pgWriters, MS);
      const commits = state.stats.commits - before.commits;
      const appends = state.stats.appends - before.appends;
      await pg.close();
      await state.close();
      return { one, many, commits, appends };
    };
    const unfenced = await postgresRun("bench", false);
    const fenced = await postgresRun("bench_fenced", true);

    process.stdout.write(`create ConfigMap over HTTPS, answered once committed; one client, ${N} writes:\n`);
    process.stdout.write(`  files (journal + fdatasync):      ${fmt(fileOne)}\n`);
    process.stdout.write(`  Postgres (durable commit):        ${fmt(unfenced.one)}\n`);
    process.stdout.write(`  Postgres, fenced by the lease:    ${fmt(fenced.one)}\n`);
    process.stdout.write(`${CLUSTERS} clusters, a client each writing back to back for ${MS / 1000} s:\n`);
    type Run = typeof unfenced;
    const line = (name: string, r: Run): string =>
      `  ${name}: ${r.many.perSecond.toFixed(0)} writes/s, ${fmt(r.many.lat)}; ` +
      `group commit: ${r.appends} journal rows in ${r.commits} commits (${(r.appends / Math.max(1, r.commits)).toFixed(1)} per commit)\n`;
    process.stdout.write(`  files:    ${fileMany.perSecond.toFixed(0)} writes/s, ${fmt(fileMany.lat)}\n`);
    process.stdout.write(line("Postgres", unfenced));
    process.stdout.write(line("Postgres, fenced", fenced));
  } finally {
    postgres.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
