/**
 * The composition of one simulated cluster: the store, the resource registry, `ClusterApi`, the controllers, the
 * profile (or the saved state) and the dataplane, behind `SimClusterHandle`.
 */
import { cloneJson } from "../store/equal.ts";
import { validateCalicoObject } from "../calico/validate.ts";
import { createDataplane, type Dataplane } from "../net/dataplane.ts";
import { realClock, type Clock } from "../shared/clock.ts";
import { EgresslabError, ValidationError, type Problem } from "../shared/errors.ts";
import { noopLogger, type Logger } from "../shared/logger.ts";
import { SimClusterApi } from "../store/cluster-api.ts";
import { MemoryStore } from "../store/object-store.ts";
import { createRandom } from "../store/random.ts";
import { createRegistry, type Registry } from "../store/registry/index.ts";
import { ApiError, type KubeObject } from "../store/types.ts";
import {
  ControllerManager,
  createControllers,
  createEventRecorder,
  serviceAllocator,
  tunnelAddress,
} from "./controllers/index.ts";
import type { ControllerContext } from "./controllers/context.ts";
import { CoalescingSaver, DebouncedSaver, nodeDisk, type ClusterState, type DiskIO } from "./persistence.ts";
import type { ClusterStateBackend, ClusterStateWriter } from "./cluster-state.ts";
import { fileClusterState } from "./file-cluster-state.ts";
import { storageHealth, type StorageHealth } from "../shared/storage.ts";
import { withKubelet } from "./runtime/kubelet.ts";
import { captureImage, instantiateImage, type ClusterImage } from "./image.ts";
import { fnv32a } from "../shared/hash.ts";
import { randomUUID } from "node:crypto";
import { loadProfile, profileForEdition, sortForCreation, type ClusterProfile } from "./profiles.ts";
import type { CalicoEdition, DataplaneApi, PodRuntime, SimClusterHandle } from "./types.ts";
import { reconcileBootstrapPolicy } from "../apiserver/rbac.ts";

export { deleteSimClusterState } from "./persistence.ts";

export interface SimClusterOptions {
  id: string;
  /** A profile from `clusters/` (default `bare`). Ignored when saved state is restored. */
  profile?: string;
  edition?: CalicoEdition;
  seed?: number;
  clock?: Clock;
  /** With a data directory, the cluster's state is saved there and restored on the next start with the same id. */
  dataDir?: string;
  /**
   * Where the cluster's state is saved and restored from instead (e.g. Postgres, shared by replicas); it wins over
   * `dataDir`.
   */
  clusterState?: ClusterStateBackend;
  logger?: Logger;
  /** Where profiles live (default: the repository's `clusters/`). */
  profilesDir?: string;
  /** Start the dataplane (default true). */
  dataplane?: boolean;
  /** The file operations state is written with (tests put a full disk here). */
  disk?: DiskIO;
  /** Where failed writes are reported (default: the process's). */
  storage?: StorageHealth;
  /** Journal size after which the cluster is compacted into its snapshot. */
  compactBytes?: number;
  /**
   * Start as a copy of this image (`SimCluster.image()`), with fresh uids, instead of building `profile`; its profile,
   * edition and seed replace the options'. Saved state of the same id still wins.
   */
  image?: ClusterImage;
  /** The API server's CA certificate (PEM), for the `ca.crt` of ServiceAccount token Secrets. */
  apiCa?: string;
}

/** One simulated cluster. */
export class SimCluster implements SimClusterHandle {
  readonly runtime: PodRuntime;
  readonly dataplane: DataplaneApi;
  private closed = false;

  constructor(
    readonly id: string,
    readonly edition: CalicoEdition,
    readonly profile: string,
    readonly seed: number,
    readonly api: SimClusterApi,
    readonly store: MemoryStore,
    readonly registry: Registry,
    readonly clock: Clock,
    private readonly manager: ControllerManager,
    private readonly dp: Dataplane | undefined,
    private readonly saver: { flush(): Promise<void>; abandon(): void } | undefined,
  ) {
    this.runtime = dp?.runtime ?? noRuntime;
    this.dataplane = dp?.api ?? noDataplane;
  }

  /** A frozen copy of the cluster's current state, to make identical clusters from (`createSimCluster({ image })`). */
  image(): ClusterImage {
    const dp = this.dp;
    return captureImage({
      profile: this.profile,
      edition: this.edition,
      seed: this.seed,
      snapshot: () => this.store.snapshot(),
      ...(dp ? { dataplaneSnapshot: () => dp.snapshot() } : {}),
    });
  }

  /** Stops the controllers and the dataplane, compacts the journal into the snapshot and closes it (when persistent). */
  async close(opts: { save?: boolean } = {}): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.dp?.close();
    if (opts.save === false) this.saver?.abandon();
    else await this.saver?.flush();
    this.manager.stop();
  }

  committed(resourceVersion?: number): Promise<void> {
    return this.store.committed(resourceVersion);
  }
}

const noRuntime: PodRuntime = {
  exec: () =>
    Promise.reject(new ApiError(400, "BadRequest", "this simulated cluster runs without a dataplane")),
  logs: () => "",
};
const noDataplane: DataplaneApi = {
  queryFlows: () => ({ items: [] }),
  watchFlows: () => () => {},
  rotate: () => ({}),
};

/** Creates every object of `profile` through the API (validated and defaulted like user input). */
export function applyProfile(
  api: SimClusterApi,
  registry: Registry,
  profile: ClusterProfile,
  logger: Logger,
  trusted = false,
): void {
  const problems: Problem[] = [];
  api.batch(() => {
    for (const { object, where, line } of sortForCreation(profile.objects)) {
      const type = registry.byKind(object.apiVersion, object.kind);
      if (!type) {
        logger.debug("profile object not served on this cluster", {
          kind: object.kind,
          name: object.metadata.name,
        });
        continue;
      }
      const { status, ...rest } = object;
      try {
        const created = api.createStored(
          type,
          object.metadata.namespace ?? (type.namespaced ? "default" : undefined),
          rest,
          { trusted },
        );
        if (status !== undefined && type.kind !== "Pod")
          api.patchInternal(
            `${type.group || "core"}/${type.plural}`,
            created.object.metadata.namespace,
            created.object.metadata.name,
            (o) => {
              o.status = cloneJson(status);
              if (type.kind === "Node" || type.kind === "TigeraStatus")
                stampConditions(
                  o.status,
                  created.object.metadata.creationTimestamp ?? "",
                  type.kind === "Node",
                );
            },
          );
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        problems.push({
          where,
          ...(line !== undefined ? { line } : {}),
          message: `${object.kind} "${object.metadata.name}": ${message}`,
        });
      }
    }
  });
  if (problems.length)
    throw new ValidationError(
      problems,
      `cluster profile "${profile.name}" is invalid:\n${problems.map((p) => `${p.where}:${p.line ?? ""}: ${p.message}`).join("\n")}`,
    );
}

/** Registries are read-only: the clusters of one edition on one clock share one. */
const registries = new WeakMap<Clock, Map<CalicoEdition, Registry>>();

function registryFor(edition: CalicoEdition, clock: Clock): Registry {
  let byEdition = registries.get(clock);
  if (!byEdition) registries.set(clock, (byEdition = new Map()));
  let r = byEdition.get(edition);
  if (!r) byEdition.set(edition, (r = createRegistry(edition, () => clock.now())));
  return r;
}

/** Profiles (per edition) that loaded without problems in this process: later clusters skip their validation. */
const validatedProfiles = new Set<string>();

/** Node conditions as the kubelet reports them: heartbeat and transition times. */
function stampConditions(status: unknown, ts: string, heartbeat: boolean): void {
  const conds = (status as { conditions?: Record<string, unknown>[] } | undefined)?.conditions;
  for (const c of conds ?? []) {
    if (heartbeat) c.lastHeartbeatTime ??= ts;
    c.lastTransitionTime ??= ts;
  }
}

/** Sets each node's Calico VXLAN tunnel address (the first address of its IPAM block). */
function annotateNodes(ctx: ControllerContext): void {
  for (const n of ctx.store.list("core/nodes")) {
    const addr = tunnelAddress(ctx, n.metadata.name);
    if (!addr) continue;
    ctx.api.patchInternal("core/nodes", undefined, n.metadata.name, (o) => {
      o.metadata.annotations = { ...o.metadata.annotations, "projectcalico.org/IPv4VXLANTunnelAddr": addr };
    });
  }
}

/** Builds (or restores) a simulated cluster and starts its controllers and dataplane. */
export async function createSimCluster(opts: SimClusterOptions): Promise<SimCluster> {
  const logger = (opts.logger ?? noopLogger).child({ cluster: opts.id });
  const clock = opts.clock ?? realClock;
  const backend =
    opts.clusterState ?? (opts.dataDir ? fileClusterState(opts.dataDir, opts.disk ?? nodeDisk) : undefined);
  const loaded = await backend?.load(opts.id, logger);
  const saved = loaded?.state;
  const health = opts.storage ?? storageHealth;
  const image = saved ? undefined : opts.image;
  const edition: CalicoEdition = saved?.edition ?? image?.edition ?? opts.edition ?? "enterprise";
  if (edition !== "enterprise" && edition !== "oss")
    throw new EgresslabError("invalid", `unknown Calico edition "${String(edition)}": use enterprise or oss`);
  const seed = saved?.seed ?? image?.seed ?? opts.seed ?? 1;
  const profileName = saved?.profile ?? image?.profile ?? opts.profile ?? "bare";
  const profile = saved || image ? undefined : loadProfile(profileName, opts.profilesDir);

  const registry = registryFor(edition, clock);
  const store = new MemoryStore();
  const restoredRv = loaded?.entries.at(-1)?.rv ?? saved?.resourceVersion ?? 0;
  // A copy of an image draws its names and uids from its own sequence, so copies diverge from each other.
  const random = createRandom(seed ^ (image ? fnv32a(opts.id) ^ image.resourceVersion : restoredRv));
  const api = new SimClusterApi({
    store,
    registry,
    edition,
    clock,
    random,
    logger,
    validateCalico: validateCalicoObject,
  });
  const ctx: ControllerContext = {
    api,
    store,
    registry,
    clock,
    random,
    seed,
    events: createEventRecorder(api, store, registry, clock),
    logger,
    clusterId: opts.id,
    ...(opts.apiCa !== undefined ? { apiCa: opts.apiCa } : {}),
  };
  api.addAdmission(serviceAllocator(store, random));
  // The bootstrap RBAC objects are written through an API of their own with its own sequence of uids, so adding
  // them moves no name or uid the cluster's other objects draw.
  const bootstrapApi = new SimClusterApi({
    store,
    registry,
    edition,
    clock,
    random: createRandom(seed ^ restoredRv ^ fnv32a("rbac-defaults")),
    logger,
  });
  const reconcileRbac = (): void => {
    const created = reconcileBootstrapPolicy(bootstrapApi, store);
    if (created) logger.info("created the bootstrap RBAC objects the cluster lacked", { created });
  };
  const manager = new ControllerManager(store, createControllers(ctx), logger);
  api.onSettle(() => manager.settle());

  let journal: ClusterStateWriter | undefined;
  const snapshot = (): ClusterState => {
    const s = store.snapshot();
    return {
      version: 1,
      id: opts.id,
      profile: profileName,
      edition,
      seed,
      resourceVersion: s.resourceVersion,
      objects: s.objects,
    };
  };
  const writerOptions = {
    snapshot,
    health,
    logger,
    ...(opts.compactBytes !== undefined ? { compactBytes: opts.compactBytes } : {}),
  };

  // Uids are what tells separate real clusters' objects apart: each copy gets its own.
  const copied = image ? instantiateImage(image, randomUUID) : undefined;
  if (loaded && backend) {
    store.restore({ resourceVersion: loaded.state.resourceVersion, objects: loaded.state.objects });
    for (const e of loaded.entries) store.replay(e.changes, e.rv);
    journal = await backend.open(opts.id, { saved: loaded }, writerOptions);
    store.setJournal(journal);
    // What the controllers change on the way back up is journalled like any other write.
    try {
      store.atomically(() => manager.syncAll());
    } catch (err) {
      logger.error("could not save what the controllers changed after restoring the cluster", {
        error: err instanceof Error ? err.message : String(err),
      });
    }
    // As a real API server's RBAC post-start hook: a cluster saved without them, or whose learner deleted one, gets
    // them back.
    try {
      store.atomically(reconcileRbac);
    } catch (err) {
      logger.error("could not save the bootstrap RBAC objects after restoring the cluster", {
        error: err instanceof Error ? err.message : String(err),
      });
    }
  } else {
    if (copied) {
      // An image is captured between writes, when the controllers have converged: there is nothing to sync.
      store.restore(copied);
    } else if (profile) {
      ctx.events.enabled = false;
      try {
        const key = `${profile.file}\0${edition}`;
        applyProfile(api, registry, profileForEdition(profile, edition), logger, validatedProfiles.has(key));
        validatedProfiles.add(key);
        api.batch(() => annotateNodes(ctx));
      } finally {
        ctx.events.enabled = true;
      }
    }
    reconcileRbac();
    if (backend) {
      journal = await backend.open(opts.id, { fresh: snapshot() }, writerOptions);
      store.setJournal(journal);
    }
  }

  // Rotations and the flow log: saved after a rotation and when the cluster closes (a write per flow record, in every
  // cluster, would keep the disk and the event loop busy with idle clusters).
  const restore = loaded ? loaded.dataplane : copied?.dataplane;
  let dpSaver: DebouncedSaver | undefined;
  let dpSaves: CoalescingSaver | undefined;
  const dp =
    opts.dataplane === false
      ? undefined
      : createDataplane({
          clusterId: opts.id,
          store,
          api,
          clock,
          seed,
          edition,
          profile: profileName,
          logger,
          restore,
          onChange: () => dpSaver?.touch(),
          // What an exec wrote in a pod is saved before the exec reports its end.
          // Execs that end while a save runs share the next one.
          saveFiles: async () => {
            dpSaver?.cancel();
            await dpSaves?.request();
          },
        });
  const dataplaneFailed = (err: unknown): void =>
    logger.error("saving dataplane state failed", {
      error: err instanceof Error ? err.message : String(err),
    });
  const writer = journal;
  if (dp && writer) {
    const saves = new CoalescingSaver(() => writer.saveDataplane(dp.snapshot()), dataplaneFailed);
    dpSaves = saves;
    dpSaver = new DebouncedSaver(() => void saves.request(), 2000, dataplaneFailed);
  }
  const dataplaneSaver = dpSaver;
  const dataplaneSaves = dpSaves;
  const flush = {
    async flush(): Promise<void> {
      store.setJournal(undefined);
      try {
        await writer?.close();
      } catch (err) {
        logger.error("closing the cluster journal failed", {
          error: err instanceof Error ? err.message : String(err),
        });
      }
      // Always written on close: the rotation schedule's position moves without any event.
      dataplaneSaver?.cancel();
      await dataplaneSaves?.request();
    },
    abandon(): void {
      store.setJournal(undefined);
      writer?.abandon();
      dataplaneSaver?.cancel();
      dataplaneSaves?.stop();
    },
  };
  const running = dp && withKubelet(dp, { store, api, clock, logger });
  return new SimCluster(
    opts.id,
    edition,
    profileName,
    seed,
    api,
    store,
    registry,
    clock,
    manager,
    running,
    writer ? flush : undefined,
  );
}

/** Every object of a cluster, for tests and debugging. */
export function allObjects(c: SimCluster): KubeObject[] {
  return c.store.keys().flatMap((k) => c.store.list(k));
}
