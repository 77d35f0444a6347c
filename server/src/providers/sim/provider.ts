/**
 * The sim provider: simulated clusters served by a `SimHost` in this process. The same id always gets the same
 * cluster (also after a restart, with a data directory). Pre-warming clusters ahead of a workshop is the sessions pool's
 * job (`server/src/sessions/pool.ts`), for every provider.
 */
import type { Socket } from "node:net";
import type {
  AcquireOptions,
  ClusterConnection,
  ClusterProvider,
  ClusterTemplates,
  ProviderCapabilities,
} from "../provider.ts";
import type { ClusterImage } from "../../sim/image.ts";
import { NotFoundError } from "../../shared/errors.ts";
import type { ClusterSummary } from "../summary.ts";
import type { SimHost, SimHostOptions } from "../../sim/host.ts";
import { noopLogger, type Logger } from "../../shared/logger.ts";
import { safeClusterId } from "../ids.ts";
import { InFlight } from "../in-flight.ts";
import { renameKubeconfig } from "./rename.ts";
import { readState, writeState, type SimProviderState } from "./state.ts";

/** The part of `SimHost` this provider uses. */
export type SimHostApi = Pick<
  SimHost,
  "createCluster" | "deleteCluster" | "kubeconfig" | "clusterIds" | "getCluster" | "close"
> &
  Partial<
    Pick<SimHost, "captureImage" | "acceptConnection" | "rebuiltClusters" | "unloadCluster" | "onMoved">
  >;

export interface SimProviderOptions {
  /** A running host to use (not closed by `close()`); otherwise one is started with `hostOptions`. */
  host?: SimHostApi;
  /** Options for the host this provider starts (port, interface, data directory, logger). */
  hostOptions?: SimHostOptions;
  /** Where the provider keeps its assignments (default: the host's data directory). */
  dataDir?: string;
  /**
   * Several replicas share the data directory: no assignments file (they would overwrite each other's; each
   * attendee's cluster is named after its id), and the host this provider starts keeps no cluster list (see
   * `SimHostOptions.shared`).
   */
  shared?: boolean;
  logger?: Logger;
}

/** Starts (or adopts) a SimHost and restores the assignments kept in the data directory. */
export async function createSimProvider(opts: SimProviderOptions = {}): Promise<SimProvider> {
  const logger = opts.logger ?? opts.hostOptions?.logger ?? noopLogger;
  let host = opts.host;
  const owned = !host;
  if (!host) {
    const { SimHost } = await import("../../sim/host.ts");
    host = await SimHost.start({ logger, ...opts.hostOptions, ...(opts.shared ? { shared: true } : {}) });
  }
  return new SimProvider(
    host,
    owned,
    opts.shared ? undefined : (opts.dataDir ?? opts.hostOptions?.dataDir),
    logger.child({ provider: "sim" }),
  );
}

export class SimProvider implements ClusterProvider {
  readonly name = "sim" as const;
  readonly capabilities: ProviderCapabilities = {
    canCreate: true,
    realDataplane: false,
    calicoEdition: "enterprise",
    typicalReadySeconds: 1,
  };
  private readonly state: SimProviderState;
  private readonly inFlight = new InFlight<ClusterConnection>();
  /** Templates are images in memory: a copy takes milliseconds, and after a restart the pool prepares new ones. */
  private readonly images = new Map<string, ClusterImage>();
  readonly templates: ClusterTemplates | undefined;

  constructor(
    private readonly host: SimHostApi,
    private readonly ownsHost: boolean,
    private readonly dataDir: string | undefined,
    private readonly log: Logger,
  ) {
    const capture = host.captureImage?.bind(host);
    this.templates = capture && {
      save: async (id, name) => {
        this.images.set(name, capture(this.state.assignments[id] ?? safeClusterId(id)));
        await this.release(id);
      },
      has: (name) => this.images.has(name),
      acquire: (name, opts) =>
        this.inFlight.run(opts.id, async () => {
          const image = this.images.get(name);
          if (!image) throw new NotFoundError(`there is no cluster template "${name}"`);
          return this.acquireOnce(opts, image);
        }),
    };
    this.state = readState(dataDir);
    const live = new Set(host.clusterIds());
    for (const [id, cluster] of Object.entries(this.state.assignments))
      if (!live.has(cluster)) delete this.state.assignments[id];
    try {
      this.save();
    } catch (err) {
      // A full disk at start: serve read-only; the next assignment tries again.
      this.log.error("could not save the cluster assignments", {
        error: err instanceof Error ? err.message : String(err),
      });
    }
  }

  onMoved(listener: (id: string) => void): void {
    this.host.onMoved?.((cluster) => {
      const id = Object.entries(this.state.assignments).find(([, c]) => c === cluster)?.[0];
      listener(id ?? cluster);
    });
  }

  rebuilt(): { id: string; reason: string }[] {
    const byCluster = new Map((this.host.rebuiltClusters?.() ?? []).map((r) => [r.id, r.reason]));
    return Object.entries(this.state.assignments).flatMap(([id, cluster]) => {
      const reason = byCluster.get(cluster);
      return reason === undefined ? [] : [{ id, reason }];
    });
  }

  /** The running host, e.g. for the HTTP layer that serves exec and flows through it. */
  get simHost(): SimHostApi {
    return this.host;
  }

  acquire(opts: AcquireOptions): Promise<ClusterConnection> {
    return this.inFlight.run(opts.id, () => this.acquireOnce(opts));
  }

  private async acquireOnce(opts: AcquireOptions, image?: ClusterImage): Promise<ClusterConnection> {
    opts.signal?.throwIfAborted();
    const assigned = this.state.assignments[opts.id];
    if (assigned && this.host.getCluster(assigned)) return this.connection(opts.id, assigned);

    const own = safeClusterId(opts.id);
    if (this.host.getCluster(own)) {
      this.assign(opts.id, own);
      return this.connection(opts.id, own);
    }

    opts.onProgress?.("creating a simulated cluster");
    await this.host.createCluster({ id: own, ...(image ? { image } : clusterSpec(opts)) });
    this.assign(opts.id, own);
    if (image) this.log.debug("copied a simulated cluster", { id: opts.id, cluster: own });
    else this.log.info("created a simulated cluster", { id: opts.id, cluster: own });
    return this.connection(opts.id, own);
  }

  connectApi(id: string, socket: Socket): void {
    const cluster = this.state.assignments[id] ?? safeClusterId(id);
    if (!this.host.acceptConnection || !this.host.getCluster(cluster)) {
      socket.destroy();
      return;
    }
    this.host.acceptConnection(socket, cluster);
  }

  async unload(id: string, opts: { save: boolean }): Promise<void> {
    const cluster = this.state.assignments[id] ?? safeClusterId(id);
    if (!this.host.unloadCluster || !this.host.getCluster(cluster)) return;
    delete this.state.assignments[id];
    if (opts.save) this.save();
    await this.host.unloadCluster(cluster, opts);
    this.log.info("stopped serving a simulated cluster here", { id, cluster, saved: opts.save });
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

  /** Every simulated cluster on the host, with its attendee when it has one. */
  list(): Promise<ClusterSummary[]> {
    const owner = new Map(Object.entries(this.state.assignments).map(([id, c]) => [c, id]));
    return Promise.resolve(
      this.host.clusterIds().map((cluster) => ({
        id: owner.get(cluster) ?? cluster,
        provider: "sim" as const,
        detail: `simulated cluster ${cluster}`,
      })),
    );
  }

  async close(): Promise<void> {
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
    // A data directory from before may assign an attendee a cluster under another name (a pre-warmed one).
    const kubeconfig = cluster === own ? text : renameKubeconfig(text, `egresslab-${own}`);
    return {
      id,
      provider: "sim",
      kubeconfig,
      edition: this.host.getCluster(cluster)?.edition ?? "enterprise",
    };
  }
}

/** The parts of an acquire that shape a new simulated cluster. */
function clusterSpec(opts: AcquireOptions): Pick<AcquireOptions, "profile" | "edition" | "seed"> {
  const spec: Pick<AcquireOptions, "profile" | "edition" | "seed"> = {};
  if (opts.profile !== undefined) spec.profile = opts.profile;
  if (opts.edition !== undefined) spec.edition = opts.edition;
  if (opts.seed !== undefined) spec.seed = opts.seed;
  return spec;
}
