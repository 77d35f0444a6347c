/**
 * Where a simulated cluster's state is kept between runs, and where another replica finds it: a snapshot of its
 * objects, the journal of transactions since, and the dataplane's rotations and flow log. Two backends: files in the
 * data directory (`fileClusterState`, the embedded default) and a shared Postgres (`scale/pg-cluster-state.ts`).
 */
import type { Logger } from "../shared/logger.ts";
import type { StorageHealth } from "../shared/storage.ts";
import type { DataplaneState } from "../net/state.ts";
import type { ChangeJournal } from "../store/object-store.ts";
import type { ClusterState } from "./persistence.ts";
import type { JournalEntry } from "./journal.ts";

/** A cluster's saved state, as `load` reads it. */
export interface SavedCluster {
  /** The snapshot. */
  state: ClusterState;
  /** The journal's transactions past the snapshot's resourceVersion, oldest first. */
  entries: JournalEntry[];
  /** The dataplane's rotations and flow log (absent, or dropped when unreadable: objects matter more). */
  dataplane: DataplaneState | undefined;
  /** Files: the bytes of the journal that are whole (a torn last line is cut when it is opened again). */
  journalBytes?: number;
}

/** What a cluster's writer needs from the cluster. */
export interface StateWriterOptions {
  /** The whole cluster now, for compaction (called between transactions). */
  snapshot: () => ClusterState;
  health: StorageHealth;
  logger: Logger;
  /** Journal size (bytes) after which the cluster is compacted into its snapshot. */
  compactBytes?: number;
}

/** One running cluster's writer: the store's journal, plus its dataplane state and its last snapshot on close. */
export interface ClusterStateWriter extends ChangeJournal {
  /** Saves the dataplane's state (replacing the saved one); rejects when it could not. */
  saveDataplane(state: DataplaneState): Promise<void>;
  /** Waits for every append, compacts the journal into the snapshot and stops; appends after it are refused. */
  close(): Promise<void>;
  /**
   * Stops without writing anything more (another replica owns the cluster's state now): what is not sent yet is
   * dropped, appends after it are refused.
   */
  abandon(): void;
}

export interface ClusterStateBackend {
  readonly kind: "files" | "postgres";
  /**
   * The saved state of cluster `id` (snapshot, the journal past it, the dataplane), or undefined when there is none.
   * Throws `CorruptStateError` when it is there but cannot be read. This is what rebuilds a cluster on another replica.
   */
  load(id: string, logger: Logger): Promise<SavedCluster | undefined>;
  /**
   * Starts writing cluster `id`: after `load`, from what it returned (`{ saved }`); for a new cluster, from its first
   * snapshot (`{ fresh }`), which replaces whatever was saved under its id and is durable when this resolves.
   */
  open(
    id: string,
    from: { saved: SavedCluster } | { fresh: ClusterState },
    o: StateWriterOptions,
  ): Promise<ClusterStateWriter>;
  /** Forgets a cluster's saved state (no error when there is none), after whatever its writer still sends. */
  delete(id: string): Promise<void>;
  /** Moves a cluster's unreadable state aside, kept for recovery by hand; returns where it went. */
  quarantine(id: string): Promise<string>;
  /** Stops: waits for what is being written and releases connections. */
  close(): Promise<void>;
  /**
   * Calls `listener` with each cluster whose writes were refused because another replica holds its lease (fencing,
   * Postgres only): this replica must stop serving it.
   */
  onMoved?(listener: (clusterId: string) => void): void;
}
