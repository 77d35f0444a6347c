/**
 * Feeds the policy engine from the store, in the spirit of Felix's syncer: a full snapshot first, then every change
 * of the kinds that policy evaluation depends on.
 */
import type { ObjectStore, StoreChange } from "../store/types.ts";
import type { PolicyDecider } from "./policy.ts";

const CORE = [
  "core/pods",
  "core/namespaces",
  "core/serviceaccounts",
  "core/services",
  "core/endpoints",
  "core/nodes",
];
const GROUPS = [
  "projectcalico.org/",
  "networking.k8s.io/",
  "policy.networking.k8s.io/",
  "crd.projectcalico.org/",
  "discovery.k8s.io/",
];

/** Whether changes to a resource matter to policy evaluation. */
export function policyRelevant(key: string): boolean {
  return CORE.includes(key) || GROUPS.some((g) => key.startsWith(g));
}

/** Loads every relevant object into the engine, then keeps it in step; returns the unsubscribe function. */
export function syncEngine(store: ObjectStore, engine: PolicyDecider, keys: readonly string[]): () => void {
  for (const key of keys) if (policyRelevant(key)) for (const obj of store.list(key)) engine.upsert(obj);
  return store.subscribe((c: StoreChange) => {
    if (!policyRelevant(c.key)) return;
    if (c.type === "DELETED") engine.remove(c.object);
    else if (c.type === "ADDED" || c.type === "MODIFIED") engine.upsert(c.object);
  });
}
