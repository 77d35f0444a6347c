/**
 * `SimHost`: one HTTPS port serving many simulated clusters. Each cluster gets a bearer token and a kubeconfig; with a
 * data directory, the CA, the clusters and their tokens survive restarts, so a kubeconfig keeps working.
 */
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import type { Socket } from "node:net";
import { ConflictError, EgresslabError, NotFoundError, ValidationError } from "../shared/errors.ts";
import { noopLogger, type Logger } from "../shared/logger.ts";
import type { CalicoEdition, SimClusterHandle } from "./types.ts";
import { createSimCluster, SimCluster } from "./cluster.ts";
import type { ClusterImage } from "./image.ts";
import { CorruptStateError, nodeDisk, removeTempFiles, type DiskIO } from "./persistence.ts";
import type { ClusterStateBackend } from "./cluster-state.ts";
import { fileClusterState } from "./file-cluster-state.ts";
import {
  faultMessage,
  storageFault,
  storageHealth,
  toStorageError,
  type StorageHealth,
} from "../shared/storage.ts";
import { createApiServer, type ApiServer } from "../apiserver/server.ts";
import { loadOrCreateTls, type TlsMaterial } from "../apiserver/tls.ts";
import { renderKubeconfig } from "../apiserver/kubeconfig.ts";

export interface ClusterSpec {
  id: string;
  profile?: string;
  edition?: CalicoEdition;
  seed?: number;
}

/** Builds one cluster (a copy of `image` when given); the default is `createSimCluster` (tests may pass a lighter one). */
export type ClusterFactory = (
  spec: ClusterSpec & {
    dataDir?: string;
    logger: Logger;
    disk?: DiskIO;
    storage?: StorageHealth;
    image?: ClusterImage;
    /** Where the cluster's state is kept (the host's backend). */
    clusterState?: ClusterStateBackend;
    /** The API server's CA certificate (PEM). */
    apiCa?: string;
  },
) => Promise<SimClusterHandle>;

/** A cluster whose saved state could not be read at start: its files were moved aside and it was made afresh. */
export interface RebuiltCluster {
  id: string;
  /** Which file, and why it could not be read. */
  reason: string;
  /** Where the unreadable files are kept. */
  quarantine: string;
}

export interface SimHostOptions {
  /** TCP port; 0 or absent picks a free one (or, with `dataDir`, the one used last time). */
  port?: number;
  /** Interface to bind; default 127.0.0.1. */
  host?: string;
  /** Where the CA, the cluster list and cluster state are kept; absent = nothing persists. */
  dataDir?: string;
  logger?: Logger;
  clusterFactory?: ClusterFactory;
  /** The file operations state is written with (tests put a full disk here). */
  disk?: DiskIO;
  /** Where failed writes are reported (default: the process's). */
  storage?: StorageHealth;
  /**
   * Keep the clusters' state (snapshots, journals, dataplane) in this Postgres database (`postgres://…`), shared by
   * replicas, instead of files in `dataDir`. The host opens it and closes it.
   */
  database?: string;
  /**
   * This replica's name in the database's `leases` (with `database`): a cluster's state is written only while this
   * replica holds its lease (fencing, `scale/pg-cluster-state.ts`).
   */
  replica?: string;
  /** Keep the clusters' state here (not closed by the host); wins over `database` and `dataDir`. */
  clusterState?: ClusterStateBackend;
  /**
   * Several replicas share `dataDir`, each serving the clusters it holds the lease of: no cluster list is kept and
   * none is brought back at start; `createCluster` brings a cluster back from its saved state when there is one. The
   * CA is this process's own (kubeconfigs are written again when a cluster moves), and temp files are left alone (they
   * may be another replica's writes in progress).
   */
  shared?: boolean;
}

export interface CreatedCluster {
  id: string;
  token: string;
  /** kubeconfig YAML; context, cluster and user are named `egresslab-<id>`, namespace `default`. */
  kubeconfig: string;
}

interface Entry {
  spec: ClusterSpec;
  token: string;
  handle: SimClusterHandle;
}

interface SavedHost {
  port?: number;
  clusters: { spec: ClusterSpec; token: string }[];
}

const ID_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

const defaultFactory: ClusterFactory = (spec) =>
  createSimCluster({
    id: spec.id,
    ...(spec.profile !== undefined ? { profile: spec.profile } : {}),
    ...(spec.edition !== undefined ? { edition: spec.edition } : {}),
    ...(spec.seed !== undefined ? { seed: spec.seed } : {}),
    ...(spec.dataDir !== undefined ? { dataDir: spec.dataDir } : {}),
    ...(spec.disk ? { disk: spec.disk } : {}),
    ...(spec.storage ? { storage: spec.storage } : {}),
    ...(spec.image !== undefined ? { image: spec.image } : {}),
    ...(spec.clusterState ? { clusterState: spec.clusterState } : {}),
    ...(spec.apiCa !== undefined ? { apiCa: spec.apiCa } : {}),
    logger: spec.logger,
  });

export class SimHost {
  private readonly pending = new Set<string>();
  /** Clusters in host.json that could not be brought back (kept there, so the next start tries again). */
  private readonly missing = new Map<string, { spec: ClusterSpec; token: string }>();
  private readonly rebuilt: RebuiltCluster[] = [];
  private closed = false;

  private constructor(
    private readonly byToken: Map<string, Entry>,
    /** The clusters served, by id (shared with the API server, which finds a ServiceAccount token's cluster here). */
    private readonly clusters: Map<string, Entry>,
    private readonly server: ApiServer,
    private readonly tls: TlsMaterial,
    private readonly factory: ClusterFactory,
    private readonly logger: Logger,
    private readonly dataDir: string | undefined,
    private readonly disk: DiskIO,
    private readonly shared: boolean,
    /** Where failed writes are reported. */
    readonly storage: StorageHealth,
    /** Where the clusters' state is kept (none without a data directory or a database). */
    private readonly backend: ClusterStateBackend | undefined,
    private readonly ownsBackend: boolean,
    /** The API's base URL, e.g. `https://127.0.0.1:6443`. */
    readonly url: string,
    readonly port: number,
  ) {}

  /** Starts the HTTPS API and brings back the clusters remembered in `dataDir`. */
  static async start(opts: SimHostOptions = {}): Promise<SimHost> {
    const logger = opts.logger ?? noopLogger;
    const dataDir = opts.dataDir ? path.resolve(opts.dataDir) : undefined;
    const storage = opts.storage ?? storageHealth;
    const shared = opts.shared === true;
    if (dataDir && !shared)
      for (const dir of [dataDir, path.join(dataDir, "clusters")]) {
        const removed = removeTempFiles(dir);
        if (removed.length) logger.info("removed temp files an earlier run left behind", { dir, removed });
      }
    const saved = dataDir && !shared ? readSaved(dataDir) : { clusters: [] };
    const tls = loadOrCreateTls(shared ? undefined : dataDir);
    const byToken = new Map<string, Entry>();
    const byId = new Map<string, Entry>();
    const server = createApiServer({
      tls,
      logger: logger.child({ component: "apiserver" }),
      clusterForToken: (token) => byToken.get(token)?.handle,
      clusterById: (id) => byId.get(id)?.handle,
    });
    const bindHost = opts.host ?? "127.0.0.1";
    let port: number;
    if (opts.port === undefined && saved.port) {
      // The port of the last run keeps earlier kubeconfigs working; if it is taken now, any free port will do.
      try {
        port = await server.listen(saved.port, bindHost);
      } catch (err) {
        logger.warn("the port used last time is taken; kubeconfigs written before need the new address", {
          port: saved.port,
          error: err instanceof Error ? err.message : String(err),
        });
        port = await server.listen(0, bindHost);
      }
    } else {
      try {
        port = await server.listen(opts.port ?? 0, bindHost);
      } catch (err) {
        throw listenError(err, bindHost, opts.port ?? 0);
      }
    }
    const urlHost =
      bindHost === "0.0.0.0" || bindHost === "::"
        ? "127.0.0.1"
        : bindHost.includes(":")
          ? `[${bindHost}]`
          : bindHost;
    let backend = opts.clusterState;
    const ownsBackend = !backend && !!opts.database;
    if (!backend && opts.database) {
      try {
        const { openPgClusterState } = await import("../scale/pg-cluster-state.ts");
        backend = await openPgClusterState(opts.database, {
          logger: logger.child({ component: "cluster-state" }),
          ...(opts.replica !== undefined ? { replica: opts.replica } : {}),
        });
      } catch (err) {
        await server.close();
        throw err;
      }
    }
    backend ??= dataDir ? fileClusterState(dataDir, opts.disk ?? nodeDisk) : undefined;
    const host = new SimHost(
      byToken,
      byId,
      server,
      tls,
      opts.clusterFactory ?? defaultFactory,
      logger,
      dataDir,
      opts.disk ?? nodeDisk,
      shared,
      storage,
      backend,
      ownsBackend,
      `https://${urlHost}:${port}`,
      port,
    );
    try {
      for (const c of saved.clusters) await host.restore(c);
      host.save();
    } catch (err) {
      const fault = storageFault(err);
      if (!fault) {
        await host.close();
        throw err;
      }
      // A full (or read-only) disk: serve what could be read; writes answer an error until space is freed.
      storage.failed(err);
      logger.error(
        "starting read-only: changes answer an error until the data directory can be written again",
        {
          problem: faultMessage(fault),
          dir: dataDir,
          error: err instanceof Error ? err.message : String(err),
        },
      );
    }
    logger.info("simulated clusters ready", { url: host.url, clusters: host.clusters.size });
    return host;
  }

  /**
   * Brings back one saved cluster. A cluster whose state cannot be read is quarantined and made afresh under the
   * same id and token (so kubeconfigs keep working); one that cannot be built at all is left out, the others go on.
   */
  private async restore(c: { spec: ClusterSpec; token: string }): Promise<void> {
    const build = () =>
      this.factory({
        ...c.spec,
        ...(this.dataDir ? { dataDir: this.dataDir } : {}),
        ...(this.backend ? { clusterState: this.backend } : {}),
        disk: this.disk,
        storage: this.storage,
        apiCa: this.tls.caCert,
        logger: this.clusterLogger(c.spec.id),
      });
    let handle: SimClusterHandle;
    try {
      handle = await build();
    } catch (err) {
      if (!this.backend || !(err instanceof CorruptStateError)) {
        this.missing.set(c.spec.id, c);
        this.logger.error("could not bring back a saved cluster; the others go on", {
          cluster: c.spec.id,
          error: err instanceof Error ? err.message : String(err),
        });
        if (storageFault(err)) this.storage.failed(err);
        return;
      }
      const quarantine = await this.backend.quarantine(c.spec.id);
      this.logger.error(
        "a saved cluster could not be read: its files were moved aside and it is made afresh",
        {
          cluster: c.spec.id,
          file: err.file,
          reason: err.reason,
          quarantine,
        },
      );
      this.rebuilt.push({ id: c.spec.id, reason: `${err.file}: ${err.reason}`, quarantine });
      try {
        handle = await build();
      } catch (again) {
        this.missing.set(c.spec.id, c);
        this.logger.error("could not make the quarantined cluster afresh", {
          cluster: c.spec.id,
          error: again instanceof Error ? again.message : String(again),
        });
        if (storageFault(again)) this.storage.failed(again);
        return;
      }
    }
    const entry = { spec: c.spec, token: c.token, handle };
    this.clusters.set(c.spec.id, entry);
    this.byToken.set(c.token, entry);
  }

  /** Calls `listener` with each cluster another replica took over, found when its writes were refused (fencing). */
  onMoved(listener: (clusterId: string) => void): void {
    this.backend?.onMoved?.(listener);
  }

  /** Clusters made afresh at start because their saved state could not be read. */
  rebuiltClusters(): RebuiltCluster[] {
    return this.rebuilt.map((r) => ({ ...r }));
  }

  /** The CA certificate (PEM) that kubeconfigs embed. */
  get caCert(): string {
    return this.tls.caCert;
  }

  /**
   * Creates a cluster and returns its id, token and kubeconfig. Throws on a bad or duplicate id. With `image` the
   * cluster is a copy of it (profile, edition and seed come from the image).
   */
  async createCluster(
    opts: {
      id?: string;
      profile?: string;
      edition?: CalicoEdition;
      seed?: number;
      image?: ClusterImage;
    } = {},
  ): Promise<CreatedCluster> {
    if (this.closed) throw new ConflictError("the simulated cluster host is closed");
    const id = opts.id ?? `sim-${randomBytes(3).toString("hex")}`;
    const problems = [];
    if (!ID_RE.test(id) || id.length > 40)
      problems.push({
        where: "id",
        message: `"${id}" is not a valid cluster id: use at most 40 lower-case letters, digits and '-', starting and ending with a letter or digit`,
      });
    if (opts.edition !== undefined && opts.edition !== "enterprise" && opts.edition !== "oss")
      problems.push({
        where: "edition",
        message: `must be "enterprise" or "oss", got "${String(opts.edition)}"`,
      });
    if (opts.seed !== undefined && !Number.isInteger(opts.seed))
      problems.push({ where: "seed", message: `must be an integer, got ${opts.seed}` });
    if (problems.length) throw new ValidationError(problems);
    if (this.clusters.has(id) || this.pending.has(id))
      throw new ConflictError(`a cluster named "${id}" already exists`);
    this.pending.add(id);
    try {
      const spec: ClusterSpec = { id };
      const profile = opts.image?.profile ?? opts.profile;
      const edition = opts.image?.edition ?? opts.edition;
      const seed = opts.image?.seed ?? opts.seed;
      if (profile !== undefined) spec.profile = profile;
      if (edition !== undefined) spec.edition = edition;
      if (seed !== undefined) spec.seed = seed;
      const handle = await this.factory({
        ...spec,
        ...(this.dataDir ? { dataDir: this.dataDir } : {}),
        ...(this.backend ? { clusterState: this.backend } : {}),
        disk: this.disk,
        storage: this.storage,
        apiCa: this.tls.caCert,
        ...(opts.image ? { image: opts.image } : {}),
        logger: this.clusterLogger(id),
      });
      const token = randomBytes(24).toString("base64url");
      const entry = { spec, token, handle };
      this.clusters.set(id, entry);
      this.byToken.set(token, entry);
      try {
        this.save();
      } catch (err) {
        // Not in host.json, so not created: forget it again.
        this.clusters.delete(id);
        this.byToken.delete(token);
        await handle.close();
        if (this.backend && this.factory === defaultFactory) await this.backend.delete(id);
        throw err;
      }
      return { id, token, kubeconfig: this.kubeconfig(id) };
    } finally {
      this.pending.delete(id);
    }
  }

  /** A frozen copy of cluster `id`'s current state, for `createCluster({ image })`. */
  captureImage(id: string): ClusterImage {
    const handle = this.clusters.get(id)?.handle;
    if (!handle) throw new NotFoundError(`no simulated cluster named "${id}"`);
    if (!(handle instanceof SimCluster))
      throw new EgresslabError("invalid", `simulated cluster "${id}" cannot be copied`);
    return handle.image();
  }

  /** The running cluster with this id, if any. */
  getCluster(id: string): SimClusterHandle | undefined {
    return this.clusters.get(id)?.handle;
  }

  /** How a cluster was created (id, profile, edition, seed), if it exists. */
  clusterSpec(id: string): ClusterSpec | undefined {
    const spec = this.clusters.get(id)?.spec;
    return spec ? { ...spec } : undefined;
  }

  /** Ids of every cluster on this host. */
  clusterIds(): string[] {
    return [...this.clusters.keys()];
  }

  /** The kubeconfig of an existing cluster (the same text `createCluster` returned). */
  kubeconfig(id: string): string {
    const e = this.clusters.get(id);
    if (!e) throw new NotFoundError(`no simulated cluster named "${id}"`);
    return renderKubeconfig({
      name: `egresslab-${id}`,
      server: this.clusterUrl(id),
      caCert: this.tls.caCert,
      token: e.token,
    });
  }

  /** The API URL of one cluster: the host's URL plus `/clusters/<id>` (its own URL, so kubectl caches per cluster). */
  clusterUrl(id: string): string {
    return `${this.url}/clusters/${encodeURIComponent(id)}`;
  }

  /** Serves a connection from elsewhere (a learner's unix socket) for cluster `id` only; other tokens get 401. */
  acceptConnection(socket: Socket, id: string): void {
    if (this.closed || !this.clusters.has(id)) {
      socket.destroy();
      return;
    }
    this.server.acceptConnection(socket, id);
  }

  /** Stops a cluster, forgets its token and deletes its saved state. Unknown ids are a no-op. */
  async deleteCluster(id: string): Promise<void> {
    const e = this.clusters.get(id);
    if (!e) {
      if (this.missing.delete(id)) this.save();
      return;
    }
    this.clusters.delete(id);
    this.byToken.delete(e.token);
    this.save();
    this.server.endStreams(e.handle);
    const forget = !!this.backend && this.factory === defaultFactory;
    // State about to be deleted is not compacted first.
    await e.handle.close({ save: !forget });
    if (forget) await this.backend?.delete(id);
  }

  /**
   * Stops serving cluster `id` in this process and forgets its token, keeping its saved state for the replica that
   * serves it next (which rebuilds it from that state); with `save: false` nothing more is written (another replica
   * owns that state already). Unknown ids are a no-op.
   */
  async unloadCluster(id: string, opts: { save: boolean }): Promise<void> {
    const e = this.clusters.get(id);
    if (!e) return;
    this.clusters.delete(id);
    this.byToken.delete(e.token);
    this.server.endStreams(e.handle);
    await e.handle.close({ save: opts.save });
    if (opts.save) this.save();
  }

  /** Stops serving, ends open streams and closes every cluster (flushing its state). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.server.close();
    const all = [...this.clusters.values()];
    this.clusters.clear();
    this.byToken.clear();
    await Promise.all(all.map((e) => e.handle.close()));
    if (this.ownsBackend) await this.backend?.close();
  }

  private clusterLogger(id: string): Logger {
    return this.logger.child({ cluster: id });
  }

  /** Writes host.json durably; throws (a `StorageError`) when the disk refuses. */
  private save(): void {
    if (!this.dataDir || this.shared) return;
    const data: SavedHost = {
      port: this.port,
      clusters: [
        ...[...this.clusters.values()].map((e) => ({ spec: e.spec, token: e.token })),
        ...[...this.missing.values()].filter((m) => !this.clusters.has(m.spec.id)),
      ],
    };
    try {
      this.disk.replaceFile(path.join(this.dataDir, "host.json"), JSON.stringify(data, null, 2) + "\n");
    } catch (err) {
      this.storage.failed(err);
      throw toStorageError(err, "the cluster list was not saved");
    }
  }
}

/** A failed listen in the user's terms. */
function listenError(err: unknown, host: string, port: number): Error {
  const code = (err as { code?: string }).code;
  if (code === "EADDRINUSE")
    return new EgresslabError(
      "unavailable",
      `port ${port} on ${host} is already in use; choose another port (or 0 for any)`,
    );
  if (code === "EACCES")
    return new EgresslabError(
      "forbidden",
      `not allowed to listen on port ${port} on ${host}; choose a port above 1023`,
    );
  if (code === "EADDRNOTAVAIL")
    return new EgresslabError(
      "invalid",
      `${host} is not an address of this machine; use 127.0.0.1 or 0.0.0.0`,
    );
  return err instanceof Error ? err : new Error(String(err));
}

function readSaved(dataDir: string): SavedHost {
  const file = path.join(dataDir, "host.json");
  if (!existsSync(file)) return { clusters: [] };
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    throw new ValidationError([
      { where: file, message: `is not valid JSON: ${e instanceof Error ? e.message : String(e)}` },
    ]);
  }
  const obj = raw as Partial<SavedHost>;
  if (!obj || !Array.isArray(obj.clusters))
    throw new ValidationError([{ where: file, message: "has no clusters list" }]);
  return { ...(typeof obj.port === "number" ? { port: obj.port } : {}), clusters: obj.clusters };
}
