/**
 * Field sets for managedFields (FieldsV1): which leaves of an object a manager owns. Lists follow the schema: keyed
 * lists (`x-kubernetes-list-type: map` or a strategic merge key) own items by key (`k:{...}`), sets own values
 * (`v:...`), everything else is atomic and owned as a whole.
 */
import type { JsonSchema } from "../store/types.ts";
import { itemsSchema, propertySchema } from "./patch.ts";
import { getOwn, hasOwn, isObject, setOwn, type JsonObject } from "../shared/object.ts";

/** One path element: `f:name`, `k:{"name":"x"}`, `v:"a"`, or `.` (the keyed item itself). */
export type PathElement = string;
const SEP = "\u0000";

export type ListKind = { kind: "map"; keys: string[] } | { kind: "set" } | { kind: "atomic" };

export function listKind(schema: JsonSchema | undefined): ListKind {
  const lt = schema?.["x-kubernetes-list-type"];
  const keys = schema?.["x-kubernetes-list-map-keys"];
  if (lt === "map" && Array.isArray(keys) && keys.length) return { kind: "map", keys: keys.map(String) };
  if (lt === "set") return { kind: "set" };
  if (lt === "atomic") return { kind: "atomic" };
  const strategy = String(schema?.["x-kubernetes-patch-strategy"] ?? "").split(",");
  const mk = schema?.["x-kubernetes-patch-merge-key"];
  if (strategy.includes("merge"))
    return typeof mk === "string" ? { kind: "map", keys: [mk] } : { kind: "set" };
  return { kind: "atomic" };
}

/** Metadata fields that identify or are written by the server and are never owned. */
const IGNORED_METADATA = new Set([
  "name",
  "namespace",
  "uid",
  "resourceVersion",
  "generation",
  "creationTimestamp",
  "deletionTimestamp",
  "deletionGracePeriodSeconds",
  "managedFields",
  "selfLink",
  "generateName",
]);

/**
 * Keys of keyed lists that the API's schema defaults (`protocol` of container and service ports, default TCP): an item
 * without one is keyed as if it had it, as structured merge does, so an applied port without `protocol` is the stored
 * (defaulted) port, not a second one.
 */
const KEY_DEFAULTS: Readonly<Record<string, unknown>> = { protocol: "TCP" };

export function itemKey(item: unknown, keys: string[]): string {
  const o = isObject(item) ? item : {};
  const k: JsonObject = {};
  for (const key of [...keys].sort())
    if (hasOwn(o, key)) setOwn(k, key, o[key]);
    else if (hasOwn(KEY_DEFAULTS, key)) setOwn(k, key, KEY_DEFAULTS[key]);
  return `k:${JSON.stringify(k)}`;
}

/**
 * The position of each item of a list by its path element (`k:{…}` for keyed lists, `v:…` for sets), computed once
 * per list: looking items up one by one would make every walk over a long list quadratic.
 */
const listIndexes = new WeakMap<unknown[], Map<string, Map<string, number>>>();

function positionOf(list: unknown[], el: string, keys: string[]): number {
  const kind = el.startsWith("v:") ? "v" : keys.join("\u0000");
  let byKind = listIndexes.get(list);
  if (!byKind) listIndexes.set(list, (byKind = new Map()));
  let index = byKind.get(kind);
  if (!index) {
    index = new Map();
    for (let i = 0; i < list.length; i++) {
      const id = kind === "v" ? `v:${JSON.stringify(list[i])}` : itemKey(list[i], keys);
      if (!index.has(id)) index.set(id, i);
    }
    byKind.set(kind, index);
  }
  return index.get(el) ?? -1;
}

/** Every owned leaf path of `value` (as joined strings). `skipStatus` leaves out `status` at the top level. */
export function fieldSet(
  value: unknown,
  schema: JsonSchema | undefined,
  opts: { skipStatus?: boolean } = {},
): Set<string> {
  const out = new Set<string>();
  const walk = (v: unknown, s: JsonSchema | undefined, prefix: PathElement[], depth: number): void => {
    if (isObject(v)) {
      const entries = Object.entries(v);
      if (entries.length === 0 && prefix.length) out.add(prefix.join(SEP));
      for (const [k, x] of entries) {
        if (depth === 0 && (k === "apiVersion" || k === "kind" || (opts.skipStatus && k === "status")))
          continue;
        if (depth === 1 && prefix[0] === "f:metadata" && IGNORED_METADATA.has(k)) continue;
        walk(x, propertySchema(s, k), [...prefix, `f:${k}`], depth + 1);
      }
      return;
    }
    if (Array.isArray(v)) {
      const lk = listKind(s);
      if (lk.kind === "map") {
        for (const item of v) {
          const p = [...prefix, itemKey(item, lk.keys)];
          out.add([...p, "."].join(SEP));
          walk(item, itemsSchema(s), p, depth + 1);
        }
        if (v.length === 0) out.add(prefix.join(SEP));
        return;
      }
      if (lk.kind === "set") {
        for (const item of v) out.add([...prefix, `v:${JSON.stringify(item)}`].join(SEP));
        if (v.length === 0) out.add(prefix.join(SEP));
        return;
      }
    }
    out.add(prefix.join(SEP));
  };
  walk(value, schema, [], 0);
  out.delete("");
  return out;
}

/** The value at a path, or `undefined`. A `.` element refers to the item itself. */
export function valueAt(root: unknown, path: string, schema: JsonSchema | undefined): unknown {
  let cur: unknown = root;
  let s = schema;
  for (const el of path.split(SEP)) {
    if (el === ".") return cur;
    if (el.startsWith("f:")) {
      const k = el.slice(2);
      if (!isObject(cur)) return undefined;
      cur = getOwn(cur, k);
      s = propertySchema(s, k);
    } else if (el.startsWith("k:")) {
      if (!Array.isArray(cur)) return undefined;
      const lk = listKind(s);
      const keys = lk.kind === "map" ? lk.keys : [];
      const i = positionOf(cur, el, keys);
      cur = i >= 0 ? cur[i] : undefined;
      s = itemsSchema(s);
    } else if (el.startsWith("v:")) {
      if (!Array.isArray(cur)) return undefined;
      return positionOf(cur, el, []) >= 0 ? (JSON.parse(el.slice(2)) as unknown) : undefined;
    }
  }
  return cur;
}

/** Removes the leaf at `path` from `root` (in place), dropping keyed items and set values as needed. */
export function removeAt(root: unknown, path: string, schema: JsonSchema | undefined): void {
  const els = path.split(SEP);
  if (els[els.length - 1] === ".") els.pop();
  let cur: unknown = root;
  let s = schema;
  for (let i = 0; i < els.length; i++) {
    const el = els[i]!;
    const last = i === els.length - 1;
    if (el.startsWith("f:")) {
      const k = el.slice(2);
      if (!isObject(cur)) return;
      if (last) {
        delete cur[k];
        return;
      }
      cur = getOwn(cur, k);
      s = propertySchema(s, k);
    } else if (el.startsWith("k:")) {
      if (!Array.isArray(cur)) return;
      const lk = listKind(s);
      const keys = lk.kind === "map" ? lk.keys : [];
      const idx = positionOf(cur, el, keys);
      if (idx < 0) return;
      if (last) {
        cur.splice(idx, 1);
        listIndexes.delete(cur);
        return;
      }
      cur = cur[idx];
      s = itemsSchema(s);
    } else if (el.startsWith("v:")) {
      if (!Array.isArray(cur)) return;
      const idx = positionOf(cur, el, []);
      if (idx >= 0) {
        cur.splice(idx, 1);
        listIndexes.delete(cur);
      }
      return;
    }
  }
}

/** A field set as the FieldsV1 tree stored in managedFields. */
export function toFieldsV1(set: Iterable<string>): JsonObject {
  const root: JsonObject = {};
  for (const path of set) {
    let node = root;
    for (const el of path.split(SEP)) {
      let next = getOwn(node, el);
      if (!isObject(next)) setOwn(node, el, (next = {}));
      node = next as JsonObject;
    }
  }
  return root;
}

/** The field set of a FieldsV1 tree. */
export function fromFieldsV1(tree: unknown): Set<string> {
  const out = new Set<string>();
  const walk = (node: unknown, prefix: string[]): void => {
    if (!isObject(node)) return;
    const entries = Object.entries(node);
    if (entries.length === 0 && prefix.length) {
      out.add(prefix.join(SEP));
      return;
    }
    for (const [k, v] of entries) walk(v, [...prefix, k]);
  };
  walk(tree, []);
  return out;
}

/** A path in the form the real server prints in apply conflicts: `.spec.replicas`, `.spec.containers[name="app"].image`. */
export function displayPath(path: string): string {
  let out = "";
  for (const el of path.split(SEP)) {
    if (el === ".") continue;
    if (el.startsWith("f:")) out += `.${el.slice(2)}`;
    else if (el.startsWith("k:")) {
      const k = JSON.parse(el.slice(2)) as JsonObject;
      out += `[${Object.entries(k)
        .map(([a, b]) => `${a}=${JSON.stringify(b)}`)
        .join(",")}]`;
    } else if (el.startsWith("v:")) out += `[${el.slice(2)}]`;
  }
  return out;
}

export const PATH_SEPARATOR = SEP;
