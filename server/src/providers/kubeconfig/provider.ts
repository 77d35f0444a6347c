/**
 * The kubeconfig provider: a fixed pool of existing clusters (any engine: cloud, Cluster API, Calico Enterprise),
 * one kubeconfig file each. Each attendee leases one; leases persist in `<dataDir>/kubeconfig-leases.json`.
 */
import path from "node:path";
import type {
  AcquireOptions,
  ClusterConnection,
  ClusterProvider,
  ProviderCapabilities,
} from "../provider.ts";
import type { ClusterSummary } from "../summary.ts";
import { EgresslabError } from "../../shared/errors.ts";
import { noopLogger, type Logger } from "../../shared/logger.ts";
import { readLeases, writeLeases, type Lease } from "./leases.ts";
import { loadPool, type PoolSource } from "./load.ts";
import type { PoolKubeconfig } from "./parse.ts";

export interface KubeconfigProviderOptions extends PoolSource {
  /** Where the lease file is kept. */
  dataDir: string;
  logger?: Logger;
  /** The lease time to record (tests pass a fixed clock). */
  now?: () => Date;
}

/** Loads and validates the pool and the leases; throws a ValidationError naming every broken file. */
export async function createKubeconfigProvider(opts: KubeconfigProviderOptions): Promise<KubeconfigProvider> {
  const pool = loadPool(opts);
  const leaseFile = path.join(opts.dataDir, "kubeconfig-leases.json");
  const leases = await readLeases(leaseFile);
  const log = (opts.logger ?? noopLogger).child({ provider: "kubeconfig" });
  const names = new Set(pool.map((p) => p.name));
  let dropped = false;
  for (const [id, lease] of leases) {
    if (!names.has(lease.cluster)) {
      log.warn("dropping a lease: its cluster is no longer in the pool", { id, cluster: lease.cluster });
      leases.delete(id);
      dropped = true;
    }
  }
  if (dropped) await writeLeases(leaseFile, leases);
  log.info("kubeconfig pool loaded", { clusters: pool.length, leased: leases.size });
  return new KubeconfigProvider(pool, leases, leaseFile, opts, log);
}

export class KubeconfigProvider implements ClusterProvider {
  readonly name = "kubeconfig" as const;
  readonly capabilities: ProviderCapabilities;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly pool: readonly PoolKubeconfig[],
    private readonly leases: Map<string, Lease>,
    private readonly leaseFile: string,
    private readonly opts: KubeconfigProviderOptions,
    private readonly log: Logger,
  ) {
    const editions = new Set(pool.map((p) => p.edition));
    this.capabilities = {
      canCreate: false,
      realDataplane: true,
      calicoEdition: editions.has("enterprise") ? "enterprise" : "oss",
      typicalReadySeconds: 1,
    };
  }

  /** Runs lease changes one at a time, so two attendees never get the same cluster. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => undefined);
    return next;
  }

  acquire(opts: AcquireOptions): Promise<ClusterConnection> {
    return this.serial(async () => {
      const held = this.leases.get(opts.id);
      const entry = held ? this.pool.find((p) => p.name === held.cluster) : this.pickFree(opts);
      if (!entry) throw this.exhausted();
      if (!held) {
        this.leases.set(opts.id, {
          cluster: entry.name,
          since: (this.opts.now?.() ?? new Date()).toISOString(),
        });
        try {
          await writeLeases(this.leaseFile, this.leases);
        } catch (err) {
          this.leases.delete(opts.id);
          throw err;
        }
        this.log.info("leased a cluster", { id: opts.id, cluster: entry.name });
        opts.onProgress?.(`leased cluster ${entry.name} from the kubeconfig pool`);
      }
      return { id: opts.id, provider: "kubeconfig", kubeconfig: entry.kubeconfig, edition: entry.edition };
    });
  }

  private pickFree(opts: AcquireOptions): PoolKubeconfig | undefined {
    const taken = new Set([...this.leases.values()].map((l) => l.cluster));
    const free = this.pool.filter((p) => !taken.has(p.name));
    const wanted = opts.edition ? free.find((p) => p.edition === opts.edition) : undefined;
    const pick = wanted ?? free[0];
    if (pick && opts.edition && pick.edition !== opts.edition) {
      this.log.warn("no free cluster of the requested Calico edition; leasing another", {
        id: opts.id,
        wanted: opts.edition,
        got: pick.edition,
      });
    }
    return pick;
  }

  private exhausted(): EgresslabError {
    const where = this.opts.dir ? ` to ${this.opts.dir}` : "";
    return new EgresslabError(
      "unavailable",
      `all ${this.pool.length} clusters in the kubeconfig pool are leased: add kubeconfig files${where} and restart, or free one with \`egresslab clusters delete --provider kubeconfig --id ID\` (ids: \`egresslab clusters list\`)`,
    );
  }

  release(id: string): Promise<void> {
    return this.serial(async () => {
      const lease = this.leases.get(id);
      if (!lease) return;
      this.leases.delete(id);
      try {
        await writeLeases(this.leaseFile, this.leases);
      } catch (err) {
        this.leases.set(id, lease);
        throw err;
      }
      this.log.info("returned a cluster to the pool", { id, cluster: lease.cluster });
    });
  }

  /** Every cluster in the pool, leased or free. */
  list(): Promise<ClusterSummary[]> {
    const byCluster = new Map([...this.leases].map(([id, l]) => [l.cluster, { id, ...l }]));
    return Promise.resolve(
      this.pool.map((p) => {
        const lease = byCluster.get(p.name);
        return {
          id: lease?.id ?? p.name,
          provider: "kubeconfig" as const,
          detail: `${p.name} (${p.edition}, ${p.server}): ${lease ? `leased to ${lease.id} since ${lease.since}` : "free"}`,
          kubeconfigPath: p.file,
        };
      }),
    );
  }

  async close(): Promise<void> {
    await this.queue;
  }
}
