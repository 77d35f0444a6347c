/**
 * Which replica serves an attendee's cluster and shell: one at a time, under a lease. With Postgres each cluster has a
 * row in `leases` (replica, its address, until when) that its replica renews; a replica that stops renewing (killed,
 * cut off from the database) loses its leases after the TTL and another one takes them over, rebuilding the cluster
 * from the shared state. Expiry is judged by the database's clock alone (`now()`), never by a replica's.
 *
 * A replica that cannot renew in time (the database is unreachable, the renewal found a row gone) stops serving what it
 * lost at once: whoever takes the lease next must be the only writer. With SQLite (one process) leases are an
 * in-memory no-op: every acquire succeeds and nothing is ever lost.
 *
 * Each holding has a generation (a new number whenever the lease passes to a replica that did not hold it): the
 * cluster state's commits (`pg-cluster-state.ts`) are fenced by it, so a replica that lost a lease without noticing yet
 * (a long pause, renewals failing while its other connections work) cannot write over the new holder's state.
 */
import { EventEmitter } from "node:events";
import type { PgPool } from "./pg-db.ts";
import { EgresslabError } from "../shared/errors.ts";
import { noopLogger, type Logger } from "../shared/logger.ts";

/** A replica and the address other replicas and the proxy reach it at. */
export interface LeaseOwner {
  replica: string;
  address: string;
}

/** The cluster is served by another live replica: try there, or here again after `retryAfterSeconds`. */
export class HeldElsewhereError extends EgresslabError {
  constructor(
    readonly clusterId: string,
    readonly owner: LeaseOwner,
    /** Seconds until the owner's lease runs out unless it renews it (at least 1). */
    readonly retryAfterSeconds: number,
  ) {
    super(
      "unavailable",
      `your cluster is running on server ${owner.replica}; reconnect to reach it there (or here in ${retryAfterSeconds} s if that server is gone)`,
    );
  }
}

export interface LeaseEvents {
  /** This replica no longer holds the lease on `clusterId`: it must stop serving that cluster now. */
  lost: [clusterId: string];
}

export interface Leases extends EventEmitter<LeaseEvents> {
  /** This replica's name. */
  readonly replica: string;
  /**
   * Takes the lease on `clusterId` for this replica, or extends the one it holds. Resolves with the replica that held
   * it before when this one took it over from another whose lease had expired (its cluster must be rebuilt from the
   * shared state). Rejects with `HeldElsewhereError` when another replica holds it and it has not expired.
   */
  acquire(clusterId: string): Promise<{ takenFrom?: string }>;
  /** Whether this replica holds the lease on `clusterId` now (no database round trip). */
  holds(clusterId: string): boolean;
  /** The live owner of `clusterId`'s lease, if any (this replica included). */
  owner(clusterId: string): Promise<LeaseOwner | undefined>;
  /** Gives up the lease on `clusterId` (the cluster was released, or is no longer served here). */
  release(clusterId: string): Promise<void>;
  /** Stops renewing and gives up every lease this replica holds (a clean shutdown, after its clusters were saved). */
  close(): Promise<void>;
}

/** The single-process leases: this replica holds everything it asks for. */
export class MemoryLeases extends EventEmitter<LeaseEvents> implements Leases {
  private readonly held = new Set<string>();
  constructor(readonly replica: string) {
    super();
  }
  acquire(clusterId: string): Promise<{ takenFrom?: string }> {
    this.held.add(clusterId);
    return Promise.resolve({});
  }
  holds(clusterId: string): boolean {
    return this.held.has(clusterId);
  }
  owner(clusterId: string): Promise<LeaseOwner | undefined> {
    return Promise.resolve(this.held.has(clusterId) ? { replica: this.replica, address: "" } : undefined);
  }
  release(clusterId: string): Promise<void> {
    this.held.delete(clusterId);
    return Promise.resolve();
  }
  close(): Promise<void> {
    this.held.clear();
    return Promise.resolve();
  }
}

export interface PgLeasesOptions {
  pool: PgPool;
  replica: string;
  /** How other replicas and the proxy reach this one (`--advertise`; a function when it is known only later). */
  address: string | (() => string);
  /** How long a lease lasts without renewal; renewed every third of it. Default 5000 ms. */
  ttlMs?: number;
  logger?: Logger;
}

/** Default lease length: a killed replica's attendees are served elsewhere within a few seconds. */
export const defaultLeaseTtlMs = 5000;

export class PgLeases extends EventEmitter<LeaseEvents> implements Leases {
  readonly replica: string;
  /** Held leases, each with the number of the acquire that took it (a renewal judges only what it saw). */
  private readonly held = new Map<string, number>();
  private acquires = 0;
  private readonly ttlMs: number;
  private readonly log: Logger;
  private readonly timer: NodeJS.Timeout;
  private deadline: NodeJS.Timeout | undefined;
  /** When (this process's monotonic clock) the last renewal that succeeded was sent: the leases last until then + TTL. */
  private renewedAt = performance.now();
  private renewing: Promise<void> | undefined;
  private closed = false;

  constructor(private readonly opts: PgLeasesOptions) {
    super();
    this.replica = opts.replica;
    this.ttlMs = opts.ttlMs ?? defaultLeaseTtlMs;
    this.log = opts.logger ?? noopLogger;
    this.timer = setInterval(() => void this.renew(), Math.max(50, Math.floor(this.ttlMs / 3)));
    this.timer.unref();
  }

  /**
   * Gives every lease up when no renewal succeeds in time: a fifth of the TTL before the database would let another
   * replica take them, so this one has stopped writing by then (also when a renewal hangs).
   */
  private armDeadline(): void {
    if (this.deadline) clearTimeout(this.deadline);
    this.deadline = undefined;
    if (this.closed || !this.held.size) return;
    const left = this.renewedAt + this.ttlMs * 0.8 - performance.now();
    this.deadline = setTimeout(() => this.loseAll(), Math.max(0, left));
    this.deadline.unref();
  }

  async acquire(clusterId: string): Promise<{ takenFrom?: string }> {
    if (this.closed) throw new EgresslabError("unavailable", "this server is shutting down; reconnect");
    const sent = performance.now();
    // The row before the statement says whom the lease is taken from; the update's WHERE decides whether it may be.
    const r = await this.opts.pool.query<{ previous: string | null }>(
      `WITH before AS (SELECT replica FROM leases WHERE cluster_id = $1)
       INSERT INTO leases (cluster_id, replica, address, expires_at)
       VALUES ($1, $2, $3, now() + make_interval(secs => $4 / 1000.0))
       ON CONFLICT (cluster_id) DO UPDATE
         SET replica = EXCLUDED.replica, address = EXCLUDED.address, expires_at = EXCLUDED.expires_at,
           generation = CASE WHEN leases.replica = EXCLUDED.replica THEN leases.generation ELSE EXCLUDED.generation END
         WHERE leases.expires_at < now() OR leases.replica = EXCLUDED.replica
       RETURNING (SELECT replica FROM before) AS previous`,
      [clusterId, this.replica, this.address, this.ttlMs],
    );
    const row = r.rows[0];
    if (!row) {
      const owner = await this.ownerRow(clusterId);
      // Released between the two statements: the next try takes it.
      if (!owner)
        throw new EgresslabError("unavailable", "your cluster is changing servers; reconnect in a moment");
      throw new HeldElsewhereError(
        clusterId,
        { replica: owner.replica, address: owner.address },
        Math.max(1, Math.ceil(owner.remainingMs / 1000)),
      );
    }
    if (this.closed) {
      await this.drop([clusterId]);
      throw new EgresslabError("unavailable", "this server is shutting down; reconnect");
    }
    if (!this.held.size) this.renewedAt = sent;
    this.held.set(clusterId, ++this.acquires);
    this.armDeadline();
    if (row.previous !== null && row.previous !== this.replica) {
      this.log.info("took over a cluster whose server stopped renewing its lease", {
        cluster: clusterId,
        from: row.previous,
      });
      return { takenFrom: row.previous };
    }
    return {};
  }

  holds(clusterId: string): boolean {
    return this.held.has(clusterId);
  }

  private get address(): string {
    return typeof this.opts.address === "function" ? this.opts.address() : this.opts.address;
  }

  async owner(clusterId: string): Promise<LeaseOwner | undefined> {
    const o = await this.ownerRow(clusterId);
    return o && { replica: o.replica, address: o.address };
  }

  private async ownerRow(
    clusterId: string,
  ): Promise<{ replica: string; address: string; remainingMs: number } | undefined> {
    const r = await this.opts.pool.query<{ replica: string; address: string; remaining_ms: number }>(
      `SELECT replica, address, (EXTRACT(EPOCH FROM (expires_at - now())) * 1000)::float8 AS remaining_ms
         FROM leases WHERE cluster_id = $1 AND expires_at >= now()`,
      [clusterId],
    );
    const row = r.rows[0];
    return row && { replica: row.replica, address: row.address, remainingMs: Number(row.remaining_ms) };
  }

  async release(clusterId: string): Promise<void> {
    this.held.delete(clusterId);
    await this.drop([clusterId]);
  }

  private async drop(ids: string[]): Promise<void> {
    if (!ids.length) return;
    await this.opts.pool.query("DELETE FROM leases WHERE replica = $1 AND cluster_id = ANY($2::text[])", [
      this.replica,
      ids,
    ]);
  }

  /**
   * Extends every lease held, in one statement. A lease missing from the answer was taken (it had expired); when no
   * renewal succeeded for longer than the TTL allows, every lease is given up, as others may have taken them.
   */
  renew(): Promise<void> {
    this.renewing ??= this.renewOnce().finally(() => (this.renewing = undefined));
    return this.renewing;
  }

  private async renewOnce(): Promise<void> {
    if (this.closed) return;
    const seen = new Map(this.held);
    const ids = [...seen.keys()];
    const sent = performance.now();
    if (!ids.length) {
      this.renewedAt = sent;
      return;
    }
    let kept: Set<string>;
    try {
      const r = await this.opts.pool.query<{ cluster_id: string }>(
        `UPDATE leases SET expires_at = now() + make_interval(secs => $3 / 1000.0)
          WHERE replica = $1 AND cluster_id = ANY($2::text[]) RETURNING cluster_id`,
        [this.replica, ids, this.ttlMs],
      );
      kept = new Set(r.rows.map((row) => row.cluster_id));
    } catch (err) {
      // Cut off from the database: the leases are still ours until the deadline the last renewal set.
      this.log.warn("could not renew the cluster leases; trying again", {
        error: err instanceof Error ? err.message : String(err),
      });
      return;
    }
    if (this.closed) return;
    this.renewedAt = sent;
    this.armDeadline();
    for (const [id, n] of seen) {
      if (kept.has(id) || this.held.get(id) !== n) continue;
      this.held.delete(id);
      this.log.warn("lost the lease on a cluster: another server may serve it now", { cluster: id });
      this.emit("lost", id);
    }
  }

  /** Gives up serving every cluster (their leases may have run out): each is reported lost. */
  private loseAll(): void {
    const ids = [...this.held.keys()];
    if (!ids.length) return;
    this.log.error("no lease renewal succeeded in time: serving none of the clusters held", {
      clusters: ids.length,
    });
    this.held.clear();
    this.armDeadline();
    for (const id of ids) this.emit("lost", id);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    if (this.deadline) clearTimeout(this.deadline);
    await this.renewing;
    const ids = [...this.held.keys()];
    this.held.clear();
    await this.drop(ids).catch((err: unknown) =>
      this.log.warn("could not give up the cluster leases; they run out by themselves", {
        error: err instanceof Error ? err.message : String(err),
      }),
    );
  }
}
