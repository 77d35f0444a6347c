/**
 * The kubeconfig pool's leases in the shared Postgres database, so that several replicas reading the same pool never
 * hand out the same cluster. A claim is one transaction under an advisory lock: it sees every replica's leases and
 * inserts its own (the table's keys back it up: one lease per cluster, one cluster per id). Each lease names the
 * replica that renews it; a replica renews all of its leases every third of the lease time. A replica that dies stops
 * renewing, and its leases expire: the attendee who comes back to another replica takes theirs over (same id, same
 * cluster), and a cluster nobody came back for is handed to someone else only when no never-leased one is free.
 */
import { openPg, transaction, type PgPool } from "../../scale/pg-db.ts";
import type { Logger } from "../../shared/logger.ts";
import { noopLogger } from "../../shared/logger.ts";
import type { Lease } from "./leases.ts";
import type { Acquired, PoolLeases } from "./lease-store.ts";

/** Serialises claims of every replica (any key; the same for all of them, not the migrations' key). */
const CLAIM_LOCK = 0x6567_6b63;

export interface PgLeasesOptions {
  url: string;
  /** This replica's name: its leases are the ones it renews. */
  replica: string;
  /** How long a lease lives without renewal (default 60). */
  leaseSeconds?: number;
  logger?: Logger;
}

interface Row {
  cluster: string;
  holder: string;
  replica: string;
  since: string;
  expired: boolean;
}

export class PgLeases implements PoolLeases {
  /** Ids this replica holds leases for. */
  private readonly mine = new Set<string>();
  private readonly timer: NodeJS.Timeout;
  private renewing: Promise<void> | undefined;
  private failing = false;
  private readonly log: Logger;
  private readonly seconds: number;

  private constructor(
    private readonly pool: PgPool,
    private readonly opts: PgLeasesOptions,
  ) {
    this.log = opts.logger ?? noopLogger;
    this.seconds = opts.leaseSeconds ?? 60;
    this.timer = setInterval(() => void this.renew(), (this.seconds * 1000) / 3);
    this.timer.unref();
  }

  /** Connects (and brings the schema up to date). */
  static async open(opts: PgLeasesOptions): Promise<PgLeases> {
    return new PgLeases(await openPg(opts.url, { max: 2 }), opts);
  }

  acquire(
    id: string,
    pick: (taken: ReadonlySet<string>) => string | undefined,
  ): Promise<Acquired | undefined> {
    return transaction(this.pool, async (c) => {
      await c.query("SELECT pg_advisory_xact_lock($1)", [CLAIM_LOCK]);
      const rows = (
        await c.query<Row>(
          "SELECT cluster, holder, replica, since, expires_at < now() AS expired FROM kubeconfig_leases",
        )
      ).rows;
      const held = rows.find((r) => r.holder === id);
      if (held) {
        await c.query(
          "UPDATE kubeconfig_leases SET replica = $2, expires_at = now() + make_interval(secs => $3) WHERE holder = $1",
          [id, this.opts.replica, this.seconds],
        );
        if (held.replica !== this.opts.replica)
          this.log.info("took over a lease from another replica", {
            id,
            cluster: held.cluster,
            from: held.replica,
            expired: held.expired,
          });
        this.mine.add(id);
        return { lease: { cluster: held.cluster, since: held.since }, claimed: false };
      }
      const cluster =
        pick(new Set(rows.map((r) => r.cluster))) ??
        pick(new Set(rows.filter((r) => !r.expired).map((r) => r.cluster)));
      if (cluster === undefined) return undefined;
      const stale = rows.find((r) => r.cluster === cluster);
      if (stale) await c.query("DELETE FROM kubeconfig_leases WHERE cluster = $1", [cluster]);
      const since = new Date().toISOString();
      await c.query(
        `INSERT INTO kubeconfig_leases (cluster, holder, replica, since, expires_at)
         VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5))`,
        [cluster, id, this.opts.replica, since, this.seconds],
      );
      this.mine.add(id);
      const out: Acquired = { lease: { cluster, since }, claimed: true };
      if (stale) out.reclaimedFrom = `${stale.holder} (replica ${stale.replica})`;
      return out;
    });
  }

  async release(id: string): Promise<Lease | undefined> {
    const r = await this.pool.query<{ cluster: string; since: string }>(
      "DELETE FROM kubeconfig_leases WHERE holder = $1 RETURNING cluster, since",
      [id],
    );
    this.mine.delete(id);
    return r.rows[0];
  }

  async list(): Promise<Map<string, Lease>> {
    const r = await this.pool.query<{ holder: string; cluster: string; since: string }>(
      "SELECT holder, cluster, since FROM kubeconfig_leases ORDER BY holder",
    );
    return new Map(r.rows.map((row) => [row.holder, { cluster: row.cluster, since: row.since }]));
  }

  /**
   * Extends every lease this replica holds. A lease of ours that is gone was taken over (the attendee moved to
   * another replica) or released there; this replica stops counting it as its own.
   */
  renew(): Promise<void> {
    this.renewing ??= (async () => {
      try {
        const r = await this.pool.query<{ holder: string }>(
          "UPDATE kubeconfig_leases SET expires_at = now() + make_interval(secs => $2) WHERE replica = $1 RETURNING holder",
          [this.opts.replica, this.seconds],
        );
        const renewed = new Set(r.rows.map((row) => row.holder));
        for (const id of this.mine)
          if (!renewed.has(id)) {
            this.mine.delete(id);
            this.log.info("a lease is no longer this replica's (taken over or released elsewhere)", { id });
          }
        if (this.failing) this.log.info("renewing the kubeconfig pool's leases again");
        this.failing = false;
      } catch (err) {
        if (!this.failing)
          this.log.warn(
            "could not renew the kubeconfig pool's leases; they expire unless the database answers in time",
            { error: err instanceof Error ? err.message : String(err), leaseSeconds: this.seconds },
          );
        this.failing = true;
      }
    })().finally(() => (this.renewing = undefined));
    return this.renewing;
  }

  /** Stops renewing and disconnects; the leases stay until released, taken over or expired. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.renewing;
    await this.pool.end();
  }
}
