/**
 * The OpenAPI schemas of the built-in Kubernetes kinds, resolved from `k8s-schemas.json` (generated from the models of
 * `@kubernetes/client-node` by `generate-k8s-schemas.ts`) with the strategic-merge-patch extensions the real API server
 * publishes added back.
 */
import { createRequire } from "node:module";
import type { JsonSchema } from "../types.ts";

const require = createRequire(import.meta.url);
const definitions = require("./k8s-schemas.json") as Record<string, JsonSchema>;

type PatchInfo = { strategy: string; key?: string; listType?: string; mapKeys?: string[] };

/** `x-kubernetes-patch-strategy` / `x-kubernetes-patch-merge-key` as the Kubernetes OpenAPI has them. */
const patchInfo: Record<string, PatchInfo> = {
  "V1ObjectMeta.ownerReferences": { strategy: "merge", key: "uid", listType: "map", mapKeys: ["uid"] },
  "V1ObjectMeta.finalizers": { strategy: "merge", listType: "set" },
  "V1PodSpec.containers": { strategy: "merge", key: "name", listType: "map", mapKeys: ["name"] },
  "V1PodSpec.initContainers": { strategy: "merge", key: "name", listType: "map", mapKeys: ["name"] },
  "V1PodSpec.ephemeralContainers": { strategy: "merge", key: "name", listType: "map", mapKeys: ["name"] },
  "V1PodSpec.volumes": { strategy: "merge,retainKeys", key: "name", listType: "map", mapKeys: ["name"] },
  "V1PodSpec.imagePullSecrets": { strategy: "merge", key: "name", listType: "map", mapKeys: ["name"] },
  "V1PodSpec.hostAliases": { strategy: "merge", key: "ip", listType: "map", mapKeys: ["ip"] },
  "V1PodSpec.topologySpreadConstraints": {
    strategy: "merge",
    key: "topologyKey",
    listType: "map",
    mapKeys: ["topologyKey", "whenUnsatisfiable"],
  },
  "V1PodSpec.resourceClaims": {
    strategy: "merge,retainKeys",
    key: "name",
    listType: "map",
    mapKeys: ["name"],
  },
  "V1PodSpec.schedulingGates": { strategy: "merge", key: "name", listType: "map", mapKeys: ["name"] },
  "V1Container.ports": {
    strategy: "merge",
    key: "containerPort",
    listType: "map",
    mapKeys: ["containerPort", "protocol"],
  },
  "V1Container.env": { strategy: "merge", key: "name", listType: "map", mapKeys: ["name"] },
  "V1Container.volumeMounts": {
    strategy: "merge",
    key: "mountPath",
    listType: "map",
    mapKeys: ["mountPath"],
  },
  "V1Container.volumeDevices": {
    strategy: "merge",
    key: "devicePath",
    listType: "map",
    mapKeys: ["devicePath"],
  },
  "V1EphemeralContainer.ports": {
    strategy: "merge",
    key: "containerPort",
    listType: "map",
    mapKeys: ["containerPort", "protocol"],
  },
  "V1EphemeralContainer.env": { strategy: "merge", key: "name", listType: "map", mapKeys: ["name"] },
  "V1EphemeralContainer.volumeMounts": {
    strategy: "merge",
    key: "mountPath",
    listType: "map",
    mapKeys: ["mountPath"],
  },
  "V1ServiceSpec.ports": { strategy: "merge", key: "port", listType: "map", mapKeys: ["port", "protocol"] },
  "V1PodStatus.conditions": { strategy: "merge", key: "type", listType: "map", mapKeys: ["type"] },
  "V1PodStatus.podIPs": { strategy: "merge", key: "ip", listType: "map", mapKeys: ["ip"] },
  "V1PodStatus.hostIPs": { strategy: "merge", key: "ip", listType: "atomic" },
  "V1NodeStatus.addresses": { strategy: "merge", key: "type", listType: "map", mapKeys: ["type"] },
  "V1NodeStatus.conditions": { strategy: "merge", key: "type", listType: "map", mapKeys: ["type"] },
  "V1NodeSpec.podCIDRs": { strategy: "merge", listType: "set" },
  "V1DeploymentSpec.strategy": { strategy: "retainKeys" },
  "V1DeploymentStatus.conditions": { strategy: "merge", key: "type", listType: "map", mapKeys: ["type"] },
  "V1ReplicaSetStatus.conditions": { strategy: "merge", key: "type", listType: "map", mapKeys: ["type"] },
  "V1DaemonSetStatus.conditions": { strategy: "merge", key: "type", listType: "map", mapKeys: ["type"] },
  "V1NamespaceStatus.conditions": { strategy: "merge", key: "type", listType: "map", mapKeys: ["type"] },
  "V1ServiceStatus.conditions": { strategy: "merge", key: "type", listType: "map", mapKeys: ["type"] },
  "V1PodDisruptionBudgetStatus.conditions": {
    strategy: "merge",
    key: "type",
    listType: "map",
    mapKeys: ["type"],
  },
  "V1PersistentVolumeClaimStatus.conditions": {
    strategy: "merge",
    key: "type",
    listType: "map",
    mapKeys: ["type"],
  },
  "V1ServiceAccount.secrets": { strategy: "merge", key: "name", listType: "map", mapKeys: ["name"] },
};

/** Map fields whose values are `resource.Quantity` (a number or a string such as `100m`, `1Gi`). */
const quantityMaps = new Set(["limits", "requests", "capacity", "allocatable", "overhead", "hard", "used"]);
const quantityScalars = new Set(["V1EmptyDirVolumeSource.sizeLimit"]);

const cache = new Map<string, JsonSchema>();

/** The Go struct behind a resolved schema (`ObjectMeta`, `LabelSelector`, …), for the decoder's error messages. */
export const goStructNames = new WeakMap<JsonSchema, string>();
const structName = (model: string) =>
  model.replace(/^(V\d+(alpha\d+|beta\d+)?|CoreV1|EventsV1|DiscoveryV1)/, "");

function resolve(schema: JsonSchema, owner: string, field: string, stack: string[]): JsonSchema {
  const ref = schema.$ref as string | undefined;
  if (ref) {
    const resolved = k8sSchema(ref, stack);
    if (!schema.description) return resolved;
    const described = { ...resolved, description: schema.description };
    goStructNames.set(described, structName(ref));
    return described;
  }
  let out: JsonSchema = { ...schema };
  if (out.type === "array" && out.items) out.items = resolve(out.items as JsonSchema, owner, "", stack);
  if (out.type === "object" && out.additionalProperties && typeof out.additionalProperties === "object") {
    out.additionalProperties = quantityMaps.has(field)
      ? { "x-kubernetes-int-or-string": true, format: "quantity" }
      : resolve(out.additionalProperties as JsonSchema, owner, "", stack);
  }
  if (quantityScalars.has(`${owner}.${field}`))
    out = { "x-kubernetes-int-or-string": true, format: "quantity" };
  const p = patchInfo[`${owner}.${field}`];
  if (p) {
    out["x-kubernetes-patch-strategy"] = p.strategy;
    if (p.key) out["x-kubernetes-patch-merge-key"] = p.key;
    if (p.listType) out["x-kubernetes-list-type"] = p.listType;
    if (p.mapKeys) out["x-kubernetes-list-map-keys"] = p.mapKeys;
  }
  return out;
}

/** The fully inlined schema of a client-node model (`V1Pod`, `V1PodSpec`, …). Cached; do not mutate. */
export function k8sSchema(model: string, stack: string[] = []): JsonSchema {
  const hit = cache.get(model);
  if (hit) return hit;
  const def = definitions[model];
  if (!def) throw new Error(`unknown Kubernetes model ${model}`);
  if (stack.includes(model)) return { type: "object", "x-kubernetes-preserve-unknown-fields": true };
  const next = [...stack, model];
  const props = (def.properties as Record<string, JsonSchema> | undefined) ?? {};
  const properties: Record<string, JsonSchema> = {};
  for (const [name, s] of Object.entries(props)) properties[name] = resolve(s, model, name, next);
  const out: JsonSchema = { ...def, properties };
  goStructNames.set(out, structName(model));
  cache.set(model, out);
  return out;
}

/** A top-level kind's schema with its group/version/kind marker. */
export function k8sKindSchema(model: string, group: string, version: string, kind: string): JsonSchema {
  const out = { ...k8sSchema(model), "x-kubernetes-group-version-kind": [{ group, version, kind }] };
  goStructNames.set(out, kind);
  return out;
}
