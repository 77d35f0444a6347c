/**
 * Structural equality of JSON values, with `undefined` and `null` object members treated as absent (as the API
 * server's Go decoder does: a null field is the zero value).
 */
import { cloneJson, getOwn } from "../shared/object.ts";

export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== "object" || typeof b !== "object") return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!jsonEqual(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const ra = a as Record<string, unknown>;
  const rb = b as Record<string, unknown>;
  let na = 0;
  for (const k of Object.keys(ra)) {
    if (ra[k] === undefined || ra[k] === null) continue;
    na++;
    if (!jsonEqual(ra[k], getOwn(rb, k))) return false;
  }
  let nb = 0;
  for (const k of Object.keys(rb)) if (rb[k] !== undefined && rb[k] !== null) nb++;
  return na === nb;
}

/** Equal apart from `metadata.resourceVersion` and `metadata.managedFields`. */
export function sameObject(a: { metadata: object }, b: { metadata: object }): boolean {
  const { metadata: ma, ...ra } = a as { metadata: Record<string, unknown> };
  const { metadata: mb, ...rb } = b as { metadata: Record<string, unknown> };
  const { resourceVersion: _a1, managedFields: _a2, ...restA } = ma;
  const { resourceVersion: _b1, managedFields: _b2, ...restB } = mb;
  return jsonEqual(ra, rb) && jsonEqual(restA, restB);
}

/** A deep copy of a JSON value (faster than `structuredClone` for plain objects; `__proto__` stays a plain key). */
export { cloneJson };
