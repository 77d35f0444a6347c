/**
 * PersistentVolumeClaims (`pkg/registry/core/persistentvolumeclaim/strategy.go`, `pkg/apis/core/validation`:
 * ValidatePersistentVolumeClaimSpec and ValidatePersistentVolumeClaimUpdate). The server owns the status; the simulated
 * cluster has no provisioner, so every claim stays `Pending` and never gets a volume. At least one access mode from the
 * supported set is required (ReadWriteOncePod alone), `resources.requests.storage` must be a positive quantity, and the
 * spec is immutable once created except a bound claim's requests (expansion), which no claim here ever is.
 */
import type { KubeObject } from "../types.ts";
import type { FieldError } from "../validation/errors.ts";
import { isDeepStrictEqual } from "node:util";
import { asArray, asObject, type JsonObject } from "../../shared/object.ts";
import type { Strategy } from "./types.ts";

const ACCESS_MODES = ["ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"];
const VOLUME_MODES = ["Block", "Filesystem"];

/** Multipliers of `resource.Quantity`'s suffixes, enough to tell zero or negative from positive. */
function quantitySign(q: unknown): number {
  if (typeof q === "number") return Math.sign(q);
  const m = /^([+-]?[0-9.]+)/.exec(String(q).trim());
  return m ? Math.sign(Number(m[1])) : 0;
}

/** `ValidatePersistentVolumeClaimSpec`. */
export function validatePvcSpec(spec: JsonObject): FieldError[] {
  const errs: FieldError[] = [];
  const modes = asArray(spec.accessModes);
  if (!modes.length)
    errs.push({ field: "spec.accessModes", type: "Required", detail: "at least 1 access mode is required" });
  for (const mode of modes)
    if (!ACCESS_MODES.includes(String(mode)))
      errs.push({ field: "spec.accessModes", type: "NotSupported", value: mode, supported: ACCESS_MODES });
  if (modes.includes("ReadWriteOncePod") && modes.length > 1)
    errs.push({
      field: "spec.accessModes",
      type: "Forbidden",
      detail: "may not use ReadWriteOncePod with other access modes",
    });
  const requests = asObject(asObject(spec.resources).requests);
  const storage = requests.storage;
  if (storage === undefined || storage === null)
    errs.push({ field: "spec.resources[storage]", type: "Required" });
  else if (quantitySign(storage) <= 0)
    errs.push({
      field: "spec.resources[storage]",
      type: "Invalid",
      value: String(storage),
      detail: "must be greater than zero",
    });
  const mode = spec.volumeMode;
  if (mode !== undefined && mode !== null && !VOLUME_MODES.includes(String(mode)))
    errs.push({ field: "spec.volumeMode", type: "NotSupported", value: mode, supported: VOLUME_MODES });
  return errs;
}

/** The fields of a spec that differ, one `path: old -> new` line each (upstream prints a `cmp.Diff`). */
function specDiff(old: JsonObject, next: JsonObject): string {
  const keys = [...new Set([...Object.keys(old), ...Object.keys(next)])].sort();
  return keys
    .filter((k) => !isDeepStrictEqual(old[k], next[k]))
    .map((k) => `  spec.${k}: ${JSON.stringify(old[k] ?? null)} -> ${JSON.stringify(next[k] ?? null)}`)
    .join("\n");
}

const BINARY: Record<string, number> = { Ki: 1, Mi: 2, Ti: 4, Gi: 3, Pi: 5, Ei: 6 };
const DECIMAL: Record<string, number> = { n: -9, u: -6, m: -3, "": 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };

/** A quantity as an exact fraction [numerator, denominator], or undefined when it does not parse. */
function quantityValue(q: unknown): [bigint, bigint] | undefined {
  if (typeof q === "number") return Number.isInteger(q) ? [BigInt(q), 1n] : quantityValue(String(q));
  const m = /^([+-]?)([0-9]*)(?:\.([0-9]*))?([a-zA-Z]*)([+-]?[0-9]*)$/.exec(String(q).trim());
  if (!m) return undefined;
  const [, sign, whole, frac = "", letters, expDigits] = m;
  let num = BigInt(`${sign}${whole || "0"}${frac}`);
  let den = 10n ** BigInt(frac.length);
  const suffix = `${letters}${expDigits}`;
  let exp10 = 0;
  if (letters! in BINARY && !expDigits) num *= 1024n ** BigInt(BINARY[letters!]!);
  else if (letters! in DECIMAL && !expDigits) exp10 = DECIMAL[letters!]!;
  else if (/^[eE][+-]?[0-9]+$/.test(suffix) && Math.abs(Number(suffix.slice(1))) <= 1000)
    exp10 = Number(suffix.slice(1));
  else return undefined;
  if (exp10 >= 0) num *= 10n ** BigInt(exp10);
  else den *= 10n ** BigInt(-exp10);
  return [num, den];
}

/** `Semantic.DeepEqual` compares quantities by value: `1Gi` and `1024Mi` are the same request. */
function sameQuantity(a: unknown, b: unknown): boolean {
  const x = quantityValue(a);
  const y = quantityValue(b);
  return x !== undefined && y !== undefined && x[0] * y[1] === y[0] * x[1];
}

/** `next`'s resource lists with each quantity equal in value to `old`'s replaced by `old`'s spelling. */
function alignQuantities(next: unknown, old: unknown): unknown {
  if (next === null || typeof next !== "object" || old === null || typeof old !== "object") return next;
  const out: JsonObject = { ...asObject(next) };
  for (const list of ["requests", "limits"]) {
    const n = asObject(out[list]);
    const o = asObject(asObject(old)[list]);
    if (out[list] === undefined) continue;
    out[list] = Object.fromEntries(
      Object.entries(n).map(([k, v]) => [k, k in o && sameQuantity(v, o[k]) ? o[k] : v]),
    ) as JsonObject;
  }
  return out;
}

/** `ValidatePersistentVolumeClaimUpdate`. */
export function validatePvcUpdate(next: KubeObject, old: KubeObject): FieldError[] {
  const oldSpec = { ...asObject(old.spec) };
  const newSpec = { ...asObject(next.spec) };
  // The volume binder sets the volume's name on an unbound claim.
  if (!oldSpec.volumeName) oldSpec.volumeName = newSpec.volumeName;
  if (asObject(old.status).phase === "Bound" && newSpec.resources !== undefined) {
    const resources = asObject(newSpec.resources);
    newSpec.resources = { ...resources, requests: asObject(asObject(oldSpec.resources).requests) };
  }
  if (newSpec.resources !== undefined)
    newSpec.resources = alignQuantities(newSpec.resources, oldSpec.resources);
  for (const s of [oldSpec, newSpec]) for (const k of Object.keys(s)) if (s[k] === undefined) delete s[k];
  if (isDeepStrictEqual(oldSpec, newSpec)) return [];
  return [
    {
      field: "spec",
      type: "Forbidden",
      detail: `spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims\n${specDiff(oldSpec, newSpec)}`,
    },
  ];
}

export const persistentVolumeClaimStrategy: Strategy = {
  tracksGeneration: false,
  prepareForCreate(obj: KubeObject) {
    obj.status = { phase: "Pending" };
    const spec = asObject(obj.spec);
    if (obj.spec !== undefined && (spec.volumeMode === undefined || spec.volumeMode === null))
      obj.spec = { ...spec, volumeMode: "Filesystem" };
  },
  prepareForUpdate(next, old) {
    next.status = old.status ?? { phase: "Pending" };
    const spec = asObject(next.spec);
    if (next.spec !== undefined && (spec.volumeMode === undefined || spec.volumeMode === null))
      next.spec = { ...spec, volumeMode: "Filesystem" };
  },
  validate: (obj) => validatePvcSpec(asObject(obj.spec)),
  validateUpdate: validatePvcUpdate,
};
