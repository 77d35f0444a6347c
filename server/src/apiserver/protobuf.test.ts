import { describe, expect, it } from "vitest";
import { decodeKubeProtobuf, isProtobuf } from "./protobuf.ts";
import { ApiError } from "../store/types.ts";

/** Minimal protobuf writer for building test messages. */
const varint = (n: number): number[] => {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n = Math.floor(n / 128);
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
};
const bytesField = (num: number, data: Buffer | string): Buffer => {
  const b = typeof data === "string" ? Buffer.from(data) : data;
  return Buffer.from([...varint((num << 3) | 2), ...varint(b.length), ...b]);
};
const intField = (num: number, v: number): Buffer => Buffer.from([...varint(num << 3), ...varint(v)]);
const msg = (...parts: Buffer[]): Buffer => Buffer.concat(parts);
const envelope = (apiVersion: string, kind: string, raw: Buffer): Buffer =>
  Buffer.concat([
    Buffer.from("k8s\0", "binary"),
    bytesField(1, msg(bytesField(1, apiVersion), bytesField(2, kind))),
    bytesField(2, raw),
  ]);

describe("decodeKubeProtobuf", () => {
  it("decodes a ConfigMap with metadata, labels and a data map", () => {
    const meta = msg(
      bytesField(1, "cfg"),
      bytesField(3, "demo"),
      bytesField(11, msg(bytesField(1, "app"), bytesField(2, "web"))),
    );
    const cm = msg(
      bytesField(1, meta),
      bytesField(2, msg(bytesField(1, "a"), bytesField(2, "1"))),
      bytesField(2, msg(bytesField(1, "b"), bytesField(2, "2"))),
    );
    expect(decodeKubeProtobuf(envelope("v1", "ConfigMap", cm))).toEqual({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "cfg", namespace: "demo", labels: { app: "web" } },
      data: { a: "1", b: "2" },
    });
  });
  it("decodes a Deployment's replicas, int-or-string and nested containers", () => {
    const container = msg(
      bytesField(1, "nginx"),
      bytesField(2, "nginx:1"),
      bytesField(6, msg(intField(3, 80))),
    );
    const podSpec = msg(bytesField(2, container));
    const template = msg(bytesField(2, podSpec));
    const strategy = msg(
      bytesField(1, "RollingUpdate"),
      bytesField(2, msg(bytesField(1, msg(intField(1, 1), bytesField(3, "25%"))))),
    );
    const spec = msg(intField(1, 0), bytesField(3, template), bytesField(4, strategy));
    const dep = msg(bytesField(1, msg(bytesField(1, "d"))), bytesField(2, spec));
    expect(decodeKubeProtobuf(envelope("apps/v1", "Deployment", dep))).toEqual({
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "d" },
      spec: {
        replicas: 0,
        template: {
          spec: { containers: [{ name: "nginx", image: "nginx:1", ports: [{ containerPort: 80 }] }] },
        },
        strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: "25%" } },
      },
    });
  });
  it.each([
    ["no magic", Buffer.from("{}"), /not a valid Kubernetes protobuf/],
    [
      "truncated",
      Buffer.concat([Buffer.from("k8s\0", "binary"), Buffer.from([0x0a, 0x50])]),
      /not a valid Kubernetes protobuf/,
    ],
    ["unknown kind", envelope("example.com/v1", "Widget", Buffer.alloc(0)), /not a valid|not supported/],
  ])("rejects %s with a clear error", (_n, buf, msgRe) => {
    let err: unknown;
    try {
      decodeKubeProtobuf(buf);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).message).toMatch(msgRe);
  });
  it("decodes a PersistentVolumeClaim's access modes and storage request", () => {
    const requests = msg(bytesField(1, "storage"), bytesField(2, msg(bytesField(1, "20Gi"))));
    const spec = msg(
      bytesField(1, "ReadWriteMany"),
      bytesField(2, msg(bytesField(2, requests))),
      bytesField(5, "nfs-client"),
    );
    const pvc = msg(bytesField(1, msg(bytesField(1, "data"))), bytesField(2, spec));
    expect(decodeKubeProtobuf(envelope("v1", "PersistentVolumeClaim", pvc))).toEqual({
      apiVersion: "v1",
      kind: "PersistentVolumeClaim",
      metadata: { name: "data" },
      spec: {
        accessModes: ["ReadWriteMany"],
        resources: { requests: { storage: "20Gi" } },
        storageClassName: "nfs-client",
      },
    });
  });
  it("recognises the media type", () => {
    expect(isProtobuf("application/vnd.kubernetes.protobuf")).toBe(true);
    expect(isProtobuf("application/json")).toBe(false);
  });
  it.each([
    [
      "a 256 KB varint of 0xff",
      Buffer.concat([Buffer.from("k8s\0", "binary"), Buffer.alloc(256 * 1024, 0xff)]),
    ],
    [
      "a 256 KB length of 0xff",
      Buffer.concat([Buffer.from("k8s\0", "binary"), Buffer.from([0x12]), Buffer.alloc(256 * 1024, 0xff)]),
    ],
    [
      "a length past the end",
      Buffer.concat([Buffer.from("k8s\0", "binary"), Buffer.from([0x12, 0xff, 0xff, 0xff, 0xff, 0x07])]),
    ],
    ["a double past the end", envelope("v1", "ConfigMap", Buffer.from([0x09, 0x01, 0x02]))],
  ])("rejects %s after reading at most a few bytes", (_n, buf) => {
    const meter = { bytes: 0 };
    expect(() => decodeKubeProtobuf(buf, meter)).toThrow(ApiError);
    expect(meter.bytes).toBeLessThanOrEqual(64);
  });
  it("rejects a timestamp outside years 0001-9999 with a 400", () => {
    const seconds = [0x08, ...varint(2 ** 52)];
    const meta = msg(bytesField(1, "ns"), bytesField(8, Buffer.from(seconds)));
    let err: unknown;
    try {
      decodeKubeProtobuf(envelope("v1", "Namespace", msg(bytesField(1, meta))));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).code).toBe(400);
    expect((err as ApiError).message).toContain("timestamp");
  });
  it("keeps a map key `__proto__` as a plain key", () => {
    const meta = msg(
      bytesField(1, "cfg"),
      bytesField(11, msg(bytesField(1, "__proto__"), bytesField(2, "x"))),
    );
    const out = decodeKubeProtobuf(envelope("v1", "ConfigMap", msg(bytesField(1, meta))));
    const labels = (out.metadata as { labels: Record<string, unknown> }).labels;
    expect(Object.keys(labels)).toEqual(["__proto__"]);
    expect(Object.getPrototypeOf(labels)).toBe(Object.prototype);
  });
});
