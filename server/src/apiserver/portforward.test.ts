/**
 * The port-forward session as a hostile client meets it: a SPDY/3.1 upgrade driven frame by frame (header blocks
 * compressed as Go's framer does), against an echo listener and a port nothing listens on; garbage, invalid streams,
 * too many streams; many streams with large payloads, a client's RST_STREAM and GOAWAY through spdy-transport's
 * framer and parser; the `v4.channel.k8s.io` port query. Hostile clients against a cluster's `PodRuntime.portForward`:
 * a thousand SPDY streams and a giant frame, stray channels and an oversized WebSocket message.
 */
import { randomBytes } from "node:crypto";
import http, { type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import zlib from "node:zlib";
import { describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { framed, spdyOracle, type ParsedFrame } from "../../../test/helpers/spdy-oracle.ts";
import { createTestCluster, type TestCluster } from "../net/testkit.ts";
import { noopLogger } from "../shared/logger.ts";
import { ApiError } from "../store/types.ts";
import { duplexPair } from "../sim/runtime/port-forward.ts";
import { acceptPortForward, channelPorts, createPortForwardServer, type OpenPort } from "./portforward.ts";
import {
  FrameReader,
  SPDY3_DICTIONARY,
  dataFrames,
  encodeNameValues,
  goAwayFrame,
  pingFrame,
  synStreamFrame,
  type SpdyFrame,
} from "./portforward-spdy.ts";

const wss = createPortForwardServer();

/** An echo server inside the "pod": what it reads, it writes back; it ends when the client ends. */
const echo: OpenPort = (port) => {
  if (port !== 80) return Promise.reject(new Error(`nothing on ${port}`));
  const [client, pod] = duplexPair();
  pod.on("data", (d: Buffer) => pod.write(d));
  pod.on("end", () => pod.end());
  return Promise.resolve(client);
};

interface Client {
  send(b: Buffer | Buffer[]): void;
  syn(id: number, headers: Record<string, string>): Promise<void>;
  /** Waits until a frame matching `pred` has arrived; returns every frame so far. */
  until(pred: (f: SpdyFrame) => boolean): Promise<SpdyFrame[]>;
  closed(): Promise<void>;
  raw: Duplex;
}

function spdyClient(open: OpenPort): Client {
  const [client, server] = duplexPair();
  const req = {
    url: "/api/v1/namespaces/shop/pods/web/portforward",
    headers: { upgrade: "SPDY/3.1", "x-stream-protocol-version": "portforward.k8s.io" },
  } as unknown as IncomingMessage;
  acceptPortForward(wss, req, server, Buffer.alloc(0), open, noopLogger, () => () => {});
  const reader = new FrameReader();
  const frames: SpdyFrame[] = [];
  let sawHandshake = false;
  let pending = Buffer.alloc(0);
  const waiters: (() => void)[] = [];
  client.on("data", (d: Buffer) => {
    if (!sawHandshake) {
      pending = Buffer.concat([pending, d]);
      const end = pending.indexOf("\r\n\r\n");
      if (end < 0) return;
      expect(pending.subarray(0, end).toString()).toMatch(/^HTTP\/1\.1 101 Switching Protocols\r\n/);
      sawHandshake = true;
      d = pending.subarray(end + 4);
    }
    frames.push(...reader.push(d));
    for (const w of waiters.splice(0)) w();
  });
  const deflate = zlib.createDeflate({ dictionary: SPDY3_DICTIONARY, flush: zlib.constants.Z_SYNC_FLUSH });
  const compress = (b: Buffer): Promise<Buffer> =>
    new Promise((resolve) => {
      const parts: Buffer[] = [];
      const on = (c: Buffer): void => void parts.push(c);
      deflate.on("data", on);
      deflate.write(b, () => {
        deflate.off("data", on);
        resolve(Buffer.concat(parts));
      });
    });
  const ended = new Promise<void>((resolve) => {
    client.on("close", () => resolve());
    client.on("end", () => resolve());
  });
  return {
    raw: client,
    send: (b) => {
      for (const x of Array.isArray(b) ? b : [b]) client.write(x);
    },
    syn: async (id, headers) => {
      client.write(synStreamFrame(id, await compress(encodeNameValues(headers))));
    },
    until: async (pred) => {
      for (let i = 0; i < 200 && !frames.some(pred); i++)
        await Promise.race([
          new Promise<void>((r) => waiters.push(r)),
          new Promise((r) => setTimeout(r, 25)),
        ]);
      if (!frames.some(pred))
        throw new Error(`frame never came; got ${JSON.stringify(frames.map((f) => f.type))}`);
      return frames;
    },
    closed: () => ended,
  };
}

const dataOn = (frames: SpdyFrame[], id: number): string =>
  frames
    .filter((f): f is Extract<SpdyFrame, { type: "data" }> => f.type === "data" && f.id === id)
    .map((f) => f.data.toString())
    .join("");

describe("SPDY port-forward session", () => {
  it("pairs error and data streams by requestID, replies, and moves bytes both ways", async () => {
    const c = spdyClient(echo);
    await c.syn(1, { streamtype: "error", port: "80", requestid: "0" });
    await c.syn(3, { streamtype: "data", port: "80", requestid: "0" });
    await c.until((f) => f.type === "syn_reply" && f.id === 3);
    c.send(dataFrames(3, Buffer.from("hello ")));
    c.send(dataFrames(3, Buffer.from("pod"), true));
    const frames = await c.until((f) => f.type === "data" && f.id === 3 && f.fin);
    expect(dataOn(frames, 3)).toBe("hello pod");
    expect(frames.some((f) => f.type === "data" && f.id === 1 && f.fin)).toBe(true);
    expect(dataOn(frames, 1)).toBe(""); // no error
    // Pings from the client (odd ids) are answered.
    c.send(pingFrame(7));
    await c.until((f) => f.type === "ping" && f.id === 7);
    c.raw.destroy();
  });

  it("writes the opener's error on the error stream and closes both", async () => {
    const c = spdyClient(echo);
    await c.syn(1, { streamtype: "error", port: "81", requestid: "5" });
    await c.syn(3, { streamtype: "data", port: "81", requestid: "5" });
    const frames = await c.until((f) => f.type === "data" && f.id === 3 && f.fin);
    expect(dataOn(frames, 1)).toBe("nothing on 81");
    c.raw.destroy();
  });

  it("pairs streams of old clients without requestID by stream id", async () => {
    const c = spdyClient(echo);
    await c.syn(5, { streamtype: "error", port: "80" });
    await c.syn(7, { streamtype: "data", port: "80" });
    c.send(dataFrames(7, Buffer.from("x"), true));
    const frames = await c.until((f) => f.type === "data" && f.id === 7 && f.fin);
    expect(dataOn(frames, 7)).toBe("x");
    c.raw.destroy();
  });

  it("resets invalid streams and keeps serving the valid ones", async () => {
    const c = spdyClient(echo);
    await c.syn(1, { streamtype: "error", port: "0", requestid: "a" });
    await c.syn(3, { streamtype: "bogus", port: "80", requestid: "b" });
    await c.syn(5, { streamtype: "data", port: "99999", requestid: "c" });
    await c.syn(7, { port: "80", requestid: "d" });
    await c.syn(9, { streamtype: "error", port: "80", requestid: "e" });
    await c.syn(11, { streamtype: "error", port: "80", requestid: "e" }); // a second error stream for the pair
    const frames = await c.until((f) => f.type === "rst_stream" && f.id === 11);
    const reset = frames.filter((f) => f.type === "rst_stream").map((f) => (f as { id: number }).id);
    expect(reset).toEqual([1, 3, 5, 7, 11]);
    expect(frames.some((f) => f.type === "syn_reply" && f.id === 9)).toBe(true);
    c.raw.destroy();
  });

  it("refuses streams past the per-session limit", async () => {
    const c = spdyClient(echo);
    for (let i = 0; i < 257; i++)
      await c.syn(2 * i + 1, { streamtype: "error", port: "80", requestid: `r${i}` });
    const frames = await c.until((f) => f.type === "rst_stream" && f.id === 513);
    expect(frames.filter((f) => f.type === "syn_reply")).toHaveLength(256);
    c.raw.destroy();
  });

  it("resets a stream whose client sends more than 4 MiB before the pod connection exists", async () => {
    const c = spdyClient(echo);
    await c.syn(3, { streamtype: "data", port: "80", requestid: "lonely" }); // its error stream never comes
    await c.until((f) => f.type === "syn_reply" && f.id === 3);
    for (let i = 0; i < 160; i++) c.send(dataFrames(3, Buffer.alloc(32 * 1024)));
    const frames = await c.until((f) => f.type === "rst_stream" && f.id === 3);
    expect(frames.find((f) => f.type === "rst_stream")).toEqual({ type: "rst_stream", id: 3, status: 5 });
    c.raw.destroy();
  });

  it("answers garbage with GOAWAY and closes the connection", async () => {
    const c = spdyClient(echo);
    c.send(Buffer.from([0x80, 0x02, 0, 1, 0, 0, 0, 0])); // SPDY/2
    await c.until((f) => f.type === "goaway");
    await c.closed();
  });

  it("closes the session when the client says GOAWAY", async () => {
    const c = spdyClient(echo);
    c.send(goAwayFrame(0));
    await c.closed();
  });

  it("refuses an upgrade that does not negotiate portforward.k8s.io", () => {
    const [, server] = duplexPair();
    const req = {
      url: "/x",
      headers: { upgrade: "SPDY/3.1", "x-stream-protocol-version": "v4.channel.k8s.io" },
    } as unknown as IncomingMessage;
    expect(() =>
      acceptPortForward(wss, req, server, Buffer.alloc(0), echo, noopLogger, () => () => {}),
    ).toThrow(/unable to negotiate protocol/);
  });
});

/** A SPDY/3 client made of spdy-transport's framer and parser, on a SPDY/3.1 upgrade. */
function oracleClient(open: OpenPort): {
  framer: ReturnType<typeof spdyOracle>["framer"];
  frames: ParsedFrame[];
  until(pred: (f: ParsedFrame) => boolean): Promise<void>;
  closed: Promise<void>;
  raw: Duplex;
} {
  const [client, server] = duplexPair();
  const req = {
    url: "/api/v1/namespaces/shop/pods/web/portforward",
    headers: { upgrade: "SPDY/3.1", "x-stream-protocol-version": "portforward.k8s.io" },
  } as unknown as IncomingMessage;
  acceptPortForward(wss, req, server, Buffer.alloc(0), open, noopLogger, () => () => {});
  const { framer, parser } = spdyOracle(false);
  framer.on("data", (b: Buffer) => {
    if (!client.destroyed) client.write(b);
  });
  const frames: ParsedFrame[] = [];
  let waiters: (() => void)[] = [];
  parser.on("data", (f: ParsedFrame) => {
    frames.push(f);
    for (const w of waiters.splice(0)) w();
  });
  let head = Buffer.alloc(0);
  let upgraded = false;
  client.on("data", (d: Buffer) => {
    if (!upgraded) {
      head = Buffer.concat([head, d]);
      const end = head.indexOf("\r\n\r\n");
      if (end < 0) return;
      upgraded = true;
      d = head.subarray(end + 4);
    }
    parser.write(d);
  });
  const closed = new Promise<void>((resolve) => {
    client.on("close", () => resolve());
    client.on("end", () => resolve());
  });
  return {
    framer,
    frames,
    raw: client,
    closed,
    until: async (pred) => {
      for (let i = 0; i < 400 && !frames.some(pred); i++)
        await Promise.race([
          new Promise<void>((r) => waiters.push(r)),
          new Promise((r) => setTimeout(r, 25)),
        ]);
      waiters = [];
      if (!frames.some(pred)) throw new Error(`frame never came; got ${frames.length} frames`);
    },
  };
}

/** A pod whose port 80 echoes and whose port 90 streams without end; it records its connections. */
function recordingPod(): { open: OpenPort; conns: Duplex[] } {
  const conns: Duplex[] = [];
  const open: OpenPort = (port) => {
    const [client, pod] = duplexPair();
    conns.push(pod);
    if (port === 80) {
      pod.on("data", (d: Buffer) => pod.write(d));
      pod.on("end", () => pod.end());
    } else {
      const t = setInterval(() => pod.write(Buffer.alloc(16 * 1024, 0x61)), 5);
      pod.on("close", () => clearInterval(t));
      pod.resume();
    }
    return Promise.resolve(client);
  };
  return { open, conns };
}

describe("SPDY port-forward session with spdy-transport as the client", () => {
  const syn = (c: ReturnType<typeof oracleClient>, id: number, type: string, port: number, rid: string) =>
    framed((cb) =>
      c.framer.requestFrame(
        { id, path: "/", headers: { streamtype: type, port: String(port), requestid: rid } },
        cb,
      ),
    );
  const received = (c: ReturnType<typeof oracleClient>, id: number): Buffer =>
    Buffer.concat(c.frames.filter((f) => f.type === "DATA" && f.id === id).map((f) => f.data!));

  it("echoes 32 concurrent connections of 256 KiB each, every byte on its own stream", async () => {
    const pod = recordingPod();
    const c = oracleClient(pod.open);
    const sent = new Map<number, Buffer>();
    for (let i = 0; i < 32; i++) {
      await syn(c, 4 * i + 1, "error", 80, String(i));
      await syn(c, 4 * i + 3, "data", 80, String(i));
      sent.set(4 * i + 3, randomBytes(256 * 1024));
    }
    // Interleave the streams' frames, 24 KiB at a time, as the client's copy loops would.
    for (let off = 0; off < 256 * 1024; off += 24 * 1024)
      for (const [id, data] of sent) {
        const part = data.subarray(off, off + 24 * 1024);
        c.framer.dataFrame({ id, fin: off + part.length >= data.length, data: part, priority: false });
      }
    for (const id of sent.keys()) await c.until((f) => f.type === "DATA" && f.id === id && f.fin === true);
    for (const [id, data] of sent) {
      expect(received(c, id).equals(data)).toBe(true);
      expect(received(c, id - 2)).toEqual(Buffer.alloc(0)); // nothing on the error stream
      expect(c.frames.some((f) => f.type === "DATA" && f.id === id - 2 && f.fin === true)).toBe(true);
    }
    expect(c.frames.filter((f) => f.type === "HEADERS")).toHaveLength(64);
    expect(c.frames.some((f) => f.type === "RST" || f.type === "GOAWAY")).toBe(false);
    // A ping from the client comes back.
    await framed((cb) => c.framer.pingFrame({ opaque: Buffer.from([0, 0, 0, 1]) }, cb));
    await c.until((f) => f.type === "PING");
    c.raw.destroy();
  });

  it("a client's RST_STREAM closes that pod connection only; GOAWAY closes the rest and the session", async () => {
    const pod = recordingPod();
    const c = oracleClient(pod.open);
    await syn(c, 1, "error", 90, "stream");
    await syn(c, 3, "data", 90, "stream");
    await syn(c, 5, "error", 80, "echo");
    await syn(c, 7, "data", 80, "echo");
    await syn(c, 9, "error", 90, "other");
    await syn(c, 11, "data", 90, "other");
    await c.until((f) => f.type === "DATA" && f.id === 3 && (f.data?.length ?? 0) > 0);
    await c.until((f) => f.type === "DATA" && f.id === 11 && (f.data?.length ?? 0) > 0);
    expect(pod.conns).toHaveLength(3);
    await framed((cb) => c.framer.rstFrame({ id: 3, code: "CANCEL" }, cb));
    await c.until((f) => f.type === "DATA" && f.id === 1 && f.fin === true);
    expect(pod.conns[0]!.destroyed).toBe(true);
    // The other connections are untouched: the echo still answers, the other stream still flows.
    c.framer.dataFrame({ id: 7, fin: false, data: Buffer.from("still here"), priority: false });
    await c.until((f) => f.type === "DATA" && f.id === 7);
    expect(received(c, 7).toString()).toBe("still here");
    expect(pod.conns[1]!.destroyed || pod.conns[2]!.destroyed).toBe(false);
    const before = received(c, 11).length;
    await c.until(() => received(c, 11).length > before);
    await framed((cb) => c.framer.goawayFrame({ lastId: 11, code: "OK" }, cb));
    await c.closed;
    expect(pod.conns.map((p) => p.destroyed)).toEqual([true, true, true]);
  });
});

describe("v4.channel.k8s.io ports", () => {
  it("parses ports as the kubelet's V4Options does", () => {
    expect(channelPorts(new URLSearchParams("ports=80"))).toEqual([80]);
    expect(channelPorts(new URLSearchParams("ports=80,443&ports=8080"))).toEqual([80, 443, 8080]);
    const bad = (q: string): string => {
      try {
        channelPorts(new URLSearchParams(q));
      } catch (err) {
        expect(err).toBeInstanceOf(ApiError);
        return (err as ApiError).message;
      }
      return "accepted";
    };
    expect(bad("")).toBe('query parameter "port" is required');
    expect(bad("ports=")).toBe('query parameter "port" cannot be empty');
    expect(bad("ports=http")).toBe('unable to parse "http" as a port');
    expect(bad("ports=70000")).toBe('unable to parse "70000" as a port');
    expect(bad("ports=0")).toBe('port "0" must be > 0');
    expect(bad(`ports=${Array(17).fill(80).join(",")}`)).toMatch(/at most 16/);
  });
});

describe("a hostile client against a cluster's pod runtime", () => {
  it("gets an answer or a clean refusal for each of 600 connections (1200 streams) and GOAWAY for a giant frame; only its own cluster's pod sees a request", async () => {
    const mine = createTestCluster({ traffic: false });
    const other = createTestCluster({ traffic: false });
    try {
      for (const tc of [mine, other])
        tc.addPod({ name: "web", ip: "192.168.1.10", image: "nginx:1.27", ports: [{ containerPort: 80 }] });
      const requests = (tc: TestCluster): number =>
        tc.dataplane.runtime
          .logs("default", "web", {})
          .split("\n")
          .filter((l) => l.startsWith("127.0.0.1 - - ")).length;
      const open = mine.dataplane.runtime.portForward!("default", "web");
      const c = spdyClient(open);
      // 1200 streams; the 600 access-log lines stay within the 64 KiB nginx's log keeps.
      const N = 600;
      const GET = Buffer.from("GET / HTTP/1.1\r\nHost: web\r\nConnection: close\r\n\r\n");
      for (let i = 0; i < N; i++) {
        await c.syn(4 * i + 1, { streamtype: "error", port: "80", requestid: String(i) });
        await c.syn(4 * i + 3, { streamtype: "data", port: "80", requestid: String(i) });
        c.send(dataFrames(4 * i + 3, GET, true));
      }
      const outcome = (frames: SpdyFrame[]) => {
        const reset = new Set(frames.filter((f) => f.type === "rst_stream").map((f) => f.id));
        let answered = 0;
        let refused = 0;
        for (let i = 0; i < N; i++) {
          if (reset.has(4 * i + 1) || reset.has(4 * i + 3)) refused++;
          else if (/^HTTP\/1\.1 200 OK\r\n[\s\S]*<\/html>\n$/.test(dataOn(frames, 4 * i + 3))) answered++;
        }
        return { answered, refused };
      };
      let o = outcome(await c.until(() => true));
      for (let i = 0; i < 400 && o.answered + o.refused < N; i++) {
        await new Promise((r) => setTimeout(r, 25));
        o = outcome(await c.until(() => true));
      }
      expect(o.answered + o.refused).toBe(N);
      expect(o.answered).toBeGreaterThanOrEqual(256);
      expect(requests(mine)).toBe(o.answered);

      // A frame header announcing 16 MiB: GOAWAY (protocol error), and the session ends.
      c.send(Buffer.from([0, 0, 0, 3, 0, 0xff, 0xff, 0xff]));
      await c.until((f) => f.type === "goaway");
      await c.closed();

      // The pod serves the next session as before; the other cluster's pod of the same name saw nothing.
      const again = spdyClient(open);
      await again.syn(1, { streamtype: "error", port: "80", requestid: "x" });
      await again.syn(3, { streamtype: "data", port: "80", requestid: "x" });
      again.send(dataFrames(3, GET, true));
      const frames = await again.until((f) => f.type === "data" && f.id === 3 && f.fin);
      expect(dataOn(frames, 3)).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
      again.raw.destroy();
      expect(requests(mine)).toBe(o.answered + 1);
      expect(requests(other)).toBe(0);
    } finally {
      mine.close();
      other.close();
    }
  }, 60_000);
});

describe("a hostile v4.channel.k8s.io client against a cluster's pod runtime", () => {
  it("has stray channels ignored and an oversized message closed with 1009; the pod keeps serving", async () => {
    const tc = createTestCluster({ traffic: false });
    tc.addPod({ name: "web", ip: "192.168.1.10", image: "nginx:1.27", ports: [{ containerPort: 80 }] });
    const server = http.createServer();
    server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) =>
      acceptPortForward(
        wss,
        req,
        socket,
        head,
        tc.dataplane.runtime.portForward!("default", "web"),
        noopLogger,
        () => () => {},
      ),
    );
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1/namespaces/default/pods/web/portforward?ports=80`;
    const connect = async (): Promise<{ ws: WebSocket; got: () => Buffer[] }> => {
      const ws = new WebSocket(url, ["v4.channel.k8s.io"]);
      const got: Buffer[] = [];
      ws.on("message", (d: Buffer) => got.push(d));
      await new Promise((r, j) => ws.once("open", r).once("error", j));
      return { ws, got: () => got };
    };
    try {
      const a = await connect();
      a.ws.send(Buffer.concat([Buffer.from([9]), Buffer.from("nowhere")])); // no such channel
      a.ws.send(Buffer.concat([Buffer.from([1]), Buffer.from("to the error channel")])); // the client's error channel
      a.ws.send(
        Buffer.concat([
          Buffer.from([0]),
          Buffer.from("GET / HTTP/1.1\r\nHost: web\r\nConnection: close\r\n\r\n"),
        ]),
      );
      const onData = () =>
        Buffer.concat(
          a
            .got()
            .filter((m) => m[0] === 0)
            .map((m) => m.subarray(1)),
        ).toString();
      for (let i = 0; i < 200 && !onData().includes("</html>"); i++)
        await new Promise((r) => setTimeout(r, 10));
      // The first message of each channel is its port (uint16, little-endian), then the response.
      expect(onData().slice(0, 2)).toBe("P\u0000"); // 80
      expect(onData().slice(2)).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*<title>Welcome to nginx!<\/title>/);
      a.ws.close();

      const b = await connect();
      const closed = new Promise<number>((r) => b.ws.once("close", (code: number) => r(code)));
      b.ws.send(Buffer.alloc(5 << 20));
      expect(await closed).toBe(1009);

      const c = await connect();
      c.ws.send(
        Buffer.concat([
          Buffer.from([0]),
          Buffer.from("GET /x HTTP/1.1\r\nHost: web\r\nConnection: close\r\n\r\n"),
        ]),
      );
      for (let i = 0; i < 200 && !c.got().some((m) => m.includes("404 Not Found")); i++)
        await new Promise((r) => setTimeout(r, 10));
      expect(c.got().some((m) => m.includes("404 Not Found"))).toBe(true);
      c.ws.close();
    } finally {
      server.close();
      tc.close();
    }
  });
});
