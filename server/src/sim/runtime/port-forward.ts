/**
 * The kubelet's side of `kubectl port-forward`, and the API server's checks before it. A connection goes to a port
 * inside the pod's network namespace, as containerd's `portForward` dials `localhost:<port>` there — so network
 * policy never applies. What answers is the pod's listener on that port (`ports.ts`: any container's, the pod's
 * containers share one network namespace; `listeners.ts`: what it serves), over an in-memory duplex. The refusals
 * are worded as the API server (`PortForwardLocation`), the kubelet (`GetPortForward`, its httpstream handler) and
 * containerd 2.0 (`PortForward`, `portForward`) word them.
 */
import { createHash } from "node:crypto";
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import { Duplex } from "node:stream";
import type { Peer } from "../../net/podnet.ts";
import { podSpec, podStatus } from "../../net/topology.ts";
import { ApiError, type KubeObject, type ObjectStore } from "../../store/types.ts";
import { KubeletError } from "../types.ts";
import type { PodListeners } from "./listeners.ts";
import { podListens } from "./ports.ts";

/** What listens on a pod port: an HTTP handler, or `silent` (accepts, never answers). */
export type PortListener =
  { kind: "http"; handle(req: IncomingMessage, res: ServerResponse): void } | { kind: "silent" };

/**
 * A connected pair of in-memory duplex streams: what one writes, the other reads. A write completes only when the
 * reader has room, so a slow reader holds the writer back (as a TCP window does). Bytes reach the reader on a later
 * turn of the event loop, as a socket's do: a chain of request and response over many connections never runs as one
 * uninterrupted run of callbacks that keeps timers and other clients' I/O waiting.
 */
export function duplexPair(): [Duplex, Duplex] {
  const waiting = new Map<Duplex, () => void>();
  const make = (peer: () => Duplex): Duplex => {
    /** Written, not yet delivered (at most one: a Writable writes one chunk at a time). */
    const pending: Buffer[] = [];
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
        pending.push(chunk);
        setImmediate(() => {
          const c = pending.shift();
          const p = peer();
          if (c === undefined || p.destroyed || p.push(c)) cb();
          else waiting.set(self, cb);
        });
      },
      final(cb) {
        setImmediate(() => {
          peer().push(null);
          cb();
        });
      },
      destroy(err, cb) {
        waiting.delete(self);
        const p = peer();
        if (!p.destroyed) {
          // What was written before a close still arrives, as a socket's buffered bytes do: a reader that is
          // behind reads it, then the end, then closes. An error (a reset) closes the peer at once.
          for (const c of pending.splice(0)) p.push(c);
          if (err || p.readableLength === 0 || p.readableEnded) p.destroy();
          else {
            p.push(null);
            p.once("end", () => p.destroy());
          }
        }
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

/** The path of the pod's network namespace, as containerd 2.0 names it (`host` for a host-network pod). */
function netnsPath(pod: KubeObject): string {
  if (podSpec(pod).hostNetwork) return "host";
  const id = sandboxId(pod);
  return `/var/run/netns/cni-${id.slice(0, 8)}-${id.slice(8, 12)}-${id.slice(12, 16)}-${id.slice(16, 20)}-${id.slice(20, 32)}`;
}

/** What the kubelet's httpstream handler writes on a connection's error stream around the runtime's error. */
function forwardError(pod: KubeObject, port: number, why: string): string {
  return `error forwarding port ${port} to pod ${sandboxId(pod)}, uid : ${why}`;
}

/** The kubelet's message when nothing listens on `port` (kubelet's httpstream.go around containerd 2.0's error). */
export function noListenerMessage(pod: KubeObject, port: number): string {
  return forwardError(
    pod,
    port,
    `failed to execute portforward in network namespace "${netnsPath(pod)}": ` +
      `failed to connect to localhost:${port} inside namespace "${sandboxId(pod)}", IPv4: dial tcp4 127.0.0.1:${port}: connect: connection refused ` +
      `IPv6 dial tcp6 [::1]:${port}: connect: connection refused `,
  );
}

/** Whether the pod's sandbox is up with its network namespace: started (an address) and not ended. */
function sandboxReady(pod: KubeObject): boolean {
  return podStatus(pod).phase === "Running" && Boolean(podStatus(pod).podIP);
}

/**
 * The checks before a port-forward session is set up, on the pod as stored: the API server's (`PortForwardLocation`:
 * a node must be assigned, and exist) and the kubelet's (`GetPortForward`: its runtime must list the pod, which it
 * does only while the pod's sandbox is ready — not before its network namespace exists, not after it ended). The
 * kubelet's refusal is a plain-text 500 that the API server passes through.
 */
export function checkForwardable(store: ObjectStore, pod: KubeObject): void {
  const name = pod.metadata.name;
  const node = podSpec(pod).nodeName;
  if (!node) throw new ApiError(400, "BadRequest", `pod ${name} does not have a host assigned`);
  if (!store.get("core/nodes", undefined, node))
    throw new ApiError(404, "NotFound", `nodes "${node}" not found`, { name: node, kind: "nodes" });
  if (!sandboxReady(pod))
    throw new KubeletError(500, `pod not found ("${name}_${pod.metadata.namespace ?? "default"}")`);
}

/**
 * One forwarded connection to `port`, as containerd's `portForward` dials it: the sandbox the session started with
 * must still exist with its network namespace open, and something in the pod must listen on the port. `current` is
 * the pod as stored now (undefined once deleted). Throws an Error whose message the kubelet writes on the error
 * stream.
 */
export function dialInPod(
  started: KubeObject,
  current: KubeObject | undefined,
  port: number,
  listeners: PodListeners,
): Duplex {
  const id = sandboxId(started);
  if (!current || current.metadata.uid !== started.metadata.uid)
    throw new Error(forwardError(started, port, `failed to find sandbox "${id}" in store: not found`));
  if (!sandboxReady(current))
    throw new Error(forwardError(started, port, `network namespace for sandbox "${id}" is closed`));
  if (!podListens(current, port, "TCP")) throw new Error(noListenerMessage(current, port));
  return listeners.connect(current, port);
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
