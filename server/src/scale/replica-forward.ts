/**
 * A learner's requests that reach a replica which does not serve them are passed on to the one that does. Behind a
 * Kubernetes ingress (whose cookie affinity knows nothing of leases) a learner's second browser, or any request that
 * lands on another replica, would otherwise be refused until the owner's lease ran out: instead this replica forwards
 * the learner's API requests and socket.io connections (long-polling and WebSocket upgrades), and an instructor's
 * per-learner actions (`/api/instructor/…/attendees/:id…`), to the address the owner advertised in its lease.
 *
 * Forwarding grants nothing: the request keeps the learner's session cookie (or the instructor's token) and the owner
 * authorises it as it would any request. A forwarded request is marked (`X-Egresslab-Forwarded: <sender>`) and is
 * never forwarded again: a replica that gets one for a learner it does not serve answers the usual 503 naming the
 * owner, as it does when the owner's address does not answer. The client's address travels in X-Forwarded-For only
 * with `--trust-proxy` (the replicas then trust one hop, which for a forwarded request is the forwarding replica).
 */
import http from "node:http";
import https from "node:https";
import type { Duplex } from "node:stream";
import { parseCookies, sessionCookie } from "../http/cookies.ts";
import { noopLogger, type Logger } from "../shared/logger.ts";
import type { LeaseOwner } from "./leases.ts";
import { passedRequestHeaders, passedResponseHeaders, refuseUpgrade, spliceUpgrade } from "./forward.ts";

/** The header that marks a request one replica forwarded to another (its value: the sender's name). */
export const forwardedHeader = "x-egresslab-forwarded";

/** An instructor's per-learner path: the attendee's id. */
const attendeePath = /^\/api\/instructor(?:\/workshops\/[^/?]+)?\/attendees\/([^/?]+)/;

export interface ReplicaForwardOptions {
  /** This replica's name. */
  replica: string;
  /** The learner that holds a session token, by its cookie value. */
  learnerForToken(token: string): Promise<{ clusterId: string } | undefined>;
  /** The learner with this id. */
  learnerForId(id: string): Promise<{ clusterId: string } | undefined>;
  /** Whether this replica holds the lease on a cluster (no round trip). */
  holds(clusterId: string): boolean;
  /** The live owner of a cluster's lease. */
  owner(clusterId: string): Promise<LeaseOwner | undefined>;
  /** Whether X-Forwarded-For is passed on (`--trust-proxy`); else it is dropped. */
  trustProxy: boolean;
  /** How long the owner's address may take to accept the connection (default 3 s). */
  connectTimeoutMs?: number;
  logger?: Logger;
}

type Local = (req: http.IncomingMessage, ...rest: never[]) => void;

/**
 * Puts forwarding in front of `server`'s request and upgrade handlers (install it after everything that listens on
 * them, socket.io included): a request that is not forwarded goes to them unchanged.
 */
export function forwardToOwners(server: http.Server, opts: ReplicaForwardOptions): void {
  const log = opts.logger ?? noopLogger;
  const connectTimeout = opts.connectTimeoutMs ?? 3000;
  const requestListeners = server.listeners("request") as Local[];
  const upgradeListeners = server.listeners("upgrade") as Local[];
  server.removeAllListeners("request");
  server.removeAllListeners("upgrade");
  const local = (listeners: Local[], args: unknown[]): void => {
    for (const l of listeners) (l as (...a: unknown[]) => void)(...args);
  };

  /** The other live replica that serves what the request is about, if it should be forwarded there. */
  const ownerOf = async (req: http.IncomingMessage): Promise<LeaseOwner | undefined> => {
    if (req.headers[forwardedHeader] !== undefined) return undefined;
    const url = req.url ?? "/";
    if (!url.startsWith("/api/") && !url.startsWith("/socket.io/")) return undefined;
    const attendee = attendeePath.exec(url)?.[1];
    let learner: { clusterId: string } | undefined;
    if (attendee !== undefined) {
      let id: string;
      try {
        id = decodeURIComponent(attendee);
      } catch {
        return undefined;
      }
      learner = await opts.learnerForId(id);
    } else {
      const token = parseCookies(req.headers.cookie)[sessionCookie];
      if (token === undefined || url.startsWith("/api/instructor")) return undefined;
      learner = await opts.learnerForToken(token);
    }
    if (!learner || opts.holds(learner.clusterId)) return undefined;
    const owner = await opts.owner(learner.clusterId);
    if (!owner || owner.replica === opts.replica || !URL.canParse(owner.address)) return undefined;
    return owner;
  };

  /** Opens the forwarded request; `fallback` runs (and nothing was read of the request) when the owner is not there. */
  const open = (
    req: http.IncomingMessage,
    owner: LeaseOwner,
    upgrade: boolean,
    fallback: () => void,
    connected: () => void,
  ): http.ClientRequest => {
    const u = new URL(owner.address);
    const headers = passedRequestHeaders(req, upgrade);
    headers[forwardedHeader] = opts.replica;
    if (!opts.trustProxy) delete headers["x-forwarded-for"];
    const up = (u.protocol === "https:" ? https : http).request({
      host: u.hostname.replace(/^\[|\]$/g, ""),
      port: Number(u.port || (u.protocol === "https:" ? 443 : 80)),
      method: req.method,
      path: req.url,
      headers,
      agent: false,
    });
    let reached = false;
    const timer = setTimeout(
      () => up.destroy(new Error(`${owner.address} did not accept the connection in time`)),
      connectTimeout,
    );
    up.on("socket", (s) =>
      s.once("connect", () => {
        reached = true;
        clearTimeout(timer);
        connected();
      }),
    );
    up.on("error", (err) => {
      clearTimeout(timer);
      if (reached) return;
      log.warn("the replica serving a learner does not answer at its address; answering here", {
        replica: owner.replica,
        address: owner.address,
        error: err.message,
      });
      fallback();
    });
    return up;
  };

  const forwardRequest = (req: http.IncomingMessage, res: http.ServerResponse, owner: LeaseOwner): void => {
    let reached = false;
    const up = open(
      req,
      owner,
      false,
      () => local(requestListeners, [req, res]),
      () => {
        reached = true;
        req.pipe(up);
      },
    );
    up.on("response", (upRes) => {
      res.writeHead(upRes.statusCode ?? 502, upRes.statusMessage, passedResponseHeaders(upRes.headers));
      upRes.pipe(res);
      upRes.on("error", () => res.destroy());
    });
    up.on("error", () => {
      if (!reached) return;
      if (res.headersSent) return void res.destroy();
      res.writeHead(502, { "Content-Type": "application/json", Connection: "close" });
      res.end(
        JSON.stringify({
          error: { code: "unavailable", message: "the server serving you went away; try again" },
        }),
      );
    });
    res.on("close", () => {
      if (reached && !res.writableFinished) up.destroy();
    });
  };

  const forwardUpgrade = (
    req: http.IncomingMessage,
    socket: Duplex,
    head: Buffer,
    owner: LeaseOwner,
  ): void => {
    let reached = false;
    let done = false;
    const up = open(
      req,
      owner,
      true,
      () => local(upgradeListeners, [req, socket, head]),
      () => {
        reached = true;
        up.end();
      },
    );
    const finish = (): void => void (done = true);
    up.on("upgrade", (upRes, upSocket, upHead) => {
      if (head.length) upSocket.write(head);
      spliceUpgrade(socket, upRes, upSocket, upHead, passedResponseHeaders(upRes.headers), finish);
    });
    up.on("response", (upRes) => refuseUpgrade(socket, upRes, passedResponseHeaders(upRes.headers), finish));
    up.on("error", () => {
      if (reached) socket.destroy();
    });
    socket.on("close", () => {
      if (reached && !done) up.destroy();
    });
  };

  const failed = (err: unknown): void =>
    log.error("could not pass a request on", { error: err instanceof Error ? err.message : String(err) });
  server.on("request", (req: http.IncomingMessage, res: http.ServerResponse) => {
    ownerOf(req)
      .then(
        (owner) => (owner ? forwardRequest(req, res, owner) : local(requestListeners, [req, res])),
        () => local(requestListeners, [req, res]),
      )
      .catch(failed);
  });
  server.on("upgrade", (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on("error", () => socket.destroy());
    ownerOf(req)
      .then(
        (owner) =>
          owner ? forwardUpgrade(req, socket, head, owner) : local(upgradeListeners, [req, socket, head]),
        () => local(upgradeListeners, [req, socket, head]),
      )
      .catch(failed);
  });
}
