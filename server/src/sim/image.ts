/**
 * Cluster images: a frozen copy of one simulated cluster's state (its objects and its dataplane's rotations and flow
 * log), from which any number of identical clusters are made without replaying the profile, the controllers or a
 * lab's setup. Each cluster made from an image gets its own objects with their own uids, as separate real clusters
 * would (addresses and names repeat, as they do across separate clusters). The parts of an object that hold no uid
 * (its spec, status, data, labels, managed fields) stay shared with the image, frozen: stored objects are never changed
 * in place (every write replaces the object), so a copy costs little more than its objects' uids and owner references,
 * and a write through a shared part throws.
 */
import type { DataplaneState } from "../net/state.ts";
import type { KubeObject, ResourceKey } from "../store/types.ts";
import type { CalicoEdition } from "./types.ts";

export interface ClusterImage {
  profile: string;
  edition: CalicoEdition;
  seed: number;
  resourceVersion: number;
  /** Deep-frozen: a write through a shared reference throws instead of reaching every clone. */
  objects: Readonly<Record<ResourceKey, readonly KubeObject[]>>;
  dataplane?: DataplaneState;
}

/** What an image is captured from. */
export interface ImageSource {
  profile: string;
  edition: CalicoEdition;
  seed: number;
  snapshot(): { resourceVersion: number; objects: Record<ResourceKey, KubeObject[]> };
  dataplaneSnapshot?(): DataplaneState;
}

/** Freezes a copy of the cluster's current state. Later changes to the cluster do not reach the image. */
export function captureImage(c: ImageSource): ClusterImage {
  const s = c.snapshot();
  const dataplane = c.dataplaneSnapshot?.();
  return deepFreeze({
    profile: c.profile,
    edition: c.edition,
    seed: c.seed,
    resourceVersion: s.resourceVersion,
    objects: copy(s.objects, undefined),
    ...(dataplane ? { dataplane: copy(dataplane, undefined) } : {}),
  });
}

/**
 * The state of a new cluster made from `image`: new objects, every uid replaced by one from `newUid`. Each object and
 * its metadata are new, and so is any field holding a uid; the other fields are the image's (frozen).
 */
export function instantiateImage(
  image: ClusterImage,
  newUid: () => string,
): {
  resourceVersion: number;
  objects: Record<ResourceKey, KubeObject[]>;
  dataplane?: DataplaneState;
} {
  const uids = new Map<string, string>();
  for (const items of Object.values(image.objects))
    for (const o of items) if (o.metadata.uid?.length === 36) uids.set(o.metadata.uid, newUid());
  const objects: Record<ResourceKey, KubeObject[]> = {};
  for (const [key, items] of Object.entries(image.objects)) {
    objects[key] = items.map((o) => {
      const out = own(o, uids);
      out.metadata = own(o.metadata, uids);
      return out as unknown as KubeObject;
    });
  }
  return {
    resourceVersion: image.resourceVersion,
    objects,
    ...(image.dataplane ? { dataplane: copy(image.dataplane, undefined) } : {}),
  };
}

/**
 * A new object with the fields of `o` (an image object, or its metadata): those that hold one of the image's uids are
 * copied with the uids renamed, the others are `o`'s own (frozen) values.
 */
function own(o: object, uids: ReadonlyMap<string, string>): Record<string, unknown> {
  const from = o as Record<string, unknown>;
  let fields = uidFields.get(o);
  if (!fields) {
    fields = new Set(Object.keys(from).filter((f) => mentions(from[f], uids)));
    uidFields.set(o, fields);
  }
  const out: Record<string, unknown> = {};
  for (const f of Object.keys(from)) out[f] = fields.has(f) ? copy(from[f], uids) : from[f];
  return out;
}

/** Per image object (and metadata), the fields that hold one of the image's uids (found once per image). */
const uidFields = new WeakMap<object, Set<string>>();

function mentions(v: unknown, uids: ReadonlyMap<string, string>): boolean {
  if (typeof v === "string") return v.length === 36 && uids.has(v);
  if (v === null || typeof v !== "object") return false;
  for (const x of Object.values(v)) if (mentions(x, uids)) return true;
  return false;
}

/**
 * A deep copy of a JSON value in which every string that is a key of `rename` (an old uid, wherever it appears:
 * metadata, owner references, endpoint target references, events) becomes its value. Uids are UUIDs (36 characters);
 * other strings are not looked up.
 */
function copy<T>(v: T, rename: ReadonlyMap<string, string> | undefined): T {
  if (typeof v === "string") return (rename && v.length === 36 ? (rename.get(v) ?? v) : v) as T;
  if (v === null || typeof v !== "object") return v;
  if (Array.isArray(v)) {
    const out = new Array<unknown>(v.length);
    for (let i = 0; i < v.length; i++) out[i] = copy(v[i], rename);
    return out as T;
  }
  const out: Record<string, unknown> = {};
  for (const k in v as Record<string, unknown>) {
    const x = (v as Record<string, unknown>)[k];
    if (x !== undefined) out[k] = copy(x, rename);
  }
  return out as T;
}

function deepFreeze<T>(v: T): T {
  if (v === null || typeof v !== "object" || Object.isFrozen(v)) return v;
  for (const x of Object.values(v)) deepFreeze(x);
  return Object.freeze(v);
}
