/**
 * Where the kubeconfig pool's leases are kept: a JSON file in the data directory (one process, the default), or the
 * shared Postgres database (several replicas: `pg-leases.ts`), where a claim is atomic across replicas. Either way one
 * pool entry is leased to at most one id at a time.
 */
import type { Lease } from "./leases.ts";
import { readLeases, writeLeases } from "./leases.ts";

/** What `acquire` did. */
export interface Acquired {
  lease: Lease;
  /** True when the cluster was claimed now (false: `id` already held it). */
  claimed: boolean;
  /** Set when the cluster was taken from a lease that had expired (its replica stopped renewing it). */
  reclaimedFrom?: string;
}

export interface PoolLeases {
  /**
   * The lease `id` holds, or a new one on the cluster `pick` chooses among those `taken` does not contain; undefined
   * when `pick` finds none. Atomic: two callers (in any process sharing the store) never get the same cluster.
   * `pick` may be asked twice: first with every leased cluster taken, then (if it found none) with only live leases
   * taken, so a cluster whose lease expired is handed out only when no other is free.
   */
  acquire(
    id: string,
    pick: (taken: ReadonlySet<string>) => string | undefined,
  ): Promise<Acquired | undefined>;
  /** Ends `id`'s lease; returns it (undefined when `id` held none). */
  release(id: string): Promise<Lease | undefined>;
  /** Every lease, by id. */
  list(): Promise<Map<string, Lease>>;
  /** Stops (renewing, for a store whose leases expire); leases stay. */
  close(): Promise<void>;
}

/** Leases in `file`, changed one at a time in this process (the file's behaviour before replicas). */
export async function fileLeases(
  file: string,
  now: () => Date,
  keep?: (lease: Lease) => boolean,
  onDrop?: (id: string, lease: Lease) => void,
): Promise<PoolLeases> {
  const leases = await readLeases(file);
  let dropped = false;
  for (const [id, lease] of leases)
    if (keep && !keep(lease)) {
      onDrop?.(id, lease);
      leases.delete(id);
      dropped = true;
    }
  if (dropped) await writeLeases(file, leases);
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const next = queue.then(fn, fn);
    queue = next.catch(() => undefined);
    return next;
  };
  return {
    acquire: (id, pick) =>
      serial(async () => {
        const held = leases.get(id);
        if (held) return { lease: held, claimed: false };
        const cluster = pick(new Set([...leases.values()].map((l) => l.cluster)));
        if (cluster === undefined) return undefined;
        const lease = { cluster, since: now().toISOString() };
        leases.set(id, lease);
        try {
          await writeLeases(file, leases);
        } catch (err) {
          leases.delete(id);
          throw err;
        }
        return { lease, claimed: true };
      }),
    release: (id) =>
      serial(async () => {
        const lease = leases.get(id);
        if (!lease) return undefined;
        leases.delete(id);
        try {
          await writeLeases(file, leases);
        } catch (err) {
          leases.set(id, lease);
          throw err;
        }
        return lease;
      }),
    list: () => Promise.resolve(new Map(leases)),
    close: async () => {
      await queue;
    },
  };
}
