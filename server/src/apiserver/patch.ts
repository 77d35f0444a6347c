/**
 * The three patch formats the API server accepts besides server-side apply: JSON Patch (RFC 6902), JSON Merge Patch
 * (RFC 7386) and Kubernetes' strategic merge patch, which merges lists by the schema's
 * `x-kubernetes-patch-merge-key` / `x-kubernetes-patch-strategy` and honours `$patch`, `$retainKeys`,
 * `$setElementOrder` and `$deleteFromPrimitiveList` directives.
 */
import { ApiError, type JsonSchema } from "../store/types.ts";
import { MAX_BODY_BYTES } from "./body.ts";
import { cloneJson, getOwn, hasOwn, isObject, setOwn, type JsonObject } from "../shared/object.ts";

type Json = unknown;

const clone = <T>(v: T): T => cloneJson(v);

/** The real server's cap on JSON patch operations (`maxJSONPatchOperations`). */
export const MAX_JSON_PATCH_OPERATIONS = 10000;

function invalidPatch(message: string): ApiError {
  return new ApiError(422, "Invalid", message);
}

// ---------------------------------------------------------------------------------------------------------------
// JSON Merge Patch

/** RFC 7386: objects merge recursively, `null` deletes, anything else replaces. */
export function applyMergePatch(target: Json, patch: Json): Json {
  if (!isObject(patch)) return clone(patch);
  const out: JsonObject = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else setOwn(out, k, applyMergePatch(getOwn(out, k), v));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// JSON Patch

function unescapePointer(s: string): string {
  return s.replace(/~1/g, "/").replace(/~0/g, "~");
}

function parsePointer(path: string): string[] {
  if (path === "") return [];
  if (!path.startsWith("/")) throw invalidPatch(`invalid JSON pointer "${path}": must start with "/"`);
  return path.slice(1).split("/").map(unescapePointer);
}

function getAt(doc: Json, tokens: string[]): { found: boolean; value?: Json } {
  let cur: Json = doc;
  for (const t of tokens) {
    if (Array.isArray(cur)) {
      const i = Number(t);
      if (!/^\d+$/.test(t) || i >= cur.length) return { found: false };
      cur = cur[i];
    } else if (isObject(cur)) {
      if (!hasOwn(cur, t)) return { found: false };
      cur = cur[t];
    } else return { found: false };
  }
  return { found: true, value: cur };
}

function parentOf(doc: Json, tokens: string[], path: string): { parent: Json; last: string } {
  const last = tokens[tokens.length - 1];
  if (last === undefined) throw invalidPatch(`unable to operate on the document root at "${path}"`);
  const p = getAt(doc, tokens.slice(0, -1));
  if (!p.found || typeof p.value !== "object" || p.value === null)
    throw invalidPatch(`doc is missing path: "${path}": missing value`);
  return { parent: p.value, last };
}

function addAt(doc: Json, path: string, value: Json): Json {
  const tokens = parsePointer(path);
  if (tokens.length === 0) return clone(value);
  const { parent, last } = parentOf(doc, tokens, path);
  if (Array.isArray(parent)) {
    const i = last === "-" ? parent.length : Number(last);
    if (!/^\d+$/.test(last) && last !== "-") throw invalidPatch(`invalid array index "${last}" in "${path}"`);
    if (i > parent.length)
      throw invalidPatch(`add operation does not apply: doc is missing path: "${path}": missing value`);
    parent.splice(i, 0, clone(value));
  } else setOwn(parent as JsonObject, last, clone(value));
  return doc;
}

function removeAt(doc: Json, path: string): Json {
  const tokens = parsePointer(path);
  const { parent, last } = parentOf(doc, tokens, path);
  if (Array.isArray(parent)) {
    const i = Number(last);
    if (!/^\d+$/.test(last) || i >= parent.length)
      throw invalidPatch(`remove operation does not apply: doc is missing path: "${path}": missing value`);
    parent.splice(i, 1);
  } else {
    if (!hasOwn(parent as JsonObject, last))
      throw invalidPatch(`remove operation does not apply: doc is missing path: "${path}": missing value`);
    delete (parent as JsonObject)[last];
  }
  return doc;
}

function deepEqual(a: Json, b: Json): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b))
    return a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  if (isObject(a) && isObject(b)) {
    const ka = Object.keys(a);
    const kb = Object.keys(b);
    return ka.length === kb.length && ka.every((k) => hasOwn(b, k) && deepEqual(a[k], b[k]));
  }
  return false;
}

/** RFC 6902 operations, applied in order to a copy of `target`. */
export function applyJsonPatch(target: Json, ops: Json): Json {
  if (!Array.isArray(ops))
    throw new ApiError(
      400,
      "BadRequest",
      "json: cannot unmarshal object into Go value of type jsonpatch.Patch",
    );
  if (ops.length > MAX_JSON_PATCH_OPERATIONS)
    throw new ApiError(
      413,
      "RequestEntityTooLarge",
      `The allowed maximum operations in a JSON patch is ${MAX_JSON_PATCH_OPERATIONS}, got ${ops.length}`,
    );
  let doc = clone(target);
  // Copies can double the document with every operation; like json-patch's AccumulatedCopySizeLimit, their total
  // size is capped at the request size limit.
  let copied = 0;
  for (const raw of ops) {
    if (!isObject(raw)) throw invalidPatch("JSON patch operations must be objects");
    const op = raw.op;
    const path = raw.path;
    if (typeof path !== "string")
      throw invalidPatch(`the JSON patch operation "${String(op)}" is missing "path"`);
    switch (op) {
      case "add":
        doc = addAt(doc, path, raw.value);
        break;
      case "remove":
        doc = removeAt(doc, path);
        break;
      case "replace": {
        if (!getAt(doc, parsePointer(path)).found)
          throw invalidPatch(`replace operation does not apply: doc is missing key: ${path}: missing value`);
        doc = path === "" ? clone(raw.value) : addAt(removeAt(doc, path), path, raw.value);
        break;
      }
      case "move":
      case "copy": {
        const from = raw.from;
        if (typeof from !== "string")
          throw invalidPatch(`the JSON patch operation "${op}" is missing "from"`);
        const src = getAt(doc, parsePointer(from));
        if (!src.found)
          throw invalidPatch(
            `${op} operation does not apply: doc is missing from path: ${from}: missing value`,
          );
        if (op === "copy") {
          copied += JSON.stringify(src.value ?? null).length;
          if (copied > MAX_BODY_BYTES)
            throw invalidPatch(
              `Unable to complete the copy, the accumulated size increase of copy is ${copied}, exceeding the limit ${MAX_BODY_BYTES}`,
            );
        }
        if (op === "move") doc = removeAt(doc, from);
        doc = addAt(doc, path, src.value);
        break;
      }
      case "test": {
        const cur = getAt(doc, parsePointer(path));
        if (!cur.found || !deepEqual(cur.value, raw.value))
          throw invalidPatch(`testing value ${path} failed: test failed`);
        break;
      }
      default:
        throw invalidPatch(`Unexpected kind: ${String(op)}`);
    }
  }
  return doc;
}

// ---------------------------------------------------------------------------------------------------------------
// Strategic merge patch

/** The schema of property `key` of an object schema, through `allOf` and `additionalProperties`. */
export function propertySchema(schema: JsonSchema | undefined, key: string): JsonSchema | undefined {
  if (!schema) return undefined;
  const prop = getOwn(schema.properties, key);
  if (isObject(prop)) return prop as JsonSchema;
  for (const sub of (schema.allOf as JsonSchema[] | undefined) ?? []) {
    const s = propertySchema(sub, key);
    if (s) return s;
  }
  const extra = schema.additionalProperties;
  return isObject(extra) ? (extra as JsonSchema) : undefined;
}

export function itemsSchema(schema: JsonSchema | undefined): JsonSchema | undefined {
  const items = schema?.items;
  return isObject(items) ? (items as JsonSchema) : undefined;
}

function listStrategy(schema: JsonSchema | undefined): { merge: boolean; retainKeys: boolean; key?: string } {
  const strategy = String(schema?.["x-kubernetes-patch-strategy"] ?? "");
  const parts = strategy.split(",");
  const key = schema?.["x-kubernetes-patch-merge-key"];
  return {
    merge: parts.includes("merge"),
    retainKeys: parts.includes("retainKeys"),
    key: typeof key === "string" ? key : undefined,
  };
}

function mergeList(orig: Json, patch: unknown[], schema: JsonSchema | undefined, field: string): Json[] {
  const { merge, key } = listStrategy(schema);
  if (!merge)
    return patch.filter((p) => !(isObject(p) && hasOwn(p, "$patch"))).map((p) => stripDirectives(p));
  const base = Array.isArray(orig) ? clone(orig) : [];
  // `$patch: replace` anywhere in the list replaces the whole list with the other elements.
  if (patch.some((p) => isObject(p) && p.$patch === "replace"))
    return patch.filter((p) => !(isObject(p) && p.$patch === "replace")).map((p) => stripDirectives(p));
  const itemSchema = itemsSchema(schema);
  if (!key) {
    // A merged list of primitives: union in order (a set of what is there keeps it linear).
    const seen = new Set(base.map(identity));
    for (const p of patch) {
      const id = identity(p);
      if (seen.has(id)) continue;
      seen.add(id);
      base.push(clone(p));
    }
    return base;
  }
  // Items by merge key (the first one with each key), so that a long list merges in linear time.
  const slots: (Json | undefined)[] = base;
  const index = new Map<string, number>();
  slots.forEach((b, i) => {
    const id = isObject(b) ? identity(getOwn(b, key)) : undefined;
    if (id !== undefined && !index.has(id)) index.set(id, i);
  });
  const removed = new Set<number>();
  for (const p of patch) {
    if (!isObject(p))
      throw invalidPatch(`unable to find api field in struct for list ${field}: elements must be objects`);
    if (!hasOwn(p, key))
      throw invalidPatch(
        `map: ${JSON.stringify(stripDirectives(p))} does not contain declared merge key: ${key}`,
      );
    const id = identity(getOwn(p, key));
    const idx = index.get(id);
    if (p.$patch === "delete") {
      if (idx !== undefined) {
        removed.add(idx);
        index.delete(id);
      }
      continue;
    }
    if (idx !== undefined) slots[idx] = strategicMerge(slots[idx], p, itemSchema);
    else {
      index.set(id, slots.length);
      slots.push(strategicMerge(undefined, p, itemSchema));
    }
  }
  return removed.size ? slots.filter((_, i) => !removed.has(i)) : slots;
}

/** A value's identity for list merges: its canonical JSON (key order does not matter). */
function identity(v: Json): string {
  return v === undefined ? "undefined" : canonical(v);
}

function canonical(v: Json): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  if (isObject(v))
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`)
      .join(",")}}`;
  return JSON.stringify(v) ?? "null";
}

function stripDirectives(v: Json): Json {
  if (Array.isArray(v)) return v.map(stripDirectives);
  if (!isObject(v)) return v;
  const out: JsonObject = {};
  for (const [k, x] of Object.entries(v)) {
    if (k.startsWith("$")) continue;
    setOwn(out, k, stripDirectives(x));
  }
  return out;
}

function applyElementOrder(list: Json[], order: unknown[], key: string | undefined): Json[] {
  const idOf = (el: Json): string => identity(key && isObject(el) ? getOwn(el, key) : el);
  const positions = new Map<string, number>();
  order.forEach((o, i) => {
    const id = key && isObject(o) ? identity(getOwn(o, key)) : identity(o);
    if (!positions.has(id)) positions.set(id, i);
  });
  const pos = (el: Json): number => positions.get(idOf(el)) ?? -1;
  const listed = list.filter((el) => pos(el) >= 0).sort((a, b) => pos(a) - pos(b));
  const rest = list.filter((el) => pos(el) < 0);
  return [...listed, ...rest];
}

/** Applies a strategic merge patch to `original`, guided by `schema` (the object's OpenAPI schema). */
export function strategicMerge(original: Json, patch: Json, schema: JsonSchema | undefined): Json {
  if (!isObject(patch)) return clone(patch);
  if (patch.$patch === "replace") return stripDirectives(patch);
  if (patch.$patch === "delete") return undefined;
  const out: JsonObject = isObject(original) ? { ...original } : {};
  const retain = patch.$retainKeys;
  const orders: [string, unknown[]][] = [];
  for (const [k, v] of Object.entries(patch)) {
    if (k === "$patch" || k === "$retainKeys") continue;
    if (k.startsWith("$setElementOrder/")) {
      if (Array.isArray(v)) orders.push([k.slice("$setElementOrder/".length), v]);
      continue;
    }
    if (k.startsWith("$deleteFromPrimitiveList/")) {
      const field = k.slice("$deleteFromPrimitiveList/".length);
      const cur = getOwn(out, field);
      if (Array.isArray(cur) && Array.isArray(v)) {
        const gone = new Set(v.map(identity));
        setOwn(
          out,
          field,
          cur.filter((x) => !gone.has(identity(x))),
        );
      }
      continue;
    }
    if (k.startsWith("$")) throw invalidPatch(`unknown patch directive "${k}"`);
    if (v === null) {
      delete out[k];
      continue;
    }
    const sub = propertySchema(schema, k);
    if (Array.isArray(v)) setOwn(out, k, mergeList(getOwn(out, k), v, sub, k));
    else if (isObject(v)) {
      const merged = strategicMerge(getOwn(out, k), v, sub);
      if (merged === undefined) delete out[k];
      else setOwn(out, k, merged);
    } else setOwn(out, k, v);
  }
  for (const [field, order] of orders) {
    const cur = getOwn(out, field);
    if (Array.isArray(cur))
      setOwn(out, field, applyElementOrder(cur, order, listStrategy(propertySchema(schema, field)).key));
  }
  if (Array.isArray(retain)) {
    for (const k of Object.keys(out)) if (!retain.includes(k)) delete out[k];
  }
  return out;
}

/** The real server only takes strategic merge patches for built-in kinds and aggregated APIs with Go types, not CRDs. */
export function supportsStrategicMerge(group: string): boolean {
  return (
    group === "" ||
    group.endsWith(".k8s.io") ||
    ["apps", "batch", "policy", "autoscaling", "projectcalico.org"].includes(group)
  );
}

export const PATCH_UNSUPPORTED_CRD = new ApiError(
  415,
  "UnsupportedMediaType",
  "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml",
);
