/**
 * SPDY/3.1 framing as Kubernetes' port-forward speaks it: moby/spdystream over the Go `spdy` framer, either tunnelled
 * in WebSocket binary messages (`SPDY/3.1+portforward.k8s.io`, kubectl ≥ 1.31) or on a plain `Upgrade: SPDY/3.1`
 * connection. Only what spdystream sends and reads: SYN_STREAM/SYN_REPLY/DATA/RST_STREAM/PING/GOAWAY; SETTINGS,
 * WINDOW_UPDATE and HEADERS are read and ignored (spdystream keeps no flow-control windows).
 *
 * Written here rather than taken from npm. spdy-transport 3.0.0 (the framer and parser under the `spdy` package, last
 * released in 2018) can be driven without a socket, but does not fit:
 * - its parser reads a SYN_STREAM as an HTTP request and fails the whole connection on a stream without
 *   `:method`/`:path` ("Missing `:method` and/or `:path` header", `protocol/spdy/parser.js`; spdy-transport issue 1,
 *   raised against spdystream in 2015, kept that check), and kubectl's streams carry only `streamtype`, `port` and
 *   `requestid`;
 * - its framer adds `:status`/`:version` to every SYN_REPLY (and `:method`, `:path`… to SYN_STREAM), where the
 *   kubelet's replies carry no headers;
 * - its header inflater has no output limit and its control frames may be 16 MiB: a 200 KB header block from an
 *   attendee becomes a 200 MiB header value.
 * It serves as the oracle instead: the tests check these frames against its framer and parser in both directions.
 *
 * Header blocks are zlib streams with the SPDY/3 dictionary, one context per direction for the whole connection. Ours
 * (the server's) are written as stored (uncompressed) deflate blocks, which any inflater continues; the client's are
 * inflated by one `zlib.Inflate` per connection, in frame order.
 */
import zlib from "node:zlib";

/** The SPDY/3 header dictionary (draft-mbelshe-httpbis-spdy-00 §2.6.10.1): length-prefixed words, then a tail. */
const DICT_WORDS = [
  "options", "head", "post", "put", "delete", "trace", "accept", "accept-charset", "accept-encoding",
  "accept-language", "accept-ranges", "age", "allow", "authorization", "cache-control", "connection", "content-base",
  "content-encoding", "content-language", "content-length", "content-location", "content-md5", "content-range",
  "content-type", "date", "etag", "expect", "expires", "from", "host", "if-match", "if-modified-since",
  "if-none-match", "if-range", "if-unmodified-since", "last-modified", "location", "max-forwards", "pragma",
  "proxy-authenticate", "proxy-authorization", "range", "referer", "retry-after", "server", "te", "trailer",
  "transfer-encoding", "upgrade", "user-agent", "vary", "via", "warning", "www-authenticate", "method", "get",
  "status", "200 OK", "version", "HTTP/1.1", "url", "public", "set-cookie", "keep-alive", "origin",
]; // prettier-ignore
const DICT_TAIL =
  "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505" +
  "203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request401 Unauthorized" +
  "403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented503 Service Unavailable" +
  "Jan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMT" +
  "chunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain," +
  "text/javascript,publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.";

export const SPDY3_DICTIONARY: Buffer = Buffer.concat([
  ...DICT_WORDS.map((w) => {
    const b = Buffer.alloc(4 + w.length);
    b.writeUInt32BE(w.length, 0);
    b.write(w, 4, "latin1");
    return b;
  }),
  Buffer.from(DICT_TAIL, "latin1"),
]);

export const SPDY_VERSION = 3;
/** The largest frame we accept; spdystream's DATA frames are at most 32 KiB (io.Copy's buffer). */
export const MAX_FRAME = 1 << 20;
/** The largest inflated header block we accept. */
export const MAX_HEADER_BLOCK = 16 * 1024;
const MAX_DATA_CHUNK = 32 * 1024;

export const CONTROL = {
  SYN_STREAM: 1,
  SYN_REPLY: 2,
  RST_STREAM: 3,
  SETTINGS: 4,
  PING: 6,
  GOAWAY: 7,
  HEADERS: 8,
  WINDOW_UPDATE: 9,
} as const;
const FLAG_FIN = 0x01;
const FLAG_UNIDIRECTIONAL = 0x02;

/** RST_STREAM status codes (SPDY/3 §2.6.3). */
export const RST = { PROTOCOL_ERROR: 1, INVALID_STREAM: 2, REFUSED_STREAM: 3, CANCEL: 5 } as const;

export type SpdyFrame =
  | { type: "syn_stream"; id: number; fin: boolean; unidirectional: boolean; headerBlock: Buffer }
  | { type: "syn_reply" | "headers"; id: number; fin: boolean; headerBlock: Buffer }
  | { type: "rst_stream"; id: number; status: number }
  | { type: "ping"; id: number }
  | { type: "goaway"; lastGoodId: number; status: number }
  | { type: "data"; id: number; fin: boolean; data: Buffer }
  | { type: "ignored"; control: number };

export class SpdyProtocolError extends Error {}

/** Splits a byte stream into frames; throws `SpdyProtocolError` on a frame SPDY/3 does not allow. */
export class FrameReader {
  private buf: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): SpdyFrame[] {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const out: SpdyFrame[] = [];
    while (this.buf.length >= 8) {
      const len = this.buf.readUIntBE(5, 3);
      if (len > MAX_FRAME) throw new SpdyProtocolError(`frame of ${len} bytes exceeds ${MAX_FRAME}`);
      if (this.buf.length < 8 + len) break;
      const head = this.buf.subarray(0, 8);
      const body = Buffer.from(this.buf.subarray(8, 8 + len));
      this.buf = this.buf.subarray(8 + len);
      out.push(decodeFrame(head, body));
    }
    if (this.buf.length === 0) this.buf = Buffer.alloc(0);
    return out;
  }
}

function need(body: Buffer, n: number, what: string): void {
  if (body.length < n) throw new SpdyProtocolError(`${what} frame too short (${body.length} bytes)`);
}

function decodeFrame(head: Buffer, body: Buffer): SpdyFrame {
  const flags = head[4]!;
  if ((head[0]! & 0x80) === 0) {
    const id = head.readUInt32BE(0) & 0x7fffffff;
    return { type: "data", id, fin: (flags & FLAG_FIN) !== 0, data: body };
  }
  const version = head.readUInt16BE(0) & 0x7fff;
  if (version !== SPDY_VERSION) throw new SpdyProtocolError(`unsupported SPDY version ${version}`);
  const type = head.readUInt16BE(2);
  const fin = (flags & FLAG_FIN) !== 0;
  switch (type) {
    case CONTROL.SYN_STREAM:
      need(body, 10, "SYN_STREAM");
      return {
        type: "syn_stream",
        id: body.readUInt32BE(0) & 0x7fffffff,
        fin,
        unidirectional: (flags & FLAG_UNIDIRECTIONAL) !== 0,
        headerBlock: body.subarray(10),
      };
    case CONTROL.SYN_REPLY:
    case CONTROL.HEADERS:
      need(body, 4, "SYN_REPLY");
      return {
        type: type === CONTROL.SYN_REPLY ? "syn_reply" : "headers",
        id: body.readUInt32BE(0) & 0x7fffffff,
        fin,
        headerBlock: body.subarray(4),
      };
    case CONTROL.RST_STREAM:
      need(body, 8, "RST_STREAM");
      return { type: "rst_stream", id: body.readUInt32BE(0) & 0x7fffffff, status: body.readUInt32BE(4) };
    case CONTROL.PING:
      need(body, 4, "PING");
      return { type: "ping", id: body.readUInt32BE(0) };
    case CONTROL.GOAWAY:
      need(body, 4, "GOAWAY");
      return {
        type: "goaway",
        lastGoodId: body.readUInt32BE(0) & 0x7fffffff,
        status: body.length >= 8 ? body.readUInt32BE(4) : 0,
      };
    default:
      return { type: "ignored", control: type };
  }
}

function controlFrame(type: number, flags: number, body: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt16BE(0x8000 | SPDY_VERSION, 0);
  head.writeUInt16BE(type, 2);
  head.writeUInt32BE(body.length, 4);
  head[4] = flags;
  return Buffer.concat([head, body]);
}

function u32(...values: number[]): Buffer {
  const b = Buffer.alloc(4 * values.length);
  values.forEach((v, i) => b.writeUInt32BE(v >>> 0, 4 * i));
  return b;
}

export function synReplyFrame(id: number, headerBlock: Buffer, fin = false): Buffer {
  return controlFrame(
    CONTROL.SYN_REPLY,
    fin ? FLAG_FIN : 0,
    Buffer.concat([u32(id & 0x7fffffff), headerBlock]),
  );
}

export function synStreamFrame(id: number, headerBlock: Buffer, fin = false): Buffer {
  const prio = Buffer.alloc(2);
  return controlFrame(
    CONTROL.SYN_STREAM,
    fin ? FLAG_FIN : 0,
    Buffer.concat([u32(id & 0x7fffffff, 0), prio, headerBlock]),
  );
}

export function rstStreamFrame(id: number, status: number): Buffer {
  return controlFrame(CONTROL.RST_STREAM, 0, u32(id & 0x7fffffff, status));
}

export function pingFrame(id: number): Buffer {
  return controlFrame(CONTROL.PING, 0, u32(id));
}

export function goAwayFrame(lastGoodId: number, status = 0): Buffer {
  return controlFrame(CONTROL.GOAWAY, 0, u32(lastGoodId & 0x7fffffff, status));
}

/** DATA frames for `data` (split at 32 KiB); with `fin`, the last one (or an empty one) carries FLAG_FIN. */
export function dataFrames(id: number, data: Buffer, fin = false): Buffer[] {
  const out: Buffer[] = [];
  let off = 0;
  do {
    const part = data.subarray(off, off + MAX_DATA_CHUNK);
    off += part.length;
    const head = Buffer.alloc(8);
    head.writeUInt32BE(id & 0x7fffffff, 0);
    head.writeUInt32BE(part.length, 4);
    head[4] = fin && off >= data.length ? FLAG_FIN : 0;
    out.push(Buffer.concat([head, part]));
  } while (off < data.length);
  return out;
}

/** The uncompressed name/value block: count, then length-prefixed names and values (SPDY/3 §2.6.10). */
export function encodeNameValues(headers: Record<string, string>): Buffer {
  const parts: Buffer[] = [u32(Object.keys(headers).length)];
  for (const [k, v] of Object.entries(headers)) {
    const name = Buffer.from(k.toLowerCase(), "utf8");
    const value = Buffer.from(v, "utf8");
    parts.push(u32(name.length), name, u32(value.length), value);
  }
  return Buffer.concat(parts);
}

/** Parses an inflated name/value block; names are lower case, several values are NUL-separated (first kept). */
export function decodeNameValues(raw: Buffer): Record<string, string> {
  const bad = (): never => {
    throw new SpdyProtocolError("malformed header block");
  };
  if (raw.length < 4) bad();
  const count = raw.readUInt32BE(0);
  if (count > 64) throw new SpdyProtocolError(`too many headers (${count})`);
  const out: Record<string, string> = {};
  let off = 4;
  const str = (): string => {
    if (off + 4 > raw.length) bad();
    const n = raw.readUInt32BE(off);
    off += 4;
    if (off + n > raw.length) bad();
    const s = raw.toString("utf8", off, off + n);
    off += n;
    return s;
  };
  for (let i = 0; i < count; i++) {
    const name = str().toLowerCase();
    const value = str();
    if (name === "") bad();
    out[name] = value.split("\0")[0] ?? "";
  }
  return out;
}

function adler32(buf: Buffer): number {
  let a = 1;
  let b = 0;
  for (const byte of buf) {
    a = (a + byte) % 65521;
    b = (b + a) % 65521;
  }
  return ((b << 16) | a) >>> 0;
}

/**
 * Writes our header blocks: one zlib stream (with the dictionary) for the whole connection, each block a run of
 * stored deflate blocks, so every frame is complete on its own and the peer's inflater simply continues.
 */
export class HeaderWriter {
  private started = false;

  block(headers: Record<string, string>): Buffer {
    const raw = encodeNameValues(headers);
    const parts: Buffer[] = [];
    if (!this.started) {
      this.started = true;
      // CMF 0x78 (deflate, 32K window); FLG 0x20: FDICT, level 0, FCHECK so that CMF·256+FLG ≡ 0 (mod 31).
      parts.push(Buffer.from([0x78, 0x20]), u32(adler32(SPDY3_DICTIONARY)));
    }
    let off = 0;
    do {
      const part = raw.subarray(off, off + 0xffff);
      off += part.length;
      const h = Buffer.alloc(5);
      h[0] = 0; // BFINAL=0, BTYPE=00 (stored), padded to the byte boundary
      h.writeUInt16LE(part.length, 1);
      h.writeUInt16LE(~part.length & 0xffff, 3);
      parts.push(h, part);
    } while (off < raw.length);
    // An empty stored block, as zlib's Z_SYNC_FLUSH ends a block: Go's flate hands out a stored block's bytes only
    // when the next block starts, and a read past the frame's end would be a sticky error.
    parts.push(Buffer.from([0x00, 0x00, 0x00, 0xff, 0xff]));
    return Buffer.concat(parts);
  }
}

/** Reads the client's header blocks, in order, through one inflater with the SPDY/3 dictionary. */
export class HeaderReader {
  private readonly inflater = zlib.createInflate({
    dictionary: SPDY3_DICTIONARY,
    flush: zlib.constants.Z_SYNC_FLUSH,
  });
  private chain: Promise<unknown> = Promise.resolve();
  private failed: Error | undefined;
  private onFail: ((err: Error) => void) | undefined;

  constructor() {
    this.inflater.on("error", (err) => {
      this.failed = new SpdyProtocolError(`header block: ${err.message}`);
      this.onFail?.(this.failed);
    });
  }

  read(block: Buffer): Promise<Record<string, string>> {
    const next = this.chain.then(
      () =>
        new Promise<Record<string, string>>((resolve, reject) => {
          if (this.failed) return reject(this.failed);
          const chunks: Buffer[] = [];
          let size = 0;
          const onData = (c: Buffer): void => {
            size += c.length;
            if (size <= MAX_HEADER_BLOCK) chunks.push(c);
          };
          const done = (err?: Error): void => {
            this.inflater.off("data", onData);
            this.onFail = undefined;
            if (err) return reject(err);
            if (size > MAX_HEADER_BLOCK) {
              this.failed = new SpdyProtocolError(`header block larger than ${MAX_HEADER_BLOCK} bytes`);
              this.inflater.destroy();
              return reject(this.failed);
            }
            try {
              resolve(decodeNameValues(Buffer.concat(chunks)));
            } catch (e) {
              reject(e instanceof Error ? e : new Error(String(e)));
            }
          };
          this.onFail = done;
          this.inflater.on("data", onData);
          this.inflater.write(block, (err) => {
            if (this.failed) done(this.failed);
            else done(err ?? undefined);
          });
        }),
    );
    this.chain = next.catch(() => undefined);
    return next;
  }

  close(): void {
    this.inflater.destroy();
  }
}
