/**
 * Decodes Kubernetes protobuf request bodies (`application/vnd.kubernetes.protobuf`) into the JSON objects the rest of
 * the server handles. kubectl's typed clients send them (`kubectl create namespace|deployment|configmap|secret…`).
 * `protobuf-types.json` holds the field tables (number, JSON name, wire type, repeated, message type) of the built-in
 * kinds kubectl creates, taken from the descriptors of Kubernetes 1.32's `generated.proto` files.
 */
import { ApiError } from "../store/types.ts";
import { MAX_TIME_SECONDS, MIN_TIME_SECONDS, setOwn, timestamp } from "../shared/object.ts";
import tables from "./protobuf-types.json" with { type: "json" };

type Field = [number, string, number, number, string?];
interface MessageTable {
  f: Field[];
  map?: number;
}
const TYPES = tables as unknown as Record<string, MessageTable>;

const MAGIC = Buffer.from([0x6b, 0x38, 0x73, 0x00]);
const META = "k8s.io.apimachinery.pkg.apis.meta.v1";

/** Fields whose zero value means something (pointer fields in the Go types), kept when 0 or false. */
const KEEP_ZERO = new Set([
  "replicas",
  "terminationGracePeriodSeconds",
  "parallelism",
  "completions",
  "backoffLimit",
  "gracePeriodSeconds",
]);

/** A varint is at most 10 bytes (64 bits in groups of 7), as in every protobuf decoder. */
const MAX_VARINT_BYTES = 10;
/** Nesting of messages deeper than any Kubernetes type has. */
const MAX_MESSAGE_DEPTH = 64;

/** What one decode read: bytes inspected (varint bytes one by one, length-delimited fields by their length). */
export interface DecodeMeter {
  bytes: number;
}

class Reader {
  pos = 0;
  constructor(
    readonly buf: Buffer,
    private readonly meter: DecodeMeter,
  ) {}
  get done(): boolean {
    return this.pos >= this.buf.length;
  }
  varint(): bigint {
    let result = 0n;
    for (let i = 0; i < MAX_VARINT_BYTES; i++) {
      if (this.pos >= this.buf.length) throw malformed("unexpected end of a varint");
      const b = this.buf[this.pos++]!;
      this.meter.bytes++;
      result |= BigInt(b & 0x7f) << BigInt(7 * i);
      if (!(b & 0x80)) return BigInt.asUintN(64, result);
    }
    throw malformed("varint longer than 10 bytes");
  }
  /** `n` bytes from the current position, or a 400 when fewer are left. */
  take(n: number): Buffer {
    if (!Number.isSafeInteger(n) || n < 0 || n > this.buf.length - this.pos)
      throw malformed("length beyond the end of the message");
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    this.meter.bytes += n;
    return out;
  }
  bytes(): Buffer {
    return this.take(Number(this.varint()));
  }
  skip(wire: number): void {
    if (wire === 0) this.varint();
    else if (wire === 1) this.take(8);
    else if (wire === 2) this.bytes();
    else if (wire === 5) this.take(4);
    else throw malformed(`unsupported wire type ${wire}`);
  }
}

function malformed(why?: string): ApiError {
  return new ApiError(
    400,
    "BadRequest",
    `the request body is not a valid Kubernetes protobuf message${why ? `: ${why}` : ""}`,
  );
}

function scalar(type: number, wire: number, r: Reader): unknown {
  switch (type) {
    case 9:
      return r.bytes().toString("utf8");
    case 12:
      return r.bytes().toString("base64");
    case 8:
      return r.varint() !== 0n;
    case 1:
      return r.take(8).readDoubleLE(0);
    case 2:
      return r.take(4).readFloatLE(0);
    case 5:
    case 3:
    case 13:
    case 4:
    case 14: {
      if (wire !== 0) throw malformed();
      return Number(BigInt.asIntN(64, r.varint()));
    }
    default:
      r.skip(wire);
      return undefined;
  }
}

function special(typeName: string, obj: Record<string, unknown>): unknown {
  switch (typeName) {
    case `${META}.Time`:
    case `${META}.MicroTime`: {
      const s = Number(obj.seconds ?? 0);
      if (!s) return undefined;
      if (!Number.isInteger(s) || s < MIN_TIME_SECONDS || s > MAX_TIME_SECONDS)
        throw malformed(`timestamp seconds ${s} outside the range of years 0001 to 9999`);
      return timestamp(s * 1000);
    }
    case "k8s.io.apimachinery.pkg.util.intstr.IntOrString":
      return Number(obj.type ?? 0) === 1 ? (obj.strVal ?? "") : (obj.intVal ?? 0);
    case "k8s.io.apimachinery.pkg.api.resource.Quantity":
      return obj.string;
    case "k8s.io.apimachinery.pkg.runtime.RawExtension":
    case `${META}.FieldsV1`: {
      const raw = typeof obj.raw === "string" ? obj.raw : typeof obj.Raw === "string" ? obj.Raw : undefined;
      if (!raw) return undefined;
      try {
        return JSON.parse(Buffer.from(raw, "base64").toString("utf8")) as unknown;
      } catch {
        return undefined;
      }
    }
    default:
      return obj;
  }
}

function decodeMessage(buf: Buffer, typeName: string, meter: DecodeMeter, depth: number): unknown {
  if (depth > MAX_MESSAGE_DEPTH) throw malformed("messages nested too deeply");
  const table = TYPES[typeName];
  if (!table)
    throw new ApiError(
      415,
      "UnsupportedMediaType",
      `protobuf bodies of type ${typeName} are not supported; send JSON`,
    );
  const byNumber = new Map(table.f.map((f) => [f[0], f]));
  const out: Record<string, unknown> = {};
  const r = new Reader(buf, meter);
  while (!r.done) {
    const key = Number(r.varint());
    const num = key >>> 3;
    const wire = key & 7;
    const field = byNumber.get(num);
    if (!field) {
      r.skip(wire);
      continue;
    }
    const [, name, type, repeated, sub] = field;
    let value: unknown;
    if (type === 11 && sub) value = decodeMessage(r.bytes(), sub, meter, depth + 1);
    else if (repeated && wire === 2 && type !== 9 && type !== 12) {
      // Packed repeated scalars.
      const inner = new Reader(r.bytes(), meter);
      const arr = (out[name] as unknown[] | undefined) ?? [];
      while (!inner.done) arr.push(scalar(type, 0, inner));
      out[name] = arr;
      continue;
    } else value = scalar(type, wire, r);
    if (type === 11 && sub && TYPES[sub]?.map) {
      const entry = value as { key?: unknown; value?: unknown };
      const m = (out[name] as Record<string, unknown> | undefined) ?? {};
      setOwn(m, String(entry.key ?? ""), entry.value ?? "");
      out[name] = m;
      continue;
    }
    if (repeated) {
      const arr = (out[name] as unknown[] | undefined) ?? [];
      arr.push(value);
      out[name] = arr;
      continue;
    }
    if (value === undefined) continue;
    if (!KEEP_ZERO.has(name) && (value === "" || value === 0 || value === false)) continue;
    out[name] = value;
  }
  if (TYPES[typeName]?.map) return out;
  return special(typeName, out);
}

function messageFor(apiVersion: string, kind: string): string {
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/", 2) : ["", apiVersion];
  if (kind === "DeleteOptions" || group === "meta.k8s.io") return `${META}.${kind}`;
  const pkg =
    group === "" ? "core" : group!.replace(/\.k8s\.io$/, "").replace(/^rbac\.authorization$/, "rbac");
  return `k8s.io.api.${pkg}.${version}.${kind}`;
}

export function isProtobuf(contentType: string | undefined): boolean {
  return (contentType ?? "").split(";")[0]!.trim().toLowerCase() === "application/vnd.kubernetes.protobuf";
}

/** Decodes a protobuf-encoded Kubernetes object (the `k8s\0` envelope) into its JSON form. */
export function decodeKubeProtobuf(buf: Buffer, meter: DecodeMeter = { bytes: 0 }): Record<string, unknown> {
  if (buf.length < 4 || !buf.subarray(0, 4).equals(MAGIC)) throw malformed();
  const r = new Reader(buf.subarray(4), meter);
  let apiVersion = "";
  let kind = "";
  let raw: Buffer | undefined;
  while (!r.done) {
    const key = Number(r.varint());
    const num = key >>> 3;
    const wire = key & 7;
    if (num === 1 && wire === 2) {
      const tm = new Reader(r.bytes(), meter);
      while (!tm.done) {
        const k = Number(tm.varint());
        if (k >>> 3 === 1) apiVersion = tm.bytes().toString("utf8");
        else if (k >>> 3 === 2) kind = tm.bytes().toString("utf8");
        else tm.skip(k & 7);
      }
    } else if (num === 2 && wire === 2) raw = r.bytes();
    else r.skip(wire);
  }
  if (!kind || !raw) throw malformed();
  const obj = decodeMessage(raw, messageFor(apiVersion, kind), meter, 0) as Record<string, unknown>;
  return { apiVersion, kind, ...obj };
}
