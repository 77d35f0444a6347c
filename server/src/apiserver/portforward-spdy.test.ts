/**
 * SPDY/3 framing against bytes the real kubectl 1.32 sent (testdata/kubectl-1.32-portforward-client.bin: two
 * forwarded HTTP requests over one `kubectl port-forward`, recorded from the WebSocket tunnel), against node's zlib
 * acting as Go's header compressor, against spdy-transport's framer and parser (an independent SPDY/3
 * implementation), and against hostile input.
 */
import { createHash, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import zlib from "node:zlib";
import { describe, expect, it } from "vitest";
import { framed, oracleDictionary, spdyOracle, type ParsedFrame } from "../../../test/helpers/spdy-oracle.ts";
import {
  FrameReader,
  HeaderReader,
  HeaderWriter,
  MAX_FRAME,
  SPDY3_DICTIONARY,
  SpdyProtocolError,
  dataFrames,
  decodeNameValues,
  encodeNameValues,
  goAwayFrame,
  pingFrame,
  rstStreamFrame,
  synReplyFrame,
  type SpdyFrame,
} from "./portforward-spdy.ts";

const recorded = readFileSync(new URL("./testdata/kubectl-1.32-portforward-client.bin", import.meta.url));

describe("SPDY/3 framing", () => {
  it("has the SPDY/3 header dictionary of the draft (1423 bytes)", () => {
    expect(SPDY3_DICTIONARY.length).toBe(1423);
    // sha256 of the dictionary as moby/spdystream's spdy/types.go and spdy-transport's dictionary.js carry it.
    expect(createHash("sha256").update(SPDY3_DICTIONARY).digest("hex")).toBe(
      "51d27341373f923f3cd88e1eb7162aeaa3723d7585ff2399201dc06498407f02",
    );
  });

  it("reads what kubectl 1.32 sent: stream pairs with their headers, request bytes, half-closes", async () => {
    const reader = new FrameReader();
    // Cut the recording at awkward places: frames must not depend on message boundaries.
    const frames: SpdyFrame[] = [];
    for (let i = 0; i < recorded.length; i += 7) frames.push(...reader.push(recorded.subarray(i, i + 7)));
    const headers = new HeaderReader();
    const streams: { id: number; headers: Record<string, string> }[] = [];
    let request = "";
    for (const f of frames) {
      if (f.type === "syn_stream") streams.push({ id: f.id, headers: await headers.read(f.headerBlock) });
      if (f.type === "data" && f.id === 3) request += f.data.toString("latin1");
    }
    headers.close();
    expect(streams.slice(0, 4)).toEqual([
      { id: 1, headers: { streamtype: "error", port: "8081", requestid: "0" } },
      { id: 3, headers: { streamtype: "data", port: "8081", requestid: "0" } },
      { id: 5, headers: { streamtype: "error", port: "8081", requestid: "1" } },
      { id: 7, headers: { streamtype: "data", port: "8081", requestid: "1" } },
    ]);
    expect(request).toMatch(/^GET \/whisker-backend\/flows\?startTimeGte=-600 HTTP\/1\.1\r\n/);
    // kubectl closes its side of each error stream at once (an empty DATA frame with FIN).
    expect(frames).toContainEqual({ type: "data", id: 1, fin: true, data: Buffer.alloc(0) });
  });

  it("writes header blocks any zlib inflater continues across frames (the first carries the dictionary id)", () => {
    const w = new HeaderWriter();
    const inflate = zlib.createInflate({ dictionary: SPDY3_DICTIONARY });
    const out: Buffer[] = [];
    inflate.on("data", (c: Buffer) => out.push(c));
    const blocks = [w.block({}), w.block({ a: "b" }), w.block({})];
    expect(blocks[0]!.subarray(0, 2)).toEqual(Buffer.from([0x78, 0x20]));
    const all = Buffer.concat(blocks);
    const raw = zlib.inflateSync(all, {
      dictionary: SPDY3_DICTIONARY,
      finishFlush: zlib.constants.Z_SYNC_FLUSH,
    });
    expect(raw).toEqual(
      Buffer.concat([encodeNameValues({}), encodeNameValues({ a: "b" }), encodeNameValues({})]),
    );
    inflate.destroy();
  });

  it("reads header blocks compressed as Go's framer does (one deflate stream, sync-flushed per frame)", async () => {
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
    const r = new HeaderReader();
    for (let i = 0; i < 50; i++) {
      const h = { streamtype: i % 2 ? "data" : "error", port: "80", requestid: String(i >> 1) };
      expect(await r.read(await compress(encodeNameValues(h)))).toEqual(h);
    }
    r.close();
    deflate.destroy();
  });

  it("rejects oversized frames, bad versions, malformed and bomb-sized header blocks", async () => {
    const big = Buffer.alloc(8);
    big.writeUInt32BE(0x80030001, 0);
    big.writeUInt32BE(MAX_FRAME + 1, 4);
    expect(() => new FrameReader().push(big)).toThrow(SpdyProtocolError);
    const v2 = Buffer.from(synReplyFrame(1, Buffer.alloc(0)));
    v2.writeUInt16BE(0x8002, 0);
    expect(() => new FrameReader().push(v2)).toThrow(/unsupported SPDY version 2/);
    expect(() => decodeNameValues(Buffer.from([0, 0, 0, 1, 0, 0, 0, 9]))).toThrow(/malformed/);
    expect(() => decodeNameValues(Buffer.from([0, 0, 1, 0]))).toThrow(/too many headers/);
    // 1 MiB of zeros compresses to ~1 KiB: the reader stops at 16 KiB of output.
    const bomb = zlib.deflateSync(Buffer.alloc(1 << 20), {
      dictionary: SPDY3_DICTIONARY,
      finishFlush: zlib.constants.Z_SYNC_FLUSH,
    });
    const r = new HeaderReader();
    await expect(r.read(bomb)).rejects.toThrow(/larger than/);
    await expect(r.read(Buffer.from([1, 2, 3]))).rejects.toThrow();
    r.close();
    const garbage = new HeaderReader();
    await expect(garbage.read(Buffer.from("not zlib at all"))).rejects.toThrow(SpdyProtocolError);
    garbage.close();
  });

  it("splits large data into 32 KiB frames, FIN on the last", () => {
    const frames = dataFrames(3, Buffer.alloc(70_000, 1), true);
    expect(frames.map((f) => f.readUIntBE(5, 3))).toEqual([32768, 32768, 4464]);
    expect(frames.map((f) => f[4])).toEqual([0, 0, 1]);
    expect(dataFrames(5, Buffer.alloc(0), true)).toEqual([Buffer.from([0, 0, 0, 5, 1, 0, 0, 0])]);
  });
});

/** Feeds `bytes` to `push` in pieces of 1..`max` bytes (a fixed pseudo-random sequence). */
function inPieces(bytes: Buffer, max: number, push: (b: Buffer) => void): void {
  let seed = 7;
  for (let off = 0; off < bytes.length;) {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    const n = 1 + (seed % max);
    push(bytes.subarray(off, off + n));
    off += n;
  }
}

describe("SPDY/3 framing against spdy-transport's framer and parser", () => {
  it("carries the same header dictionary", () => {
    expect(SPDY3_DICTIONARY.equals(oracleDictionary)).toBe(true);
  });

  it("writes what spdy-transport's parser reads: many replies, split payloads, resets, ping, GOAWAY", async () => {
    const w = new HeaderWriter();
    const payloads = new Map<number, Buffer>();
    const out: Buffer[] = [];
    const longValue = "v".repeat(70_000); // more than one stored deflate block
    for (let id = 1; id < 200; id += 2) {
      out.push(
        synReplyFrame(id, w.block(id === 99 ? { note: longValue } : id % 3 ? {} : { id: String(id) })),
      );
      const data = randomBytes(id === 1 ? 1 << 20 : id * 37);
      payloads.set(id, data);
      out.push(...dataFrames(id, data, true));
    }
    out.push(
      rstStreamFrame(201, 5),
      rstStreamFrame(203, 1),
      rstStreamFrame(205, 3),
      pingFrame(2),
      goAwayFrame(199, 1),
    );
    const { parser } = spdyOracle(false);
    const frames: ParsedFrame[] = [];
    parser.on("data", (f: ParsedFrame) => frames.push(f));
    const failed = new Promise<never>((_, reject) => parser.on("error", reject));
    inPieces(Buffer.concat(out), 9000, (b) => parser.write(b));
    await Promise.race([new Promise<void>((r) => parser.end(r)), failed]);

    const replies = frames.filter((f) => f.type === "HEADERS");
    expect(replies.map((f) => f.id)).toEqual([...payloads.keys()]);
    expect(replies.find((f) => f.id === 99)!.headers).toEqual({ note: longValue });
    expect(replies.find((f) => f.id === 3)!.headers).toEqual({ id: "3" });
    expect(replies.find((f) => f.id === 5)!.headers).toEqual({});
    for (const [id, data] of payloads) {
      const parts = frames.filter((f) => f.type === "DATA" && f.id === id);
      expect(Buffer.concat(parts.map((f) => f.data!)).equals(data)).toBe(true);
      expect(parts.map((f) => f.fin)).toEqual([...parts.slice(1).map(() => false), true]);
    }
    expect(frames.filter((f) => f.type === "RST").map((f) => [f.id, f.code])).toEqual([
      [201, "CANCEL"],
      [203, "PROTOCOL_ERROR"],
      [205, "REFUSED_STREAM"],
    ]);
    expect(frames.find((f) => f.type === "PING")!.opaque).toEqual(Buffer.from([0, 0, 0, 2]));
    expect(frames.at(-1)).toMatchObject({ type: "GOAWAY", lastId: 199, code: "PROTOCOL_ERROR" });
  });

  it("reads what spdy-transport's framer writes: compressed streams, large data, every control frame", async () => {
    const { framer } = spdyOracle(false);
    const bytes: Buffer[] = [];
    framer.on("data", (b: Buffer) => bytes.push(b));
    const big = randomBytes(600_000);
    for (let i = 0; i < 120; i++) {
      const headers = {
        streamtype: i % 2 ? "data" : "error",
        port: String(1000 + i),
        requestid: String(i >> 1),
      };
      await framed((cb) => framer.requestFrame({ id: 2 * i + 1, path: "/", headers }, cb));
    }
    for (let off = 0; off < big.length; off += 65_536)
      await framed((cb) =>
        framer.dataFrame(
          { id: 3, fin: off + 65_536 >= big.length, data: big.subarray(off, off + 65_536), priority: false },
          cb,
        ),
      );
    await framed((cb) => framer.rstFrame({ id: 5, code: "CANCEL" }, cb));
    await framed((cb) => framer.pingFrame({ opaque: Buffer.from([0, 0, 0, 9]) }, cb));
    await framed((cb) => framer.settingsFrame({ initial_window_size: 65_535 }, cb));
    await framed((cb) => framer.windowUpdateFrame({ id: 3, delta: 4096 }, cb));
    await framed((cb) => framer.headersFrame({ id: 3, headers: { late: "yes" } }, cb));
    await framed((cb) => framer.goawayFrame({ lastId: 239, code: "OK" }, cb));

    const reader = new FrameReader();
    const frames: SpdyFrame[] = [];
    inPieces(Buffer.concat(bytes), 5000, (b) => frames.push(...reader.push(b)));
    const headers = new HeaderReader();
    const streams: [number, Record<string, string>][] = [];
    let late: Record<string, string> | undefined;
    for (const f of frames) {
      if (f.type === "syn_stream") streams.push([f.id, await headers.read(f.headerBlock)]);
      if (f.type === "headers") late = await headers.read(f.headerBlock);
    }
    headers.close();
    expect(streams).toHaveLength(120);
    streams.forEach(([id, h], i) => {
      expect(id).toBe(2 * i + 1);
      expect(h).toMatchObject({
        streamtype: i % 2 ? "data" : "error",
        port: String(1000 + i),
        requestid: String(i >> 1),
      });
    });
    expect(late).toEqual({ late: "yes" });
    const data = frames.filter((f): f is Extract<SpdyFrame, { type: "data" }> => f.type === "data");
    expect(Buffer.concat(data.map((f) => f.data)).equals(big)).toBe(true);
    expect(data.map((f) => f.fin).lastIndexOf(true)).toBe(data.length - 1);
    expect(
      frames.filter((f) => f.type !== "syn_stream" && f.type !== "data" && f.type !== "headers"),
    ).toEqual([
      { type: "rst_stream", id: 5, status: 5 },
      { type: "ping", id: 9 },
      { type: "ignored", control: 4 },
      { type: "ignored", control: 9 },
      { type: "goaway", lastGoodId: 239, status: 0 },
    ]);
  });
});
