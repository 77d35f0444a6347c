/**
 * The kubelet's side of `kubectl port-forward`: a connection to a port inside the pod's network namespace, as
 * containerd's `portForward` dials `localhost:<port>` there — so network policy never applies. What answers is the
 * pod's listener on that port: an HTTP server (parsed with node's own HTTP/1.1 parser over an in-memory duplex), or
 * a listener that accepts and stays silent (a database port). Nothing listening: the error text containerd 2.0
 * gives, which the kubelet wraps and kubectl prints.
 */
import { createHash } from "node:crypto";
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import { Duplex } from "node:stream";
import type { Peer } from "../../net/podnet.ts";
import type { KubeObject } from "../../store/types.ts";

/** What listens on a pod port: an HTTP handler, or `silent` (accepts, never answers). */
export type PortListener =
  { kind: "http"; handle(req: IncomingMessage, res: ServerResponse): void } | { kind: "silent" };

/**
 * A connected pair of in-memory duplex streams: what one writes, the other reads. A write completes only when the
 * reader has room, so a slow reader holds the writer back (as a TCP window does).
 */
export function duplexPair(): [Duplex, Duplex] {
  const waiting = new Map<Duplex, () => void>();
  const make = (peer: () => Duplex): Duplex => {
    const self: Duplex = new Duplex({
      read() {
        // The reader has room again: let the peer's held write complete.
        const other = peer();
        const cb = waiting.get(other);
        if (cb) {
          waiting.delete(other);
          cb();
        }
      },
      write(chunk: Buffer, _enc, cb) {
        if (peer().push(chunk)) cb();
        else waiting.set(self, cb);
      },
      final(cb) {
        peer().push(null);
        cb();
      },
      destroy(err, cb) {
        waiting.delete(self);
        const p = peer();
        if (!p.destroyed) p.destroy();
        cb(err);
      },
    });
    return self;
  };
  // eslint-disable-next-line prefer-const
  let b: Duplex;
  const a = make(() => b);
  b = make(() => a);
  return [a, b];
}

const handlers = new WeakMap<object, PortListener & { kind: "http" }>();
/** One parser-only HTTP server for every forwarded connection; each socket carries its own listener. */
const server = http.createServer(
  { keepAliveTimeout: 0, requestTimeout: 0, headersTimeout: 0 },
  (req, res) => {
    const l = handlers.get(req.socket);
    if (!l) {
      res.writeHead(500).end();
      return;
    }
    l.handle(req, res);
  },
);
server.maxHeadersCount = 100;

/** Connects a new client stream to `listener`; returns the client's end (bytes in: request, bytes out: response). */
export function connectListener(listener: PortListener): Duplex {
  const [client, pod] = duplexPair();
  if (listener.kind === "silent") {
    pod.on("data", () => {});
    pod.on("end", () => pod.end());
    return client;
  }
  // node's HTTP server treats the stream as a socket: give it the socket methods it calls.
  Object.assign(pod, {
    setTimeout: () => pod,
    setNoDelay: () => pod,
    setKeepAlive: () => pod,
    remoteAddress: "127.0.0.1",
    remotePort: 0,
  });
  handlers.set(pod, listener);
  server.emit("connection", pod);
  return client;
}

/** A stable fake sandbox id for a pod (64 hex digits, as containerd's). */
export function sandboxId(pod: KubeObject): string {
  return createHash("sha256")
    .update(`sandbox/${pod.metadata.uid ?? `${pod.metadata.namespace}/${pod.metadata.name}`}`)
    .digest("hex");
}

/** The kubelet's message when nothing listens on `port` (kubelet's httpstream.go around containerd's error). */
export function noListenerMessage(pod: KubeObject, port: number): string {
  const id = sandboxId(pod);
  const netns = `/var/run/netns/cni-${id.slice(0, 8)}-${id.slice(8, 12)}-${id.slice(12, 16)}-${id.slice(16, 20)}-${id.slice(20, 32)}`;
  return (
    `error forwarding port ${port} to pod ${id}, uid : failed to execute portforward in network namespace "${netns}": ` +
    `failed to connect to localhost:${port} inside namespace "${id}", IPv4: dial tcp4 127.0.0.1:${port}: connect: connection refused ` +
    `IPv6 dial tcp6 [::1]:${port}: connect: connection refused `
  );
}

const MAX_BODY = 1 << 20;

/** Serves a simulated `Peer` (what `curl` inside the cluster reaches) over real HTTP/1.1. */
export function peerListener(peer: Peer, port: number): PortListener {
  if (!peer.speaksHttp) return { kind: "silent" };
  return {
    kind: "http",
    handle(req, res) {
      const chunks: Buffer[] = [];
      let size = 0;
      req.on("data", (c: Buffer) => {
        size += c.length;
        if (size <= MAX_BODY) chunks.push(c);
      });
      req.on("end", () => {
        if (size > MAX_BODY) {
          res.writeHead(413, { "content-length": "0" }).end();
          return;
        }
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(req.headers)) if (typeof v === "string") headers[k] = v;
        const host = (req.headers.host ?? "localhost").replace(/:\d+$/, "");
        const answer = peer.http({
          method: req.method ?? "GET",
          scheme: "http",
          host,
          port,
          path: req.url ?? "/",
          headers,
          body: Buffer.concat(chunks).toString("utf8"),
        });
        res.writeHead(answer.status, answer.reason, answer.headers);
        res.end(req.method === "HEAD" ? undefined : answer.body);
      });
    },
  };
}
