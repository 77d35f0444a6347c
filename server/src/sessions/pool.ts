/**
 * Pre-warmed clusters: clusters are acquired ahead of time, each with the seed of the learner who will get it and
 * (with `prepare`) its first stage already set up, so joining takes no cluster work at all. With a `capacity` (the
 * most attendees the workshop admits), the pool makes a cluster ready for every attendee who has not joined yet, in
 * the background from the start; without one it keeps `size` clusters ready.
 *
 * When the provider can copy clusters (`provider.templates`), one cluster per lab variant (`variant(seed)`) is
 * prepared the slow way and every other is a copy of it: milliseconds instead of a profile build and a stage setup.
 * The pool is kept in the database, so a restart reuses the clusters waiting in it instead of creating new ones.
 */
import { randomInt } from "node:crypto";
import { EventEmitter } from "node:events";
import { setImmediate as nextTurn } from "node:timers/promises";
import type { AcquireOptions, ClusterConnection, ClusterProvider } from "../providers/provider.ts";
import { newId } from "./tokens.ts";
import type { Logger } from "../shared/logger.ts";
import { noopLogger } from "../shared/logger.ts";
import { storageFault, storageHealth } from "../shared/storage.ts";

export interface PoolOptions {
  /** Clusters kept ready ahead of joins (without a `capacity`). */
  size: number;
  /** The most attendees the workshop admits: a ready cluster is made for each who has not joined yet (see `joined`). */
  capacity?: number;
  /** How many learners have joined; with `capacity`, the pool keeps `capacity − joined` clusters ready. */
  joined?: () => number;
  /**
   * How many replicas share the workshop (live ones, this one included; default 1): each keeps its share of the
   * target ready, the target divided among them and rounded up.
   */
  replicas?: () => number;
  /** The lab the clusters are prepared for; clusters left waiting for another lab are released. */
  labId: string;
  /**
   * The workshop the clusters wait for (several workshops share the table); the default workshop also adopts clusters
   * that were put in the pool before workshops were recorded there.
   */
  workshopId?: string;
  adoptUnowned?: boolean;
  profile?: string;
  edition?: AcquireOptions["edition"];
  /**
   * Milliseconds of quiet after a take before the pool refills. Default 0 when clusters are copies (a copy takes
   * milliseconds), else 2000: creating a cluster competes for the CPU with the learner who just joined, and during a
   * rush of joins with every one of them.
   */
  refillDelayMs?: number;
  /**
   * Removes what a session left in a cluster that outlives it (a provider that leases rather than creates clusters,
   * such as a kubeconfig pool) before the cluster is returned: the grader's probe pods.
   */
  clear?: (conn: ClusterConnection) => Promise<void>;
  /** Readies a warm cluster for the learner who will get `seed` (sets up the first stage). */
  prepare?: (conn: ClusterConnection, seed: number) => Promise<void>;
  /**
   * What `prepare` makes of a cluster depends only on this value of the seed (e.g. the lab's parameters): clusters
   * prepared for seeds with the same variant are identical, so one is prepared and the others are copies.
   */
  variant?: (seed: number) => string;
  logger?: Logger;
}

/** The pool as the console and the instructor's board show it. */
export interface PoolStatus {
  /** Clusters waiting for a learner. */
  ready: number;
  /** How many the pool is filling towards. */
  target: number;
  /** Whether clusters are being made now. */
  filling: boolean;
}

/** A cluster for a new learner: its seed, and whether `prepare` already ran on it. */
export interface PooledCluster {
  conn: ClusterConnection;
  seed: number;
  prepared: boolean;
}

/** A warm cluster as the pool records it. */
export interface PoolRow {
  cluster_id: string;
  lab_id: string | null;
  seed: number | null;
  /** 1 when `prepare` ran on it. */
  prepared: number;
}

/** Where pools keep their warm clusters, so a restart reuses them (SQLite, or Postgres per replica). */
export interface PoolRecords {
  /** The warm clusters of a workshop (with `adoptUnowned`, also those recorded before workshops had ids), oldest first. */
  list(workshopId: string | null, adoptUnowned: boolean): Promise<PoolRow[]>;
  /** Records a cluster being made for a workshop's lab. */
  add(id: string, labId: string, workshopId: string | null): Promise<void>;
  /** Records the seed a cluster was made for, and whether it is prepared. */
  update(id: string, seed: number, prepared: boolean): Promise<void>;
  /** Forgets a cluster (taken by a learner, released, or failed). */
  remove(id: string): Promise<void>;
  /** Records that a cluster lost its prepared first stage (it was made afresh): the pool prepares it again. */
  unprepare(id: string): Promise<void>;
}

/** One replica's share of `total`: divided among `live` replicas, rounded up (so the shares cover it). */
export function replicaShare(total: number, live: number): number {
  return Math.ceil(Math.max(0, total) / Math.max(1, Math.floor(live)));
}

export const newSeed = (): number => randomInt(1, 2 ** 31 - 1);

/** How often the console hears about a long fill. */
const PROGRESS_EVERY_MS = 2000;

export interface PoolEvents {
  /** The number of ready clusters, the target or filling changed. */
  status: [status: PoolStatus];
}

export class ClusterPool extends EventEmitter<PoolEvents> {
  private readonly ready: PooledCluster[] = [];
  private readonly connections = new Map<string, Promise<ClusterConnection>>();
  /** Template name per variant, while it is being prepared or once it exists. */
  private readonly templates = new Map<string, Promise<string>>();
  private filling: Promise<void> | undefined;
  private refillTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private lastFillError: string | undefined;
  private readonly log: Logger;

  constructor(
    private readonly provider: ClusterProvider,
    private readonly records: PoolRecords,
    private readonly opts: PoolOptions,
  ) {
    super();
    this.log = opts.logger ?? noopLogger;
  }

  /** Whether new clusters are copies of a prepared one. */
  private get copies(): boolean {
    return Boolean(this.provider.templates && this.opts.prepare && this.opts.variant);
  }

  /** How many ready clusters the pool fills towards now (this replica's share). */
  get target(): number {
    const total =
      this.opts.capacity === undefined ? this.opts.size : this.opts.capacity - (this.opts.joined?.() ?? 0);
    return replicaShare(total, this.opts.replicas?.() ?? 1);
  }

  /** How many clusters wait in the pool. */
  get available(): number {
    return this.ready.length;
  }

  /** Why the last cluster the pool tried to make failed, until one is made (the provider cannot make clusters). */
  get fillProblem(): string | undefined {
    return this.lastFillError;
  }

  get status(): PoolStatus {
    return { ready: this.ready.length, target: this.target, filling: this.filling !== undefined };
  }

  private report(): void {
    this.emit("status", this.status);
  }

  /** Starts filling the pool in the background; resolves when it is full (or immediately for size 0). */
  fill(): Promise<void> {
    this.filling ??= this.refill()
      .catch((err: unknown) => {
        this.lastFillError = err instanceof Error ? err.message : String(err);
        // A full disk (the pool's rows are in SQLite) stops filling, never the server; the next take tries again.
        if (storageFault(err)) storageHealth.failed(err);
        this.log.error("could not fill the pool of warm clusters", {
          error: err instanceof Error ? err.message : String(err),
        });
      })
      .finally(() => {
        this.filling = undefined;
        this.report();
      });
    return this.filling;
  }

  private async warm(row: PoolRow): Promise<void> {
    const conn = await this.connect(row.cluster_id);
    const seed = row.seed ?? newSeed();
    let prepared = row.prepared === 1;
    if (!prepared && this.opts.prepare) {
      await this.opts.prepare(conn, seed);
      prepared = true;
    }
    await this.records.update(row.cluster_id, seed, prepared);
    if (this.closed) return;
    this.ready.push({ conn, seed, prepared });
  }

  /** A new cluster: a copy of its variant's template when the provider copies, else acquired and prepared. */
  private async make(id: string, prepare: boolean): Promise<PooledCluster> {
    const seed = newSeed();
    const templates = this.provider.templates;
    if (templates && this.copies) {
      const name = await this.template(this.opts.variant!(seed), seed);
      const conn = templates.acquire(name, {
        id,
        profile: this.opts.profile,
        edition: this.opts.edition,
      });
      this.connections.set(id, conn);
      conn.catch(() => this.connections.delete(id));
      return { conn: await conn, seed, prepared: true };
    }
    const conn = await this.connect(id);
    if (prepare && this.opts.prepare) {
      await this.opts.prepare(conn, seed);
      return { conn, seed, prepared: true };
    }
    return { conn, seed, prepared: false };
  }

  /** The template for `variant`: prepared once (for a seed of that variant), then kept by the provider. */
  private template(variant: string, seed: number): Promise<string> {
    const name = `${this.opts.labId}\u0000${variant}`;
    let p = this.templates.get(variant);
    if (!p) {
      p = (async () => {
        const id = newId("t");
        const started = Date.now();
        const conn = await this.provider.acquire({
          id,
          profile: this.opts.profile,
          edition: this.opts.edition,
        });
        try {
          await this.opts.prepare!(conn, seed);
          await this.provider.templates!.save(id, name);
        } catch (err) {
          await this.provider.release(id).catch(() => undefined);
          throw err;
        }
        this.log.info("prepared a cluster template", { lab: this.opts.labId, ms: Date.now() - started });
        return name;
      })();
      this.templates.set(variant, p);
      p.catch(() => this.templates.delete(variant));
    }
    return p;
  }

  private async refill(): Promise<void> {
    const stored = await this.records.list(this.opts.workshopId ?? null, this.opts.adoptUnowned ?? false);
    for (const row of stored.filter((r) => r.lab_id !== this.opts.labId)) {
      await this.records.remove(row.cluster_id);
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
    const started = Date.now();
    const wanted = this.target - this.ready.length;
    if (wanted > 2) this.log.info("pre-warming clusters", { ready: this.ready.length, target: this.target });
    this.report();
    let lastReport = started;
    let made = 0;
    while (!this.closed && this.ready.length < this.target) {
      const id = newId("c");
      await this.records.add(id, this.opts.labId, this.opts.workshopId ?? null);
      let c: PooledCluster;
      try {
        c = await this.make(id, true);
      } catch (err) {
        await this.forget(id, err);
        return;
      }
      await this.records.update(id, c.seed, c.prepared);
      if (this.closed) return;
      this.ready.push(c);
      this.lastFillError = undefined;
      made++;
      this.report();
      if (Date.now() - lastReport >= PROGRESS_EVERY_MS) {
        lastReport = Date.now();
        this.log.info("pre-warming clusters", { ready: this.ready.length, target: this.target });
      }
      // Copies are made back to back: let joins and terminals in between.
      await nextTurn();
    }
    if (wanted > 2 && made > 0)
      this.log.info("clusters ready", {
        ready: this.ready.length,
        made,
        seconds: Math.round((Date.now() - started) / 100) / 10,
      });
  }

  private async forget(id: string, err: unknown): Promise<void> {
    this.lastFillError = err instanceof Error ? err.message : String(err);
    await this.records.remove(id).catch(() => undefined);
    this.log.error("could not pre-warm a cluster", {
      cluster: id,
      error: err instanceof Error ? err.message : String(err),
    });
  }

  /**
   * A cluster for a new learner: a pre-warmed one when there is one, else a new one (prepared when it is a copy).
   * Refills in the background.
   */
  async take(): Promise<PooledCluster> {
    const warm = this.ready.shift();
    let result: PooledCluster;
    if (warm) {
      await this.records.remove(warm.conn.id);
      result = warm;
      this.report();
    } else {
      result = await this.make(newId("c"), false);
    }
    if (this.target > this.ready.length) {
      if (this.refillTimer) clearTimeout(this.refillTimer);
      this.refillTimer = setTimeout(
        () => {
          this.refillTimer = undefined;
          void this.fill();
        },
        this.opts.refillDelayMs ?? (this.copies ? 0 : 2000),
      );
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

  /** Stops filling and releases every cluster waiting in the pool (the workshop ended). */
  async drain(): Promise<void> {
    this.close();
    await this.filling;
    const waiting = this.ready.splice(0).map((c) => c.conn.id);
    const stored = (await this.records.list(this.opts.workshopId ?? null, false)).map((r) => r.cluster_id);
    for (const id of new Set([...waiting, ...stored])) {
      await this.records.remove(id);
      this.connections.delete(id);
      await this.provider.release(id).catch((err: unknown) =>
        this.log.warn("could not release a warm cluster", {
          cluster: id,
          error: err instanceof Error ? err.message : String(err),
        }),
      );
    }
    this.report();
  }

  /** Stops serving cluster `id` in this process, keeping its state for the replica that serves it next. */
  async unload(id: string, opts: { save: boolean }): Promise<void> {
    this.connections.delete(id);
    await this.provider.unload?.(id, opts);
  }

  /** Releases a learner's cluster for good; one the provider keeps (a pool's) is cleared first. */
  async release(id: string): Promise<void> {
    if (this.opts.clear && !this.provider.capabilities.canCreate) {
      try {
        await this.opts.clear(await this.connect(id));
      } catch (err) {
        this.log.warn("could not clear a cluster before returning it", {
          cluster: id,
          error: err instanceof Error ? err.message : String(err),
        });
      }
    }
    this.connections.delete(id);
    await this.provider.release(id);
  }

  /** Stops filling; the provider is closed by its owner. */
  close(): void {
    this.closed = true;
    if (this.refillTimer) clearTimeout(this.refillTimer);
  }
}
