/**
 * The system fields of `metadata` on every kind, as `rest.BeforeCreate`/`rest.BeforeUpdate` and
 * `ValidateObjectMetaAccessorUpdate` treat them: uid, creationTimestamp, deletionTimestamp,
 * deletionGracePeriodSeconds and generation belong to the server; requests cannot set or change them.
 */
import type { KubeObject } from "../types.ts";
import type { FieldError } from "../validation/errors.ts";
import { jsonEqual } from "../equal.ts";

type Meta = KubeObject["metadata"] & {
  deletionGracePeriodSeconds?: number;
  selfLink?: string;
};

/** Before create: whatever the request said, the object is not being deleted and has no server-assigned fields. */
export function prepareMetaForCreate(obj: KubeObject, sys: { uid: string; creationTimestamp: string }): void {
  const m = obj.metadata as Meta;
  delete m.deletionTimestamp;
  delete m.deletionGracePeriodSeconds;
  delete m.selfLink;
  delete m.resourceVersion;
  m.uid = sys.uid;
  m.creationTimestamp = sys.creationTimestamp;
}

/**
 * Before update (`rest.BeforeUpdate`): an empty uid is the stored one, the creation time and generation cannot be
 * changed, a deletion timestamp or grace period once set stays. What remains different is refused by
 * `validateMetaUpdate`.
 */
export function prepareMetaForUpdate(next: KubeObject, old: KubeObject): void {
  const m = next.metadata as Meta;
  const o = old.metadata as Meta;
  delete m.selfLink;
  if (!m.uid) m.uid = o.uid;
  if (o.creationTimestamp) m.creationTimestamp = o.creationTimestamp;
  if (o.deletionTimestamp) m.deletionTimestamp = o.deletionTimestamp;
  if (o.deletionGracePeriodSeconds !== undefined && m.deletionGracePeriodSeconds === undefined)
    m.deletionGracePeriodSeconds = o.deletionGracePeriodSeconds;
  if (o.generation !== undefined) m.generation = o.generation;
  else delete m.generation;
}

/** `ValidateObjectMetaAccessorUpdate`: immutable system fields, and no new finalizers while deleting. */
export function validateMetaUpdate(next: KubeObject, old: KubeObject): FieldError[] {
  const errs: FieldError[] = [];
  const m = next.metadata as Meta;
  const o = old.metadata as Meta;
  if (o.deletionTimestamp) {
    const added = (m.finalizers ?? []).filter((f) => !(o.finalizers ?? []).includes(f));
    if (added.length)
      errs.push({
        field: "metadata.finalizers",
        type: "Forbidden",
        detail: `no new finalizers can be added if the object is being deleted, found new finalizers []string{${added.map((f) => JSON.stringify(f)).join(", ")}}`,
      });
  }
  const immutable = (field: keyof Meta): void => {
    if (!jsonEqual(m[field] ?? null, o[field] ?? null))
      errs.push({
        field: `metadata.${field}`,
        type: "Invalid",
        value: m[field],
        detail: "field is immutable",
      });
  };
  immutable("uid");
  immutable("creationTimestamp");
  immutable("deletionTimestamp");
  immutable("deletionGracePeriodSeconds");
  return errs;
}
