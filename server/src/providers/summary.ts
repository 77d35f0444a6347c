/** What `egresslab clusters list` shows for each cluster a provider holds. */
import type { ClusterProvider, ProviderName } from "./provider.ts";

export interface ClusterSummary {
  /** The id the cluster was acquired for (for a pooled cluster that is not leased: the pool entry's name). */
  id: string;
  provider: ProviderName;
  /** One line for humans: "kind cluster egresslab-a", "leased to alice", "free". */
  detail: string;
  /** Where its kubeconfig is on disk, when the provider keeps one there. */
  kubeconfigPath?: string;
}

/** A provider that can also list what it holds (all three built-in providers). */
export interface ListingProvider extends ClusterProvider {
  /** Every cluster this provider holds or knows of, for `egresslab clusters list`. */
  list(): Promise<ClusterSummary[]>;
}
