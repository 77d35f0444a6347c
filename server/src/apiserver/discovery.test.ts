import { describe, expect, it } from "vitest";
import { aggregatedDiscovery, apiGroupList, apiResourceList, wantsAggregated } from "./discovery.ts";
import { fakeTypes } from "../../../test/helpers/fake-cluster.ts";

describe("discovery", () => {
  const types = fakeTypes();
  it("negotiates aggregated discovery only when asked for exactly", () => {
    expect(
      wantsAggregated(
        "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json",
      ),
    ).toBe("v2");
    expect(wantsAggregated("application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList")).toBe(
      "v2beta1",
    );
    expect(wantsAggregated("application/json")).toBeUndefined();
    expect(wantsAggregated(undefined)).toBeUndefined();
  });
  it("lists the core group under /api and the others under /apis", () => {
    const core = aggregatedDiscovery(types, true, "v2") as {
      items: { versions: { resources: { resource: string }[] }[] }[];
    };
    expect(core.items).toHaveLength(1);
    expect(core.items[0]!.versions[0]!.resources.map((r) => r.resource)).toEqual([
      "namespaces",
      "pods",
      "configmaps",
    ]);
    const apis = aggregatedDiscovery(types, false, "v2") as { items: { metadata: { name: string } }[] };
    expect(apis.items.map((i) => i.metadata.name)).toEqual([
      "apps",
      "projectcalico.org",
      "operator.tigera.io",
    ]);
    expect((apiGroupList(types).groups as { name: string }[]).map((g) => g.name)).toEqual([
      "apps",
      "projectcalico.org",
      "operator.tigera.io",
    ]);
  });
  it("declares subresources with their kinds and verbs", () => {
    const list = apiResourceList(types, "apps", "v1") as { resources: Record<string, unknown>[] };
    expect(list.resources.find((r) => r.name === "deployments/scale")).toMatchObject({
      group: "autoscaling",
      version: "v1",
      kind: "Scale",
      verbs: ["get", "patch", "update"],
    });
    const core = apiResourceList(types, "", "v1") as { resources: Record<string, unknown>[] };
    expect(core.resources.find((r) => r.name === "pods/exec")).toMatchObject({
      kind: "PodExecOptions",
      verbs: ["create", "get"],
    });
    expect(core.resources.find((r) => r.name === "pods")).toMatchObject({
      shortNames: ["po"],
      categories: ["all"],
      namespaced: true,
    });
    expect(apiResourceList(types, "nope", "v1")).toBeUndefined();
  });
});
