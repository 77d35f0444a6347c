/**
 * The HTTPS Kubernetes API of the simulated clusters: one port, many clusters; the bearer token picks the cluster.
 * Plain `node:https` so that watches, log streams and exec upgrades are under our control.
 */
import https from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import { KubeletError, type SimClusterHandle } from "../sim/types.ts";
import { noopLogger, type Logger } from "../shared/logger.ts";
import { ApiError } from "../store/types.ts";
import type { TlsMaterial } from "./tls.ts";
import type { RequestContext } from "./context.ts";
import { parseRoute, rawPath, splitClusterPrefix, type ResourceRoute } from "./route.ts";
import { REVIEW_TYPES, isReview, serveReview } from "./reviews.ts";
import { sendJson, sendStatus, sendText } from "./respond.ts";
import { toApiError, unauthorized } from "./status.ts";
import { KUBERNETES_VERSION } from "./version.ts";
import {
  aggregatedContentType,
  aggregatedDiscovery,
  apiGroupDoc,
  apiGroupList,
  apiResourceList,
  apiVersions,
  wantsAggregated,
} from "./discovery.ts";
import { openApiRoot, renderedDocument, serveOpenApiV2 } from "./openapi.ts";
import { resolveType, serveResource } from "./rest.ts";
import { serveLogs } from "./logs.ts";
import { boolParam } from "./options.ts";
import { serveEgresslab } from "./flows.ts";
import { acceptPortForward, createPortForwardServer } from "./portforward.ts";
import { serveServiceProxy } from "./service-proxy.ts";
import { createExecServer, execRequest, refuseUpgrade, runExec } from "./exec.ts";
import { ANONYMOUS_USER, authenticateToken } from "./authn.ts";
import {
  checkAuthorized,
  checkTier,
  isTieredPolicy,
  requestAttributes,
  tierFilter,
  tierOf,
} from "./authz.ts";
import type { UserInfo } from "./rbac.ts";
import { serveTokenRequest } from "./token-request.ts";
import { impersonated } from "./impersonate.ts";

export interface ApiServerOptions {
  tls: TlsMaterial;
  /** The cluster a bearer token belongs to, or undefined for an unknown token. */
  clusterForToken(token: string): SimClusterHandle | undefined;
  /** The cluster with this id (where ServiceAccount tokens and anonymous requests are checked). */
  clusterById?(id: string): SimClusterHandle | undefined;
  logger?: Logger;
  /** Open watches, log follows, exec/attach and port-forward streams one token may hold (default 100). */
  maxStreamsPerToken?: number;
}

/** The default bound on the long-running requests of one token: a room's kubectl sessions never come near it. */
export const MAX_STREAMS_PER_TOKEN = 100;

/** Whether a request stays open (a watch, a log follow, a flow watch) and so counts against the token's streams. */
function isLongRunning(
  method: string | undefined,
  route: ReturnType<typeof parseRoute>,
  q: URLSearchParams,
): boolean {
  if ((method ?? "GET") !== "GET") return false;
  const flag = (name: string): boolean => boolParam(q, name);
  if (route.kind === "egresslab") return flag("watch");
  if (route.kind !== "resource") return false;
  if (route.subresource === "log") return flag("follow");
  return route.watchPrefix || (route.name === undefined && flag("watch"));
}

export interface ApiServer {
  /** Starts listening; resolves with the bound port. */
  listen(port: number, host: string): Promise<number>;
  /** Ends every stream and connection and stops listening. */
  close(): Promise<void>;
  /** Ends the open watches, log follows and exec sessions of one cluster (when it is deleted). */
  endStreams(cluster: SimClusterHandle): void;
  /**
   * Serves a connection that arrived elsewhere (a learner's unix socket) as if it came to the port, but for one
   * cluster only: requests on it with another cluster's token are refused (401).
   */
  acceptConnection(socket: Socket, clusterId: string): void;
}

/** `/healthz`, `/readyz`, `/livez`: "ok", or with `?verbose` the check list the real server prints. */
function healthText(path: string, q: URLSearchParams): string {
  if (!q.has("verbose")) return "ok";
  const name = path.split("/").filter(Boolean)[0] ?? "healthz";
  const checks = [
    "ping",
    "log",
    "etcd",
    "poststarthook/start-apiextensions-controllers",
    "poststarthook/crd-informer-synced",
  ];
  return `${checks.map((c) => `[+]${c} ok`).join("\n")}\n${name} check passed\n`;
}

/** The most request-line and header bytes a request may have (Go's `http.DefaultMaxHeaderBytes`). */
const MAX_HEADER_BYTES = 1 << 20;

/** Answers a request Node's HTTP parser refused (headers too large, a malformed request line) with a `Status`. */
function answerClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (!socket.writable || err.code === "ECONNRESET") {
    socket.destroy();
    return;
  }
  const tooLarge = err.code === "HPE_HEADER_OVERFLOW";
  const api = tooLarge
    ? new ApiError(431, "RequestHeaderFieldsTooLarge", "Request Header Fields Too Large")
    : new ApiError(400, "BadRequest", "the request could not be parsed as HTTP/1.1");
  const body = JSON.stringify(api.toStatus());
  socket.end(
    `HTTP/1.1 ${api.code} ${tooLarge ? "Request Header Fields Too Large" : "Bad Request"}\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

/**
 * The query of a request as a URL (handlers read `searchParams`); the path is taken with `rawPath` instead, since a
 * `URL` removes dot segments. Never throws, whatever the request target.
 */
function requestUrl(target: string | undefined): URL {
  const url = new URL("https://localhost/");
  const q = (target ?? "").indexOf("?");
  if (q >= 0) url.search = (target ?? "").slice(q + 1).split("#", 1)[0] ?? "";
  return url;
}

/** The cluster each connection handed over by `acceptConnection` is bound to (keyed by the raw socket). */
const boundTo = new WeakMap<object, string>();

/**
 * True when a request on `socket` may use `cluster`: any cluster on the TCP port; only the bound one on a handed-over
 * connection. A connection with no peer address that cannot be matched to its binding is refused (fails closed).
 */
function connectionAllows(socket: Socket, cluster: SimClusterHandle): boolean {
  const bound = boundCluster(socket);
  if (bound !== undefined) return bound === cluster.id;
  return socket.remoteAddress !== undefined;
}

/** The cluster a handed-over connection is bound to, if it is one. */
function boundCluster(socket: Socket): string | undefined {
  const raw = (socket as Socket & { _parent?: object })._parent ?? socket;
  return boundTo.get(raw);
}

/** The resource key (`core/pods`) of a resource route. */
const keyOf = (group: string, plural: string): string => `${group || "core"}/${plural}`;

function bearer(req: IncomingMessage): string | undefined {
  const h = req.headers.authorization;
  if (!h) return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
  return m?.[1];
}

export function createApiServer(opts: ApiServerOptions): ApiServer {
  const logger = opts.logger ?? noopLogger;
  const closers = new Set<() => void>();
  /** The long-running streams of each cluster, ended when the cluster goes away. */
  const streamsOf = new WeakMap<SimClusterHandle, Set<() => void>>();
  const track = (cluster: SimClusterHandle, stop: () => void): (() => void) => {
    let set = streamsOf.get(cluster);
    if (!set) streamsOf.set(cluster, (set = new Set()));
    set.add(stop);
    closers.add(stop);
    return () => {
      set.delete(stop);
      closers.delete(stop);
    };
  };
  const sockets = new Set<Socket>();
  const wss = createExecServer();
  const maxStreams = opts.maxStreamsPerToken ?? MAX_STREAMS_PER_TOKEN;
  /** 429 when the cluster's token already holds its share of watches, log follows, exec and port-forward streams. */
  const admitStream = (cluster: SimClusterHandle): void => {
    if ((streamsOf.get(cluster)?.size ?? 0) < maxStreams) return;
    throw new ApiError(
      429,
      "TooManyRequests",
      `Too many requests, please try again later: this token already has ${maxStreams} open watches and streams`,
      { retryAfterSeconds: 1 },
    );
  };
  const pfs = createPortForwardServer();

  /**
   * The cluster and user of a request: the cluster's admin token (user undefined: nothing is checked), a
   * ServiceAccount token, or no credentials at all on a connection bound to a cluster (`system:anonymous`). 401
   * otherwise.
   */
  const identify = (
    req: IncomingMessage,
    clusterId: string | undefined,
  ): { cluster: SimClusterHandle; user?: UserInfo } => {
    const token = bearer(req);
    let cluster = token ? opts.clusterForToken(token) : undefined;
    let user: UserInfo | undefined;
    if (!cluster && opts.clusterById) {
      if (token) {
        const sa = authenticateToken(token, opts.clusterById);
        if (sa) ({ cluster, user } = sa);
      } else if (req.headers.authorization === undefined) {
        // Only on a connection handed over for one cluster (the learner's own socket): on the shared port an answer
        // other than 401 would tell anyone which clusters exist.
        const bound = boundCluster(req.socket as Socket);
        if (bound !== undefined && (clusterId === undefined || clusterId === bound)) {
          cluster = opts.clusterById(bound);
          user = ANONYMOUS_USER;
        }
      }
    }
    if (!cluster || (clusterId !== undefined && clusterId !== cluster.id)) throw unauthorized();
    if (!connectionAllows(req.socket as Socket, cluster)) throw unauthorized();
    const as = impersonated(req.headers, user, cluster.store);
    if (as) user = as;
    return user ? { cluster, user } : { cluster };
  };

  /**
   * RBAC (and Calico's tier check) for a request by someone other than the admin; throws the real 403. A policy's
   * create is checked against its tier when its body is read (`admitCreate`).
   */
  const authorizeRequest = (
    cluster: SimClusterHandle,
    user: UserInfo,
    method: string,
    route: ReturnType<typeof parseRoute>,
    path: string,
    q: URLSearchParams,
  ): Pick<RequestContext, "admitCreate" | "visible"> => {
    const attrs = requestAttributes(user, method, route, path, q);
    checkAuthorized(cluster.store, attrs);
    if (!isTieredPolicy(attrs) || route.kind !== "resource") return {};
    if (attrs.verb === "create")
      return {
        admitCreate: (_t, obj) =>
          checkTier(cluster.store, { ...attrs, name: obj.metadata.name }, obj.metadata.name, tierOf(obj)),
      };
    if (attrs.verb === "list" || attrs.verb === "watch") {
      const visible = tierFilter(cluster.store, attrs, q);
      return visible ? { visible } : {};
    }
    if (attrs.name !== undefined && ["get", "update", "patch", "delete"].includes(attrs.verb)) {
      const existing = cluster.store.get(keyOf(route.group, route.plural), route.namespace, attrs.name);
      if (existing) checkTier(cluster.store, attrs, attrs.name, tierOf(existing));
      else if (attrs.verb === "update" || attrs.verb === "patch")
        return {
          admitCreate: (_t, obj) =>
            checkTier(cluster.store, { ...attrs, verb: "create" }, obj.metadata.name, tierOf(obj)),
        };
    }
    return {};
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const started = Date.now();
    const pathname = rawPath(req.url);
    const url = requestUrl(req.url);
    res.on("finish", () =>
      logger.debug("request", {
        method: req.method,
        path: pathname,
        query: url.search,
        status: res.statusCode,
        ms: Date.now() - started,
      }),
    );
    try {
      const { clusterId, path } = splitClusterPrefix(pathname);
      const route = parseRoute(path);
      if (route.kind === "version") return sendJson(res, 200, KUBERNETES_VERSION);
      if (route.kind === "health") return sendText(res, 200, healthText(path, url.searchParams));
      const { cluster, user } = identify(req, clusterId);
      const hooks = user
        ? authorizeRequest(cluster, user, req.method ?? "GET", route, path, url.searchParams)
        : {};
      if (isLongRunning(req.method, route, url.searchParams)) admitStream(cluster);
      const ctx: RequestContext = {
        req,
        res,
        url,
        cluster,
        logger,
        onClose: (stop) => track(cluster, stop),
        ...(user ? { user } : {}),
        ...hooks,
      };
      const types = [...cluster.api.types(), ...REVIEW_TYPES];
      const host = req.headers.host ?? "127.0.0.1";
      switch (route.kind) {
        case "api-root": {
          const agg = wantsAggregated(req.headers.accept);
          if (agg)
            return sendJson(res, 200, aggregatedDiscovery(types, true, agg), {
              contentType: aggregatedContentType(agg),
            });
          return sendJson(res, 200, apiVersions(host));
        }
        case "apis-root": {
          const agg = wantsAggregated(req.headers.accept);
          if (agg)
            return sendJson(res, 200, aggregatedDiscovery(types, false, agg), {
              contentType: aggregatedContentType(agg),
            });
          return sendJson(res, 200, apiGroupList(types));
        }
        case "group": {
          const doc = apiGroupDoc(types, route.group);
          if (!doc) throw new ApiError(404, "NotFound", "the server could not find the requested resource");
          return sendJson(res, 200, doc);
        }
        case "group-version": {
          const doc = apiResourceList(types, route.group, route.version);
          if (!doc) throw new ApiError(404, "NotFound", "the server could not find the requested resource");
          return sendJson(res, 200, doc);
        }
        case "openapi-v3-root":
          return sendJson(res, 200, openApiRoot(cluster.api.types()));
        case "openapi-v3-gv": {
          const doc = renderedDocument(cluster.api.types(), route.group, route.version);
          if (!doc) throw new ApiError(404, "NotFound", "the server could not find the requested resource");
          res.writeHead(200, {
            "Content-Type": "application/json",
            "Content-Length": String(Buffer.byteLength(doc.text)),
            ETag: `"${doc.hash}"`,
            "Cache-Control":
              url.searchParams.get("hash") === doc.hash ? "public, immutable" : "no-cache, private",
          });
          res.end(doc.text);
          return;
        }
        case "openapi-v2":
          return serveOpenApiV2(res, req.headers.accept);
        case "egresslab":
          return await serveEgresslab(ctx, route.path);
        case "resource":
          return await serveResourceRoute(ctx, route);
        default:
          throw new ApiError(404, "NotFound", "the server could not find the requested resource");
      }
    } catch (err) {
      const api = toApiError(err);
      if (api.code >= 500)
        logger.error("request failed", {
          path: pathname,
          error: err instanceof Error ? err.stack : String(err),
        });
      // Drain what the client is still sending so the response is not cut off by a reset.
      if (!req.readableEnded) req.resume();
      sendStatus(res, api);
    }
  };

  const serveResourceRoute = async (ctx: RequestContext, route: ResourceRoute): Promise<void> => {
    if (isReview(route)) return serveReview(ctx, route);
    const t = resolveType(ctx, route);
    if (t.group === "" && t.plural === "serviceaccounts" && route.subresource === "token" && route.name)
      return serveTokenRequest(ctx, route);
    if (t.group === "" && t.plural === "services" && route.subresource === "proxy" && route.name)
      return serveServiceProxy(ctx, route);
    if (t.group === "" && t.plural === "pods" && route.name && route.namespace !== undefined) {
      if (route.subresource === "log") {
        if (ctx.req.method !== "GET")
          throw new ApiError(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
          );
        ctx.cluster.api.get(t, route.namespace, route.name);
        return serveLogs(ctx, route.namespace, route.name);
      }
      if (route.subresource === "exec" || route.subresource === "attach")
        throw new ApiError(400, "BadRequest", "Upgrade request required");
      if (route.subresource === "portforward")
        throw new ApiError(400, "BadRequest", "Upgrade request required");
    }
    return serveResource(ctx, route, t);
  };

  const upgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    socket.on("error", () => socket.destroy());
    const pathname = rawPath(req.url);
    const url = requestUrl(req.url);
    try {
      const { clusterId, path } = splitClusterPrefix(pathname);
      const { cluster, user } = identify(req, clusterId);
      const route = parseRoute(path);
      // Authorized before upgrading: a WebSocket asks with GET (`get`), SPDY with POST (`create`).
      if (user) authorizeRequest(cluster, user, req.method ?? "GET", route, path, url.searchParams);
      admitStream(cluster);
      if (
        route.kind !== "resource" ||
        route.group !== "" ||
        route.plural !== "pods" ||
        !route.name ||
        !route.namespace
      )
        throw new ApiError(404, "NotFound", "the server could not find the requested resource");
      const sub = route.subresource;
      if (sub === "portforward") {
        const open = cluster.runtime.portForward?.(route.namespace, route.name);
        if (!open) throw new ApiError(400, "BadRequest", "port forwarding is not supported by this cluster");
        return acceptPortForward(pfs, req, socket, head, open, logger, (stop) => track(cluster, stop));
      }
      if (sub !== "exec" && sub !== "attach")
        throw new ApiError(400, "BadRequest", `upgrade is not supported on ${pathname}`);
      if ((req.headers.upgrade ?? "").toLowerCase() !== "websocket")
        throw new ApiError(
          400,
          "BadRequest",
          "egresslab's simulated cluster serves exec over WebSocket (v5.channel.k8s.io) only; use kubectl 1.30 or newer",
        );
      const podType = cluster.api.types().find((t) => t.group === "" && t.plural === "pods");
      if (!podType) throw new ApiError(404, "NotFound", "the server could not find the requested resource");
      cluster.api.get(podType, route.namespace, route.name);
      const execReq = execRequest(url.searchParams, route.namespace, route.name, sub === "attach");
      if (sub === "attach" && !cluster.runtime.attach)
        throw new ApiError(400, "BadRequest", "attach is not supported by this cluster");
      const offered = (req.headers["sec-websocket-protocol"] ?? "").split(",").map((s) => s.trim());
      if (!offered.some((p) => p === "v5.channel.k8s.io" || p === "v4.channel.k8s.io"))
        throw new ApiError(
          400,
          "BadRequest",
          "the exec stream needs the v5.channel.k8s.io or v4.channel.k8s.io subprotocol",
        );
      wss.handleUpgrade(req, socket, head, (ws) => {
        logger.debug(sub, {
          pod: `${route.namespace}/${route.name}`,
          command: execReq.command,
          tty: execReq.tty,
        });
        const stop = (): void => ws.terminate();
        ws.on("close", track(cluster, stop));
        runExec(ws, cluster, execReq, logger, { attach: sub === "attach" });
      });
    } catch (err) {
      refuseUpgrade(socket, err instanceof KubeletError ? err : toApiError(err));
    }
  };

  const server = https.createServer(
    {
      cert: opts.tls.cert,
      key: opts.tls.key,
      keepAliveTimeout: 30_000,
      // Go's http.DefaultMaxHeaderBytes, which the real API server keeps: long selectors reach the selector parser.
      maxHeaderSize: MAX_HEADER_BYTES,
    },
    (req, res) => {
      void handle(req, res);
    },
  );
  server.on("upgrade", upgrade);
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  server.on("clientError", (err: NodeJS.ErrnoException, socket: Duplex) => answerClientError(err, socket));
  server.on("tlsClientError", (err) => logger.debug("tls client error", { error: err.message }));

  return {
    listen(port, host) {
      return new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, host, () => {
          server.off("error", reject);
          const addr = server.address();
          resolve(typeof addr === "object" && addr ? addr.port : port);
        });
      });
    },
    acceptConnection(socket, clusterId) {
      boundTo.set(socket, clusterId);
      socket.on("error", () => socket.destroy());
      server.emit("connection", socket);
    },
    endStreams(cluster) {
      for (const stop of [...(streamsOf.get(cluster) ?? [])]) stop();
      streamsOf.delete(cluster);
    },
    close() {
      for (const stop of [...closers]) stop();
      closers.clear();
      return new Promise((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
        wss.close();
        pfs.close();
      });
    },
  };
}
