/**
 * managedFields bookkeeping (per manager and operation) and server-side apply: merging an applied configuration into
 * the live object, detecting conflicts with other managers (409 unless forced) and removing fields a manager stopped
 * applying when nobody else owns them.
 */
import { ApiError, type JsonSchema, type KubeObject } from "../store/types.ts";
import {
  displayPath,
  fieldSet,
  fromFieldsV1,
  itemKey,
  listKind,
  removeAt,
  toFieldsV1,
  valueAt,
} from "./fields.ts";
import { itemsSchema, propertySchema } from "./patch.ts";
import { cloneJson, getOwn, isObject, setOwn, timestamp, type JsonObject } from "../shared/object.ts";

export interface ManagedEntry {
  manager: string;
  operation: "Apply" | "Update";
  apiVersion: string;
  time: string;
  subresource?: string;
  fields: Set<string>;
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

export function readManaged(obj: KubeObject | undefined): ManagedEntry[] {
  const raw = obj?.metadata.managedFields;
  if (!Array.isArray(raw)) return [];
  const out: ManagedEntry[] = [];
  for (const e of raw) {
    if (!isObject(e) || typeof e.manager !== "string") continue;
    out.push({
      manager: e.manager,
      operation: e.operation === "Apply" ? "Apply" : "Update",
      apiVersion: typeof e.apiVersion === "string" ? e.apiVersion : "",
      time: typeof e.time === "string" ? e.time : "",
      ...(typeof e.subresource === "string" ? { subresource: e.subresource } : {}),
      fields: fromFieldsV1(e.fieldsV1),
    });
  }
  return out;
}

export function writeManaged(entries: ManagedEntry[]): unknown[] {
  return entries
    .filter((e) => e.fields.size > 0)
    .map((e) => ({
      manager: e.manager,
      operation: e.operation,
      apiVersion: e.apiVersion,
      time: e.time,
      fieldsType: "FieldsV1",
      fieldsV1: toFieldsV1([...e.fields].sort()),
      ...(e.subresource ? { subresource: e.subresource } : {}),
    }));
}

/**
 * Records an Update operation by `manager`: it takes over every field it changed (others lose them); fields that
 * disappeared are owned by nobody.
 */
export function recordUpdate(
  before: KubeObject | undefined,
  after: KubeObject,
  schema: JsonSchema,
  opts: { manager: string; apiVersion: string; now: number; subresource?: string },
): unknown[] {
  const sub = opts.subresource;
  const scope = (o: unknown): unknown =>
    sub === "status" ? { status: (o as JsonObject | undefined)?.status } : o;
  const skipStatus = sub !== "status";
  const afterSet = fieldSet(scope(after), schema, { skipStatus });
  const beforeSet = before ? fieldSet(scope(before), schema, { skipStatus }) : new Set<string>();
  const changed = [...afterSet].filter(
    (p) => !beforeSet.has(p) || !same(valueAt(before, p, schema), valueAt(after, p, schema)),
  );
  const entries = readManaged(before);
  for (const e of entries) {
    for (const p of changed) e.fields.delete(p);
    for (const p of [...e.fields])
      if (!afterSet.has(p) && (sub === "status") === p.startsWith("f:status")) e.fields.delete(p);
  }
  if (changed.length) {
    let mine = entries.find(
      (e) =>
        e.manager === opts.manager &&
        e.operation === "Update" &&
        e.apiVersion === opts.apiVersion &&
        e.subresource === sub,
    );
    if (!mine) {
      mine = {
        manager: opts.manager,
        operation: "Update",
        apiVersion: opts.apiVersion,
        time: "",
        fields: new Set(),
      };
      if (sub) mine.subresource = sub;
      entries.push(mine);
    }
    for (const p of changed) mine.fields.add(p);
    mine.time = timestamp(opts.now);
  }
  return writeManaged(entries);
}

/** Merges `applied` into `live` the way structured merge does: maps recurse, keyed lists merge by key, sets union. */
export function structuredMerge(live: unknown, applied: unknown, schema: JsonSchema | undefined): unknown {
  if (isObject(applied)) {
    const out: JsonObject = isObject(live) ? { ...live } : {};
    for (const [k, v] of Object.entries(applied))
      setOwn(out, k, structuredMerge(getOwn(out, k), v, propertySchema(schema, k)));
    return out;
  }
  if (Array.isArray(applied)) {
    const lk = listKind(schema);
    if (lk.kind === "map" && Array.isArray(live)) {
      const out = [...live];
      const index = new Map<string, number>();
      out.forEach((x, i) => {
        const k = itemKey(x, lk.keys);
        if (!index.has(k)) index.set(k, i);
      });
      for (const item of applied) {
        const key = itemKey(item, lk.keys);
        const idx = index.get(key);
        if (idx !== undefined) out[idx] = structuredMerge(out[idx], item, itemsSchema(schema));
        else {
          index.set(key, out.length);
          out.push(cloneJson(item));
        }
      }
      return out;
    }
    if (lk.kind === "set" && Array.isArray(live)) {
      const out = [...live];
      const seen = new Set(out.map((x) => JSON.stringify(x)));
      for (const item of applied) {
        const id = JSON.stringify(item);
        if (seen.has(id)) continue;
        seen.add(id);
        out.push(cloneJson(item));
      }
      return out;
    }
  }
  return cloneJson(applied);
}

/**
 * Server-side apply of `applied` by `manager` onto `live` (undefined when creating). Returns the object to store,
 * managedFields included. Throws 409 with the real server's message on conflicts unless `force`.
 */
export function serverSideApply(
  live: KubeObject | undefined,
  applied: KubeObject,
  schema: JsonSchema,
  opts: { manager: string; apiVersion: string; force: boolean; now: number },
): KubeObject {
  const appliedSet = fieldSet(applied, schema, { skipStatus: true });
  const entries = readManaged(live);
  const conflicts = new Map<ManagedEntry, string[]>();
  for (const e of entries) {
    if (e.manager === opts.manager && e.operation === "Apply") continue;
    for (const p of appliedSet) {
      if (!e.fields.has(p)) continue;
      if (same(valueAt(live, p, schema), valueAt(applied, p, schema))) continue;
      const list = conflicts.get(e) ?? [];
      list.push(p);
      conflicts.set(e, list);
    }
  }
  if (conflicts.size && !opts.force) throw conflictError(conflicts);
  for (const [e, paths] of conflicts) for (const p of paths) e.fields.delete(p);
  const mine = entries.find((e) => e.manager === opts.manager && e.operation === "Apply");
  const previous = mine?.fields ?? new Set<string>();
  let merged = structuredMerge(live ? cloneJson(live) : {}, applied, schema) as KubeObject;
  // Fields this manager applied before and no longer applies go away unless someone else owns them.
  for (const p of previous) {
    if (appliedSet.has(p)) continue;
    if (entries.some((e) => e !== mine && e.fields.has(p))) continue;
    removeAt(merged, p, schema);
  }
  merged = merged as KubeObject;
  if (mine) {
    mine.fields = appliedSet;
    mine.apiVersion = opts.apiVersion;
    mine.time = timestamp(opts.now);
  } else
    entries.push({
      manager: opts.manager,
      operation: "Apply",
      apiVersion: opts.apiVersion,
      time: timestamp(opts.now),
      fields: appliedSet,
    });
  merged.metadata = { ...merged.metadata, managedFields: writeManaged(entries) };
  return merged;
}

/** How the real server names a manager in conflicts: `"kubectl" with subresource "scale" using apps/v1`. */
function printManager(e: ManagedEntry): string {
  let out = JSON.stringify(e.manager);
  if (e.subresource) out += ` with subresource ${JSON.stringify(e.subresource)}`;
  if (e.operation === "Update") out += ` using ${e.apiVersion}`;
  return out;
}

function conflictError(conflicts: Map<ManagedEntry, string[]>): ApiError {
  const all = [...conflicts].flatMap(([e, paths]) => paths.map((p) => [e, p] as const));
  const causes = all.map(([e, p]) => ({
    reason: "FieldManagerConflict",
    message: `conflict with ${printManager(e)}`,
    field: displayPath(p),
  }));
  let message: string;
  if (all.length === 1) {
    const [e, p] = all[0]!;
    message = `Apply failed with 1 conflict: conflict with ${printManager(e)}: ${displayPath(p)}`;
  } else {
    const lines: string[] = [];
    for (const [e, paths] of [...conflicts].sort(([a], [b]) =>
      printManager(a).localeCompare(printManager(b)),
    )) {
      lines.push(`conflicts with ${printManager(e)}:`);
      for (const p of paths) lines.push(`- ${displayPath(p)}`);
    }
    message = `Apply failed with ${all.length} conflicts: ${lines.join("\n")}`;
  }
  return new ApiError(409, "Conflict", message, { causes });
}
