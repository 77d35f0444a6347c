/**
 * A small reverse proxy with cookie affinity, for several replicas on one machine (tests, benchmarks, trying it by
 * hand with `egresslab proxy`); on Kubernetes the ingress does this job. Each request goes to the replica its
 * `egresslab_replica` cookie names; a request without it, or whose replica is down, goes to a live replica (the
 * least busy one for a newcomer; for a learner whose replica went away, the same live one for all their requests), and
 * the answer sets the cookie when the replica did not. HTTP, socket.io's long-polling and WebSocket upgrades all follow
 * the cookie, so a learner's page, API calls and socket land on one replica.
 *
 * Replicas are checked with `GET /readyz` every second; a refused or dropped connection marks a replica down at once,
 * and the request goes to another when none of it reached the first (or it is a GET/HEAD that can be sent again).
 */
import http from "node:http";
import type { Duplex } from "node:stream";
import type { AddressInfo } from "node:net";
import { createHash } from "node:crypto";
import { parseCookies } from "../http/cookies.ts";
import { ValidationError } from "../shared/errors.ts";
import { noopLogger, type Logger } from "../shared/logger.ts";
import { passedRequestHeaders, passedResponseHeaders, refuseUpgrade, spliceUpgrade } from "./forward.ts";

/** The cookie that names the replica a learner sticks to (replicas set it too; the ingress uses its own). */
export const replicaCookie = "egresslab_replica";

export interface Backend {
  /** The replica's name: the value of the affinity cookie that routes to it. */
  name: string;
  /** Its base URL, `http://host:port`. */
  url: string;
}

export interface BackendStatus extends Backend {
  up: boolean;
  /** Requests in flight and upgraded sockets open now. */
  active: number;
  /** Requests and upgrades sent to it since the proxy started. */
  served: number;
}

/** A request or upgrade as the proxy sent it. */
export interface RouteEvent {
  replica: string;
  method: string;
  url: string;
  /** The request's Cookie header. */
  cookie: string | undefined;
  upgrade: boolean;
  /** Sent to this replica after another failed. */
  retry: boolean;
}

export interface AffinityProxyOptions {
  backends: readonly Backend[];
  cookie?: string;
  /** The readiness path checked on each replica (default `/readyz`). */
  healthPath?: string;
  /** How often replicas are checked (default 1000 ms). */
  healthIntervalMs?: number;
  /** How long a client may take to send a whole request (default 60 s); the answer is not timed. */
  requestTimeoutMs?: number;
  /** Called for every request and upgrade sent to a replica (tests record where each learner went). */
  onRoute?: (e: RouteEvent) => void;
  /**
   * Largest request body, kept whole for a retry on another replica; larger bodies are refused. Default 256 KiB: twice
   * what a replica takes (socket.io's polling payloads are at most 128 KiB, the JSON API's bodies 32 KiB).
   */
  bodyLimit?: number;
  logger?: Logger;
}

export interface AffinityProxy {
  /** The proxy's address once it listens (`http://127.0.0.1:PORT`). */
  readonly url: string;
  /** Listens on `host:port` (0 for any free port); resolves to the URL. */
  listen(port: number, host?: string): Promise<string>;
  /** Each replica's state. */
  status(): BackendStatus[];
  /** Checks every replica now (as the timer does every interval). */
  checkNow(): Promise<void>;
  /** Stops listening, closes every connection and stops the checks. */
  close(): Promise<void>;
}

/** Parses `name=http://host:port` (the CLI's `--backend`). */
export function parseBackend(spec: string): Backend {
  const eq = spec.indexOf("=");
  const name = eq > 0 ? spec.slice(0, eq) : "";
  const url = eq > 0 ? spec.slice(eq + 1) : "";
  const problems = [];
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(name))
    problems.push({
      where: spec,
      message: "expects NAME=URL with a name of letters, digits, '.', '_' or '-'",
    });
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    // Reported below.
  }
  if (!parsed || parsed.protocol !== "http:" || parsed.pathname !== "/" || parsed.search)
    problems.push({ where: spec, message: `expects an http://host:port URL after '=', got "${url}"` });
  if (problems.length) throw new ValidationError(problems);
  return { name, url: parsed!.origin };
}

interface Replica extends BackendStatus {
  host: string;
  port: number;
  /** The check in flight. */
  checking: Promise<void> | undefined;
}

/** Errors that mean the replica is not there (nothing of the request reached a program). */
const refused = new Set(["ECONNREFUSED", "EHOSTUNREACH", "ENETUNREACH", "EADDRNOTAVAIL"]);

export function createAffinityProxy(opts: AffinityProxyOptions): AffinityProxy {
  if (!opts.backends.length)
    throw new ValidationError([{ where: "--backend", message: "give at least one replica" }]);
  const names = new Set<string>();
  for (const b of opts.backends) {
    if (names.has(b.name))
      throw new ValidationError([{ where: "--backend", message: `two replicas are named ${b.name}` }]);
    names.add(b.name);
  }
  const log = opts.logger ?? noopLogger;
  const cookieName = opts.cookie ?? replicaCookie;
  const healthPath = opts.healthPath ?? "/readyz";
  const bodyLimit = opts.bodyLimit ?? 256 * 1024;
  const replicas: Replica[] = opts.backends.map((b) => {
    const u = new URL(b.url);
    return {
      name: b.name,
      url: u.origin,
      host: u.hostname,
      port: Number(u.port || 80),
      up: true,
      active: 0,
      served: 0,
      checking: undefined,
    };
  });
  /** Cookie values a replica set for itself that differ from its name here. */
  const aliases = new Map<string, Replica>();
  let turn = 0;

  const setUp = (r: Replica, up: boolean, why: string): void => {
    if (r.up === up) return;
    r.up = up;
    log[up ? "info" : "warn"](up ? "replica is up" : "replica is down", { replica: r.name, why });
  };

  const check = (r: Replica): Promise<void> =>
    (r.checking ??= new Promise<void>((resolve) => {
      const done = (up: boolean, why: string): void => {
        r.checking = undefined;
        setUp(r, up, why);
        resolve();
      };
      const req = http.get(
        { host: r.host, port: r.port, path: healthPath, agent: false, timeout: 2000 },
        (res) => {
          res.resume();
          done(res.statusCode === 200, `${healthPath} answered ${res.statusCode}`);
        },
      );
      req.on("timeout", () => req.destroy(new Error(`${healthPath} did not answer within 2 s`)));
      req.on("error", (err) => done(false, err.message));
    }));
  /** A fresh check of every replica (after the one in flight, whose answer may predate the call). */
  const checkNow = async (): Promise<void> =>
    void (await Promise.all(replicas.map(async (r) => (await r.checking, await check(r)))));
  const timer = setInterval(() => void Promise.all(replicas.map(check)), opts.healthIntervalMs ?? 1000);
  timer.unref();
  void Promise.all(replicas.map(check));

  const byName = (v: string | undefined): Replica | undefined =>
    v === undefined ? undefined : (replicas.find((r) => r.name === v) ?? aliases.get(v));

  /** Where a request goes: its cookie's replica when live, else a live one (never one in `tried`). */
  const choose = (cookieHeader: string | undefined, tried: Set<Replica>): Replica | undefined => {
    const cookies = parseCookies(cookieHeader);
    const wanted = byName(cookies[cookieName]);
    if (wanted?.up && !tried.has(wanted)) return wanted;
    const live = replicas.filter((r) => r.up && !tried.has(r));
    if (!live.length) return undefined;
    // A learner already known somewhere (their replica went away, or a cookie of the app without ours): every request
    // of theirs picks the same live replica, so polling and the socket's upgrade meet on it.
    const others = Object.entries(cookies)
      .filter(([k]) => k !== cookieName)
      .map(([k, v]) => `${k}=${v}`)
      .sort()
      .join(";");
    if (others) {
      let best = live[0]!;
      let bestScore = "";
      for (const r of live) {
        const score = createHash("sha256").update(`${r.name}\n${others}`).digest("hex");
        if (score > bestScore) [best, bestScore] = [r, score];
      }
      return best;
    }
    // A newcomer: the least busy live replica, taking turns among equals.
    const least = Math.min(...live.map((r) => r.active));
    const equals = live.filter((r) => r.active === least);
    return equals[turn++ % equals.length];
  };

  const forwardedHeaders = (
    req: http.IncomingMessage,
    keepUpgrade: boolean,
  ): Record<string, string | string[]> => {
    const out = passedRequestHeaders(req, keepUpgrade);
    const from = req.socket.remoteAddress ?? "";
    const prior = req.headers["x-forwarded-for"];
    out["x-forwarded-for"] = [...(prior ? [String(prior)] : []), from].join(", ");
    out["x-forwarded-proto"] = "http";
    if (req.headers.host) out["x-forwarded-host"] = req.headers.host;
    return out;
  };

  /** Adds our cookie to a replica's answer unless it set one, and learns the name a replica calls itself by. */
  const withCookie = (
    r: Replica,
    requestCookie: string | undefined,
    headers: http.IncomingHttpHeaders,
  ): http.OutgoingHttpHeaders => {
    const out = passedResponseHeaders(headers);
    const set = headers["set-cookie"] ?? [];
    const own = set.map((c) => parseCookies(c.split(";")[0])[cookieName]).find((v) => v !== undefined);
    if (own !== undefined) {
      if (own !== r.name && own !== "" && !replicas.some((x) => x.name === own)) aliases.set(own, r);
    } else if (parseCookies(requestCookie)[cookieName] !== r.name) {
      out["set-cookie"] = [
        ...set,
        `${cookieName}=${encodeURIComponent(r.name)}; Path=/; HttpOnly; SameSite=Lax`,
      ];
    }
    return out;
  };

  const fail = (res: http.ServerResponse, status: number, code: string, message: string): void => {
    if (res.headersSent) return void res.destroy();
    res.writeHead(status, { "Content-Type": "application/json", Connection: "close" });
    res.end(JSON.stringify({ error: { code, message } }));
  };

  const handleRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > bodyLimit) {
        tooLarge = true;
        chunks.length = 0;
        req.pause();
        fail(res, 413, "too-large", "the request body is too large");
        req.socket.destroySoon();
      } else chunks.push(c);
    });
    req.on("end", () => {
      if (tooLarge) return;
      send(req, res, Buffer.concat(chunks), new Set());
    });
    req.on("error", () => res.destroy());
  };

  const send = (
    req: http.IncomingMessage,
    res: http.ServerResponse,
    body: Buffer,
    tried: Set<Replica>,
  ): void => {
    const r = choose(req.headers.cookie, tried);
    if (!r)
      return fail(
        res,
        503,
        "unavailable",
        "no egresslab replica is available right now; try again in a few seconds",
      );
    const retry = tried.size > 0;
    tried.add(r);
    r.active++;
    r.served++;
    opts.onRoute?.({
      replica: r.name,
      method: req.method ?? "GET",
      url: req.url ?? "/",
      cookie: req.headers.cookie,
      upgrade: false,
      retry,
    });
    let finished = false;
    const finish = (): void => {
      if (finished) return;
      finished = true;
      r.active--;
    };
    const headers = forwardedHeaders(req, false);
    if (body.length || req.headers["content-length"] !== undefined)
      headers["content-length"] = String(body.length);
    const up = http.request({
      host: r.host,
      port: r.port,
      method: req.method,
      path: req.url,
      headers,
      agent: false,
    });
    let answered = false;
    up.on("response", (upRes) => {
      answered = true;
      res.writeHead(
        upRes.statusCode ?? 502,
        upRes.statusMessage,
        withCookie(r, req.headers.cookie, upRes.headers),
      );
      upRes.pipe(res);
      upRes.on("end", finish);
      upRes.on("error", () => res.destroy());
    });
    up.on("error", (err: NodeJS.ErrnoException) => {
      finish();
      if (answered || res.headersSent) return void res.destroy();
      const code = err.code ?? "";
      const retriable =
        refused.has(code) ||
        (code === "ECONNRESET" &&
          (req.method === "GET" || req.method === "HEAD" || req.method === "OPTIONS"));
      if (refused.has(code) || code === "ECONNRESET") setUp(r, false, err.message);
      if (retriable && !res.destroyed) return send(req, res, body, tried);
      fail(res, 502, "unavailable", "the egresslab replica went away; try again");
    });
    res.on("close", () => {
      finish();
      if (!res.writableFinished) up.destroy();
    });
    up.end(body);
  };

  const handleUpgrade = (req: http.IncomingMessage, socket: Duplex, head: Buffer): void => {
    socket.on("error", () => socket.destroy());
    upgraded.add(socket);
    socket.on("close", () => upgraded.delete(socket));
    // Bytes the client sent after its request belong to the upgraded connection: read again once it is piped.
    if (head.length) socket.unshift(head);
    upgrade(req, socket, new Set());
  };

  const upgraded = new Set<Duplex>();
  const upgrade = (req: http.IncomingMessage, socket: Duplex, tried: Set<Replica>): void => {
    const r = choose(req.headers.cookie, tried);
    if (!r) {
      socket.end("HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
      return;
    }
    const retry = tried.size > 0;
    tried.add(r);
    r.active++;
    r.served++;
    opts.onRoute?.({
      replica: r.name,
      method: req.method ?? "GET",
      url: req.url ?? "/",
      cookie: req.headers.cookie,
      upgrade: true,
      retry,
    });
    let finished = false;
    const finish = (): void => {
      if (finished) return;
      finished = true;
      r.active--;
    };
    const up = http.request({
      host: r.host,
      port: r.port,
      method: req.method,
      path: req.url,
      headers: forwardedHeaders(req, true),
      agent: false,
    });
    let answered = false;
    up.on("upgrade", (upRes, upSocket, upHead) => {
      answered = true;
      spliceUpgrade(
        socket,
        upRes,
        upSocket,
        upHead,
        withCookie(r, req.headers.cookie, upRes.headers),
        finish,
      );
    });
    up.on("response", (upRes) => {
      // The replica refused the upgrade: pass its answer on and close.
      answered = true;
      refuseUpgrade(socket, upRes, withCookie(r, req.headers.cookie, upRes.headers), finish);
    });
    up.on("error", (err: NodeJS.ErrnoException) => {
      finish();
      if (answered) return void socket.destroy();
      const code = err.code ?? "";
      if (refused.has(code) || code === "ECONNRESET") setUp(r, false, err.message);
      if (refused.has(code) && !socket.destroyed) return upgrade(req, socket, tried);
      socket.end("HTTP/1.1 502 Bad Gateway\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
    });
    socket.on("close", () => {
      if (!answered) {
        finish();
        up.destroy();
      }
    });
    up.end();
  };

  // A request must arrive whole within a minute (the answer may take longer: long-polling holds it for half a
  // minute, and upgraded sockets are not timed at all).
  const requestTimeout = opts.requestTimeoutMs ?? 60_000;
  const server = http.createServer(
    {
      requestTimeout,
      headersTimeout: Math.min(30_000, requestTimeout),
      connectionsCheckingInterval: Math.max(50, Math.min(5_000, requestTimeout / 4)),
    },
    handleRequest,
  );
  server.on("upgrade", handleUpgrade);
  server.on("clientError", (err: NodeJS.ErrnoException, socket) => {
    const status = err.code === "ERR_HTTP_REQUEST_TIMEOUT" ? "408 Request Timeout" : "400 Bad Request";
    if (socket.writable) socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\n\r\n`);
    else socket.destroy();
  });

  let url = "";
  return {
    get url() {
      return url;
    },
    listen(port, host = "127.0.0.1") {
      return new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, host, () => {
          server.off("error", reject);
          const a = server.address() as AddressInfo;
          url = `http://${host.includes(":") ? `[${host}]` : host}:${a.port}`;
          resolve(url);
        });
      });
    },
    status: () =>
      replicas.map(({ name, url: u, up, active, served }) => ({ name, url: u, up, active, served })),
    checkNow,
    close() {
      clearInterval(timer);
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        for (const s of upgraded) s.destroy();
      });
    },
  };
}
