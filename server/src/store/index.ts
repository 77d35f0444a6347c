/**
 * The object store, resource registry and `ClusterApi` of the simulated cluster.
 */
export { MemoryStore, type WatchFilter } from "./object-store.ts";
export {
  SimClusterApi,
  toScale,
  type AdmissionHook,
  type AdmissionContext,
  type SimApiOptions,
} from "./cluster-api.ts";
export { createRegistry, apiVersionOf, type Registry } from "./registry/index.ts";
export { parseLabelSelector, matchesLabels, fromLabelSelectorObject, fromMap } from "./selectors.ts";
export { createRandom, podTemplateHash, type Random } from "./random.ts";
export { qualifiedResource, qualifiedKind } from "./validation/errors.ts";
export * from "./types.ts";
export { timestamp } from "../shared/object.ts";
