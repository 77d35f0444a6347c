import { describe, expect, it } from "vitest";
import { parseRoute, splitClusterPrefix } from "./route.ts";

describe("parseRoute", () => {
  it.each([
    ["/version", { kind: "version" }],
    ["/readyz", { kind: "health" }],
    ["/api", { kind: "api-root" }],
    ["/apis", { kind: "apis-root" }],
    ["/apis/apps", { kind: "group", group: "apps" }],
    ["/api/v1", { kind: "group-version", group: "", version: "v1" }],
    ["/openapi/v3", { kind: "openapi-v3-root" }],
    [
      "/openapi/v3/apis/projectcalico.org/v3",
      { kind: "openapi-v3-gv", group: "projectcalico.org", version: "v3" },
    ],
    [
      "/api/v1/namespaces",
      { kind: "resource", group: "", version: "v1", plural: "namespaces", watchPrefix: false },
    ],
    [
      "/api/v1/namespaces/demo",
      { kind: "resource", group: "", version: "v1", plural: "namespaces", name: "demo", watchPrefix: false },
    ],
    [
      "/api/v1/namespaces/demo/status",
      {
        kind: "resource",
        group: "",
        version: "v1",
        plural: "namespaces",
        name: "demo",
        subresource: "status",
        watchPrefix: false,
      },
    ],
    [
      "/api/v1/namespaces/demo/pods",
      { kind: "resource", group: "", version: "v1", plural: "pods", namespace: "demo", watchPrefix: false },
    ],
    [
      "/api/v1/namespaces/demo/pods/web/exec",
      {
        kind: "resource",
        group: "",
        version: "v1",
        plural: "pods",
        namespace: "demo",
        name: "web",
        subresource: "exec",
        watchPrefix: false,
      },
    ],
    [
      "/apis/apps/v1/watch/namespaces/d/deployments",
      {
        kind: "resource",
        group: "apps",
        version: "v1",
        plural: "deployments",
        namespace: "d",
        watchPrefix: true,
      },
    ],
    ["/egresslab/v1/flows", { kind: "egresslab", path: "/egresslab/v1/flows" }],
    [
      "/api/v1/namespaces/calico-system/services/whisker:8081/proxy/whisker-backend/flows",
      {
        kind: "resource",
        group: "",
        version: "v1",
        plural: "services",
        namespace: "calico-system",
        name: "whisker:8081",
        subresource: "proxy",
        proxyPath: "/whisker-backend/flows",
        watchPrefix: false,
      },
    ],
    ["/api/v1/namespaces/shop/services/web/status/extra", { kind: "unknown" }],
    ["/api/v1/namespaces/a/pods/b/c/d", { kind: "unknown" }],
    ["/nope", { kind: "unknown" }],
  ])("%s", (p, want) => {
    const got = parseRoute(p) as Record<string, unknown>;
    for (const k of Object.keys(got)) if (got[k] === undefined) delete got[k];
    expect(got).toEqual(want);
  });
});

describe("splitClusterPrefix", () => {
  it.each([
    ["/clusters/a1/api/v1/pods", { clusterId: "a1", path: "/api/v1/pods" }],
    ["/clusters/a1", { clusterId: "a1", path: "/" }],
    ["/api/v1/pods", { path: "/api/v1/pods" }],
    ["/clustersx/a/api", { path: "/clustersx/a/api" }],
  ])("%s", (p, want) => {
    expect(splitClusterPrefix(p)).toEqual(want);
  });
});
