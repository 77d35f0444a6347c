import { describe, expect, it } from "vitest";
import { kindClusterName } from "./names.ts";

describe("kindClusterName", () => {
  it.each([
    ["alice", "egresslab-alice"],
    ["ws-12", "egresslab-ws-12"],
  ])("keeps a valid id %s as is", (id, name) => {
    expect(kindClusterName(id)).toBe(name);
  });
  it("cleans other ids and adds a hash so distinct ids never share a cluster", () => {
    const a = kindClusterName("Alice");
    const b = kindClusterName("alice!");
    expect(a).toMatch(/^egresslab-alice-[0-9a-f]{8}$/);
    expect(b).toMatch(/^egresslab-alice-[0-9a-f]{8}$/);
    expect(a).not.toBe(b);
    expect(kindClusterName("Alice")).toBe(a);
  });
  it("stays within kind's 50 characters and its name rules", () => {
    for (const id of ["x".repeat(200), "∂∂∂", "a_b.c", "-lead-"]) {
      const name = kindClusterName(id);
      expect(name.length).toBeLessThanOrEqual(50);
      expect(name).toMatch(/^[a-z0-9.-]+$/);
    }
  });
});
