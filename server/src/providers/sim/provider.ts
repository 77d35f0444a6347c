/**
 * The sim provider: simulated clusters served by a `SimHost` in this process. The same id always gets the same
 * cluster (also after a restart, with a data directory); `warm(n)` prepares clusters ahead of a workshop, and an
 * acquire then hands one out and records it as that attendee's.
 */
import type {
  AcquireOptions,
  ClusterConnection,
  ClusterProvider,
  ProviderCapabilities,
} from "../provider.ts";
import type { ClusterSummary } from "../summary.ts";
import type { SimHost, SimHostOptions } from "../../sim/host.ts";
import { randomBytes } from "node:crypto";
import { noopLogger, type Logger } from "../../shared/logger.ts";
import { safeClusterId } from "../ids.ts";
import { renameKubeconfig } from "./rename.ts";
import { readState, warmMatches, writeState, type SimProviderState, type WarmSpec } from "./state.ts";

/** The part of `SimHost` this provider uses. */
export type SimHostApi = Pick<
  SimHost,
  "createCluster" | "deleteCluster" | "kubeconfig" | "clusterIds" | "getCluster" | "close"
>;

export interface SimProviderOptions {
  /** A running host to use (not closed by `close()`); otherwise one is started with `hostOptions`. */
  host?: SimHostApi;
  /** Options for the host this provider starts (port, interface, data directory, logger). */
  hostOptions?: SimHostOptions;
  /** Where the provider keeps its assignments (default: the host's data directory). */
  dataDir?: string;
  logger?: Logger;
}

/** Starts (or adopts) a SimHost and restores assignments and warm clusters kept in the data directory. */
export async function createSimProvider(opts: SimProviderOptions = {}): Promise<SimProvider> {
  const logger = opts.logger ?? opts.hostOptions?.logger ?? noopLogger;
  let host = opts.host;
  const owned = !host;
  if (!host) {
    const { SimHost } = await import("../../sim/host.ts");
    host = await SimHost.start({ logger, ...opts.hostOptions });
  }
  return new SimProvider(
    host,
    owned,
    opts.dataDir ?? opts.hostOptions?.dataDir,
    logger.child({ provider: "sim" }),
  );
}

export class SimProvider implements ClusterProvider {
  readonly name = "sim" as const;
  readonly capabilities: ProviderCapabilities = {
    canCreate: true,
    realDataplane: false,
    calicoEdition: "enterprise",
    flowApi: true,
    typicalReadySeconds: 1,
  };
  private readonly state: SimProviderState;
  private readonly inFlight = new Map<string, Promise<ClusterConnection>>();
  private readonly warming = new Set<Promise<unknown>>();
  private warmTarget: { count: number; spec: WarmSpec } | undefined;

  constructor(
    private readonly host: SimHostApi,
    private readonly ownsHost: boolean,
    private readonly dataDir: string | undefined,
    private readonly log: Logger,
  ) {
    this.state = readState(dataDir);
    const live = new Set(host.clusterIds());
    for (const [id, cluster] of Object.entries(this.state.assignments))
      if (!live.has(cluster)) delete this.state.assignments[id];
    this.state.warm = this.state.warm.filter((w) => live.has(w.cluster));
    this.save();
  }

  /** The running host, e.g. for the HTTP layer that serves exec and flows through it. */
  get simHost(): SimHostApi {
    return this.host;
  }

  acquire(opts: AcquireOptions): Promise<ClusterConnection> {
    const running = this.inFlight.get(opts.id);
    if (running) return running;
    const p = this.acquireOnce(opts).finally(() => this.inFlight.delete(opts.id));
    this.inFlight.set(opts.id, p);
    return p;
  }

  private async acquireOnce(opts: AcquireOptions): Promise<ClusterConnection> {
    opts.signal?.throwIfAborted();
    const assigned = this.state.assignments[opts.id];
    if (assigned && this.host.getCluster(assigned)) return this.connection(opts.id, assigned);

    const own = safeClusterId(opts.id);
    if (this.host.getCluster(own)) {
      this.assign(opts.id, own);
      return this.connection(opts.id, own);
    }

    const want: WarmSpec = pick(opts);
    const i = this.state.warm.findIndex((w) => warmMatches(w.spec, want));
    if (i >= 0) {
      const [w] = this.state.warm.splice(i, 1);
      this.assign(opts.id, w!.cluster);
      this.log.info("handed out a pre-warmed cluster", { id: opts.id, cluster: w!.cluster });
      opts.onProgress?.("using a pre-warmed simulated cluster");
      this.refill();
      return this.connection(opts.id, w!.cluster);
    }

    opts.onProgress?.("creating a simulated cluster");
    await this.host.createCluster({ id: own, ...want });
    this.assign(opts.id, own);
    this.log.info("created a simulated cluster", { id: opts.id, cluster: own });
    return this.connection(opts.id, own);
  }

  /**
   * Keeps `count` free clusters made from `spec` ready for attendees (re-filled as they are handed out); resolves when
   * they exist.
   */
  async warm(count: number, spec: WarmSpec = {}): Promise<void> {
    this.warmTarget = { count, spec };
    this.refill();
    while (this.warming.size) await Promise.allSettled([...this.warming]);
  }

  private refill(): void {
    const target = this.warmTarget;
    if (!target) return;
    const have = this.state.warm.filter(
      (w) => warmMatches(w.spec, target.spec) && warmMatches(target.spec, w.spec),
    ).length;
    for (let n = have + this.warming.size; n < target.count; n++) {
      const cluster = `warm-${randomBytes(4).toString("hex")}`;
      const job = this.host
        .createCluster({ id: cluster, ...target.spec })
        .then(() => {
          this.state.warm.push({ cluster, spec: target.spec });
          this.save();
        })
        .catch((err: unknown) =>
          this.log.error("could not pre-warm a simulated cluster", { error: String(err) }),
        )
        .finally(() => this.warming.delete(job));
      this.warming.add(job);
    }
  }

  async release(id: string): Promise<void> {
    const cluster =
      this.state.assignments[id] ?? (this.host.getCluster(safeClusterId(id)) ? safeClusterId(id) : undefined);
    if (!cluster) return;
    delete this.state.assignments[id];
    this.save();
    await this.host.deleteCluster(cluster);
    this.log.info("deleted a simulated cluster", { id, cluster });
  }

  /** Every simulated cluster on the host, with its attendee (or "pre-warmed, free"). */
  list(): Promise<ClusterSummary[]> {
    const owner = new Map(Object.entries(this.state.assignments).map(([id, c]) => [c, id]));
    const warm = new Set(this.state.warm.map((w) => w.cluster));
    return Promise.resolve(
      this.host.clusterIds().map((cluster) => {
        const id = owner.get(cluster);
        const what = id
          ? `simulated cluster ${cluster}`
          : warm.has(cluster)
            ? `pre-warmed simulated cluster ${cluster}, free`
            : `simulated cluster ${cluster}`;
        return { id: id ?? cluster, provider: "sim" as const, detail: what };
      }),
    );
  }

  async close(): Promise<void> {
    this.warmTarget = undefined;
    await Promise.allSettled([...this.warming]);
    if (this.ownsHost) await this.host.close();
  }

  private assign(id: string, cluster: string): void {
    this.state.assignments[id] = cluster;
    this.save();
  }

  private save(): void {
    writeState(this.dataDir, this.state);
  }

  private connection(id: string, cluster: string): ClusterConnection {
    const own = safeClusterId(id);
    const text = this.host.kubeconfig(cluster);
    const kubeconfig = cluster === own ? text : renameKubeconfig(text, `egresslab-${own}`);
    return {
      id,
      provider: "sim",
      kubeconfig,
      edition: this.host.getCluster(cluster)?.edition ?? "enterprise",
    };
  }
}

function pick(opts: AcquireOptions): WarmSpec {
  const spec: WarmSpec = {};
  if (opts.profile !== undefined) spec.profile = opts.profile;
  if (opts.edition !== undefined) spec.edition = opts.edition;
  if (opts.seed !== undefined) spec.seed = opts.seed;
  return spec;
}
