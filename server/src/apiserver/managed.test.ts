import { describe, expect, it } from "vitest";
import { recordUpdate, serverSideApply } from "./managed.ts";
import { ApiError, type KubeObject } from "../store/types.ts";

const schema = {
  type: "object",
  properties: {
    spec: {
      type: "object",
      properties: {
        replicas: { type: "integer" },
        containers: {
          type: "array",
          "x-kubernetes-list-type": "map",
          "x-kubernetes-list-map-keys": ["name"],
          items: { type: "object", properties: { name: { type: "string" }, image: { type: "string" } } },
        },
      },
    },
  },
};
const obj = (spec: unknown): KubeObject => ({
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: { name: "d" },
  spec,
});
const opts = { apiVersion: "apps/v1", now: Date.UTC(2026, 0, 1) };

describe("server-side apply", () => {
  it("records the applier's fields and merges keyed lists", () => {
    const live = serverSideApply(
      undefined,
      obj({ replicas: 1, containers: [{ name: "a", image: "1" }] }),
      schema,
      { ...opts, manager: "m1", force: false },
    );
    expect(live.metadata.managedFields).toEqual([
      {
        manager: "m1",
        operation: "Apply",
        apiVersion: "apps/v1",
        time: "2026-01-01T00:00:00Z",
        fieldsType: "FieldsV1",
        fieldsV1: {
          "f:spec": {
            "f:containers": { 'k:{"name":"a"}': { ".": {}, "f:image": {}, "f:name": {} } },
            "f:replicas": {},
          },
        },
      },
    ]);
    const two = serverSideApply(live, obj({ containers: [{ name: "b", image: "2" }] }), schema, {
      ...opts,
      manager: "m2",
      force: false,
    });
    expect((two.spec as { containers: unknown[] }).containers).toEqual([
      { name: "a", image: "1" },
      { name: "b", image: "2" },
    ]);
  });
  it("conflicts with another manager's different value unless forced, and shares equal values", () => {
    const live = serverSideApply(undefined, obj({ replicas: 1 }), schema, {
      ...opts,
      manager: "m1",
      force: false,
    });
    expect(() =>
      serverSideApply(live, obj({ replicas: 1 }), schema, { ...opts, manager: "m2", force: false }),
    ).not.toThrow();
    let err: unknown;
    try {
      serverSideApply(live, obj({ replicas: 5 }), schema, { ...opts, manager: "m2", force: false });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).code).toBe(409);
    expect((err as ApiError).message).toBe(
      'Apply failed with 1 conflict: conflict with "m1": .spec.replicas',
    );
    const forced = serverSideApply(live, obj({ replicas: 5 }), schema, {
      ...opts,
      manager: "m2",
      force: true,
    });
    expect((forced.spec as { replicas: number }).replicas).toBe(5);
  });
  it("removes fields the manager stopped applying, unless another manager owns them", () => {
    const live = serverSideApply(
      undefined,
      obj({ replicas: 1, containers: [{ name: "a", image: "1" }] }),
      schema,
      { ...opts, manager: "m1", force: false },
    );
    const next = serverSideApply(live, obj({ containers: [{ name: "a", image: "1" }] }), schema, {
      ...opts,
      manager: "m1",
      force: false,
    });
    expect(next.spec).toEqual({ containers: [{ name: "a", image: "1" }] });
  });
  it("names Update managers with their subresource and version in conflicts", () => {
    const live = serverSideApply(undefined, obj({ replicas: 1 }), schema, {
      ...opts,
      manager: "kubectl",
      force: false,
    });
    const scaled = { ...obj({ replicas: 3 }), metadata: { ...live.metadata } };
    scaled.metadata.managedFields = recordUpdate(live, scaled, schema, {
      ...opts,
      manager: "kubectl",
      subresource: "scale",
    }) as unknown[];
    expect(() =>
      serverSideApply(scaled, obj({ replicas: 1 }), schema, { ...opts, manager: "kubectl", force: false }),
    ).toThrow(
      'Apply failed with 1 conflict: conflict with "kubectl" with subresource "scale" using apps/v1: .spec.replicas',
    );
  });
});

describe("server-side apply of ports", () => {
  const ports = {
    type: "object",
    properties: {
      spec: {
        type: "object",
        properties: {
          ports: {
            type: "array",
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["port", "protocol"],
            items: {
              type: "object",
              properties: {
                name: { type: "string" },
                port: { type: "integer" },
                protocol: { type: "string" },
              },
            },
          },
        },
      },
    },
  };
  it("takes a port applied without protocol as the stored TCP port (the key's default), not a second port", () => {
    const live = obj({ ports: [{ name: "pg", port: 5432, protocol: "TCP" }] });
    const out = serverSideApply(live, obj({ ports: [{ name: "postgres", port: 5432 }] }), ports, {
      ...opts,
      manager: "kubectl",
      force: true,
    });
    expect((out.spec as { ports: unknown[] }).ports).toEqual([
      { name: "postgres", port: 5432, protocol: "TCP" },
    ]);
    const fields = (out.metadata.managedFields as { fieldsV1: { "f:spec": { "f:ports": object } } }[])[0]!;
    expect(Object.keys(fields.fieldsV1["f:spec"]["f:ports"])).toEqual(['k:{"port":5432,"protocol":"TCP"}']);
    // UDP on the same port number is another port.
    const udp = serverSideApply(out, obj({ ports: [{ name: "dns", port: 5432, protocol: "UDP" }] }), ports, {
      ...opts,
      manager: "other",
      force: true,
    });
    expect((udp.spec as { ports: unknown[] }).ports).toHaveLength(2);
  });
});

describe("long keyed lists", () => {
  it("merges and owns 20,000 keyed items item by item (a keyed lookup per item, not a scan)", () => {
    const many = (n: number, image: string) =>
      Array.from({ length: n }, (_, i) => ({ name: `c${i}`, image }));
    const first = serverSideApply(undefined, obj({ containers: many(20000, "1") }), schema, {
      ...opts,
      manager: "m1",
      force: false,
    });
    const second = serverSideApply(
      first,
      obj({ containers: [...many(20000, "2"), { name: "extra", image: "x" }] }),
      schema,
      { ...opts, manager: "m1", force: false },
    );
    const cs = (second.spec as { containers: { name: string; image: string }[] }).containers;
    expect(cs).toHaveLength(20001);
    expect(cs[19999]).toEqual({ name: "c19999", image: "2" });
    const updated = recordUpdate(second, obj({ containers: cs.slice(0, 10000) }), schema, {
      ...opts,
      manager: "kubectl",
    });
    expect(updated.length).toBeGreaterThan(0);
  });
});
