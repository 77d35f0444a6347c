/**
 * `SimHost`: one HTTPS port serving many simulated clusters. Each cluster gets a bearer token and a kubeconfig; with a
 * data directory, the CA, the clusters and their tokens survive restarts, so a kubeconfig keeps working.
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import { ConflictError, EgresslabError, NotFoundError, ValidationError } from "../shared/errors.ts";
import { noopLogger, type Logger } from "../shared/logger.ts";
import type { CalicoEdition, SimClusterHandle } from "./types.ts";
import { createSimCluster, deleteSimClusterState } from "./cluster.ts";
import { createApiServer, type ApiServer } from "../apiserver/server.ts";
import { loadOrCreateTls, type TlsMaterial } from "../apiserver/tls.ts";
import { renderKubeconfig } from "../apiserver/kubeconfig.ts";

export interface ClusterSpec {
  id: string;
  profile?: string;
  edition?: CalicoEdition;
  seed?: number;
}

/** Builds one cluster; the default is `createSimCluster` (tests may pass a lighter one). */
export type ClusterFactory = (
  spec: ClusterSpec & { dataDir?: string; logger: Logger },
) => Promise<SimClusterHandle>;

export interface SimHostOptions {
  /** TCP port; 0 or absent picks a free one (or, with `dataDir`, the one used last time). */
  port?: number;
  /** Interface to bind; default 127.0.0.1. */
  host?: string;
  /** Where the CA, the cluster list and cluster state are kept; absent = nothing persists. */
  dataDir?: string;
  logger?: Logger;
  clusterFactory?: ClusterFactory;
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
    logger: spec.logger,
  });

export class SimHost {
  private readonly clusters = new Map<string, Entry>();
  private readonly pending = new Set<string>();
  private closed = false;

  private constructor(
    private readonly byToken: Map<string, Entry>,
    private readonly server: ApiServer,
    private readonly tls: TlsMaterial,
    private readonly factory: ClusterFactory,
    private readonly logger: Logger,
    private readonly dataDir: string | undefined,
    /** The API's base URL, e.g. `https://127.0.0.1:6443`. */
    readonly url: string,
    readonly port: number,
  ) {}

  /** Starts the HTTPS API and brings back the clusters remembered in `dataDir`. */
  static async start(opts: SimHostOptions = {}): Promise<SimHost> {
    const logger = opts.logger ?? noopLogger;
    const dataDir = opts.dataDir ? path.resolve(opts.dataDir) : undefined;
    const saved = dataDir ? readSaved(dataDir) : { clusters: [] };
    const tls = loadOrCreateTls(dataDir);
    const byToken = new Map<string, Entry>();
    const server = createApiServer({
      tls,
      logger: logger.child({ component: "apiserver" }),
      clusterForToken: (token) => byToken.get(token)?.handle,
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
    const host = new SimHost(
      byToken,
      server,
      tls,
      opts.clusterFactory ?? defaultFactory,
      logger,
      dataDir,
      `https://${urlHost}:${port}`,
      port,
    );
    try {
      for (const c of saved.clusters) {
        const handle = await host.factory({
          ...c.spec,
          ...(dataDir ? { dataDir } : {}),
          logger: host.clusterLogger(c.spec.id),
        });
        const entry = { spec: c.spec, token: c.token, handle };
        host.clusters.set(c.spec.id, entry);
        host.byToken.set(c.token, entry);
      }
      host.save();
    } catch (err) {
      await host.close();
      throw err;
    }
    logger.info("simulated clusters ready", { url: host.url, clusters: host.clusters.size });
    return host;
  }

  /** The CA certificate (PEM) that kubeconfigs embed. */
  get caCert(): string {
    return this.tls.caCert;
  }

  /** Creates a cluster and returns its id, token and kubeconfig. Throws on a bad or duplicate id. */
  async createCluster(
    opts: { id?: string; profile?: string; edition?: CalicoEdition; seed?: number } = {},
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
      if (opts.profile !== undefined) spec.profile = opts.profile;
      if (opts.edition !== undefined) spec.edition = opts.edition;
      if (opts.seed !== undefined) spec.seed = opts.seed;
      const handle = await this.factory({
        ...spec,
        ...(this.dataDir ? { dataDir: this.dataDir } : {}),
        logger: this.clusterLogger(id),
      });
      const token = randomBytes(24).toString("base64url");
      const entry = { spec, token, handle };
      this.clusters.set(id, entry);
      this.byToken.set(token, entry);
      this.save();
      return { id, token, kubeconfig: this.kubeconfig(id) };
    } finally {
      this.pending.delete(id);
    }
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

  /** Stops a cluster, forgets its token and deletes its saved state. Unknown ids are a no-op. */
  async deleteCluster(id: string): Promise<void> {
    const e = this.clusters.get(id);
    if (!e) return;
    this.clusters.delete(id);
    this.byToken.delete(e.token);
    this.save();
    this.server.endStreams(e.handle);
    await e.handle.close();
    if (this.dataDir && this.factory === defaultFactory) deleteSimClusterState(this.dataDir, id);
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
  }

  private clusterLogger(id: string): Logger {
    return this.logger.child({ cluster: id });
  }

  private save(): void {
    if (!this.dataDir) return;
    const data: SavedHost = {
      port: this.port,
      clusters: [...this.clusters.values()].map((e) => ({ spec: e.spec, token: e.token })),
    };
    mkdirSync(this.dataDir, { recursive: true });
    const file = path.join(this.dataDir, "host.json");
    const tmp = `${file}.tmp-${process.pid}`;
    writeFileSync(tmp, JSON.stringify(data, null, 2) + "\n", { mode: 0o600 });
    renameSync(tmp, file);
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
