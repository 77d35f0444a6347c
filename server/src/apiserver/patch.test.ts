import { describe, expect, it } from "vitest";
import { applyJsonPatch, applyMergePatch, strategicMerge, supportsStrategicMerge } from "./patch.ts";
import { ApiError } from "../store/types.ts";

const containers = {
  type: "array",
  "x-kubernetes-patch-merge-key": "name",
  "x-kubernetes-patch-strategy": "merge",
  items: { type: "object", properties: { name: { type: "string" }, image: { type: "string" } } },
};
const podSchema = {
  type: "object",
  properties: {
    metadata: {
      type: "object",
      properties: { finalizers: { type: "array", "x-kubernetes-patch-strategy": "merge" } },
    },
    spec: { type: "object", properties: { containers, args: { type: "array" } } },
  },
};
const pod = {
  metadata: { name: "p", finalizers: ["a"] },
  spec: {
    containers: [
      { name: "a", image: "1" },
      { name: "b", image: "2" },
    ],
    args: ["x", "y"],
  },
};

describe("strategicMerge", () => {
  it.each([
    [
      "merges keyed lists by merge key",
      { spec: { containers: [{ name: "b", image: "3" }] } },
      {
        containers: [
          { name: "a", image: "1" },
          { name: "b", image: "3" },
        ],
        args: ["x", "y"],
      },
    ],
    [
      "appends new keyed items",
      { spec: { containers: [{ name: "c", image: "4" }] } },
      {
        containers: [
          { name: "a", image: "1" },
          { name: "b", image: "2" },
          { name: "c", image: "4" },
        ],
        args: ["x", "y"],
      },
    ],
    [
      "deletes items with $patch: delete",
      { spec: { containers: [{ name: "a", $patch: "delete" }] } },
      { containers: [{ name: "b", image: "2" }], args: ["x", "y"] },
    ],
    [
      "replaces lists without a strategy",
      { spec: { args: ["z"] } },
      {
        containers: [
          { name: "a", image: "1" },
          { name: "b", image: "2" },
        ],
        args: ["z"],
      },
    ],
    [
      "replaces a list with $patch: replace",
      { spec: { containers: [{ name: "z", image: "9" }, { $patch: "replace" }] } },
      { containers: [{ name: "z", image: "9" }], args: ["x", "y"] },
    ],
    [
      "deletes fields set to null",
      { spec: { args: null } },
      {
        containers: [
          { name: "a", image: "1" },
          { name: "b", image: "2" },
        ],
      },
    ],
    [
      "orders items with $setElementOrder",
      { spec: { "$setElementOrder/containers": [{ name: "b" }, { name: "a" }] } },
      {
        containers: [
          { name: "b", image: "2" },
          { name: "a", image: "1" },
        ],
        args: ["x", "y"],
      },
    ],
  ])("%s", (_name, patch, spec) => {
    expect((strategicMerge(pod, patch, podSchema) as { spec: unknown }).spec).toEqual(spec);
  });
  it("unions merged primitive lists and honours $deleteFromPrimitiveList", () => {
    const out = strategicMerge(
      pod,
      { metadata: { finalizers: ["b"], "$deleteFromPrimitiveList/finalizers": ["a"] } },
      podSchema,
    );
    expect((out as { metadata: { finalizers: string[] } }).metadata.finalizers).toEqual(["b"]);
  });
  it("rejects keyed items without their merge key", () => {
    expect(() => strategicMerge(pod, { spec: { containers: [{ image: "x" }] } }, podSchema)).toThrow(
      /does not contain declared merge key: name/,
    );
  });
  it("is only accepted for built-in and aggregated groups", () => {
    expect(
      ["", "apps", "networking.k8s.io", "projectcalico.org", "operator.tigera.io"].map(
        supportsStrategicMerge,
      ),
    ).toEqual([true, true, true, true, false]);
  });
});

describe("applyMergePatch", () => {
  it("merges objects, replaces lists and deletes nulls", () => {
    expect(applyMergePatch({ a: { b: 1, c: 2 }, l: [1, 2] }, { a: { b: null, d: 3 }, l: [3] })).toEqual({
      a: { c: 2, d: 3 },
      l: [3],
    });
  });
});

describe("applyJsonPatch", () => {
  const doc = { a: { b: [1, 2] }, c: "x" };
  it.each([
    [[{ op: "add", path: "/a/b/-", value: 3 }], { a: { b: [1, 2, 3] }, c: "x" }],
    [[{ op: "add", path: "/a/b/0", value: 0 }], { a: { b: [0, 1, 2] }, c: "x" }],
    [[{ op: "remove", path: "/c" }], { a: { b: [1, 2] } }],
    [[{ op: "replace", path: "/c", value: "y" }], { a: { b: [1, 2] }, c: "y" }],
    [[{ op: "move", from: "/c", path: "/d" }], { a: { b: [1, 2] }, d: "x" }],
    [[{ op: "copy", from: "/c", path: "/a/e" }], { a: { b: [1, 2], e: "x" }, c: "x" }],
    [[{ op: "add", path: "/a~1b", value: 1 }], { a: { b: [1, 2] }, c: "x", "a/b": 1 }],
  ])("applies %j", (ops, want) => {
    expect(applyJsonPatch(doc, ops)).toEqual(want);
    expect(doc).toEqual({ a: { b: [1, 2] }, c: "x" });
  });
  it.each([
    [[{ op: "remove", path: "/nope" }], /missing/],
    [[{ op: "test", path: "/c", value: "z" }], /test failed/],
    [[{ op: "frobnicate", path: "/c" }], /Unexpected kind/],
    [[{ op: "replace", path: "c", value: 1 }], /must start with/],
  ])("rejects %j as 422", (ops, msg) => {
    let err: unknown;
    try {
      applyJsonPatch(doc, ops);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).code).toBe(422);
    expect((err as ApiError).message).toMatch(msg);
  });
});

describe("long lists in strategic merge patches", () => {
  it("merges, deletes and orders 20,000 keyed items", () => {
    const items = Array.from({ length: 20000 }, (_, i) => ({ name: `c${i}`, image: "1" }));
    const patch = {
      spec: {
        containers: [
          ...items.map((c) => ({ name: c.name, image: "2" })),
          { name: "c5", $patch: "delete" },
          { name: "new", image: "3" },
        ],
      },
    };
    const out = strategicMerge({ spec: { containers: items } }, patch, podSchema) as {
      spec: { containers: { name: string; image: string }[] };
    };
    expect(out.spec.containers).toHaveLength(20000);
    expect(out.spec.containers.find((c) => c.name === "c5")).toBeUndefined();
    expect(out.spec.containers.every((c) => c.image !== "1")).toBe(true);
    expect(out.spec.containers.at(-1)).toEqual({ name: "new", image: "3" });
  });
});
