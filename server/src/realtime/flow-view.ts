/**
 * Turns a flow into the row the page shows: Calico Whisker's flow JSON (whisker-backend's `FlowResponse`, mapped to
 * the flow log's field names by grading's `recordOfWhiskerFlow`, so the page and the checks read a flow alike), or a
 * record already in Calico's flow-log fields (snake_case; or Goldmane's `Flow` with a nested `Key`).
 */
import type { FlowView } from "./protocol.ts";
import { recordOfWhiskerFlow } from "../grading/whisker-flows.ts";
import { isProbeFlow } from "../grading/probe-pod.ts";

type Rec = Record<string, unknown>;

const str = (v: unknown, dflt = ""): string =>
  typeof v === "string" ? v : typeof v === "number" ? String(v) : dflt;
const num = (v: unknown): number =>
  typeof v === "number" ? v : typeof v === "string" && v.trim() !== "" ? Number(v) || 0 : 0;

const actions: Record<string, FlowView["action"]> = {
  allow: "allow",
  deny: "deny",
  pass: "pass",
  "1": "allow",
  "2": "deny",
  "3": "pass",
};
const destTypes: Record<string, FlowView["destType"]> = {
  wep: "wep",
  workloadendpoint: "wep",
  hep: "hep",
  hostendpoint: "hep",
  ns: "ns",
  networkset: "ns",
  net: "net",
  network: "net",
  domain: "domain",
};

function pick(r: Rec, ...names: string[]): unknown {
  for (const n of names) if (r[n] !== undefined && r[n] !== null) return r[n];
  return undefined;
}

function timeOf(v: unknown): string {
  if (typeof v === "number") return new Date(v < 1e12 ? v * 1000 : v).toISOString();
  if (typeof v === "string" && v) {
    const d = new Date(/^\d+$/.test(v) ? Number(v) * 1000 : v);
    if (!Number.isNaN(d.getTime())) return d.toISOString();
  }
  return new Date(0).toISOString();
}

function policiesOf(p: unknown, which: "enforced" | "pending" = "enforced"): string[] {
  if (!p || typeof p !== "object") return [];
  const o = p as Rec;
  const list =
    which === "pending"
      ? pick(o, "pending_policies", "pendingPolicies")
      : pick(o, "enforced_policies", "enforcedPolicies", "all_policies");
  if (!Array.isArray(list)) return [];
  return list.map((x) => {
    if (typeof x === "string") return x;
    if (x && typeof x === "object") {
      const h = x as Rec;
      return [
        str(h.tier),
        [str(h.namespace), str(h.name)].filter(Boolean).join("/"),
        str(h.action),
        str(pick(h, "rule_index", "ruleIndex")),
      ].join("|");
    }
    return String(x);
  });
}

/**
 * The verdict of a policy trace: the action of its last entry (`index|tier|kind:ns/name|action|rule`), the one that
 * decided; undefined for an empty trace.
 */
export function traceVerdict(trace: readonly string[]): FlowView["action"] | undefined {
  const last = trace[trace.length - 1];
  if (last === undefined) return undefined;
  const word = last
    .split("|")
    .map((f) => f.toLowerCase())
    .reverse()
    .find((f) => f === "allow" || f === "deny" || f === "pass");
  return word ? (word as FlowView["action"]) : "unknown";
}

/** Whether a record is Whisker's JSON (policies as `{enforced, pending}` hits, times in RFC 3339). */
function isWhiskerFlow(r: Rec): boolean {
  const p = r.policies;
  return (
    (!!p && typeof p === "object" && ("enforced" in p || "pending" in p)) ||
    (typeof r.start_time === "string" && typeof r.protocol === "string")
  );
}

/** A row for the page, or undefined for something that is not a flow record. */
export function toFlowView(record: unknown): FlowView | undefined {
  if (!record || typeof record !== "object" || Array.isArray(record)) return undefined;
  const outer = isWhiskerFlow(record as Rec) ? recordOfWhiskerFlow(record as Rec) : (record as Rec);
  const r: Rec = { ...outer, ...((pick(outer, "Key", "key") as Rec | undefined) ?? {}) };
  const sourceName = str(pick(r, "source_name_aggr", "source_name", "sourceName"));
  const domains = pick(r, "dest_domains", "destDomains");
  const domain = Array.isArray(domains) && typeof domains[0] === "string" ? domains[0] : "";
  const destName = domain || str(pick(r, "dest_name_aggr", "dest_name", "destName", "dest_ip"));
  if (!sourceName && !destName) return undefined;
  const rawType = str(pick(r, "dest_type", "destType")).toLowerCase();
  const view: FlowView = {
    key: "",
    sourceNamespace: str(pick(r, "source_namespace", "sourceNamespace"), "-") || "-",
    sourceName: sourceName || "-",
    destNamespace: str(pick(r, "dest_namespace", "destNamespace"), "-") || "-",
    destName: destName || "-",
    destType: domain && (rawType === "net" || rawType === "") ? "domain" : (destTypes[rawType] ?? "unknown"),
    destPort: num(pick(r, "dest_port", "destPort")),
    proto: str(pick(r, "proto", "protocol"), "tcp").toLowerCase(),
    action: actions[str(r.action).toLowerCase()] ?? "unknown",
    reporter: str(r.reporter, "src").toLowerCase(),
    policies: policiesOf(pick(r, "policies", "Policies")),
    pending: policiesOf(pick(r, "policies", "Policies"), "pending"),
    connections: num(pick(r, "num_flows_started", "num_connections_started", "num_flows")) || 1,
    lastSeen: timeOf(pick(r, "end_time", "endTime", "start_time")),
  };
  const pendingAction = traceVerdict(view.pending ?? []);
  if (pendingAction) view.pendingAction = pendingAction;
  if (isProbeFlow(r)) view.probe = true;
  if (r.packets_in !== undefined || r.packets_out !== undefined)
    view.packets = num(r.packets_in) + num(r.packets_out);
  view.key = [
    view.sourceNamespace,
    view.sourceName,
    view.destNamespace,
    view.destName,
    view.destPort,
    view.proto,
    view.action,
    view.reporter,
  ].join("|");
  return view;
}
