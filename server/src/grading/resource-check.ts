/**
 * Resource checks: does an object of a kind exist (or not), with fields that satisfy conditions.
 */
import { RE2JS } from "re2js";
import type { FieldCondition, ResourceCheck } from "../labs/model/types.ts";
import type { CheckResult } from "../labs/api.ts";
import type { ClusterClient, ClusterObject } from "./cluster.ts";
import { selectPath } from "./path.ts";

function same(a: unknown, b: unknown): boolean {
  if (typeof a === "number" || typeof b === "number") return String(a) === String(b);
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Whether one object satisfies one condition. */
export function meetsCondition(obj: unknown, c: FieldCondition): boolean {
  const values = selectPath(obj, c.path);
  if (c.exists !== undefined) return c.exists ? values.length > 0 : values.length === 0;
  const flat = values.flatMap((v) => (Array.isArray(v) ? [v, ...(v as unknown[])] : [v]));
  if (c.equals !== undefined) return values.some((v) => same(v, c.equals));
  if (c.in !== undefined) return values.some((v) => c.in!.some((x) => same(v, x)));
  if (c.contains !== undefined)
    return flat.some(
      (v) =>
        same(v, c.contains) ||
        (typeof v === "string" && typeof c.contains === "string" && v.includes(c.contains)),
    );
  if (c.matches !== undefined) {
    // The lab's pattern runs on what attendees wrote (a ConfigMap may hold 1 MiB): a linear-time engine, so that no
    // value can make it backtrack for seconds. The lab loader has checked that RE2 accepts it.
    const re = RE2JS.compile(RE2JS.translateRegExp(c.matches));
    return values.some((v) => typeof v === "string" && re.test(v));
  }
  return false;
}

export function describeCondition(c: FieldCondition): string {
  if (c.exists !== undefined) return `${c.path} ${c.exists ? "is set" : "is not set"}`;
  if (c.equals !== undefined) return `${c.path} = ${JSON.stringify(c.equals)}`;
  if (c.in !== undefined) return `${c.path} in ${JSON.stringify(c.in)}`;
  if (c.contains !== undefined) return `${c.path} contains ${JSON.stringify(c.contains)}`;
  return `${c.path} matches /${c.matches}/`;
}

function name(o: ClusterObject): string {
  return `${o.metadata.namespace ? `${o.metadata.namespace}/` : ""}${o.metadata.name}`;
}

/** Runs a resource check against the cluster. */
export async function runResourceCheck(client: ClusterClient, c: ResourceCheck): Promise<CheckResult> {
  const t = c.target;
  let objects = await client.list(t.apiVersion, t.kind, {
    ...(t.namespace ? { namespace: t.namespace } : {}),
    ...(t.labelSelector ? { labelSelector: t.labelSelector } : {}),
  });
  if (t.name) objects = objects.filter((o) => o.metadata.name === t.name);
  const matching = objects.filter((o) => c.where.every((w) => meetsCondition(o, w)));
  const what = `${t.kind}${t.name ? ` ${t.namespace ? `${t.namespace}/` : ""}${t.name}` : t.namespace ? ` in ${t.namespace}` : ""}`;
  let seen: string;
  if (matching.length) seen = `found ${matching.map(name).join(", ")}`;
  else if (!objects.length) seen = `no ${what} exists`;
  else {
    const first = objects[0]!;
    const unmet = c.where.filter((w) => !meetsCondition(first, w)).map(describeCondition);
    seen = `found ${objects.map(name).join(", ")}, but ${name(first)} does not have ${unmet.join(" and ")}`;
  }
  const passed = c.expect === "exists" ? matching.length > 0 : matching.length === 0;
  return { id: c.id, title: c.title, passed, seen, ...(passed ? {} : { hint: c.hint }) };
}
