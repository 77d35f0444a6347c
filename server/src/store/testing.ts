/**
 * Test helpers: a bare ClusterApi (no controllers) of an edition, with the engine's Calico validator.
 */
import { validateCalicoObject } from "../calico/validate.ts";
import { VirtualClock } from "../shared/clock.ts";
import type { CalicoEdition } from "../sim/types.ts";
import { SimClusterApi } from "./cluster-api.ts";
import { MemoryStore } from "./object-store.ts";
import { createRandom } from "./random.ts";
import { createRegistry, type Registry } from "./registry/index.ts";
import type { ResourceType } from "./types.ts";
import type { QuotaLimits } from "./quota.ts";

export interface TestApi {
  api: SimClusterApi;
  store: MemoryStore;
  registry: Registry;
  clock: VirtualClock;
  /** The type named by plural, short name or kind (throws when not served). */
  t(name: string, group?: string): ResourceType;
}

export function testApi(
  edition: CalicoEdition = "enterprise",
  namespaces: string[] = ["default"],
  quota?: QuotaLimits,
): TestApi {
  const clock = new VirtualClock(Date.UTC(2026, 0, 1));
  const registry = createRegistry(edition, () => clock.now());
  const store = new MemoryStore();
  const api = new SimClusterApi({
    store,
    registry,
    edition,
    clock,
    random: createRandom(7),
    validateCalico: validateCalicoObject,
    ...(quota ? { quota } : {}),
  });
  const t = (name: string, group?: string) => {
    const found = registry.find(name, group);
    if (!found) throw new Error(`${name} is not served`);
    return found;
  };
  for (const ns of namespaces)
    api.create(t("namespaces"), undefined, { apiVersion: "v1", kind: "Namespace", metadata: { name: ns } });
  api.create(t("tiers"), undefined, {
    apiVersion: "projectcalico.org/v3",
    kind: "Tier",
    metadata: { name: "default" },
    spec: { order: 1000000 },
  });
  return { api, store, registry, clock, t };
}
