/**
 * Whisker's flow API over the simulated flow log, as whisker-backend answers it (Calico 3.30+, Open Source and
 * Enterprise alike):
 * - a flow is `FlowResponse` of `whisker-backend/pkg/apis/v1/flows.go`, converted as `handlers/v1/protoconvert.go`
 *   does: RFC 3339 times, labels joined by " | ", `pub`/`pvt` shown as "PUBLIC NETWORK"/"PRIVATE NETWORK", policy
 *   hits parsed as goldmane's `proto/methods.go` `HitFromString` does (rule index -1: an `EndOfTier` hit whose
 *   `trigger` names the policy), enums as their goldmane `api.proto` names;
 * - the query (`startTimeGte`/`startTimeLt` seconds, 0 = oldest/now, negative = relative to now; `sortBy`; `filters`
 *   as URL-encoded JSON; `pageSize`/`page`) as goldmane's `FlowListRequest` reads it;
 * - a list is `{"total":{"totalPages":N,"totalResults":M},"items":[…]}` (httpmachinery's list with goldmane's
 *   `ListMetadata`), one flow per key over the time range (goldmane's `storage/diachronic_flow.go`); the event
 *   stream sends each 15 s window's flow.
 * Pure: no I/O; `whisker-http.ts` serves it.
 */
import type { FlowRecord } from "./flows.ts";

export type WhiskerAction = "Allow" | "Deny" | "Pass" | "ActionUnspecified";
export type WhiskerPolicyKind =
  | "KindUnspecified"
  | "CalicoNetworkPolicy"
  | "GlobalNetworkPolicy"
  | "StagedNetworkPolicy"
  | "StagedGlobalNetworkPolicy"
  | "StagedKubernetesNetworkPolicy"
  | "NetworkPolicy"
  | "ClusterNetworkPolicyAdminTier"
  | "ClusterNetworkPolicyBaselineTier"
  | "Profile"
  | "EndOfTier";

export interface WhiskerPolicyHit {
  kind: WhiskerPolicyKind;
  name: string;
  namespace: string;
  tier: string;
  action: WhiskerAction;
  policy_index: number;
  rule_index: number;
  trigger: WhiskerPolicyHit | null;
}

export interface WhiskerFlow {
  start_time: string;
  end_time: string;
  action: WhiskerAction;
  source_name: string;
  source_namespace: string;
  source_labels: string;
  dest_name: string;
  dest_namespace: string;
  dest_labels: string;
  protocol: string;
  dest_port: number;
  reporter: "Src" | "Dst";
  policies: { enforced: WhiskerPolicyHit[] | null; pending: WhiskerPolicyHit[] | null };
  packets_in: number;
  packets_out: number;
  bytes_in: number;
  bytes_out: number;
  /** Calico Enterprise only. */
  dest_domains?: string[];
}

/** A bad request: whisker-backend answers 400 `{"error": message}`. */
export class WhiskerBadRequest extends Error {}

const KINDS: Record<string, WhiskerPolicyKind> = {
  np: "CalicoNetworkPolicy",
  gnp: "GlobalNetworkPolicy",
  snp: "StagedNetworkPolicy",
  sgnp: "StagedGlobalNetworkPolicy",
  sknp: "StagedKubernetesNetworkPolicy",
  knp: "NetworkPolicy",
  pro: "Profile",
};
const ACTIONS: Record<string, WhiskerAction> = { allow: "Allow", deny: "Deny", pass: "Pass" };

/** Go's `time.Unix(s, 0)` marshalled in UTC: RFC 3339 without fractional seconds. */
export function rfc3339(seconds: number): string {
  return new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
}

/**
 * One of our trace entries (`<index>|<tier>|<kind>:[<ns>/]<name>|<action>|<rule>`, see calico/evaluate.ts
 * `formatTrace`) as goldmane's PolicyHit; undefined if malformed.
 */
export function parseHit(trace: string): WhiskerPolicyHit | undefined {
  const parts = trace.split("|");
  if (parts.length !== 5) return undefined;
  const [idx, rawTier, namePart, act, rule] = parts as [string, string, string, string, string];
  const colon = namePart.indexOf(":");
  const short = colon > 0 ? namePart.slice(0, colon) : "";
  const qualified = colon > 0 ? namePart.slice(colon + 1) : namePart;
  const slash = qualified.indexOf("/");
  const namespace = slash >= 0 ? qualified.slice(0, slash) : "";
  const name = slash >= 0 ? qualified.slice(slash + 1) : qualified;
  const tier = rawTier === "__PROFILE__" ? "" : rawTier;
  let kind = KINDS[short];
  if (short === "kcnp")
    kind = tier === "kube-baseline" ? "ClusterNetworkPolicyBaselineTier" : "ClusterNetworkPolicyAdminTier";
  const action = ACTIONS[act.toLowerCase()];
  const policyIndex = Number(idx);
  const ruleIndex = Number(rule);
  if (!kind || !action || !Number.isInteger(policyIndex) || !Number.isInteger(ruleIndex)) return undefined;
  if (ruleIndex === -1)
    return {
      kind: "EndOfTier",
      name: "",
      namespace: "",
      tier,
      action,
      policy_index: policyIndex,
      rule_index: -1,
      trigger: {
        kind,
        name,
        namespace,
        tier,
        action: "ActionUnspecified",
        policy_index: 0,
        rule_index: 0,
        trigger: null,
      },
    };
  return {
    kind,
    name,
    namespace,
    tier,
    action,
    policy_index: policyIndex,
    rule_index: ruleIndex,
    trigger: null,
  };
}

function hits(traces: readonly string[]): WhiskerPolicyHit[] | null {
  const out = traces.map(parseHit).filter((h): h is WhiskerPolicyHit => !!h);
  return out.length ? out : null; // a nil Go slice marshals as null
}

/** Goldmane's "pub"/"pvt" as Whisker shows them. */
export function displayName(name: string): string {
  return name === "pub" ? "PUBLIC NETWORK" : name === "pvt" ? "PRIVATE NETWORK" : name;
}

/**
 * `domains`: Calico Enterprise's flows carry the DNS names the destination was reached by (its flow logs'
 * `dest_domains`); Open Source Whisker has none, so the field is left out there.
 */
export function toWhiskerFlow(r: FlowRecord, domains = false): WhiskerFlow {
  return {
    start_time: rfc3339(r.start_time),
    end_time: rfc3339(r.end_time),
    action: r.action === "allow" ? "Allow" : "Deny",
    source_name: displayName(r.source_name),
    source_namespace: r.source_namespace,
    source_labels: r.source_labels.join(" | "),
    dest_name: displayName(r.dest_name),
    dest_namespace: r.dest_namespace,
    dest_labels: r.dest_labels.join(" | "),
    protocol: r.proto,
    dest_port: r.dest_port,
    reporter: r.reporter === "src" ? "Src" : "Dst",
    policies: { enforced: hits(r.policies.enforced_policies), pending: hits(r.policies.pending_policies) },
    packets_in: r.packets_in,
    packets_out: r.packets_out,
    bytes_in: r.bytes_in,
    bytes_out: r.bytes_out,
    ...(domains ? { dest_domains: [...r.dest_domains] } : {}),
  };
}

interface StringMatch {
  value: string;
  type: "Exact" | "Fuzzy";
}

export interface WhiskerFilters {
  source_names?: StringMatch[];
  source_namespaces?: StringMatch[];
  dest_names?: StringMatch[];
  dest_namespaces?: StringMatch[];
  protocols?: StringMatch[];
  dest_ports?: { value: number }[];
  actions?: WhiskerAction[];
  policies?: {
    kind?: WhiskerPolicyKind;
    tier?: StringMatch;
    name?: StringMatch;
    namespace?: StringMatch;
    action?: WhiskerAction;
  }[];
}

export const SORT_BY = [
  "Time",
  "DestName",
  "DestNamespace",
  "DestType",
  "SourceName",
  "SourceNamespace",
  "SourceType",
] as const;
export type SortBy = (typeof SORT_BY)[number];

export const FILTER_TYPES = [
  "DestName",
  "SourceName",
  "DestNamespace",
  "SourceNamespace",
  "PolicyTier",
  "PolicyName",
] as const;
export type FilterType = (typeof FILTER_TYPES)[number];

export interface ListParams {
  watch: boolean;
  startTimeGte: number;
  startTimeLt: number;
  sortBy: SortBy[];
  filters: WhiskerFilters;
  page: number;
  pageSize: number;
}

const isObj = (v: unknown): v is Record<string, unknown> => !!v && typeof v === "object" && !Array.isArray(v);

function stringMatches(v: unknown, where: string): StringMatch[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) throw new WhiskerBadRequest(`filters.${where}: expected a list`);
  return v.map((m) => stringMatch(m, where));
}

function stringMatch(m: unknown, where: string): StringMatch {
  if (!isObj(m) || typeof m.value !== "string")
    throw new WhiskerBadRequest(`filters.${where}: expected {"value": string, "type": "Exact"|"Fuzzy"}`);
  const type = m.type ?? "Exact";
  if (type !== "Exact" && type !== "Fuzzy") throw new WhiskerBadRequest(`unknown value: ${String(type)}`);
  return { value: m.value, type };
}

function enumValue<T extends string>(v: unknown, allowed: readonly T[]): T {
  if (typeof v !== "string" || !allowed.includes(v as T))
    throw new WhiskerBadRequest(`unknown value: ${String(v)}`);
  return v as T;
}

const ACTION_VALUES: WhiskerAction[] = ["ActionUnspecified", "Allow", "Deny", "Pass"];
const KIND_VALUES = Object.values(KINDS).concat([
  "KindUnspecified",
  "ClusterNetworkPolicyAdminTier",
  "ClusterNetworkPolicyBaselineTier",
  "EndOfTier",
]) as WhiskerPolicyKind[];

/** Parses the `filters` query value (URL-decoded JSON); throws `WhiskerBadRequest`. */
export function parseFilters(raw: string | null): WhiskerFilters {
  if (raw === null || raw === "") return {};
  if (raw.length > 16_384) throw new WhiskerBadRequest("filters: too long");
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch (err) {
    throw new WhiskerBadRequest(`filters: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (!isObj(v)) throw new WhiskerBadRequest("filters: expected a JSON object");
  const f: WhiskerFilters = {};
  const sn = stringMatches(v.source_names, "source_names");
  if (sn) f.source_names = sn;
  const sns = stringMatches(v.source_namespaces, "source_namespaces");
  if (sns) f.source_namespaces = sns;
  const dn = stringMatches(v.dest_names, "dest_names");
  if (dn) f.dest_names = dn;
  const dns = stringMatches(v.dest_namespaces, "dest_namespaces");
  if (dns) f.dest_namespaces = dns;
  const pr = stringMatches(v.protocols, "protocols");
  if (pr) f.protocols = pr;
  if (v.dest_ports !== undefined && v.dest_ports !== null) {
    if (!Array.isArray(v.dest_ports)) throw new WhiskerBadRequest("filters.dest_ports: expected a list");
    f.dest_ports = v.dest_ports.map((p) => {
      const n = isObj(p) ? p.value : undefined;
      if (typeof n !== "number" || !Number.isInteger(n))
        throw new WhiskerBadRequest('filters.dest_ports: expected {"value": number}');
      return { value: n };
    });
  }
  if (v.actions !== undefined && v.actions !== null) {
    if (!Array.isArray(v.actions)) throw new WhiskerBadRequest("filters.actions: expected a list");
    f.actions = v.actions.map((a) => enumValue(a, ACTION_VALUES));
  }
  if (v.policies !== undefined && v.policies !== null) {
    if (!Array.isArray(v.policies)) throw new WhiskerBadRequest("filters.policies: expected a list");
    f.policies = v.policies.map((p) => {
      if (!isObj(p)) throw new WhiskerBadRequest("filters.policies: expected objects");
      const m: NonNullable<WhiskerFilters["policies"]>[number] = {};
      if (p.kind !== undefined) m.kind = enumValue(p.kind, KIND_VALUES);
      if (p.action !== undefined) m.action = enumValue(p.action, ACTION_VALUES);
      if (p.tier !== undefined) m.tier = stringMatch(p.tier, "policies.tier");
      if (p.name !== undefined) m.name = stringMatch(p.name, "policies.name");
      if (p.namespace !== undefined) m.namespace = stringMatch(p.namespace, "policies.namespace");
      return m;
    });
  }
  return f;
}

function int64(q: URLSearchParams, key: string): number {
  const v = q.get(key);
  if (v === null || v === "") return 0;
  if (!/^-?\d{1,15}$/.test(v))
    throw new WhiskerBadRequest(`${key}: strconv.ParseInt: parsing "${v}": invalid syntax`);
  return Number(v);
}

/** Parses `GET /flows`' query; throws `WhiskerBadRequest`. */
export function parseListParams(q: URLSearchParams): ListParams {
  const watch = q.get("watch");
  if (
    watch !== null &&
    !["true", "false", "1", "0", "True", "False", "TRUE", "FALSE", "t", "f", "T", "F"].includes(watch)
  )
    throw new WhiskerBadRequest(`watch: strconv.ParseBool: parsing "${watch}": invalid syntax`);
  const sortBy = q.getAll("sortBy").map((s) => {
    if (!SORT_BY.includes(s as SortBy)) throw new WhiskerBadRequest(`unknown sortBy value: ${s}`);
    return s as SortBy;
  });
  const pageSize = int64(q, "pageSize");
  const page = int64(q, "page");
  if (pageSize < 0 || page < 0) throw new WhiskerBadRequest("page and pageSize must not be negative");
  return {
    watch: watch !== null && /^(true|1|t)$/i.test(watch),
    startTimeGte: int64(q, "startTimeGte"),
    startTimeLt: int64(q, "startTimeLt"),
    sortBy,
    filters: parseFilters(q.get("filters")),
    page,
    pageSize: Math.min(pageSize, 10_000),
  };
}

function matchString(
  value: string,
  ms: StringMatch[] | undefined,
  conv: (s: string) => string = (s) => s,
): boolean {
  if (!ms?.length) return true;
  return ms.some((m) => {
    const want = conv(m.value);
    return m.type === "Fuzzy" ? value.includes(want) : value === want;
  });
}

const toProtoName = (n: string): string =>
  n === "PUBLIC NETWORK" ? "pub" : n === "PRIVATE NETWORK" ? "pvt" : n;
const toProtoNamespace = (n: string): string => (n === "Global" ? "-" : n);

/** Whether a record passes goldmane's `Filter` (each list ORed, lists ANDed). */
export function matchesFilters(r: FlowRecord, f: WhiskerFilters): boolean {
  if (!matchString(r.source_name, f.source_names, toProtoName)) return false;
  if (!matchString(r.source_namespace, f.source_namespaces, toProtoNamespace)) return false;
  if (!matchString(r.dest_name, f.dest_names, toProtoName)) return false;
  if (!matchString(r.dest_namespace, f.dest_namespaces, toProtoNamespace)) return false;
  if (!matchString(r.proto, f.protocols)) return false;
  if (f.dest_ports?.length && !f.dest_ports.some((p) => p.value === r.dest_port)) return false;
  if (f.actions?.length && !f.actions.includes(r.action === "allow" ? "Allow" : "Deny")) return false;
  if (f.policies?.length) {
    const all = [...r.policies.enforced_policies, ...r.policies.pending_policies]
      .map(parseHit)
      .filter((h): h is WhiskerPolicyHit => !!h)
      .map((h) => (h.kind === "EndOfTier" && h.trigger ? { ...h.trigger, action: h.action } : h));
    const ok = f.policies.some((m) =>
      all.some(
        (h) =>
          (!m.kind || m.kind === "KindUnspecified" || m.kind === h.kind) &&
          (!m.action || m.action === "ActionUnspecified" || m.action === h.action) &&
          (!m.tier || matchString(h.tier, [m.tier])) &&
          (!m.name || matchString(h.name, [m.name])) &&
          (!m.namespace || matchString(h.namespace, [m.namespace])),
      ),
    );
    if (!ok) return false;
  }
  return true;
}

/** The `[gte, lt)` window in unix seconds for a query at `nowSec` (0: oldest / now; negative: relative). */
export function timeWindow(
  p: { startTimeGte: number; startTimeLt: number },
  nowSec: number,
): [number, number] {
  const gte = p.startTimeGte < 0 ? nowSec + p.startTimeGte : p.startTimeGte;
  const lt =
    p.startTimeLt === 0
      ? Number.POSITIVE_INFINITY
      : p.startTimeLt < 0
        ? nowSec + p.startTimeLt
        : p.startTimeLt;
  return [gte, lt];
}

function typeRank(t: string): number {
  return { wep: 1, hep: 2, ns: 3, net: 4 }[t] ?? 0;
}

function compare(a: FlowRecord, b: FlowRecord, by: SortBy): number {
  switch (by) {
    case "Time":
      return b.end_time - a.end_time || b.start_time - a.start_time;
    case "DestName":
      return a.dest_name.localeCompare(b.dest_name);
    case "DestNamespace":
      return a.dest_namespace.localeCompare(b.dest_namespace);
    case "DestType":
      return typeRank(a.dest_type) - typeRank(b.dest_type);
    case "SourceName":
      return a.source_name.localeCompare(b.source_name);
    case "SourceNamespace":
      return a.source_namespace.localeCompare(b.source_namespace);
    case "SourceType":
      return typeRank(a.source_type) - typeRank(b.source_type);
  }
}

export interface WhiskerList<T> {
  total: { totalPages: number; totalResults: number };
  items: T[];
}

function paginate<T>(all: T[], page: number, pageSize: number): WhiskerList<T> {
  if (pageSize <= 0)
    return { total: { totalPages: all.length ? 1 : 0, totalResults: all.length }, items: all };
  return {
    total: { totalPages: Math.ceil(all.length / pageSize), totalResults: all.length },
    items: all.slice(page * pageSize, page * pageSize + pageSize),
  };
}

/** Goldmane's FlowKey of a record: what stays the same across its 15 s windows. */
function flowKey(r: FlowRecord): string {
  return [
    r.source_name,
    r.source_namespace,
    r.source_type,
    r.dest_name,
    r.dest_namespace,
    r.dest_type,
    r.dest_port,
    r.dest_service_name,
    r.dest_service_namespace,
    r.dest_service_port,
    r.proto,
    r.reporter,
    r.action,
    r.policies.enforced_policies.join(","),
    r.policies.pending_policies.join(","),
  ].join("\u0000");
}

/**
 * One flow per key across the windows asked for, as goldmane's `DiachronicFlow.AggregateWindows`: counters summed,
 * start of the first window, end of the last, labels intersected.
 */
export function aggregateByKey(records: readonly FlowRecord[]): FlowRecord[] {
  const byKey = new Map<string, FlowRecord>();
  for (const r of records) {
    const k = flowKey(r);
    const a = byKey.get(k);
    if (!a) {
      byKey.set(k, { ...r, source_labels: [...r.source_labels], dest_labels: [...r.dest_labels] });
      continue;
    }
    a.start_time = Math.min(a.start_time, r.start_time);
    a.end_time = Math.max(a.end_time, r.end_time);
    a.packets_in += r.packets_in;
    a.packets_out += r.packets_out;
    a.bytes_in += r.bytes_in;
    a.bytes_out += r.bytes_out;
    a.num_flows += r.num_flows;
    a.num_flows_started += r.num_flows_started;
    a.num_flows_completed += r.num_flows_completed;
    a.source_labels = a.source_labels.filter((l) => r.source_labels.includes(l));
    a.dest_labels = a.dest_labels.filter((l) => r.dest_labels.includes(l));
    for (const d of r.dest_domains) if (!a.dest_domains.includes(d)) a.dest_domains = [...a.dest_domains, d];
  }
  return [...byKey.values()];
}

/**
 * `GET /flows` without watch: one flow per key over the time range (goldmane's List), the most recently active
 * first unless `sortBy` says otherwise (time breaks ties).
 */
export function listFlows(
  records: readonly FlowRecord[],
  p: ListParams,
  nowSec: number,
  domains = false,
): WhiskerList<WhiskerFlow> {
  const [gte, lt] = timeWindow(p, nowSec);
  const hitsInWindow = aggregateByKey(
    records.filter((r) => r.start_time >= gte && r.start_time < lt && matchesFilters(r, p.filters)),
  );
  const order = [...p.sortBy, "Time" as const];
  hitsInWindow.sort((a, b) => {
    for (const by of order) {
      const c = compare(a, b, by);
      if (c !== 0) return c;
    }
    return 0;
  });
  return paginate(
    hitsInWindow.map((r) => toWhiskerFlow(r, domains)),
    p.page,
    p.pageSize,
  );
}

/** `GET /flows-filter-hints?type=…`: the distinct values flows have for one field, sorted. */
export function filterHints(
  records: readonly FlowRecord[],
  q: URLSearchParams,
  nowSec: number,
): WhiskerList<{ value: string }> {
  const type = q.get("type");
  if (type === null || type === "")
    throw new WhiskerBadRequest(
      "Key: 'FlowFilterHintsRequest.Type' Error:Field validation for 'Type' failed on the 'required' tag",
    );
  if (!FILTER_TYPES.includes(type as FilterType))
    throw new WhiskerBadRequest(
      `unknown filter type value ${type}; allowed values are '${["Unspecified", ...FILTER_TYPES].join("', '")}'`,
    );
  const filters = parseFilters(q.get("filters"));
  const [gte, lt] = timeWindow(
    { startTimeGte: int64(q, "startTimeGte"), startTimeLt: int64(q, "startTimeLt") },
    nowSec,
  );
  const values = new Set<string>();
  for (const r of records) {
    if (r.start_time < gte || r.start_time >= lt || !matchesFilters(r, filters)) continue;
    switch (type as FilterType) {
      case "DestName":
        values.add(displayName(r.dest_name));
        break;
      case "SourceName":
        values.add(displayName(r.source_name));
        break;
      case "DestNamespace":
        values.add(r.dest_namespace === "" || r.dest_namespace === "-" ? "Global" : r.dest_namespace);
        break;
      case "SourceNamespace":
        values.add(r.source_namespace === "" || r.source_namespace === "-" ? "Global" : r.source_namespace);
        break;
      case "PolicyTier":
      case "PolicyName":
        for (const t of r.policies.enforced_policies) {
          const h = parseHit(t);
          const named = h?.kind === "EndOfTier" ? h.trigger : h;
          if (!named) continue;
          if (type === "PolicyTier" && named.tier) values.add(named.tier);
          if (type === "PolicyName" && named.name && named.kind !== "Profile") values.add(named.name);
        }
        break;
    }
  }
  const pageSize = Math.max(0, Math.min(int64(q, "pageSize"), 10_000));
  return paginate(
    [...values].sort().map((value) => ({ value })),
    Math.max(0, int64(q, "page")),
    pageSize,
  );
}
