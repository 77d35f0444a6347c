/**
 * Where attendees' clusters come from. Every provider hands the rest of the server the same `ClusterConnection`, so
 * grading, the terminal and the flow views never ask which provider they are talking to.
 */
import type { Socket } from "node:net";
import type { CalicoEdition } from "../sim/types.ts";

export type ProviderName = "sim" | "kind" | "kubeconfig";

export interface ProviderCapabilities {
  /** Clusters are created on demand (sim, kind) rather than leased from a fixed pool (kubeconfig). */
  canCreate: boolean;
  /** Real packets on a real dataplane (kind, kubeconfig), as opposed to the simulator. */
  realDataplane: boolean;
  calicoEdition: CalicoEdition;
  /** Typical seconds to get a cluster ready, for progress displays. */
  typicalReadySeconds: number;
}

/** A cluster ready for use: a kubeconfig that `kubectl` and `@kubernetes/client-node` accept as is. */
export interface ClusterConnection {
  id: string;
  provider: ProviderName;
  /** The kubeconfig, as YAML text. */
  kubeconfig: string;
  edition: CalicoEdition;
}

export interface AcquireOptions {
  /** A stable id (e.g. the attendee's session); acquiring the same id again returns the same cluster. */
  id: string;
  /** A cluster profile from `clusters/` (e.g. `bare`, or a lab's profile). */
  profile?: string;
  edition?: CalicoEdition;
  seed?: number;
  signal?: AbortSignal;
  /** Progress reports for long operations (creating a kind cluster takes minutes). */
  onProgress?: (step: string) => void;
}

/**
 * Copies of a prepared cluster, for providers that can make one much faster than building it (the simulator): a
 * workshop prepares one cluster per lab variant and hands out copies.
 */
export interface ClusterTemplates {
  /** Keeps what cluster `id` holds now as template `name` (replacing an older one of that name), then releases it. */
  save(id: string, name: string): Promise<void>;
  /** Whether template `name` exists (templates may live in memory only: none after a restart). */
  has(name: string): boolean;
  /**
   * The cluster for `opts.id`: the one it already has, or a new copy of template `name` with its own identity (uids,
   * credentials). Rejects when there is no such template.
   */
  acquire(name: string, opts: AcquireOptions): Promise<ClusterConnection>;
}

export interface ClusterProvider {
  readonly name: ProviderName;
  readonly capabilities: ProviderCapabilities;
  /** Present when the provider can copy clusters. */
  readonly templates?: ClusterTemplates;
  /** Creates (or leases) the cluster for `opts.id`, or returns the one it already has. */
  acquire(opts: AcquireOptions): Promise<ClusterConnection>;
  /** Deletes (or returns to the pool) the cluster for `id`; a no-op for an unknown id. */
  release(id: string): Promise<void>;
  /**
   * Serves `socket` (a learner's unix socket connection, TLS inside) as a connection to the API of the cluster for
   * `id`, and to that cluster only. Providers without it are reached by piping to the kubeconfig's server address.
   */
  connectApi?(id: string, socket: Socket): void;
  /**
   * Stops serving the cluster for `id` in this process, keeping its saved state for the replica that serves it next
   * (several replicas share the state); with `save: false` nothing more is written, as another replica may own that
   * state already. A no-op for an id not served here.
   */
  unload?(id: string, opts: { save: boolean }): Promise<void>;
  /** Releases everything this provider holds open (servers, watchers); clusters persist where the provider persists. */
  close(): Promise<void>;
  /**
   * Clusters (by the ids `acquire` was given) whose saved state could not be read at start and that were made afresh,
   * so whoever owns them can set them up again; `reason` says which file and why.
   */
  rebuilt?(): { id: string; reason: string }[];
  /**
   * Calls `listener` with the id (as `acquire` was given it) of each cluster another replica took over, found when
   * this process's write of its state was refused (several replicas sharing a database): it must stop serving it.
   */
  onMoved?(listener: (id: string) => void): void;
}
