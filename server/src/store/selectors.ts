/**
 * Kubernetes label selectors (`app=web,tier!=db,env in (a,b),!legacy`) and field selectors (`metadata.name=x`), as the
 * API server parses them for `?labelSelector=` and `?fieldSelector=`. Parse errors are 400 BadRequest `ApiError`s.
 */
import { ApiError, type KubeObject } from "./types.ts";

export type Requirement =
  | { key: string; op: "=" | "!="; value: string }
  | { key: string; op: "in" | "notin"; values: string[] }
  | { key: string; op: "exists" | "!" };

export type LabelSelector = Requirement[];

function splitTopLevel(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = "";
  for (const ch of s) {
    if (ch === "(") depth++;
    if (ch === ")") depth--;
    if (ch === "," && depth === 0) {
      out.push(cur);
      cur = "";
    } else cur += ch;
  }
  out.push(cur);
  return out.map((x) => x.trim()).filter((x) => x !== "");
}

const badSelector = (msg: string) => new ApiError(400, "BadRequest", `unable to parse requirement: ${msg}`);

/** Parses a label selector string; the empty string selects everything. */
export function parseLabelSelector(s: string | undefined): LabelSelector {
  if (!s || !s.trim()) return [];
  const reqs: Requirement[] = [];
  for (const part of splitTopLevel(s)) {
    let m: RegExpExecArray | null;
    if ((m = /^!\s*([A-Za-z0-9_./-]+)$/.exec(part))) reqs.push({ key: m[1]!, op: "!" });
    else if ((m = /^([A-Za-z0-9_./-]+)\s+(in|notin)\s*\(([^)]*)\)$/.exec(part)))
      reqs.push({
        key: m[1]!,
        op: m[2] as "in" | "notin",
        values: m[3]!
          .split(",")
          .map((v) => v.trim())
          .filter((v, i, a) => v !== "" || a.length === 1),
      });
    else if ((m = /^([A-Za-z0-9_./-]+)\s*(==|=|!=)\s*([A-Za-z0-9_.-]*)$/.exec(part)))
      reqs.push({ key: m[1]!, op: m[2] === "!=" ? "!=" : "=", value: m[3]! });
    else if ((m = /^([A-Za-z0-9_./-]+)$/.exec(part))) reqs.push({ key: m[1]!, op: "exists" });
    else throw badSelector(`found '${part}', expected: !, identifier, or 'end of string'`);
  }
  return reqs;
}

export function matchesLabels(sel: LabelSelector, labels: Record<string, string> | undefined): boolean {
  const l = labels ?? {};
  return sel.every((r) => {
    const has = Object.prototype.hasOwnProperty.call(l, r.key);
    const v = l[r.key];
    switch (r.op) {
      case "=":
        return has && v === r.value;
      case "!=":
        return !has || v !== r.value;
      case "in":
        return has && r.values.includes(v!);
      case "notin":
        return !has || !r.values.includes(v!);
      case "exists":
        return has;
      case "!":
        return !has;
    }
  });
}

/** A `metav1.LabelSelector` object (matchLabels + matchExpressions) as a parsed selector. */
export function fromLabelSelectorObject(sel: unknown): LabelSelector {
  const reqs: Requirement[] = [];
  if (!sel || typeof sel !== "object") return reqs;
  const s = sel as { matchLabels?: Record<string, unknown>; matchExpressions?: unknown[] };
  for (const [k, v] of Object.entries(s.matchLabels ?? {})) reqs.push({ key: k, op: "=", value: String(v) });
  for (const e of s.matchExpressions ?? []) {
    const x = e as { key?: string; operator?: string; values?: unknown[] };
    const key = String(x.key ?? "");
    const values = (x.values ?? []).map(String);
    if (x.operator === "In") reqs.push({ key, op: "in", values });
    else if (x.operator === "NotIn") reqs.push({ key, op: "notin", values });
    else if (x.operator === "Exists") reqs.push({ key, op: "exists" });
    else if (x.operator === "DoesNotExist") reqs.push({ key, op: "!" });
  }
  return reqs;
}

/** A `map[string]string` selector (Service `spec.selector`). An empty map selects nothing for services. */
export function fromMap(m: Record<string, string> | undefined): LabelSelector {
  return Object.entries(m ?? {}).map(([key, value]) => ({ key, op: "=" as const, value }));
}

export interface FieldRequirement {
  field: string;
  op: "=" | "!=";
  value: string;
}

/** Fields each kind supports in field selectors, besides `metadata.name` and `metadata.namespace`. */
const supportedFields: Record<string, string[]> = {
  "core/pods": [
    "spec.nodeName",
    "spec.restartPolicy",
    "spec.schedulerName",
    "spec.serviceAccountName",
    "spec.hostNetwork",
    "status.phase",
    "status.podIP",
    "status.nominatedNodeName",
  ],
  "core/events": [
    "involvedObject.kind",
    "involvedObject.namespace",
    "involvedObject.name",
    "involvedObject.uid",
    "involvedObject.apiVersion",
    "involvedObject.resourceVersion",
    "involvedObject.fieldPath",
    "reason",
    "reportingComponent",
    "source",
    "type",
  ],
  "core/namespaces": ["status.phase"],
  "core/nodes": ["spec.unschedulable"],
  "core/secrets": ["type"],
  "apps/replicasets": ["status.replicas"],
  "core/services": ["spec.clusterIP", "spec.type"],
};

/** Parses a field selector for the resource `key` (`core/pods`…); unsupported fields are a 400 as on a real server. */
export function parseFieldSelector(
  s: string | undefined,
  key: string,
  kind: string,
  apiVersion: string,
): FieldRequirement[] {
  if (!s || !s.trim()) return [];
  const out: FieldRequirement[] = [];
  for (const part of s
    .split(",")
    .map((x) => x.trim())
    .filter(Boolean)) {
    const m = /^([A-Za-z0-9_.]+)\s*(==|=|!=)\s*(.*)$/.exec(part);
    if (!m) throw new ApiError(400, "BadRequest", `invalid selector: '${s}'; can't understand '${part}'`);
    const field = m[1]!;
    if (
      field !== "metadata.name" &&
      field !== "metadata.namespace" &&
      !(supportedFields[key] ?? []).includes(field)
    )
      throw new ApiError(400, "BadRequest", `field label not supported: ${field}`, undefined);
    out.push({ field, op: m[2] === "!=" ? "!=" : "=", value: m[3]! });
  }
  void kind;
  void apiVersion;
  return out;
}

function fieldValue(obj: KubeObject, field: string): string {
  if (field === "source") return String((obj.source as { component?: string } | undefined)?.component ?? "");
  let cur: unknown = obj;
  for (const p of field.split(".")) {
    if (cur === null || typeof cur !== "object") return "";
    cur = (cur as Record<string, unknown>)[p];
  }
  if (cur === undefined || cur === null)
    return field === "spec.hostNetwork" || field === "spec.unschedulable" ? "false" : "";
  return String(cur);
}

export function matchesFields(reqs: FieldRequirement[], obj: KubeObject): boolean {
  return reqs.every((r) => (fieldValue(obj, r.field) === r.value) === (r.op === "="));
}
