/**
 * Simulated clusters' state in Postgres, shared by replicas: `cluster_snapshots` (one row per cluster: the snapshot,
 * its resourceVersion, the dataplane's state) and `cluster_journal` (one row per transaction past the snapshot), so
 * any replica can rebuild any cluster (`load`).
 *
 * Writes are group-committed: every journal append, snapshot and dataplane save of every cluster that arrives while a
 * commit is on its way (or in the same turn of the event loop) goes into the next one, one database transaction with
 * one INSERT per table. An append's promise resolves when its commit has returned (Postgres's `synchronous_commit`:
 * durable), and the store acknowledges the write only then. When a commit fails, every write of the clusters in it
 * that is not committed yet is rejected (the store undoes them); clusters are isolated from each other: when a batch
 * fails for a reason other than the connection, each cluster's part is tried again on its own, so one cluster's bad
 * row costs only its own writes. After a failure, a cluster's next write starts with a full snapshot that replaces
 * its journal, so a commit that reached the database although its answer did not is not replayed.
 *
 * Compaction replaces the snapshot row and deletes the journal rows it covers in the same transaction.
 *
 * Fencing (with `replica`, when several replicas share the database): a cluster's writes commit only while this replica
 * holds the cluster's lease (`leases.ts`), unexpired by the database's clock and of the generation its writer first
 * committed under; the check is in the same statement or transaction as the writes and locks the lease row (FOR
 * SHARE), so a takeover's acquire waits for a commit in flight and the new holder's `load` sees it, or the commit
 * sees the takeover. The generation, not only the replica's name, is what is compared: a replica that lost the lease
 * and took it again later (A, then B, then A) must not let a writer from its first holding write. A fenced-off
 * cluster's writes fail like a failed commit (503, undone), its writer stops writing and `onMoved` listeners are told
 * (the server renews its leases at once, finds this one lost and stops serving the cluster); the other clusters in the
 * same commit are not affected. A cluster without a lease row (a warm cluster no one has been given yet, or no
 * leases at all) is written as before, unless its writer had committed under a lease.
 */
import type { Logger } from "../shared/logger.ts";
import { noopLogger } from "../shared/logger.ts";
import { EgresslabError, ValidationError } from "../shared/errors.ts";
import { ApiError } from "../store/types.ts";
import type { JournalChange } from "../store/object-store.ts";
import { dataplaneStateText, parseDataplaneState, type DataplaneState } from "../net/state.ts";
import type {
  ClusterStateBackend,
  ClusterStateWriter,
  SavedCluster,
  StateWriterOptions,
} from "../sim/cluster-state.ts";
import { DEFAULT_COMPACT_BYTES, decodeEntry, encodeEntry, type JournalEntry } from "../sim/journal.ts";
import { CorruptStateError, parseClusterState, type ClusterState } from "../sim/persistence.ts";
import { inTransaction, isPostgresUrl, openPg, type PgClient, type PgPool } from "./pg-db.ts";

type Settle = { resolve: () => void; reject: (err: Error) => void };

/** One write for a commit. */
type Write = { id: string; writer?: PgStateWriter } & (
  | { kind: "append"; rv: number; text: string }
  /** `clear`: the journal rows before it go (a new cluster, or the repair after a failure); `fresh`: the dataplane too. */
  | { kind: "snapshot"; rv: number; text: string; clear: boolean; fresh: boolean }
  | { kind: "dataplane"; text: string }
  | { kind: "delete" }
  | { kind: "rename"; to: string }
);

/** A write waiting for its commit. */
type Item = Write & Settle;

/** What the group commit has done, for the benchmark and the logs. */
export interface GroupCommitStats {
  /** Database transactions. */
  commits: number;
  /** Journal rows written. */
  appends: number;
  /** The most writes one commit carried. */
  largest: number;
  /** Commits that failed. */
  failures: number;
}

export interface PgClusterStateOptions {
  logger?: Logger;
  /**
   * How long a commit may take before the database cancels it (default 10 s): its writes then fail (503) instead of
   * holding their requests while the database hangs.
   */
  timeoutMs?: number;
  /** Wait this long for more writes before a commit (default 0: the next turn of the event loop). */
  delayMs?: number;
  /** The most writes in one commit (default 2000). */
  maxBatch?: number;
  /**
   * This replica's name in the `leases` table: when given, a cluster's writes commit only while this replica holds
   * its lease (see fencing above). Without it nothing is checked (one process).
   */
  replica?: string;
}

/** Connects to `url` (migrating it) and keeps cluster state there; `close()` ends the connections. */
export async function openPgClusterState(
  url: string,
  opts: PgClusterStateOptions = {},
): Promise<PgClusterState> {
  if (!isPostgresUrl(url))
    throw new ValidationError([
      {
        where: "--database",
        message: "expects a postgres:// URL (without one, cluster state is kept in files in --data)",
      },
    ]);
  const pool = await openPg(url, { max: 4 });
  return new PgClusterState(pool, opts, true);
}

/** Postgres's SQLSTATE of a failed query, if it is one. */
function sqlState(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** What a fenced-off cluster's writes are answered. */
function moved(): ApiError {
  return new ApiError(
    503,
    "ServiceUnavailable",
    "the cluster moved to another replica, which serves it now; nothing was changed, reconnect to reach it",
  );
}

/**
 * Which of a commit's clusters this replica may write, locking their lease rows until the commit (`$1` the clusters,
 * `$2` the generation each writer committed under or NULL, `$3` this replica): with a lease row, it must be this
 * replica's, unexpired, and of the writer's generation; without one, the writer must never have committed under one.
 * The rows are locked in the order of their ids, as the renewal's index scan updates them.
 */
const allowedClusters = `lease AS (
    SELECT cluster_id, replica, generation, expires_at > now() AS live
      FROM leases WHERE cluster_id = ANY($1::text[]) ORDER BY cluster_id FOR SHARE
  ), allowed AS (
    SELECT f.id, l.generation FROM unnest($1::text[], $2::bigint[]) AS f(id, epoch)
      LEFT JOIN lease AS l ON l.cluster_id = f.id
     WHERE CASE WHEN l.cluster_id IS NULL THEN f.epoch IS NULL
                ELSE l.replica = $3 AND l.live AND (f.epoch IS NULL OR l.generation = f.epoch) END
  )`;

/** What a write of a batch found: the clusters fenced off (nothing of theirs written), each lease's generation. */
interface Written {
  fenced: Set<string>;
  generations: Map<string, number>;
}

/** What a request whose change was not committed is answered. */
function notSaved(err: unknown): ApiError {
  return new ApiError(
    503,
    "ServiceUnavailable",
    `the database did not save the change (${messageOf(err)}); nothing was changed, try again later`,
  );
}

export class PgClusterState implements ClusterStateBackend {
  readonly kind = "postgres" as const;
  readonly stats: GroupCommitStats = { commits: 0, appends: 0, largest: 0, failures: 0 };
  private queue: Item[] = [];
  private running: Promise<void> | undefined;
  private timer: { cancel(): void } | undefined;
  /** Each cluster's latest queued write, so `load` and `delete` come after what was sent before them. */
  private readonly lastOf = new Map<string, Promise<void>>();
  private readonly log: Logger;
  private closed = false;
  private readonly movedListeners: ((clusterId: string) => void)[] = [];

  constructor(
    readonly pool: PgPool,
    private readonly opts: PgClusterStateOptions = {},
    private readonly ownsPool = false,
  ) {
    this.log = opts.logger ?? noopLogger;
  }

  /** Connections whose statement timeout is set. */
  private readonly timed = new WeakSet<PgClient>();

  /**
   * A connection for a commit. The server cancels a statement that runs past `timeoutMs`, so a commit that timed out
   * fails for sure (a timeout only the client saw could still commit later, after the writes were undone).
   */
  private async connection(): Promise<PgClient> {
    const c = await this.pool.connect();
    if (!this.timed.has(c)) {
      try {
        await c.query(`SET statement_timeout = ${Math.max(1, Math.round(this.opts.timeoutMs ?? 10_000))}`);
      } catch (err) {
        c.release(err instanceof Error ? err : new Error(String(err)));
        throw err;
      }
      this.timed.add(c);
    }
    return c;
  }

  async load(id: string, logger: Logger): Promise<SavedCluster | undefined> {
    await this.lastOf.get(id)?.catch(() => undefined);
    const c = await this.pool.connect();
    let snap: { resource_version: number; state: string; dataplane: string | null } | undefined;
    let rows: { resource_version: number; changes: string }[];
    try {
      await c.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
      try {
        snap = (
          await c.query<{ resource_version: number; state: string; dataplane: string | null }>(
            "SELECT resource_version, state, dataplane FROM cluster_snapshots WHERE cluster_id = $1",
            [id],
          )
        ).rows[0];
        rows = snap
          ? (
              await c.query<{ resource_version: number; changes: string }>(
                `SELECT resource_version, changes FROM cluster_journal
                 WHERE cluster_id = $1 AND resource_version > $2 ORDER BY resource_version`,
                [id, snap.resource_version],
              )
            ).rows
          : [];
      } finally {
        await c.query("COMMIT").catch(() => undefined);
      }
    } finally {
      c.release();
    }
    const where = `the database's saved state of cluster "${id}"`;
    if (!snap) return undefined;
    const state = parseClusterState(snap.state, where);
    if (state.resourceVersion !== snap.resource_version || state.id !== id)
      throw new CorruptStateError(where, "the snapshot does not match its row");
    const entries: JournalEntry[] = [];
    for (const r of rows) {
      const e = decodeEntry(r.changes);
      if (!e || e.rv !== r.resource_version)
        throw new CorruptStateError(where, `journal entry ${r.resource_version} is damaged`);
      entries.push(e);
    }
    let dataplane: DataplaneState | undefined;
    if (snap.dataplane !== null) {
      try {
        const { state: dp, problems } = parseDataplaneState(JSON.parse(snap.dataplane));
        if (problems.length) logger.warn("saved dataplane state partly ignored", { cluster: id, problems });
        dataplane = dp;
      } catch (err) {
        logger.warn("ignoring the saved dataplane state", { cluster: id, error: messageOf(err) });
      }
    }
    return { state, entries, dataplane };
  }

  async open(
    id: string,
    from: { saved: SavedCluster } | { fresh: ClusterState },
    o: StateWriterOptions,
  ): Promise<ClusterStateWriter> {
    if (this.closed) throw new EgresslabError("unavailable", "the cluster state database is closed");
    const writer = new PgStateWriter(this, id, o);
    if ("fresh" in from) {
      try {
        await writer.snapshot(from.fresh, { clear: true, fresh: true });
      } catch (err) {
        throw new EgresslabError(
          "unavailable",
          `the new cluster "${id}" was not saved: the database answered ${messageOf(err)}`,
          { cause: err },
        );
      }
    }
    return writer;
  }

  delete(id: string): Promise<void> {
    return this.enqueue({ kind: "delete", id });
  }

  async quarantine(id: string): Promise<string> {
    const to = `${id}@quarantine-${new Date().toISOString()}`;
    await this.enqueue({ kind: "rename", id, to });
    return `the database (cluster id ${to})`;
  }

  onMoved(listener: (clusterId: string) => void): void {
    this.movedListeners.push(listener);
  }

  /** Drops the queued writes of `writer` (not those being committed), rejecting them with `err`. */
  drop(writer: PgStateWriter, err: Error): void {
    const dropped = this.queue.filter((it) => it.writer === writer);
    if (!dropped.length) return;
    this.queue = this.queue.filter((it) => it.writer !== writer);
    for (const it of dropped) it.reject(err);
  }

  /** Waits for every queued write. */
  async idle(): Promise<void> {
    for (;;) {
      if (this.running) await this.running;
      else if (this.queue.length) this.start();
      else return;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.idle();
    if (this.ownsPool) await this.pool.end();
  }

  /** Queues a write for the next commit; resolves when it is committed. */
  enqueue(item: Write): Promise<void> {
    const p = new Promise<void>((resolve, reject) => {
      this.queue.push({ ...item, resolve, reject });
    });
    this.lastOf.set(item.id, p);
    void p.then(
      () => {
        if (this.lastOf.get(item.id) === p) this.lastOf.delete(item.id);
      },
      () => {
        if (this.lastOf.get(item.id) === p) this.lastOf.delete(item.id);
      },
    );
    this.kick();
    return p;
  }

  /** Starts a commit soon (the next turn of the event loop, or after `delayMs`) unless one is on its way. */
  private kick(): void {
    if (this.running || this.timer) return;
    const delay = this.opts.delayMs ?? 0;
    if (delay > 0) {
      const t = setTimeout(() => this.start(), delay);
      this.timer = { cancel: () => clearTimeout(t) };
    } else {
      const t = setImmediate(() => this.start());
      this.timer = { cancel: () => clearImmediate(t) };
    }
  }

  private start(): void {
    this.timer?.cancel();
    this.timer = undefined;
    if (this.running) return;
    this.running = this.drain().finally(() => {
      this.running = undefined;
      if (this.queue.length) this.kick();
    });
  }

  /** Commits batches while there are writes queued (those that arrive during a commit go into the next). */
  private async drain(): Promise<void> {
    while (this.queue.length) {
      const batch = this.takeBatch();
      await this.commit(batch);
    }
  }

  /**
   * The next writes that can share a transaction: up to `maxBatch`, ending before a write of a cluster that the batch
   * deletes or renames, or a snapshot that starts a cluster's journal afresh after writes of it in the batch.
   */
  private takeBatch(): Item[] {
    const max = this.opts.maxBatch ?? 2000;
    const seen = new Set<string>();
    const ended = new Set<string>();
    let n = 0;
    for (; n < this.queue.length && n < max; n++) {
      const it = this.queue[n]!;
      if (ended.has(it.id)) break;
      if (it.kind === "snapshot" && it.clear && seen.has(it.id)) break;
      seen.add(it.id);
      if (it.kind === "delete" || it.kind === "rename") ended.add(it.id);
    }
    return this.queue.splice(0, Math.max(n, 1));
  }

  private async commit(batch: Item[]): Promise<void> {
    try {
      this.finish(batch, await this.write(batch));
      return;
    } catch (err) {
      const byCluster = new Map<string, Item[]>();
      for (const it of batch) byCluster.set(it.id, [...(byCluster.get(it.id) ?? []), it]);
      const connection = !sqlState(err) || /^(08|57|53)/.test(sqlState(err)!);
      if (connection || byCluster.size === 1) {
        this.fail(batch, err);
        return;
      }
      // Something in the batch itself: each cluster's part on its own, so the others still commit.
      for (const part of byCluster.values()) {
        try {
          this.finish(part, await this.write(part));
        } catch (again) {
          this.fail(part, again);
        }
      }
    }
  }

  /** A batch's transaction committed: its writes are settled, except those of clusters fenced off. */
  private finish(batch: Item[], written: Written): void {
    for (const it of batch) {
      const g = written.generations.get(it.id);
      if (g !== undefined && it.writer) it.writer.generation ??= g;
    }
    if (!written.fenced.size) {
      this.settle(batch);
      return;
    }
    const fenced = batch.filter((it) => written.fenced.has(it.id));
    const rest = batch.filter((it) => !written.fenced.has(it.id));
    if (rest.length) this.settle(rest);
    this.fenceOff(fenced);
  }

  /**
   * Another replica holds the lease of these writes' clusters: they fail (the store undoes them), and so does every
   * later queued write of their writers, which write nothing more.
   */
  private fenceOff(items: Item[]): void {
    const ids = [...new Set(items.map((i) => i.id))];
    this.log.warn("another replica holds the lease of a cluster: its changes here were refused and undone", {
      clusters: ids,
      writes: items.length,
    });
    const writers = new Set<PgStateWriter>();
    for (const it of items) if (it.writer) writers.add(it.writer);
    const later = this.queue.filter((it) => it.writer && writers.has(it.writer));
    this.queue = this.queue.filter((it) => !(it.writer && writers.has(it.writer)));
    for (const w of writers) w.fencedOff();
    const e = moved();
    for (const it of [...items, ...later]) it.reject(e);
    for (const id of ids) for (const l of this.movedListeners) l(id);
  }

  private settle(batch: Item[]): void {
    this.stats.commits++;
    this.stats.largest = Math.max(this.stats.largest, batch.length);
    for (const it of batch) {
      if (it.kind === "append") this.stats.appends++;
      it.resolve();
    }
  }

  /** The commit of `batch` failed: its writes, and every later queued write of the same clusters' writers, fail. */
  private fail(batch: Item[], err: unknown): void {
    this.stats.failures++;
    this.log.error("a commit of cluster state failed; the changes in it were undone", {
      writes: batch.length,
      clusters: new Set(batch.map((i) => i.id)).size,
      error: messageOf(err),
    });
    const failed = new Set<PgStateWriter>();
    for (const it of batch) if (it.writer) failed.add(it.writer);
    const later = this.queue.filter((it) => it.writer && failed.has(it.writer));
    this.queue = this.queue.filter((it) => !(it.writer && failed.has(it.writer)));
    for (const w of failed) w.failed();
    const e = notSaved(err);
    for (const it of [...batch, ...later]) it.reject(e);
  }

  /** Writes one batch in one transaction (fenced: only the clusters whose lease this replica holds). */
  private async write(batch: Item[]): Promise<Written> {
    const me = this.opts.replica;
    const written: Written = { fenced: new Set(), generations: new Map() };
    const ids = [...new Set(batch.map((it) => it.id))];
    const generationOf = new Map<string, number>();
    for (const it of batch) {
      const g = it.writer?.generation;
      if (g !== undefined && !generationOf.has(it.id)) generationOf.set(it.id, g);
    }
    const epochs = ids.map((id) => generationOf.get(id) ?? null);
    /** Reads which clusters may be written from `rows` (those `allowed` returned). */
    const judge = (rows: { id: string; generation: string | null }[]): Set<string> => {
      const ok = new Set<string>();
      for (const r of rows) {
        ok.add(r.id);
        if (r.generation !== null) written.generations.set(r.id, Number(r.generation));
      }
      for (const id of ids) if (!ok.has(id)) written.fenced.add(id);
      return ok;
    };
    const c = await this.connection();
    let broken: Error | undefined;
    try {
      // Only journal rows (the usual batch): one statement is its own transaction, one round trip.
      if (batch.every((it) => it.kind === "append")) {
        const a = appendArrays(batch);
        if (!me) await c.query(insertAppends, [a.id, a.rv, a.text]);
        else
          judge(
            (
              await c.query<{ id: string; generation: string | null }>(
                `WITH ${allowedClusters}, inserted AS (
                   INSERT INTO cluster_journal (cluster_id, resource_version, changes)
                   SELECT a.id, a.rv, a.text FROM unnest($4::text[], $5::bigint[], $6::text[]) AS a(id, rv, text)
                    WHERE a.id IN (SELECT id FROM allowed)
                 )
                 SELECT id, generation FROM allowed`,
                [ids, epochs, me, a.id, a.rv, a.text],
              )
            ).rows,
          );
      } else
        await inTransaction(c, async () => {
          let items = batch;
          if (me) {
            const ok = judge(
              (
                await c.query<{ id: string; generation: string | null }>(
                  `WITH ${allowedClusters} SELECT id, generation FROM allowed`,
                  [ids, epochs, me],
                )
              ).rows,
            );
            items = batch.filter((it) => ok.has(it.id));
          }
          await writeItems(c, items);
        });
    } catch (err) {
      // A connection that failed mid-transaction is not given back to the pool.
      if (!sqlState(err)) broken = err instanceof Error ? err : new Error(String(err));
      throw err;
    } finally {
      c.release(broken);
    }
    return written;
  }
}

const insertAppends = `INSERT INTO cluster_journal (cluster_id, resource_version, changes)
             SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[])`;

/** The journal rows of `items`, as the columns' arrays. */
function appendArrays(items: Item[]): { id: string[]; rv: number[]; text: string[] } {
  const out = { id: [] as string[], rv: [] as number[], text: [] as string[] };
  for (const it of items)
    if (it.kind === "append") {
      out.id.push(it.id);
      out.rv.push(it.rv);
      out.text.push(it.text);
    }
  return out;
}

/** Every statement of `items`, inside the caller's transaction. */
async function writeItems(c: PgClient, items: Item[]): Promise<void> {
  const clear = new Set<string>();
  const snaps = new Map<string, { rv: number; text: string; fresh: boolean }>();
  const dataplanes = new Map<string, string>();
  const deletes: string[] = [];
  const renames: { id: string; to: string }[] = [];
  for (const it of items) {
    switch (it.kind) {
      case "append":
        break;
      case "snapshot": {
        if (it.clear) clear.add(it.id);
        const fresh = it.fresh || (snaps.get(it.id)?.fresh ?? false);
        snaps.set(it.id, { rv: it.rv, text: it.text, fresh });
        if (it.fresh) dataplanes.delete(it.id);
        break;
      }
      case "dataplane":
        dataplanes.set(it.id, it.text);
        break;
      case "delete":
        deletes.push(it.id);
        break;
      case "rename":
        renames.push({ id: it.id, to: it.to });
        break;
    }
  }
  const appends = appendArrays(items);
  if (clear.size)
    await c.query("DELETE FROM cluster_journal WHERE cluster_id = ANY($1::text[])", [[...clear]]);
  if (appends.id.length) await c.query(insertAppends, [appends.id, appends.rv, appends.text]);
  if (snaps.size) await writeSnapshots(c, snaps);
  if (dataplanes.size)
    await c.query(
      `UPDATE cluster_snapshots AS s SET dataplane = d.state, updated_at = now()
       FROM unnest($1::text[], $2::text[]) AS d(id, state) WHERE s.cluster_id = d.id`,
      [[...dataplanes.keys()], [...dataplanes.values()]],
    );
  if (deletes.length) {
    await c.query("DELETE FROM cluster_journal WHERE cluster_id = ANY($1::text[])", [deletes]);
    await c.query("DELETE FROM cluster_snapshots WHERE cluster_id = ANY($1::text[])", [deletes]);
  }
  for (const r of renames) {
    await c.query("UPDATE cluster_journal SET cluster_id = $2 WHERE cluster_id = $1", [r.id, r.to]);
    await c.query("UPDATE cluster_snapshots SET cluster_id = $2 WHERE cluster_id = $1", [r.id, r.to]);
  }
}

/** Replaces each cluster's snapshot and deletes the journal rows it covers. */
async function writeSnapshots(
  c: PgClient,
  snaps: Map<string, { rv: number; text: string; fresh: boolean }>,
): Promise<void> {
  const ids = [...snaps.keys()];
  const v = [...snaps.values()];
  await c.query(
    `INSERT INTO cluster_snapshots (cluster_id, resource_version, state, dataplane, updated_at)
     SELECT id, rv, state, NULL, now() FROM unnest($1::text[], $2::bigint[], $3::text[]) AS s(id, rv, state)
     ON CONFLICT (cluster_id) DO UPDATE SET resource_version = EXCLUDED.resource_version, state = EXCLUDED.state,
       updated_at = now(),
       dataplane = CASE WHEN EXCLUDED.cluster_id = ANY($4::text[]) THEN NULL ELSE cluster_snapshots.dataplane END`,
    [ids, v.map((s) => s.rv), v.map((s) => s.text), ids.filter((_, i) => v[i]!.fresh)],
  );
  await c.query(
    `DELETE FROM cluster_journal AS j USING unnest($1::text[], $2::bigint[]) AS s(id, rv)
     WHERE j.cluster_id = s.id AND j.resource_version <= s.rv`,
    [ids, v.map((s) => s.rv)],
  );
}

/** One running cluster's writes to Postgres. */
class PgStateWriter implements ClusterStateWriter {
  /** Journal bytes since the last snapshot. */
  private bytes = 0;
  private compactScheduled = false;
  /** A commit failed: the next write starts with a full snapshot that replaces the journal. */
  private repair = false;
  /**
   * After a failed commit, until the store has undone it: transactions past this resourceVersion were built on the
   * undone ones and are refused too.
   */
  private undoneAbove: number | undefined;
  /** The resourceVersion of each queued append, to know what a failure undoes. */
  private readonly queued = new Map<Promise<void>, number>();
  private closed = false;
  /** Why appends are refused once closed (another replica took the cluster over, or it is shutting down). */
  private closedBy: "close" | "fenced" = "close";
  /** The generation of the lease this writer first committed under (fencing); undefined before, or without a lease. */
  generation: number | undefined;
  private readonly outstanding = new Set<Promise<void>>();

  constructor(
    private readonly backend: PgClusterState,
    private readonly id: string,
    private readonly o: StateWriterOptions,
  ) {}

  private track(p: Promise<void>): Promise<void> {
    this.outstanding.add(p);
    const done = (): void => void this.outstanding.delete(p);
    p.then(done, done);
    return p;
  }

  append(changes: readonly JournalChange[], resourceVersion: number): Promise<void> {
    if (this.closed)
      throw this.closedBy === "fenced"
        ? moved()
        : new ApiError(503, "ServiceUnavailable", "the cluster is shutting down");
    if (this.undoneAbove !== undefined) {
      if (resourceVersion > this.undoneAbove)
        throw notSaved(new Error("an earlier change it builds on was not saved"));
      this.undoneAbove = undefined;
    }
    if (this.repair) {
      // The store is back at its last committed state plus this transaction: a snapshot of it covers this row.
      this.repair = false;
      void this.snapshot(this.o.snapshot(), { clear: true, fresh: false }).catch(() => undefined);
    }
    const text = encodeEntry(changes, resourceVersion);
    this.bytes += text.length;
    if (this.bytes >= (this.o.compactBytes ?? DEFAULT_COMPACT_BYTES) && !this.compactScheduled) {
      this.compactScheduled = true;
      setImmediate(() => {
        this.compactScheduled = false;
        if (!this.closed) void this.compact();
      });
    }
    const p = this.backend.enqueue({ kind: "append", id: this.id, rv: resourceVersion, text, writer: this });
    this.queued.set(p, resourceVersion);
    const done = (): void => void this.queued.delete(p);
    p.then(done, done);
    return this.track(p);
  }

  /** Queues `state` as the cluster's snapshot (after every write queued before it). */
  snapshot(state: ClusterState, how: { clear: boolean; fresh: boolean }): Promise<void> {
    if (this.closedBy === "fenced") return Promise.reject(moved());
    this.bytes = 0;
    return this.track(
      this.backend.enqueue({
        kind: "snapshot",
        id: this.id,
        rv: state.resourceVersion,
        text: JSON.stringify(state),
        ...how,
        writer: this,
      }),
    );
  }

  /** Replaces the snapshot with the cluster now and drops the journal rows it covers. False when it failed. */
  async compact(): Promise<boolean> {
    // Run between transactions, after the store has undone any failed commit: a repair can be this snapshot.
    const clear = this.repair;
    this.repair = false;
    this.undoneAbove = undefined;
    try {
      await this.snapshot(this.o.snapshot(), { clear, fresh: false });
      return true;
    } catch (err) {
      this.o.logger.warn("could not write the cluster snapshot; the journal keeps every change", {
        error: messageOf(err),
      });
      return false;
    }
  }

  /** The backend is failing this writer's queued writes (called before it rejects them). */
  failed(): void {
    this.repair = true;
    const undone = [...this.queued.values()];
    if (undone.length) this.undoneAbove = Math.max(this.undoneAbove ?? 0, ...undone);
  }

  /** Another replica holds the cluster's lease: this writer writes nothing more (its queued writes are failed). */
  fencedOff(): void {
    this.failed();
    this.closed = true;
    this.closedBy = "fenced";
  }

  saveDataplane(state: DataplaneState): Promise<void> {
    if (this.closedBy === "fenced") return Promise.reject(moved());
    return this.track(
      this.backend.enqueue({ kind: "dataplane", id: this.id, text: dataplaneStateText(state), writer: this }),
    );
  }

  abandon(): void {
    if (this.closed) return;
    this.closed = true;
    this.backend.drop(
      this,
      new ApiError(503, "ServiceUnavailable", "the cluster moved to another replica; nothing was changed"),
    );
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.allSettled([...this.outstanding]);
    if (this.bytes > 0 || this.repair) {
      const clear = this.repair;
      this.repair = false;
      await this.snapshot(this.o.snapshot(), { clear, fresh: false }).catch((err: unknown) =>
        this.o.logger.warn("could not write the cluster snapshot on close; the journal keeps every change", {
          error: messageOf(err),
        }),
      );
    }
  }
}
