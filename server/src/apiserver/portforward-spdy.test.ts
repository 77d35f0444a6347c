/**
 * SPDY/3 framing against bytes the real kubectl 1.32 sent (testdata/kubectl-1.32-portforward-client.bin: two
 * forwarded HTTP requests over one `kubectl port-forward`, recorded from the WebSocket tunnel), against node's zlib
 * acting as Go's header compressor, and against hostile input.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import zlib from "node:zlib";
import { describe, expect, it } from "vitest";
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
