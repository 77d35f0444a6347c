import { describe, expect, it } from "vitest";
import type { ResourceCheck } from "../labs/model/types.ts";
import { dependencyCycle } from "../labs/model/stage.ts";
import { FakeClient } from "./fake-client.ts";
import { rootCauseFirst, runChecks } from "./run-check.ts";

/** A check that passes when a ConfigMap with this name exists in default. */
const cm = (id: string, dependsOn: string[] = []): ResourceCheck => ({
  id,
  title: `config map ${id} exists`,
  hint: `create ${id}`,
  guard: false,
  dependsOn,
  kind: "resource",
  target: { apiVersion: "v1", kind: "ConfigMap", namespace: "default", name: id },
  expect: "exists",
  where: [],
});

async function withMaps(...names: string[]): Promise<FakeClient> {
  const c = new FakeClient();
  for (const n of names)
    await c.apply({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: n, namespace: "default" } });
  return c;
}

describe("checks that depend on others", () => {
  const checks = [cm("probe", ["dns"]), cm("other"), cm("dns"), cm("deeper", ["probe"])];

  it("are not run while a dependency fails, and name the root cause instead of giving their own hint", async () => {
    const r = await runChecks(await withMaps("probe", "deeper"), checks, {});
    expect(r.map((x) => [x.id, x.passed])).toEqual([
      ["probe", false],
      ["other", false],
      ["dns", false],
      ["deeper", false],
    ]);
    expect(r[0]).toMatchObject({
      seen: "not checked: “config map dns exists” fails first",
      blockedBy: "dns",
    });
    expect(r[0]!.hint).toBeUndefined();
    // Transitively: deeper depends on probe, which was not checked because of dns.
    expect(r[3]).toMatchObject({
      seen: "not checked: “config map dns exists” fails first",
      blockedBy: "dns",
    });
    expect(r[1]).toMatchObject({ hint: "create other" });
  });

  it("run as usual once their dependencies pass", async () => {
    const r = await runChecks(await withMaps("dns", "deeper"), checks, {});
    expect(r.find((x) => x.id === "probe")).toMatchObject({ passed: false, hint: "create probe" });
    expect(r.find((x) => x.id === "probe")?.blockedBy).toBeUndefined();
    expect(r.find((x) => x.id === "deeper")?.blockedBy).toBe("probe");
  });

  it("are shown root cause first: failing checks that ran, then those not checked, then the passing", async () => {
    const r = await runChecks(await withMaps("other"), checks, {});
    expect(rootCauseFirst(r).map((x) => x.id)).toEqual(["dns", "probe", "deeper", "other"]);
    // A failing guard (something that worked before the stage) comes before the other failures.
    const g = [cm("a"), { ...cm("g"), guard: true }];
    const rg = await runChecks(new FakeClient(), g, {});
    expect(rootCauseFirst(rg, g).map((x) => x.id)).toEqual(["g", "a"]);
    expect(rootCauseFirst(rg).map((x) => x.id)).toEqual(["a", "g"]);
  });

  it("a circle of dependencies is found (a lab that has one does not load)", () => {
    expect(dependencyCycle([cm("a", ["b"]), cm("b", ["c"]), cm("c", ["a"])])).toEqual(["a", "b", "c", "a"]);
    expect(dependencyCycle(checks)).toBeUndefined();
  });
});
