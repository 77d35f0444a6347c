/**
 * Decodes Kubernetes protobuf request bodies (`application/vnd.kubernetes.protobuf`) into the JSON objects the rest of
 * the server handles. kubectl's typed clients send them (`kubectl create namespace|deployment|configmap|secret…`).
 * `protobuf-types.json` holds the field tables (number, JSON name, wire type, repeated, message type) of the built-in
 * kinds kubectl creates, taken from the descriptors of Kubernetes 1.32's `generated.proto` files.
 */
import { ApiError } from "../store/types.ts";
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

class Reader {
  pos = 0;
  constructor(readonly buf: Buffer) {}
  get done(): boolean {
    return this.pos >= this.buf.length;
  }
  varint(): bigint {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (this.pos >= this.buf.length) throw malformed();
      const b = this.buf[this.pos++]!;
      result |= BigInt(b & 0x7f) << shift;
      if (!(b & 0x80)) return result;
      shift += 7n;
    }
  }
  bytes(): Buffer {
    const len = Number(this.varint());
    if (this.pos + len > this.buf.length) throw malformed();
    const out = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return out;
  }
  skip(wire: number): void {
    if (wire === 0) this.varint();
    else if (wire === 1) this.pos += 8;
    else if (wire === 2) this.bytes();
    else if (wire === 5) this.pos += 4;
    else throw malformed();
  }
}

function malformed(): ApiError {
  return new ApiError(400, "BadRequest", "the request body is not a valid Kubernetes protobuf message");
}

function scalar(type: number, wire: number, r: Reader): unknown {
  switch (type) {
    case 9:
      return r.bytes().toString("utf8");
    case 12:
      return r.bytes().toString("base64");
    case 8:
      return r.varint() !== 0n;
    case 1: {
      const v = r.buf.readDoubleLE(r.pos);
      r.pos += 8;
      return v;
    }
    case 2: {
      const v = r.buf.readFloatLE(r.pos);
      r.pos += 4;
      return v;
    }
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
      return new Date(s * 1000).toISOString().replace(".000Z", "Z");
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

function decodeMessage(buf: Buffer, typeName: string): unknown {
  const table = TYPES[typeName];
  if (!table)
    throw new ApiError(
      415,
      "UnsupportedMediaType",
      `protobuf bodies of type ${typeName} are not supported; send JSON`,
    );
  const byNumber = new Map(table.f.map((f) => [f[0], f]));
  const out: Record<string, unknown> = {};
  const r = new Reader(buf);
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
    if (type === 11 && sub) value = decodeMessage(r.bytes(), sub);
    else if (repeated && wire === 2 && type !== 9 && type !== 12) {
      // Packed repeated scalars.
      const inner = new Reader(r.bytes());
      const arr = (out[name] as unknown[] | undefined) ?? [];
      while (!inner.done) arr.push(scalar(type, 0, inner));
      out[name] = arr;
      continue;
    } else value = scalar(type, wire, r);
    if (type === 11 && sub && TYPES[sub]?.map) {
      const entry = value as { key?: unknown; value?: unknown };
      const m = (out[name] as Record<string, unknown> | undefined) ?? {};
      m[String(entry.key ?? "")] = entry.value ?? "";
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
export function decodeKubeProtobuf(buf: Buffer): Record<string, unknown> {
  if (buf.length < 4 || !buf.subarray(0, 4).equals(MAGIC)) throw malformed();
  const r = new Reader(buf.subarray(4));
  let apiVersion = "";
  let kind = "";
  let raw: Buffer | undefined;
  while (!r.done) {
    const key = Number(r.varint());
    const num = key >>> 3;
    const wire = key & 7;
    if (num === 1 && wire === 2) {
      const tm = new Reader(r.bytes());
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
  const obj = decodeMessage(raw, messageFor(apiVersion, kind)) as Record<string, unknown>;
  return { apiVersion, kind, ...obj };
}
