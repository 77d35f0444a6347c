/**
 * Pre-warmed clusters: `size` clusters are acquired ahead of time so a joining learner gets one at once. Their ids are
 * kept in the database, so a restart reuses them instead of creating new ones.
 */
import type { AcquireOptions, ClusterConnection, ClusterProvider } from "../providers/provider.ts";
import type { Db } from "./db.ts";
import { newId } from "./tokens.ts";
import type { Logger } from "../shared/logger.ts";
import { noopLogger } from "../shared/logger.ts";

export interface PoolOptions {
  size: number;
  profile?: string;
  edition?: AcquireOptions["edition"];
  logger?: Logger;
}

export class ClusterPool {
  private readonly ready: ClusterConnection[] = [];
  private readonly connections = new Map<string, Promise<ClusterConnection>>();
  private filling: Promise<void> | undefined;
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

  private async refill(): Promise<void> {
    const stored = (
      this.db.prepare("SELECT cluster_id FROM pool_clusters ORDER BY created_at").all() as {
        cluster_id: string;
      }[]
    ).map((r) => r.cluster_id);
    const have = new Set(this.ready.map((c) => c.id));
    for (const id of stored) {
      if (this.closed) return;
      if (have.has(id)) continue;
      this.ready.push(await this.connect(id));
      have.add(id);
    }
    while (!this.closed && this.ready.length < this.opts.size) {
      const id = newId("c");
      this.db
        .prepare("INSERT INTO pool_clusters (cluster_id, created_at) VALUES (?, ?)")
        .run(id, new Date().toISOString());
      try {
        this.ready.push(await this.connect(id));
      } catch (err) {
        this.db.prepare("DELETE FROM pool_clusters WHERE cluster_id = ?").run(id);
        this.log.error("could not pre-warm a cluster", {
          error: err instanceof Error ? err.message : String(err),
        });
        return;
      }
    }
  }

  /** How many clusters wait in the pool. */
  get available(): number {
    return this.ready.length;
  }

  /** A cluster for a new learner: a pre-warmed one when there is one, else a new one. Refills in the background. */
  async take(): Promise<ClusterConnection> {
    const conn = this.ready.shift();
    let result: ClusterConnection;
    if (conn) {
      this.db.prepare("DELETE FROM pool_clusters WHERE cluster_id = ?").run(conn.id);
      result = conn;
    } else {
      result = await this.connect(newId("c"));
    }
    if (this.opts.size > 0) void this.fill();
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
  }
}
