/**
 * Which replicas are alive, for sharing work among them (the warm pool's target is divided by their number). Each
 * replica writes a heartbeat row every `everySeconds`; one whose row is older than `staleSeconds` (judged by the
 * database's clock) is gone. A replica that stops cleanly deletes its row, so the others take over its share at once;
 * one that dies is counted until its row goes stale. With one process (SQLite) there is no registry: one replica.
 */
import { EventEmitter } from "node:events";
import type { PgPool } from "./pg-db.ts";
import { noopLogger, type Logger } from "../shared/logger.ts";

export interface ReplicaEvents {
  /** The number of live replicas changed. */
  change: [live: number];
}

export interface ReplicaRegistryOptions {
  /** How often this replica writes its heartbeat and counts the others (default 5). */
  everySeconds?: number;
  /** A replica not heard from for this long is gone (default three heartbeats). */
  staleSeconds?: number;
  logger?: Logger;
}

export class ReplicaRegistry extends EventEmitter<ReplicaEvents> {
  private count = 1;
  private readonly timer: NodeJS.Timeout;
  private beating: Promise<void> | undefined;
  private failing = false;
  private closed = false;
  private readonly log: Logger;
  private readonly stale: number;

  private constructor(
    private readonly pool: PgPool,
    readonly replica: string,
    opts: ReplicaRegistryOptions,
  ) {
    super();
    this.log = opts.logger ?? noopLogger;
    const every = opts.everySeconds ?? 5;
    this.stale = opts.staleSeconds ?? every * 3;
    this.timer = setInterval(() => void this.beat(), every * 1000);
    this.timer.unref();
  }

  /** Registers this replica (its first heartbeat) and counts the live ones. */
  static async start(
    pool: PgPool,
    replica: string,
    opts: ReplicaRegistryOptions = {},
  ): Promise<ReplicaRegistry> {
    const r = new ReplicaRegistry(pool, replica, opts);
    try {
      await r.beat(true);
    } catch (err) {
      await r.close();
      throw err;
    }
    return r;
  }

  /** Live replicas, this one included (as of the last heartbeat; at least 1). */
  get live(): number {
    return this.count;
  }

  /** Writes this replica's heartbeat and counts the live replicas; `rethrow` for the first one. */
  beat(rethrow = false): Promise<void> {
    this.beating ??= (async () => {
      try {
        const r = await this.pool.query<{ live: number }>(
          `WITH me AS (
             INSERT INTO replicas (name, seen_at) VALUES ($1, now())
             ON CONFLICT (name) DO UPDATE SET seen_at = now()
           )
           SELECT count(*)::int AS live FROM replicas
           WHERE name <> $1 AND seen_at > now() - make_interval(secs => $2)`,
          [this.replica, this.stale],
        );
        if (this.closed) return;
        const live = (r.rows[0]?.live ?? 0) + 1;
        if (this.failing) this.log.info("replica heartbeat written again");
        this.failing = false;
        if (live !== this.count) {
          this.log.info("live replicas changed", { from: this.count, to: live });
          this.count = live;
          this.emit("change", live);
        }
      } catch (err) {
        if (rethrow) throw err;
        // The count stays as it was: a database outage is no reason to change anyone's share.
        if (!this.failing)
          this.log.warn("could not write this replica's heartbeat", {
            error: err instanceof Error ? err.message : String(err),
          });
        this.failing = true;
      }
    })().finally(() => (this.beating = undefined));
    return this.beating;
  }

  /** Stops the heartbeat and removes this replica's row, so the others take its share now. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    await this.beating?.catch(() => undefined);
    await this.pool.query("DELETE FROM replicas WHERE name = $1", [this.replica]).catch(() => undefined);
  }
}
