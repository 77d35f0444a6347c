/**
 * ConfigMaps and Secrets (`pkg/apis/core/validation`: ValidateConfigMap, ValidateSecret and their Update forms): keys
 * are config keys, the total size is at most 1 MiB, a Secret's `stringData` is merged into `data` on write (before
 * validation, so an update's `stringData` counts as a change of `data`), a Secret's `type` never changes, and once
 * `immutable: true` is stored neither the data nor `immutable` itself may change.
 */
import type { KubeObject } from "../types.ts";
import type { FieldError } from "../validation/errors.ts";
import { getObject, hasOwn, isObject, setOwn, type JsonObject } from "../../shared/object.ts";
import type { Strategy } from "./types.ts";
import { jsonEqual } from "../equal.ts";

/** `core.MaxSecretSize`, also the limit of a ConfigMap's data. */
export const MAX_CONFIG_SIZE = 1024 * 1024;

const CONFIG_KEY_RE = /^[-._a-zA-Z0-9]+$/;
const CONFIG_KEY_MESSAGE =
  "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')";

/** `validation.IsConfigMapKey`. */
export function configKeyProblems(key: string): string[] {
  const out: string[] = [];
  if (key.length > 253) out.push("must be no more than 253 characters");
  if (!CONFIG_KEY_RE.test(key)) out.push(CONFIG_KEY_MESSAGE);
  if (key === ".") out.push("must not be '.'");
  else if (key === "..") out.push("must not be '..'");
  else if (key.startsWith("..")) out.push("must not start with '..'");
  return out;
}

function checkKeys(map: JsonObject | undefined, path: string, errs: FieldError[]): void {
  if (!map) return;
  for (const k of Object.keys(map))
    for (const d of configKeyProblems(k))
      errs.push({ field: `${path}[${k}]`, type: "Invalid", value: k, detail: d });
}

/** The decoded size of a base64 value (what the Go server counts for `[]byte` fields). */
const base64Bytes = (v: unknown): number => (typeof v === "string" ? Buffer.byteLength(v, "base64") : 0);
const utf8Bytes = (v: unknown): number => (typeof v === "string" ? Buffer.byteLength(v, "utf8") : 0);

const IMMUTABLE_SET = "field is immutable when `immutable` is set";

/**
 * `ValidateConfigMapUpdate` / `ValidateSecretUpdate` once the stored object is immutable: `immutable` may not be
 * unset and none of `fields` may change (an absent map and an empty one are the same data).
 */
function immutableUpdate(next: KubeObject, old: KubeObject, fields: readonly string[]): FieldError[] {
  if (old.immutable !== true) return [];
  const errs: FieldError[] = [];
  if (next.immutable !== true) errs.push({ field: "immutable", type: "Forbidden", detail: IMMUTABLE_SET });
  for (const f of fields)
    if (!jsonEqual(getObject(next, f) ?? {}, getObject(old, f) ?? {}))
      errs.push({ field: f, type: "Forbidden", detail: IMMUTABLE_SET });
  return errs;
}

export const configMapStrategy: Strategy = {
  tracksGeneration: false,
  validateUpdate: (next, old) => immutableUpdate(next, old, ["data", "binaryData"]),
  validate(obj) {
    const errs: FieldError[] = [];
    const data = getObject(obj, "data");
    const binary = getObject(obj, "binaryData");
    checkKeys(data, "data", errs);
    checkKeys(binary, "binaryData", errs);
    let total = 0;
    for (const k of Object.keys(data ?? {})) total += utf8Bytes(data![k]);
    for (const k of Object.keys(binary ?? {})) {
      total += base64Bytes(binary![k]);
      if (data && hasOwn(data, k))
        errs.push({
          field: `binaryData[${k}]`,
          type: "Invalid",
          value: k,
          detail: "duplicate of key present in data",
        });
    }
    if (total > MAX_CONFIG_SIZE)
      errs.push({ field: "[]", type: "TooLong", detail: `must have at most ${MAX_CONFIG_SIZE} bytes` });
    return errs;
  },
};

/** Moves `stringData` into `data` (base64), as the Secret's conversion does before storage. */
function mergeStringData(obj: KubeObject): void {
  const sd = getObject(obj, "stringData");
  if (!sd) return;
  const data: JsonObject = isObject(obj.data) ? (obj.data as JsonObject) : {};
  for (const k of Object.keys(sd)) {
    const v = sd[k];
    if (typeof v === "string") setOwn(data, k, Buffer.from(v, "utf8").toString("base64"));
  }
  obj.data = data;
  delete obj.stringData;
}

export const secretStrategy: Strategy = {
  tracksGeneration: false,
  prepareForCreate: mergeStringData,
  prepareForUpdate: (next) => mergeStringData(next),
  validateUpdate(next, old) {
    const errs: FieldError[] = [];
    // `type` is defaulted to Opaque before validation on the real server.
    const type = typeof next.type === "string" && next.type !== "" ? next.type : "Opaque";
    if (type !== (old.type ?? "Opaque"))
      errs.push({ field: "type", type: "Invalid", value: type, detail: "field is immutable" });
    return [...errs, ...immutableUpdate(next, old, ["data"])];
  },
  validate(obj) {
    const errs: FieldError[] = [];
    const data = getObject(obj, "data");
    checkKeys(data, "data", errs);
    let total = 0;
    for (const k of Object.keys(data ?? {})) total += base64Bytes(data![k]);
    if (total > MAX_CONFIG_SIZE)
      errs.push({ field: "data", type: "TooLong", detail: `must have at most ${MAX_CONFIG_SIZE} bytes` });
    return errs;
  },
};
