/**
 * `pods/<name>/portforward` as the API server and kubelet serve it, in three framings:
 * - WebSocket with `SPDY/3.1+portforward.k8s.io`: SPDY tunnelled in binary messages (kubectl ≥ 1.31, client-go's
 *   `tunneling_connection.go`);
 * - `Upgrade: SPDY/3.1` with `X-Stream-Protocol-Version: portforward.k8s.io` (older kubectl, and kubectl's fallback);
 * - WebSocket with `v4.channel.k8s.io` and `?ports=` (client-node's `PortForward`, the Python client): per port a data
 *   channel 2i and an error channel 2i+1, each first carrying the port as a little-endian uint16.
 * The SPDY framings carry one stream pair (`streamtype: error|data`, `port`, `requestid`) per forwarded connection,
 * as the kubelet's `cri/streaming/portforward/httpstream.go` pairs them; failures go on the error stream as the
 * kubelet words them. The bytes reach the pod through `PodRuntime.portForward` (no policy: the kubelet enters the
 * pod's network namespace).
 */
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { WebSocketServer, type WebSocket } from "ws";
import type { Logger } from "../shared/logger.ts";
import { ApiError } from "../store/types.ts";
import {
  FrameReader,
  HeaderReader,
  HeaderWriter,
  RST,
  dataFrames,
  goAwayFrame,
  pingFrame,
  rstStreamFrame,
  synReplyFrame,
  type SpdyFrame,
} from "./portforward-spdy.ts";

export const SPDY_TUNNEL_PROTOCOL = "SPDY/3.1+portforward.k8s.io";
export const PORT_FORWARD_PROTOCOL = "portforward.k8s.io";
const SPDY_TUNNEL_ALIAS = "spdy-3.1-portforward.k8s.io";
const CHANNEL_PROTOCOLS = ["v4.channel.k8s.io"];

/** Opens a connection to `port` in the pod; rejects with an Error whose message is what the kubelet reports. */
export type OpenPort = (port: number) => Promise<Duplex>;

/** What the forwarding writes go through: a WebSocket or a raw upgraded socket. */
interface Transport {
  write(b: Buffer): void;
  close(): void;
  /** Bytes written but not yet sent. */
  buffered(): number;
}

/** Above this many unsent bytes a pod connection is paused until the client catches up. */
const HIGH_WATER = 1 << 20;

/** Pauses `conn` while `buffered()` is high, polling until it drains. */
function holdBack(conn: Duplex, buffered: () => number): void {
  if (buffered() <= HIGH_WATER || conn.isPaused()) return;
  conn.pause();
  const t = setInterval(() => {
    if (conn.destroyed || buffered() <= HIGH_WATER / 4) {
      clearInterval(t);
      if (!conn.destroyed) conn.resume();
    }
  }, 20);
  t.unref();
}

/** At most this many forwarded connections at once on one port-forward session. */
const MAX_PAIRS = 256;
/** Bytes queued towards a pod connection before the stream is reset. */
const MAX_QUEUED = 4 << 20;

export function createPortForwardServer(): WebSocketServer {
  return new WebSocketServer({
    noServer: true,
    perMessageDeflate: false,
    maxPayload: 4 << 20,
    handleProtocols: (protocols) => {
      if (protocols.has(SPDY_TUNNEL_ALIAS)) return SPDY_TUNNEL_PROTOCOL;
      for (const p of CHANNEL_PROTOCOLS) if (protocols.has(p)) return p;
      return false;
    },
  });
}

/** The ports of a `v4.channel.k8s.io` request: `?ports=80&ports=8080` or `?ports=80,8080` (the kubelet's V4Options). */
export function channelPorts(q: URLSearchParams): number[] {
  const raw = [...q.getAll("ports"), ...q.getAll("port")];
  if (raw.length === 0) throw new ApiError(400, "BadRequest", 'query parameter "port" is required');
  const ports: number[] = [];
  for (const s of raw) {
    if (s === "") throw new ApiError(400, "BadRequest", 'query parameter "port" cannot be empty');
    for (const p of s.split(",")) {
      const n = /^\d{1,5}$/.test(p) ? Number(p) : NaN;
      if (!(n <= 65535)) throw new ApiError(400, "BadRequest", `unable to parse "${s}" as a port`);
      if (n < 1) throw new ApiError(400, "BadRequest", `port "${s}" must be > 0`);
      ports.push(n);
    }
  }
  if (ports.length > 16) throw new ApiError(400, "BadRequest", "at most 16 ports can be forwarded at once");
  return ports;
}

/** Accepts a port-forward upgrade; `track` registers a stop function for server/cluster shutdown. */
export function acceptPortForward(
  wss: WebSocketServer,
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  open: OpenPort,
  logger: Logger,
  track: (stop: () => void) => () => void,
): void {
  const url = new URL(req.url ?? "/", "https://localhost");
  const upgrade = (req.headers.upgrade ?? "").toLowerCase();
  if (upgrade === "spdy/3.1") {
    const version = String(req.headers["x-stream-protocol-version"] ?? "");
    const offered = version.split(",").map((s) => s.trim());
    if (!offered.includes(PORT_FORWARD_PROTOCOL))
      throw new ApiError(
        403,
        "Forbidden",
        `unable to upgrade: unable to negotiate protocol: client supports [${version}], server supports [${PORT_FORWARD_PROTOCOL}]`,
      );
    socket.write(
      "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n" +
        `X-Stream-Protocol-Version: ${PORT_FORWARD_PROTOCOL}\r\n\r\n`,
    );
    const transport: Transport = {
      write: (b) => {
        if (!socket.destroyed) socket.write(b);
      },
      close: () => socket.destroy(),
      buffered: () => socket.writableLength,
    };
    const session = spdySession(transport, open, logger);
    const untrack = track(() => socket.destroy());
    socket.on("data", (d: Buffer) => session.receive(d));
    socket.on("close", () => {
      untrack();
      session.closed();
    });
    if (head.length) session.receive(head);
    return;
  }
  if (upgrade !== "websocket")
    throw new ApiError(400, "BadRequest", "port-forward needs a WebSocket or SPDY/3.1 upgrade");
  const offered = (req.headers["sec-websocket-protocol"] ?? "").split(",").map((s) => s.trim());
  const tunnel = offered.includes(SPDY_TUNNEL_PROTOCOL);
  const ports = tunnel ? [] : channelPorts(url.searchParams);
  if (!tunnel && !offered.some((p) => CHANNEL_PROTOCOLS.includes(p)))
    throw new ApiError(
      400,
      "BadRequest",
      `port-forward needs the ${SPDY_TUNNEL_PROTOCOL} or v4.channel.k8s.io subprotocol`,
    );
  // ws accepts only RFC 7230 tokens as subprotocols, and "/" is not one: offer the tunnel under an alias that
  // `handleProtocols` answers with the real name.
  if (tunnel)
    req.headers["sec-websocket-protocol"] = offered
      .map((p) => (p === SPDY_TUNNEL_PROTOCOL ? SPDY_TUNNEL_ALIAS : p))
      .filter((p) => /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(p))
      .join(", ");
  wss.handleUpgrade(req, socket, head, (ws) => {
    const untrack = track(() => ws.terminate());
    ws.on("close", untrack);
    ws.on("error", () => ws.terminate());
    if (ws.protocol === SPDY_TUNNEL_PROTOCOL) {
      const session = spdySession(
        {
          write: (b) => {
            if (ws.readyState === ws.OPEN) ws.send(b, { binary: true });
          },
          close: () => ws.close(1000),
          buffered: () => ws.bufferedAmount,
        },
        open,
        logger,
      );
      ws.on("message", (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => {
        if (!isBinary) {
          ws.close(1003, "invalid message type received");
          return;
        }
        session.receive(toBuffer(data));
      });
      ws.on("close", () => session.closed());
    } else channelSession(ws, ports, open, logger);
  });
}

function toBuffer(data: Buffer | ArrayBuffer | Buffer[]): Buffer {
  return Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
}

interface Pair {
  requestId: string;
  port: number;
  errorId?: number;
  dataId?: number;
  conn?: Duplex;
  /** Data from the client before the pod connection was open. */
  pending: Buffer[];
  pendingBytes: number;
  clientFin: boolean;
  done: boolean;
}

/** One SPDY port-forward session over a byte transport. */
function spdySession(
  transport: Transport,
  open: OpenPort,
  logger: Logger,
): { receive(b: Buffer): void; closed(): void } {
  const reader = new FrameReader();
  const headerReader = new HeaderReader();
  const headerWriter = new HeaderWriter();
  const pairs = new Map<string, Pair>();
  const byStream = new Map<number, Pair>();
  let chain: Promise<void> = Promise.resolve();
  let queued = 0;
  let ended = false;
  let lastStream = 0;

  const fail = (why: string): void => {
    if (ended) return;
    logger.debug("port-forward: protocol error", { error: why });
    transport.write(goAwayFrame(lastStream, 1));
    shutdown();
    transport.close();
  };
  const shutdown = (): void => {
    if (ended) return;
    ended = true;
    headerReader.close();
    for (const p of pairs.values()) p.conn?.destroy();
    pairs.clear();
    byStream.clear();
  };
  const send = (b: Buffer): void => {
    if (!ended) transport.write(b);
  };
  const finish = (p: Pair, message?: string): void => {
    if (p.done) return;
    p.done = true;
    if (p.errorId !== undefined) {
      if (message) for (const f of dataFrames(p.errorId, Buffer.from(message), true)) send(f);
      else for (const f of dataFrames(p.errorId, Buffer.alloc(0), true)) send(f);
    }
    if (p.dataId !== undefined) for (const f of dataFrames(p.dataId, Buffer.alloc(0), true)) send(f);
    pairs.delete(p.requestId);
    if (p.errorId !== undefined) byStream.delete(p.errorId);
    if (p.dataId !== undefined) byStream.delete(p.dataId);
  };

  const start = (p: Pair): void => {
    open(p.port).then(
      (conn) => {
        if (p.done || ended) {
          conn.destroy();
          return;
        }
        p.conn = conn;
        for (const b of p.pending.splice(0)) conn.write(b);
        p.pendingBytes = 0;
        if (p.clientFin) conn.end();
        conn.on("data", (d: Buffer) => {
          if (p.dataId !== undefined && !p.done) for (const f of dataFrames(p.dataId, d)) send(f);
          holdBack(conn, transport.buffered);
        });
        conn.on("end", () => finish(p));
        conn.on("close", () => finish(p));
        conn.on("error", () => finish(p));
      },
      (err: unknown) => finish(p, err instanceof Error ? err.message : String(err)),
    );
  };

  const onStream = async (f: Extract<SpdyFrame, { type: "syn_stream" }>): Promise<void> => {
    const headers = await headerReader.read(f.headerBlock);
    if (ended) return;
    lastStream = Math.max(lastStream, f.id);
    const port = Number(headers["port"] ?? "");
    const type = headers["streamtype"];
    if (
      !/^\d{1,5}$/.test(headers["port"] ?? "") ||
      port < 1 ||
      port > 65535 ||
      (type !== "error" && type !== "data") ||
      (f.id & 1) === 0 ||
      byStream.has(f.id)
    ) {
      send(rstStreamFrame(f.id, RST.PROTOCOL_ERROR));
      return;
    }
    const requestId = headers["requestid"] || String(type === "error" ? f.id : f.id - 2);
    let p = pairs.get(requestId);
    if (!p) {
      if (pairs.size >= MAX_PAIRS) {
        send(rstStreamFrame(f.id, RST.REFUSED_STREAM));
        return;
      }
      p = { requestId, port, pending: [], pendingBytes: 0, clientFin: false, done: false };
      pairs.set(requestId, p);
    }
    if ((type === "error" ? p.errorId : p.dataId) !== undefined) {
      send(rstStreamFrame(f.id, RST.PROTOCOL_ERROR));
      return;
    }
    if (type === "error") p.errorId = f.id;
    else p.dataId = f.id;
    byStream.set(f.id, p);
    send(synReplyFrame(f.id, headerWriter.block({})));
    if (type === "data" && f.fin) p.clientFin = true;
    if (p.errorId !== undefined && p.dataId !== undefined) start(p);
  };

  const onFrame = async (f: SpdyFrame): Promise<void> => {
    switch (f.type) {
      case "syn_stream":
        return onStream(f);
      case "data": {
        const p = byStream.get(f.id);
        if (!p || f.id !== p.dataId) return; // the error stream carries nothing from the client
        if (f.data.length) {
          if (p.conn) {
            if (p.conn.writableLength > MAX_QUEUED) {
              send(rstStreamFrame(f.id, RST.CANCEL));
              p.conn.destroy();
              return;
            }
            p.conn.write(f.data);
          } else {
            p.pendingBytes += f.data.length;
            if (p.pendingBytes > MAX_QUEUED) {
              send(rstStreamFrame(f.id, RST.CANCEL));
              finish(p);
              return;
            }
            p.pending.push(f.data);
          }
        }
        if (f.fin) {
          p.clientFin = true;
          p.conn?.end();
        }
        return;
      }
      case "rst_stream": {
        const p = byStream.get(f.id);
        if (p) {
          p.conn?.destroy();
          finish(p);
        }
        return;
      }
      case "ping":
        // spdystream answers pings of the other parity; the client's ids are odd.
        if (f.id & 1) send(pingFrame(f.id));
        return;
      case "goaway":
        shutdown();
        transport.close();
        return;
      default:
        return;
    }
  };

  return {
    receive(b) {
      if (ended) return;
      let frames: SpdyFrame[];
      try {
        frames = reader.push(b);
      } catch (err) {
        fail(err instanceof Error ? err.message : String(err));
        return;
      }
      for (const f of frames) {
        const size = 64 + (f.type === "data" ? f.data.length : "headerBlock" in f ? f.headerBlock.length : 0);
        queued += size;
        if (queued > MAX_QUEUED * 4) {
          fail("too much unprocessed input");
          return;
        }
        chain = chain
          .then(() => onFrame(f))
          .catch((err: unknown) => fail(err instanceof Error ? err.message : String(err)))
          .finally(() => {
            queued -= size;
          });
      }
    },
    closed: shutdown,
  };
}

/** `v4.channel.k8s.io`: all ports of `?ports=` opened at once, one data and one error channel each. */
function channelSession(ws: WebSocket, ports: number[], open: OpenPort, logger: Logger): void {
  const conns: (Duplex | undefined)[] = [];
  const pending: Buffer[][] = ports.map(() => []);
  const clientEnded = ports.map(() => false);
  let remaining = ports.length;
  const send = (ch: number, data: Buffer): void => {
    if (ws.readyState === ws.OPEN) ws.send(Buffer.concat([Buffer.from([ch]), data]), { binary: true });
  };
  const done = (): void => {
    remaining--;
    if (remaining === 0 && ws.readyState === ws.OPEN) ws.close(1000);
  };
  ports.forEach((port, i) => {
    const prefix = Buffer.alloc(2);
    prefix.writeUInt16LE(port, 0);
    send(2 * i, prefix);
    send(2 * i + 1, prefix);
  });
  ports.forEach((port, i) => {
    let finished = false;
    const finishOnce = (): void => {
      if (finished) return;
      finished = true;
      done();
    };
    open(port).then(
      (conn) => {
        if (ws.readyState !== ws.OPEN) {
          conn.destroy();
          return;
        }
        conns[i] = conn;
        for (const b of pending[i]!.splice(0)) conn.write(b);
        if (clientEnded[i]) conn.end();
        conn.on("data", (d: Buffer) => {
          send(2 * i, d);
          holdBack(conn, () => ws.bufferedAmount);
        });
        conn.on("end", finishOnce);
        conn.on("close", finishOnce);
        conn.on("error", finishOnce);
      },
      (err: unknown) => {
        send(2 * i + 1, Buffer.from(err instanceof Error ? err.message : String(err)));
        finishOnce();
      },
    );
  });
  ws.on("message", (data: Buffer | ArrayBuffer | Buffer[]) => {
    const buf = toBuffer(data);
    if (buf.length === 0) return;
    const ch = buf[0]!;
    const i = ch >> 1;
    if (ch & 1 || i >= ports.length) return;
    const payload = Buffer.from(buf.subarray(1));
    if (payload.length === 0) return;
    const conn = conns[i];
    if (conn) {
      if (conn.writableLength > MAX_QUEUED) {
        logger.debug("port-forward: client outpaces the pod; closing");
        ws.terminate();
        return;
      }
      conn.write(payload);
    } else {
      const q = pending[i]!;
      if (q.reduce((n, b) => n + b.length, 0) + payload.length > MAX_QUEUED) {
        ws.terminate();
        return;
      }
      q.push(payload);
    }
  });
  ws.on("close", () => {
    ports.forEach((_, i) => {
      clientEnded[i] = true;
      conns[i]?.end();
    });
  });
}
