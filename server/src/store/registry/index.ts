/**
 * The resource registry: every kind a cluster serves, per edition, with lookup by plural, singular, short name or kind.
 */
import type { CalicoEdition } from "../../sim/types.ts";
import { resourceKey, type ResourceKey, type ResourceType } from "../types.ts";
import { calicoTypes, operatorTypes } from "./calico.ts";
import type { Now } from "./columns.ts";
import { coreTypes } from "./core.ts";
import { rbacTypes } from "./rbac.ts";

export interface Registry {
  /** Every served kind, in discovery order. */
  readonly types: ResourceType[];
  /** Finds a type by plural, singular, short name or kind (case-insensitive), optionally within a group. */
  find(nameOrKind: string, group?: string): ResourceType | undefined;
  /** Finds the type of an object from its `apiVersion` and `kind`. */
  byKind(apiVersion: string, kind: string): ResourceType | undefined;
  /** Finds the type stored under a resource key (`core/pods`, `projectcalico.org/tiers`). */
  byKey(key: ResourceKey): ResourceType | undefined;
}

export function createRegistry(edition: CalicoEdition, now: Now = Date.now): Registry {
  const types = [...coreTypes(now), ...rbacTypes(now), ...calicoTypes(edition, now), ...operatorTypes(now)];
  const keyed = new Map<ResourceKey, ResourceType>();
  for (const t of types) if (!keyed.has(resourceKey(t))) keyed.set(resourceKey(t), t);
  return {
    types,
    find(nameOrKind, group) {
      const n = nameOrKind.toLowerCase();
      const candidates = group === undefined ? types : types.filter((t) => t.group === group);
      return (
        candidates.find((t) => t.plural === n) ??
        candidates.find((t) => t.singular === n) ??
        candidates.find((t) => t.shortNames.includes(n)) ??
        candidates.find((t) => t.kind.toLowerCase() === n)
      );
    },
    byKind(apiVersion, kind) {
      const [group, version] = apiVersion.includes("/") ? apiVersion.split("/", 2) : ["", apiVersion];
      return types.find((t) => t.group === group && t.version === version && t.kind === kind);
    },
    byKey: (key) => keyed.get(key),
  };
}

/** `group/version` as written in `apiVersion`. */
export function apiVersionOf(t: Pick<ResourceType, "group" | "version">): string {
  return t.group ? `${t.group}/${t.version}` : t.version;
}
