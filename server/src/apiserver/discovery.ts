/**
 * Discovery documents built from a cluster's resource types: legacy (`APIVersions`, `APIGroupList`, `APIGroup`,
 * `APIResourceList`) and aggregated (`APIGroupDiscoveryList`, apidiscovery.k8s.io v2 and v2beta1).
 */
import type { ResourceType } from "../store/types.ts";

interface GroupVersion {
  group: string;
  versions: string[];
}

/** The groups served, in first-seen order, each with its versions (the first is preferred). */
export function groupsOf(types: readonly ResourceType[]): GroupVersion[] {
  const out: GroupVersion[] = [];
  for (const t of types) {
    let g = out.find((x) => x.group === t.group);
    if (!g) out.push((g = { group: t.group, versions: [] }));
    if (!g.versions.includes(t.version)) g.versions.push(t.version);
  }
  return out;
}

const gv = (group: string, version: string): string => (group ? `${group}/${version}` : version);

interface SubresourceInfo {
  group: string;
  version: string;
  kind: string;
  verbs: string[];
}

/** What each subresource returns and which verbs it takes, as the real API server declares them. */
export function subresourceInfo(t: ResourceType, sub: string): SubresourceInfo {
  switch (sub) {
    case "status":
      return { group: t.group, version: t.version, kind: t.kind, verbs: ["get", "patch", "update"] };
    case "scale":
      return { group: "autoscaling", version: "v1", kind: "Scale", verbs: ["get", "patch", "update"] };
    case "exec":
      return { group: "", version: "v1", kind: "PodExecOptions", verbs: ["create", "get"] };
    case "attach":
      return { group: "", version: "v1", kind: "PodAttachOptions", verbs: ["create", "get"] };
    case "portforward":
      return { group: "", version: "v1", kind: "PodPortForwardOptions", verbs: ["create", "get"] };
    case "log":
      return { group: "", version: "v1", kind: "Pod", verbs: ["get"] };
    case "eviction":
      return { group: "policy", version: "v1", kind: "Eviction", verbs: ["create"] };
    default:
      return { group: t.group, version: t.version, kind: t.kind, verbs: ["get"] };
  }
}

export function apiVersions(serverAddress: string): Record<string, unknown> {
  return {
    kind: "APIVersions",
    versions: ["v1"],
    serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress }],
  };
}

function apiGroup(g: GroupVersion): Record<string, unknown> {
  const versions = g.versions.map((v) => ({ groupVersion: gv(g.group, v), version: v }));
  return { name: g.group, versions, preferredVersion: versions[0] };
}

export function apiGroupList(types: readonly ResourceType[]): Record<string, unknown> {
  return {
    kind: "APIGroupList",
    apiVersion: "v1",
    groups: groupsOf(types)
      .filter((g) => g.group !== "")
      .map(apiGroup),
  };
}

export function apiGroupDoc(
  types: readonly ResourceType[],
  group: string,
): Record<string, unknown> | undefined {
  const g = groupsOf(types).find((x) => x.group === group && group !== "");
  return g ? { kind: "APIGroup", apiVersion: "v1", ...apiGroup(g) } : undefined;
}

export function apiResourceList(
  types: readonly ResourceType[],
  group: string,
  version: string,
): Record<string, unknown> | undefined {
  const mine = types.filter((t) => t.group === group && t.version === version);
  if (mine.length === 0) return undefined;
  const resources: Record<string, unknown>[] = [];
  for (const t of mine) {
    resources.push({
      name: t.plural,
      singularName: t.singular,
      namespaced: t.namespaced,
      kind: t.kind,
      verbs: t.verbs,
      ...(t.shortNames.length ? { shortNames: t.shortNames } : {}),
      ...(t.categories.length ? { categories: t.categories } : {}),
    });
    for (const sub of t.subresources) {
      const info = subresourceInfo(t, sub);
      resources.push({
        name: `${t.plural}/${sub}`,
        singularName: "",
        namespaced: t.namespaced,
        ...(info.group !== t.group || info.version !== t.version
          ? { group: info.group, version: info.version }
          : {}),
        kind: info.kind,
        verbs: info.verbs,
      });
    }
  }
  return { kind: "APIResourceList", apiVersion: "v1", groupVersion: gv(group, version), resources };
}

function resourceDiscovery(t: ResourceType): Record<string, unknown> {
  return {
    resource: t.plural,
    responseKind: { group: t.group, version: t.version, kind: t.kind },
    scope: t.namespaced ? "Namespaced" : "Cluster",
    singularResource: t.singular,
    verbs: t.verbs,
    ...(t.shortNames.length ? { shortNames: t.shortNames } : {}),
    ...(t.categories.length ? { categories: t.categories } : {}),
    ...(t.subresources.length
      ? {
          subresources: t.subresources.map((sub) => {
            const info = subresourceInfo(t, sub);
            return {
              subresource: sub,
              responseKind: { group: info.group, version: info.version, kind: info.kind },
              verbs: info.verbs,
            };
          }),
        }
      : {}),
  };
}

/** The aggregated discovery document for `/api` (core: true) or `/apis` (core: false). */
export function aggregatedDiscovery(
  types: readonly ResourceType[],
  core: boolean,
  apiVersion: "v2" | "v2beta1",
): Record<string, unknown> {
  const items = groupsOf(types)
    .filter((g) => (g.group === "") === core)
    .map((g) => ({
      metadata: core ? { creationTimestamp: null } : { name: g.group, creationTimestamp: null },
      versions: g.versions.map((v) => ({
        version: v,
        resources: types.filter((t) => t.group === g.group && t.version === v).map(resourceDiscovery),
        freshness: "Current",
      })),
    }));
  return {
    kind: "APIGroupDiscoveryList",
    apiVersion: `apidiscovery.k8s.io/${apiVersion}`,
    metadata: {},
    items,
  };
}

/** Which aggregated discovery version the client accepts, if any (in the client's order of preference). */
export function wantsAggregated(accept: string | undefined): "v2" | "v2beta1" | undefined {
  if (!accept) return undefined;
  for (const part of accept.split(",")) {
    const params = new Map(
      part
        .split(";")
        .slice(1)
        .map((kv) => {
          const [k, v] = kv.trim().split("=");
          return [k ?? "", v ?? ""] as const;
        }),
    );
    if (params.get("g") === "apidiscovery.k8s.io" && params.get("as") === "APIGroupDiscoveryList") {
      const v = params.get("v");
      if (v === "v2" || v === "v2beta1") return v;
    }
  }
  return undefined;
}

export function aggregatedContentType(v: "v2" | "v2beta1"): string {
  return `application/json;g=apidiscovery.k8s.io;v=${v};as=APIGroupDiscoveryList`;
}
