import { describe, expect, it } from "vitest";
import { checkTree, cloneJson, getOwn, jsonDepthExceeds, setOwn, timestamp } from "./object.ts";

describe("object access with attacker keys", () => {
  it("reads own properties only", () => {
    const o = JSON.parse('{"a":1}') as Record<string, unknown>;
    expect(getOwn(o, "constructor")).toBeUndefined();
    expect(getOwn(o, "__proto__")).toBeUndefined();
    expect(getOwn(o, "a")).toBe(1);
  });
  it("writes `__proto__` as data, not as the prototype", () => {
    const o: Record<string, unknown> = {};
    setOwn(o, "__proto__", { polluted: true });
    expect(Object.getPrototypeOf(o)).toBe(Object.prototype);
    expect(Object.keys(o)).toEqual(["__proto__"]);
    expect((o as { polluted?: boolean }).polluted).toBeUndefined();
  });
  it("clones `__proto__` keys as data and drops undefined members", () => {
    const src = JSON.parse('{"__proto__":{"x":1},"b":[1,{"c":2}]}') as Record<string, unknown>;
    const c = cloneJson({ ...src, u: undefined });
    expect(Object.keys(c)).toEqual(["__proto__", "b"]);
    expect((c as { x?: number }).x).toBeUndefined();
    expect(JSON.stringify(c)).toBe('{"__proto__":{"x":1},"b":[1,{"c":2}]}');
  });
  it("formats Kubernetes timestamps with whole seconds", () => {
    expect(timestamp(Date.UTC(2026, 0, 2, 3, 4, 5, 678))).toBe("2026-01-02T03:04:05Z");
  });
});

describe("bounded walks", () => {
  it("finds cycles and depth without recursion, visiting each node once", () => {
    const cyc: unknown[] = [];
    cyc.push(cyc);
    expect(checkTree({ a: cyc }, 100).problem).toEqual({ problem: "cycle" });
    let deep: unknown = 1;
    for (let i = 0; i < 100000; i++) deep = [deep];
    const r = checkTree(deep, 1000);
    expect(r.problem).toEqual({ problem: "depth", limit: 1000 });
    expect(r.visited).toBeLessThanOrEqual(1001);
    const shared = { x: 1 };
    expect(checkTree({ a: shared, b: shared }, 10).problem).toBeUndefined();
  });
  it("measures JSON nesting in text, ignoring brackets in strings", () => {
    expect(jsonDepthExceeds('{"a":"[[[[[[\\"[["}', 2)).toBe(false);
    expect(jsonDepthExceeds("[[[]]]", 2)).toBe(true);
    expect(jsonDepthExceeds("[[]]", 2)).toBe(false);
  });
});
