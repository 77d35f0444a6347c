/** Deployments, ReplicaSets, DaemonSets, Services and Pods: the fields an update may not change. */
import { stableStringify } from "../random.ts";
import { cloneJson } from "../../shared/object.ts";
import type { FieldError } from "../validation/errors.ts";
import type { Strategy } from "./types.ts";

type Spec = { selector?: unknown; clusterIP?: string; clusterIPs?: string[] };
const specOf = (o: unknown): Spec | undefined => (o as { spec?: Spec }).spec;

/** `spec.selector` is immutable in apps/v1 (Deployments and DaemonSets; ReplicaSets are managed by their owners). */
export function workloadStrategy(selectorImmutable: boolean): Strategy {
  return {
    tracksGeneration: true,
    validateUpdate(next, old) {
      if (!selectorImmutable) return [];
      const n = specOf(next)?.selector;
      if (stableStringify(specOf(old)?.selector) === stableStringify(n)) return [];
      return [{ field: "spec.selector", type: "Invalid", value: n, detail: "field is immutable" }];
    },
  };
}

export const serviceStrategy: Strategy = {
  tracksGeneration: false,
  prepareForUpdate(next, old) {
    // An update without a cluster IP keeps the allocated one.
    const oldIP = specOf(old)?.clusterIP;
    const n = specOf(next);
    if (oldIP && n && (n.clusterIP === undefined || n.clusterIP === "")) {
      n.clusterIP = oldIP;
      n.clusterIPs = specOf(old)?.clusterIPs ?? [oldIP];
    }
  },
  validateUpdate(next, old) {
    const oldIP = specOf(old)?.clusterIP;
    const newIP = specOf(next)?.clusterIP;
    if (oldIP && newIP !== undefined && newIP !== "" && newIP !== oldIP)
      return [
        { field: "spec.clusterIPs[0]", type: "Invalid", value: [newIP], detail: "may not change once set" },
      ];
    return [];
  },
};

type PodSpec = Record<string, unknown> & {
  containers?: { image?: unknown }[];
  initContainers?: { image?: unknown }[];
};

/** A pod's spec, less the fields an update may change. */
function mutablePart(s: unknown): string {
  const c = cloneJson((s ?? {}) as PodSpec);
  for (const ct of c.containers ?? []) delete ct.image;
  for (const ct of c.initContainers ?? []) delete ct.image;
  delete c.activeDeadlineSeconds;
  delete c.tolerations;
  delete c.terminationGracePeriodSeconds;
  return stableStringify(c);
}

export const podStrategy: Strategy = {
  tracksGeneration: false,
  validateUpdate(next, old): FieldError[] {
    if (mutablePart(specOf(old)) === mutablePart(specOf(next))) return [];
    return [
      {
        field: "spec",
        type: "Forbidden",
        detail:
          "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
      },
    ];
  },
};
