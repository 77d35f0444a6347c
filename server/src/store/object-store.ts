/**
 * The in-memory object store of one cluster: objects per resource key, one cluster-wide monotonically increasing
 * resourceVersion, a bounded history of changes for watches (a watch from a version older than the history is 410
 * Gone), and synchronous in-process subscribers.
 *
 * With a journal attached, writes are grouped into transactions (`atomically`): at the end of the outermost one its
 * changes are handed to the journal, and only when the journal has made them durable do watchers see them. When the
 * journal fails, every change of the transaction is undone in memory (subscribers see the undo) and the journal's
 * error is thrown, so a caller never acknowledges a write that is not on disk.
 *
 * A journal may also commit later (a database, in batches): then the transaction stays pending, in memory and seen by
 * in-process subscribers, until its commit; watchers see it after the commit, and `committed(rv)` is what a caller
 * awaits before acknowledging. When a commit fails, that transaction and every pending one after it (they were built
 * on it) are undone, newest first, and whoever awaits them gets the journal's error.
 */
import {
  ApiError,
  type KubeObject,
  type ObjectStore,
  type ResourceKey,
  type StoreChange,
  type WatchEvent,
  type WatchEventType,
} from "./types.ts";

interface HistoryEntry {
  rv: number;
  key: ResourceKey;
  type: WatchEventType;
  object: KubeObject;
  /** The object before a MODIFIED, for watchers whose filter the change enters or leaves. */
  previous?: KubeObject;
}

/** What a watcher wants to see: a resource key and a predicate over objects (namespace, label and field selectors). */
export interface WatchFilter {
  key: ResourceKey;
  /** Whether the watcher wants to see this object (its namespace and selectors match). */
  matches(obj: KubeObject): boolean;
  /**
   * Called (and the watch stopped) when what the watcher was shown is no longer the store's history: a state it listed
   * before its commit was undone. The watcher must list again, as after a 410 Gone.
   */
  expired?(err: ApiError): void;
}

interface Watcher {
  filter: WatchFilter;
  cb: (e: WatchEvent) => void;
  /** The newest resourceVersion the watcher has been shown (its start included): older changes are not sent again. */
  seen: number;
}

const nsName = (ns: string | undefined, name: string) => `${ns ?? ""}/${name}`;

/** One stored change, as a journal records it. */
export interface JournalChange {
  key: ResourceKey;
  type: "ADDED" | "MODIFIED" | "DELETED";
  object: KubeObject;
}

/** Where a store's changes are made durable before anyone outside the store sees them. */
export interface ChangeJournal {
  /**
   * Makes one transaction's changes durable, ending at `resourceVersion`. Either before returning (written and synced;
   * throws when it cannot, and then nothing of the transaction may be saved either), or later: it returns a promise
   * that resolves once they are committed and rejects when they were not (and nothing of them was saved). Promises
   * settle in the order of the appends, and a rejected one means every later append of the store is rejected too.
   */
  append(changes: readonly JournalChange[], resourceVersion: number): void | Promise<void>;
}

/** A transaction handed to a journal that commits later. */
interface PendingCommit {
  tx: Transaction;
  /** The resourceVersion it ends at. */
  rv: number;
}

interface CommitWaiter {
  rv: number;
  resolve: () => void;
  reject: (err: unknown) => void;
}

interface Transaction {
  startRv: number;
  changes: JournalChange[];
  /** What each change replaced, to undo it. */
  undo: { key: ResourceKey; id: string; previous: KubeObject | undefined; applied: KubeObject | undefined }[];
  entries: HistoryEntry[];
}

export class MemoryStore implements ObjectStore {
  private readonly buckets = new Map<ResourceKey, Map<string, KubeObject>>();
  private readonly sorted = new Map<ResourceKey, KubeObject[]>();
  /** owner uid → the dependents that reference it (`key` NUL `namespace/name`). */
  private readonly owners = new Map<string, Set<string>>();
  private rv: number;
  private readonly history: HistoryEntry[] = [];
  private readonly subscribers = new Set<(c: StoreChange) => void>();
  private readonly watchers = new Set<Watcher>();
  private journal: ChangeJournal | undefined;
  private tx: Transaction | undefined;
  /** Transactions a journal has not committed yet, oldest first. */
  private readonly pending: PendingCommit[] = [];
  private readonly waiters: CommitWaiter[] = [];

  constructor(
    private readonly historyLimit = 1000,
    startRv = 1,
  ) {
    this.rv = startRv;
  }

  /** The current (latest) resourceVersion. */
  get resourceVersion(): number {
    return this.rv;
  }

  get(key: ResourceKey, namespace: string | undefined, name: string): KubeObject | undefined {
    return this.buckets.get(key)?.get(nsName(namespace, name));
  }

  /** The objects of `key` (in one namespace), sorted by namespace and name (a new array of the stored objects). */
  list(key: ResourceKey, namespace?: string): KubeObject[] {
    const b = this.buckets.get(key);
    if (!b) return [];
    let all = this.sorted.get(key);
    if (!all) {
      all = [...b.entries()].sort((x, y) => (x[0] < y[0] ? -1 : 1)).map((e) => e[1]);
      this.sorted.set(key, all);
    }
    return namespace === undefined
      ? all.slice()
      : all.filter((o) => (o.metadata.namespace ?? "") === namespace);
  }

  /** How many objects of `key` are stored. */
  count(key: ResourceKey): number {
    return this.buckets.get(key)?.size ?? 0;
  }

  /** Every resource key that holds objects. */
  keys(): ResourceKey[] {
    return [...this.buckets.keys()].filter((k) => (this.buckets.get(k)?.size ?? 0) > 0);
  }

  private index(uid: string, ref: string): void {
    let set = this.owners.get(uid);
    if (!set) this.owners.set(uid, (set = new Set()));
    set.add(ref);
  }

  /** The objects whose ownerReferences name `uid`, with their resource keys. */
  dependents(uid: string): { key: ResourceKey; object: KubeObject }[] {
    const out: { key: ResourceKey; object: KubeObject }[] = [];
    for (const ref of this.owners.get(uid) ?? []) {
      const [key, id] = ref.split("\0") as [string, string];
      const o = this.buckets.get(key)?.get(id);
      if (o) out.push({ key, object: o });
    }
    return out;
  }

  subscribe(cb: (change: StoreChange) => void): () => void {
    this.subscribers.add(cb);
    return () => this.subscribers.delete(cb);
  }

  /** From now on, every change is made durable through `journal` before it is visible (see the file's comment). */
  setJournal(journal: ChangeJournal | undefined): void {
    this.journal = journal;
  }

  /**
   * Runs `fn` as one transaction: its changes reach the journal together when it returns (or throws), and only then
   * watchers. Nested calls join the outer transaction. Without a journal, `fn` just runs.
   */
  atomically<T>(fn: () => T): T {
    if (!this.journal || this.tx) return fn();
    const tx: Transaction = { startRv: this.rv, changes: [], undo: [], entries: [] };
    this.tx = tx;
    let result: T;
    try {
      result = fn();
    } catch (err) {
      this.tx = undefined;
      this.finish(tx);
      throw err;
    }
    this.tx = undefined;
    this.finish(tx);
    return result;
  }

  private finish(tx: Transaction): void {
    if (!tx.changes.length) return;
    let later: void | Promise<void>;
    try {
      later = this.journal?.append(tx.changes, this.rv);
    } catch (err) {
      this.undo(tx);
      throw err;
    }
    if (!later) {
      for (const entry of tx.entries) this.record(entry);
      return;
    }
    const p: PendingCommit = { tx, rv: this.rv };
    this.pending.push(p);
    later.then(
      () => this.committedThrough(p),
      (err: unknown) => this.rollBack(p, err),
    );
  }

  /** `p` and every pending transaction before it are committed: watchers see them, waiters for them go on. */
  private committedThrough(p: PendingCommit): void {
    const at = this.pending.indexOf(p);
    if (at < 0) return;
    for (const done of this.pending.splice(0, at + 1))
      for (const entry of done.tx.entries) this.record(entry);
    this.settleWaiters();
  }

  /** The commit of `p` failed: undoes it and every pending transaction after it, newest first. */
  private rollBack(p: PendingCommit, err: unknown): void {
    const at = this.pending.indexOf(p);
    if (at < 0) return;
    const undone = this.pending.splice(at);
    for (let i = undone.length - 1; i >= 0; i--) this.undo(undone[i]!.tx);
    const back = p.tx.startRv;
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      const w = this.waiters[i]!;
      if (w.rv <= back) continue;
      this.waiters.splice(i, 1);
      w.reject(err);
    }
    // A watcher shown a state that is now undone (a list taken before the commit) must list again.
    for (const w of [...this.watchers])
      if (w.seen > back) {
        this.watchers.delete(w);
        w.filter.expired?.(
          new ApiError(
            410,
            "Expired",
            `too old resource version: ${w.seen} (${back}): a change it saw was undone`,
          ),
        );
      }
    this.settleWaiters();
  }

  private settleWaiters(): void {
    const oldest = this.pending[0]?.rv ?? Infinity;
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      const w = this.waiters[i]!;
      if (w.rv >= oldest) continue;
      this.waiters.splice(i, 1);
      w.resolve();
    }
  }

  /**
   * Resolves once every change up to resourceVersion `rv` (default: the current one) is durable — at once without a
   * journal, or with one that commits before returning. Rejects with the journal's error when one of them could not
   * be committed and was undone.
   */
  committed(rv = this.rv): Promise<void> {
    const oldest = this.pending[0]?.rv;
    if (oldest === undefined || rv < oldest) return Promise.resolve();
    return new Promise((resolve, reject) => this.waiters.push({ rv, resolve, reject }));
  }

  /** How many transactions wait for their commit. */
  get pendingCommits(): number {
    return this.pending.length;
  }

  private undo(tx: Transaction): void {
    for (let i = tx.undo.length - 1; i >= 0; i--) {
      const u = tx.undo[i]!;
      const b = this.buckets.get(u.key);
      if (!b) continue;
      const ref = `${u.key}\0${u.id}`;
      for (const r of u.applied?.metadata.ownerReferences ?? []) this.owners.get(r.uid)?.delete(ref);
      if (u.previous) {
        b.set(u.id, u.previous);
        for (const r of u.previous.metadata.ownerReferences ?? []) this.index(r.uid, ref);
      } else b.delete(u.id);
      this.sorted.delete(u.key);
      const change: StoreChange = u.previous
        ? { key: u.key, type: u.applied ? "MODIFIED" : "ADDED", object: u.previous }
        : { key: u.key, type: "DELETED", object: u.applied! };
      for (const s of [...this.subscribers]) s(change);
    }
    this.rv = tx.startRv;
  }

  /** Allocates the next resourceVersion. */
  nextVersion(): string {
    this.rv += 1;
    return String(this.rv);
  }

  /**
   * Stores an object whose `metadata.resourceVersion` was set from `nextVersion()`, records the change and notifies
   * watchers and subscribers. `DELETED` removes it.
   */
  commit(key: ResourceKey, type: "ADDED" | "MODIFIED" | "DELETED", obj: KubeObject): void {
    if (this.journal && !this.tx) {
      this.atomically(() => this.commit(key, type, obj));
      return;
    }
    let b = this.buckets.get(key);
    if (!b) this.buckets.set(key, (b = new Map()));
    const id = nsName(obj.metadata.namespace, obj.metadata.name);
    const previous = b.get(id);
    if (type === "DELETED") b.delete(id);
    else b.set(id, obj);
    this.sorted.delete(key);
    const ref = `${key}\0${id}`;
    for (const r of previous?.metadata.ownerReferences ?? []) this.owners.get(r.uid)?.delete(ref);
    if (type !== "DELETED") for (const r of obj.metadata.ownerReferences ?? []) this.index(r.uid, ref);
    const rv = Number(obj.metadata.resourceVersion ?? this.rv);
    const entry: HistoryEntry = {
      rv,
      key,
      type,
      object: obj,
      ...(previous && type === "MODIFIED" ? { previous } : {}),
    };
    if (this.tx) {
      this.tx.changes.push({ key, type, object: obj });
      this.tx.undo.push({ key, id, previous, applied: type === "DELETED" ? undefined : obj });
      this.tx.entries.push(entry);
    } else this.record(entry);
    for (const s of [...this.subscribers]) s({ key, type, object: obj });
  }

  /** Keeps a change in the watch history and sends it to watchers. */
  private record(entry: HistoryEntry): void {
    this.history.push(entry);
    // Trimmed in batches (amortised O(1)); between trims up to twice the limit is kept.
    if (this.history.length >= this.historyLimit * 2)
      this.history.splice(0, this.history.length - this.historyLimit);
    for (const w of [...this.watchers]) this.deliver(w, entry);
  }

  private deliver(w: Watcher, e: HistoryEntry): void {
    if (e.key !== w.filter.key || e.rv <= w.seen) return;
    w.seen = e.rv;
    const now = w.filter.matches(e.object);
    if (e.type === "MODIFIED" && e.previous) {
      const before = w.filter.matches(e.previous);
      if (before && now) w.cb({ type: "MODIFIED", object: e.object });
      else if (!before && now) w.cb({ type: "ADDED", object: e.object });
      else if (before && !now) w.cb({ type: "DELETED", object: e.object });
      return;
    }
    if (now) w.cb({ type: e.type, object: e.object });
  }

  /**
   * Starts a watch. With `fromRv` (a resourceVersion other than "0"), replays the changes after it from the history
   * (410 Gone if the history no longer reaches back that far); without it, sends the current objects as ADDED first,
   * as the Kubernetes API server does. Returns the function that stops the watch.
   */
  watch(filter: WatchFilter, fromRv: string | undefined, cb: (e: WatchEvent) => void): () => void {
    const w: Watcher = { filter, cb, seen: this.rv };
    if (fromRv === undefined || fromRv === "" || fromRv === "0") {
      for (const o of this.list(filter.key)) if (filter.matches(o)) cb({ type: "ADDED", object: o });
    } else {
      const from = Number(fromRv);
      if (!Number.isInteger(from) || from < 0)
        throw new ApiError(400, "BadRequest", `invalid resource version: ${fromRv}`);
      const oldest = this.history[0]?.rv ?? this.rv + 1;
      if (from < oldest - 1 && from < this.rv)
        throw new ApiError(410, "Expired", `too old resource version: ${from} (${oldest - 1})`);
      w.seen = from;
      for (const e of this.history) this.deliver(w, e);
      // Changes listed from a state not yet committed are not sent again when they are.
      w.seen = Math.max(w.seen, from);
    }
    this.watchers.add(w);
    return () => {
      this.watchers.delete(w);
    };
  }

  /** Everything stored, for persistence. */
  snapshot(): { resourceVersion: number; objects: Record<ResourceKey, KubeObject[]> } {
    const objects: Record<ResourceKey, KubeObject[]> = {};
    for (const [k, b] of this.buckets) if (b.size) objects[k] = [...b.values()];
    return { resourceVersion: this.rv, objects };
  }

  /** Loads a snapshot into an empty store (no events). */
  restore(snap: { resourceVersion: number; objects: Record<ResourceKey, KubeObject[]> }): void {
    this.buckets.clear();
    this.sorted.clear();
    this.history.length = 0;
    this.owners.clear();
    for (const [k, items] of Object.entries(snap.objects)) {
      const b = new Map<string, KubeObject>();
      for (const o of items) {
        const id = nsName(o.metadata.namespace, o.metadata.name);
        b.set(id, o);
        for (const r of o.metadata.ownerReferences ?? []) this.index(r.uid, `${k}\0${id}`);
      }
      this.buckets.set(k, b);
    }
    this.rv = Math.max(this.rv, snap.resourceVersion);
  }

  /** Applies journalled changes on top of a restored snapshot (no events, no journal). */
  replay(changes: readonly JournalChange[], resourceVersion: number): void {
    for (const c of changes) {
      let b = this.buckets.get(c.key);
      if (!b) this.buckets.set(c.key, (b = new Map()));
      const id = nsName(c.object.metadata.namespace, c.object.metadata.name);
      const ref = `${c.key}\0${id}`;
      for (const r of b.get(id)?.metadata.ownerReferences ?? []) this.owners.get(r.uid)?.delete(ref);
      if (c.type === "DELETED") b.delete(id);
      else {
        b.set(id, c.object);
        for (const r of c.object.metadata.ownerReferences ?? []) this.index(r.uid, ref);
      }
      this.sorted.delete(c.key);
    }
    this.rv = Math.max(this.rv, resourceVersion);
  }
}
