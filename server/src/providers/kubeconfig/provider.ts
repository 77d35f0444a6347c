/**
 * The kubeconfig provider: a fixed pool of existing clusters (any engine: cloud, Cluster API, Calico Enterprise),
 * one kubeconfig file each. Each attendee leases one. Leases persist in `<dataDir>/kubeconfig-leases.json`, or, with
 * a shared database (several replicas reading the same pool), in Postgres, where two replicas never lease the same
 * cluster (see `pg-leases.ts`).
 */
import { hostname } from "node:os";
import path from "node:path";
import type {
  AcquireOptions,
  ClusterConnection,
  ClusterProvider,
  ProviderCapabilities,
} from "../provider.ts";
import type { ClusterSummary } from "../summary.ts";
import { EgresslabError, ValidationError } from "../../shared/errors.ts";
import { isPostgresUrl } from "../../scale/pg-db.ts";
import { noopLogger, type Logger } from "../../shared/logger.ts";
import { fileLeases, type PoolLeases } from "./lease-store.ts";
import { PgLeases } from "./pg-leases.ts";
import { loadPool, type PoolSource } from "./load.ts";
import type { PoolKubeconfig } from "./parse.ts";

export interface KubeconfigProviderOptions extends PoolSource {
  /** Where the lease file is kept (without `database`). */
  dataDir: string;
  /** Keeps the leases in this shared Postgres database (`postgres://…`) instead of the data directory. */
  database?: string;
  /** This replica's name, on the leases it renews (default the host name and process id). */
  replica?: string;
  /** With `database`: how long a lease outlives its replica's last renewal (default 60). */
  leaseSeconds?: number;
  logger?: Logger;
  /** The lease time to record (tests pass a fixed clock). */
  now?: () => Date;
}

/** Loads and validates the pool and the leases; throws a ValidationError naming every broken file. */
export async function createKubeconfigProvider(opts: KubeconfigProviderOptions): Promise<KubeconfigProvider> {
  if (opts.database !== undefined && !isPostgresUrl(opts.database))
    throw new ValidationError([{ where: "--database", message: "expects a postgres:// URL" }]);
  const pool = loadPool(opts);
  const log = (opts.logger ?? noopLogger).child({ provider: "kubeconfig" });
  const names = new Set(pool.map((p) => p.name));
  // A shared table may name clusters another replica's pool has and this one's lacks (a rolling change): kept.
  const leases = opts.database
    ? await PgLeases.open({
        url: opts.database,
        replica: opts.replica ?? `${hostname()}-${process.pid}`,
        ...(opts.leaseSeconds !== undefined ? { leaseSeconds: opts.leaseSeconds } : {}),
        logger: log,
      })
    : await fileLeases(
        path.join(opts.dataDir, "kubeconfig-leases.json"),
        opts.now ?? (() => new Date()),
        (lease) => names.has(lease.cluster),
        (id, lease) =>
          log.warn("dropping a lease: its cluster is no longer in the pool", { id, cluster: lease.cluster }),
      );
  log.info("kubeconfig pool loaded", {
    clusters: pool.length,
    leased: (await leases.list()).size,
    leases: opts.database ? "postgres" : "file",
  });
  return new KubeconfigProvider(pool, leases, opts, log);
}

export class KubeconfigProvider implements ClusterProvider {
  readonly name = "kubeconfig" as const;
  readonly capabilities: ProviderCapabilities;

  constructor(
    private readonly pool: readonly PoolKubeconfig[],
    private readonly leases: PoolLeases,
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

  async acquire(opts: AcquireOptions): Promise<ClusterConnection> {
    const got = await this.leases.acquire(opts.id, (taken) => this.pickFree(taken, opts)?.name);
    const entry = got && this.pool.find((p) => p.name === got.lease.cluster);
    if (!got || !entry) {
      // A lease on a cluster this replica's pool lacks is kept for the replicas that have it.
      if (got) throw this.missing(got.lease.cluster);
      throw this.exhausted();
    }
    if (got.claimed) {
      if (opts.edition && entry.edition !== opts.edition)
        this.log.warn("no free cluster of the requested Calico edition; leasing another", {
          id: opts.id,
          wanted: opts.edition,
          got: entry.edition,
        });
      this.log.info("leased a cluster", {
        id: opts.id,
        cluster: entry.name,
        ...(got.reclaimedFrom ? { reclaimedFrom: got.reclaimedFrom } : {}),
      });
      opts.onProgress?.(`leased cluster ${entry.name} from the kubeconfig pool`);
    }
    return { id: opts.id, provider: "kubeconfig", kubeconfig: entry.kubeconfig, edition: entry.edition };
  }

  private pickFree(taken: ReadonlySet<string>, opts: AcquireOptions): PoolKubeconfig | undefined {
    const free = this.pool.filter((p) => !taken.has(p.name));
    return (opts.edition ? free.find((p) => p.edition === opts.edition) : undefined) ?? free[0];
  }

  private exhausted(): EgresslabError {
    const where = this.opts.dir ? ` to ${this.opts.dir}` : "";
    return new EgresslabError(
      "unavailable",
      `all ${this.pool.length} clusters in the kubeconfig pool are leased: add kubeconfig files${where} and restart, or free one with \`egresslab clusters delete --provider kubeconfig --id ID\` (ids: \`egresslab clusters list\`)`,
    );
  }

  private missing(cluster: string): EgresslabError {
    return new EgresslabError(
      "unavailable",
      `this attendee's cluster ${cluster} is not in this server's kubeconfig pool: give every replica the same pool`,
    );
  }

  async release(id: string): Promise<void> {
    const lease = await this.leases.release(id);
    if (lease) this.log.info("returned a cluster to the pool", { id, cluster: lease.cluster });
  }

  /** Every cluster in the pool, leased or free. */
  async list(): Promise<ClusterSummary[]> {
    const leases = await this.leases.list();
    const byCluster = new Map([...leases].map(([id, l]) => [l.cluster, { id, ...l }]));
    return this.pool.map((p) => {
      const lease = byCluster.get(p.name);
      return {
        id: lease?.id ?? p.name,
        provider: "kubeconfig" as const,
        detail: `${p.name} (${p.edition}, ${p.server}): ${lease ? `leased to ${lease.id} since ${lease.since}` : "free"}`,
        kubeconfigPath: p.file,
      };
    });
  }

  async close(): Promise<void> {
    await this.leases.close();
  }
}
