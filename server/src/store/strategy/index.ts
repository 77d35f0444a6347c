/**
 * The strategy of each kind (see `types.ts`): one place that says what the server owns, validates and keeps
 * immutable per kind. Kinds without special rules get the default for their group.
 */
import { resourceKey, type ResourceType } from "../types.ts";
import { configMapStrategy, secretStrategy } from "./configmap.ts";
import { ingressStrategy } from "./ingress.ts";
import { podDisruptionBudgetStrategy } from "./poddisruptionbudget.ts";
import { persistentVolumeClaimStrategy } from "./persistentvolumeclaim.ts";
import type { Strategy } from "./types.ts";
import { podStrategy, serviceStrategy, workloadStrategy } from "./workloads.ts";

export type { Strategy } from "./types.ts";
export { prepareMetaForCreate, prepareMetaForUpdate, validateMetaUpdate } from "./meta.ts";

/** Groups whose kinds track `metadata.generation`. */
const GENERATION_GROUPS = new Set(["apps", "networking.k8s.io", "projectcalico.org", "operator.tigera.io"]);

const BY_KEY: ReadonlyMap<string, Strategy> = new Map<string, Strategy>([
  ["core/configmaps", configMapStrategy],
  ["core/secrets", secretStrategy],
  ["core/services", serviceStrategy],
  ["core/pods", podStrategy],
  ["apps/deployments", workloadStrategy(true)],
  ["apps/daemonsets", workloadStrategy(true)],
  ["apps/replicasets", workloadStrategy(false)],
  ["networking.k8s.io/ingresses", ingressStrategy],
  ["policy/poddisruptionbudgets", podDisruptionBudgetStrategy],
  ["core/persistentvolumeclaims", persistentVolumeClaimStrategy],
]);

const GENERATION: Strategy = { tracksGeneration: true };
const PLAIN: Strategy = { tracksGeneration: false };

/** The strategy for a kind. */
export function strategyFor(type: ResourceType): Strategy {
  return BY_KEY.get(resourceKey(type)) ?? (GENERATION_GROUPS.has(type.group) ? GENERATION : PLAIN);
}
