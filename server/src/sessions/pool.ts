/**
 * Pre-warmed clusters: `size` clusters are acquired ahead of time, each with the seed of the learner who will get it
 * and (with `prepare`) its first stage already set up, so joining takes no cluster work at all. The pool is kept in
 * the database, so a restart reuses the clusters waiting in it instead of creating new ones.
 */
import { randomInt } from "node:crypto";
import type { AcquireOptions, ClusterConnection, ClusterProvider } from "../providers/provider.ts";
import type { Db } from "./db.ts";
import { newId } from "./tokens.ts";
import type { Logger } from "../shared/logger.ts";
import { noopLogger } from "../shared/logger.ts";

export interface PoolOptions {
  size: number;
  /** The lab the clusters are prepared for; clusters left waiting for another lab are released. */
  labId: string;
  profile?: string;
  edition?: AcquireOptions["edition"];
  /**
   * Milliseconds of quiet after a take before the pool refills (default 2000): creating a cluster competes for the
   * CPU with the learner who just joined, and during a rush of joins with every one of them.
   */
  refillDelayMs?: number;
  /** Readies a warm cluster for the learner who will get `seed` (sets up the first stage). */
  prepare?: (conn: ClusterConnection, seed: number) => Promise<void>;
  logger?: Logger;
}

/** A cluster for a new learner: its seed, and whether `prepare` already ran on it. */
export interface PooledCluster {
  conn: ClusterConnection;
  seed: number;
  prepared: boolean;
}

interface Row {
  cluster_id: string;
  lab_id: string | null;
  seed: number | null;
  prepared: number;
}

export const newSeed = (): number => randomInt(1, 2 ** 31 - 1);

export class ClusterPool {
  private readonly ready: PooledCluster[] = [];
  private readonly connections = new Map<string, Promise<ClusterConnection>>();
  private filling: Promise<void> | undefined;
  private refillTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly log: Logger;

  constructor(
    private readonly provider: ClusterProvider,
    private readonly db: Db,
    private readonly opts: PoolOptions,
  ) {
    this.log = opts.logger ?? noopLogger;
  }

  /** Starts filling the pool in the background; resolves when it is full (or immediately for size 0). */
  fill(): Promise<void> {
    this.filling ??= this.refill().finally(() => {
      this.filling = undefined;
    });
    return this.filling;
  }

  private async warm(row: Row): Promise<void> {
    const conn = await this.connect(row.cluster_id);
    const seed = row.seed ?? newSeed();
    let prepared = row.prepared === 1;
    if (!prepared && this.opts.prepare) {
      await this.opts.prepare(conn, seed);
      prepared = true;
    }
    this.db
      .prepare("UPDATE pool_clusters SET seed = ?, prepared = ? WHERE cluster_id = ?")
      .run(seed, prepared ? 1 : 0, row.cluster_id);
    if (this.closed) return;
    this.ready.push({ conn, seed, prepared });
  }

  private async refill(): Promise<void> {
    const stored = this.db
      .prepare("SELECT cluster_id, lab_id, seed, prepared FROM pool_clusters ORDER BY created_at")
      .all() as Row[];
    for (const row of stored.filter((r) => r.lab_id !== this.opts.labId)) {
      this.db.prepare("DELETE FROM pool_clusters WHERE cluster_id = ?").run(row.cluster_id);
      this.log.info("releasing a warm cluster prepared for another lab", {
        cluster: row.cluster_id,
        lab: row.lab_id,
      });
      void this.provider.release(row.cluster_id).catch(() => undefined);
    }
    const have = new Set(this.ready.map((c) => c.conn.id));
    for (const row of stored.filter((r) => r.lab_id === this.opts.labId)) {
      if (this.closed || have.has(row.cluster_id)) continue;
      try {
        await this.warm(row);
      } catch (err) {
        this.forget(row.cluster_id, err);
      }
    }
    while (!this.closed && this.ready.length < this.opts.size) {
      const row: Row = { cluster_id: newId("c"), lab_id: this.opts.labId, seed: null, prepared: 0 };
      this.db
        .prepare("INSERT INTO pool_clusters (cluster_id, lab_id, created_at) VALUES (?, ?, ?)")
        .run(row.cluster_id, this.opts.labId, new Date().toISOString());
      try {
        await this.warm(row);
      } catch (err) {
        this.forget(row.cluster_id, err);
        return;
      }
    }
  }

  private forget(id: string, err: unknown): void {
    this.db.prepare("DELETE FROM pool_clusters WHERE cluster_id = ?").run(id);
    this.log.error("could not pre-warm a cluster", {
      cluster: id,
      error: err instanceof Error ? err.message : String(err),
    });
  }

  /** How many clusters wait in the pool. */
  get available(): number {
    return this.ready.length;
  }

  /** A cluster for a new learner: a pre-warmed one when there is one, else a new one. Refills in the background. */
  async take(): Promise<PooledCluster> {
    const warm = this.ready.shift();
    let result: PooledCluster;
    if (warm) {
      this.db.prepare("DELETE FROM pool_clusters WHERE cluster_id = ?").run(warm.conn.id);
      result = warm;
    } else {
      result = { conn: await this.connect(newId("c")), seed: newSeed(), prepared: false };
    }
    if (this.opts.size > 0) {
      if (this.refillTimer) clearTimeout(this.refillTimer);
      this.refillTimer = setTimeout(() => {
        this.refillTimer = undefined;
        void this.fill();
      }, this.opts.refillDelayMs ?? 2000);
      this.refillTimer.unref();
    }
    return result;
  }

  /** The connection to cluster `id`, acquiring it (again, after a restart) on first use. */
  connect(id: string): Promise<ClusterConnection> {
    let p = this.connections.get(id);
    if (!p) {
      p = this.provider.acquire({ id, profile: this.opts.profile, edition: this.opts.edition });
      this.connections.set(id, p);
      p.catch(() => this.connections.delete(id));
    }
    return p;
  }

  /** Stops filling; the provider is closed by its owner. */
  close(): void {
    this.closed = true;
    if (this.refillTimer) clearTimeout(this.refillTimer);
  }
}
