/**
 * Whisker's flow JSON (whisker-backend's `FlowResponse`, see net/whisker.ts) mapped back to the flow-log fields checks
 * match on (Calico's flow log names, snake_case), and the checks' query mapped to Whisker's:
 * - `action`/`reporter` lower-case (`Allow` → `allow`, `Src` → `src`); `proto` from `protocol`; times in unix seconds;
 * - `PUBLIC NETWORK`/`PRIVATE NETWORK` back to `pub`/`pvt` with `dest_type: net`; Whisker has no endpoint type, so a
 *   destination without a namespace (or `-`) is a global network set (`ns`), any other a workload (`wep`) — a
 *   namespaced NetworkSet reads as `wep`;
 * - `policies.enforced_policies`/`pending_policies` as Calico's trace strings
 *   (`<index>|<tier>|<kind>:[<ns>/]<name>|<action>|<rule>`, an `EndOfTier` hit as its trigger with rule -1);
 * - `dest_domains` only where the flow carries it (Calico Enterprise's flows do; Open Source Whisker has no domains,
 *   so a domain match finds nothing there).
 */
import type { FlowRecord } from "./flows.ts";

interface Hit {
  kind?: string;
  name?: string;
  namespace?: string;
  tier?: string;
  action?: string;
  policy_index?: number;
  rule_index?: number;
  trigger?: Hit | null;
}

const SHORT: Record<string, string> = {
  CalicoNetworkPolicy: "np",
  GlobalNetworkPolicy: "gnp",
  StagedNetworkPolicy: "snp",
  StagedGlobalNetworkPolicy: "sgnp",
  StagedKubernetesNetworkPolicy: "sknp",
  NetworkPolicy: "knp",
  Profile: "pro",
  ClusterNetworkPolicyAdminTier: "kcnp",
  ClusterNetworkPolicyBaselineTier: "kcnp",
};

const str = (v: unknown): string => (typeof v === "string" ? v : "");

/** One policy hit as a Calico trace string; undefined when it names no policy kind we know. */
export function traceOf(h: Hit): string | undefined {
  const end = h.kind === "EndOfTier";
  const p = end ? h.trigger : h;
  if (!p) return undefined;
  const short = SHORT[str(p.kind)];
  if (!short) return undefined;
  const tier = short === "pro" ? "__PROFILE__" : str(h.tier) || str(p.tier);
  const ns = str(p.namespace);
  const rule = end ? -1 : Number(h.rule_index ?? 0);
  return `${Number(h.policy_index ?? 0)}|${tier}|${short}:${ns ? `${ns}/` : ""}${str(p.name)}|${str(h.action).toLowerCase()}|${rule}`;
}

function traces(v: unknown): string[] {
  return Array.isArray(v) ? v.map((h) => traceOf(h as Hit)).filter((t): t is string => !!t) : [];
}

const seconds = (v: unknown): number => {
  const t = Date.parse(str(v));
  return Number.isNaN(t) ? NaN : Math.floor(t / 1000);
};
const protoName = (n: string): string =>
  n === "PUBLIC NETWORK" ? "pub" : n === "PRIVATE NETWORK" ? "pvt" : n;
const labels = (v: unknown): string[] => (str(v) ? str(v).split(" | ") : []);

/** A Whisker flow as the flow-log record checks match on. */
export function recordOfWhiskerFlow(w: Record<string, unknown>): FlowRecord {
  const destName = str(w.dest_name);
  const destNs = str(w.dest_namespace);
  const net = destName === "PUBLIC NETWORK" || destName === "PRIVATE NETWORK";
  const policies = (w.policies ?? {}) as { enforced?: unknown; pending?: unknown };
  return {
    start_time: seconds(w.start_time),
    end_time: seconds(w.end_time),
    action: str(w.action).toLowerCase(),
    reporter: str(w.reporter).toLowerCase(),
    source_name: protoName(str(w.source_name)),
    source_namespace: str(w.source_namespace) || "-",
    source_labels: labels(w.source_labels),
    dest_name: protoName(destName),
    dest_namespace: destNs || "-",
    dest_labels: labels(w.dest_labels),
    dest_type: net ? "net" : !destNs || destNs === "-" ? "ns" : "wep",
    dest_port: w.dest_port,
    proto: str(w.protocol),
    dest_domains: Array.isArray(w.dest_domains) ? w.dest_domains.map(String) : [],
    policies: { enforced_policies: traces(policies.enforced), pending_policies: traces(policies.pending) },
    packets_in: w.packets_in,
    packets_out: w.packets_out,
    bytes_in: w.bytes_in,
    bytes_out: w.bytes_out,
  };
}

const WHISKER_ACTIONS: Record<string, string> = { allow: "Allow", deny: "Deny", pass: "Pass" };

/**
 * The Whisker request for a check's query (`action`, `namespace`, `reporter`, `workload`, `port`, `proto`, `domain`,
 * `since`): what Whisker can filter goes into `filters`; the rest is applied to the mapped records by `queryMatches`.
 */
export function whiskerFlowsPath(query: Record<string, string>, lookbackSeconds = 86_400): string {
  const filters: Record<string, unknown> = {};
  const a = WHISKER_ACTIONS[(query.action ?? "").toLowerCase()];
  if (a) filters.actions = [a];
  const port = Number(query.port);
  if (query.port !== undefined && Number.isInteger(port)) filters.dest_ports = [{ value: port }];
  if (query.proto) filters.protocols = [{ value: query.proto, type: "Exact" }];
  const q = new URLSearchParams({ startTimeGte: String(-lookbackSeconds), pageSize: "10000" });
  if (Object.keys(filters).length) q.set("filters", JSON.stringify(filters));
  return `/whisker-backend/flows?${q.toString()}`;
}

/** Whether a mapped record passes the query as the flow log's own query does (net/flows.ts). */
export function queryMatches(r: FlowRecord, q: Record<string, string>): boolean {
  const s = (k: string): string => str(r[k]);
  if (q.namespace && s("source_namespace") !== q.namespace && s("dest_namespace") !== q.namespace)
    return false;
  if (q.workload) {
    const w = q.workload.replace(/\*$/, "");
    if (!s("source_name").startsWith(w) && !s("dest_name").startsWith(w)) return false;
  }
  if (q.action && s("action") !== q.action.toLowerCase()) return false;
  if (q.reporter && s("reporter") !== q.reporter.toLowerCase()) return false;
  if (q.dest && s("dest_name") !== q.dest && !s("dest_name").startsWith(q.dest.replace(/\*$/, "")))
    return false;
  if (q.domain && !(r.dest_domains as string[]).includes(q.domain)) return false;
  if (q.port && String(r.dest_port) !== q.port) return false;
  if (q.proto && s("proto") !== q.proto) return false;
  if (q.since && /^\d+$/.test(q.since) && Number(r.end_time) < Number(q.since)) return false;
  return true;
}
