/** Filtering and summarising flows for the table and the egress map (pure; tested without a browser). */
import type { FlowView } from "../../server/src/realtime/protocol.ts";

export interface FlowFilter {
  namespace: string;
  workload: string;
  action: "" | "allow" | "deny";
  /** What the staged policies would do: `deny` keeps the flows a staged policy would deny. */
  pending: "" | "allow" | "deny";
  destination: string;
  /** How far back: the last 5 or 15 minutes, since the learner opened this stage, or everything kept. */
  window: FlowWindow;
  /** Show the grader's probe flows (marked) too; hidden by default, they are not the cluster's own traffic. */
  probes?: boolean;
}

export type FlowWindow = "5m" | "15m" | "stage" | "all";

export const emptyFilter: FlowFilter = {
  namespace: "",
  workload: "",
  action: "",
  pending: "",
  destination: "",
  window: "5m",
};

/** When the window starts (ms since the epoch); 0 for everything. `stageStart` is when this stage was opened. */
export function windowStart(window: FlowWindow, now: number, stageStart: number): number {
  if (window === "5m") return now - 5 * 60_000;
  if (window === "15m") return now - 15 * 60_000;
  if (window === "stage") return stageStart;
  return 0;
}

export function matches(f: FlowView, filter: FlowFilter, since = 0): boolean {
  if (f.probe && !filter.probes) return false;
  if (since && Date.parse(f.lastSeen) < since) return false;
  if (filter.pending && f.pendingAction !== filter.pending) return false;
  if (filter.namespace && f.sourceNamespace !== filter.namespace) return false;
  if (filter.workload && !f.sourceName.toLowerCase().includes(filter.workload.toLowerCase())) return false;
  if (filter.action && f.action !== filter.action) return false;
  if (filter.destination) {
    const d = `${f.destNamespace}/${f.destName}:${f.destPort}`.toLowerCase();
    if (!d.includes(filter.destination.toLowerCase())) return false;
  }
  return true;
}

/** Source-reported flows are the egress decisions; destination-reported ones duplicate in-cluster traffic. */
export function egressOnly(flows: FlowView[]): FlowView[] {
  return flows.filter((f) => f.reporter !== "dst");
}

export type Verdict = "allow" | "deny";

/**
 * A workload → destination edge and what the cluster does on it *now*: the verdict of its most recent flow. Whisker
 * aggregates flows per key, and the action is part of the key, so an edge whose verdict changed has one flow per
 * verdict, each with its own `end_time`: the latest one is the dataplane's current decision (as of Goldmane's last
 * 15 s window). Re-evaluating policy instead would need endpoint IPs, which Whisker's flows do not carry.
 */
export interface MapEdge {
  source: string;
  dest: string;
  external: boolean;
  /** The action of the edge's most recent flow. */
  verdict: Verdict;
  /** When the edge was last seen (ISO). */
  lastSeen: string;
  /** The other verdict, when the window also holds it: the edge changed (when it was last seen that way). */
  previous?: { verdict: Verdict; lastSeen: string };
  /** What the staged policies would do now (the pending verdict of the most recent flow), when one applies. */
  pending?: Verdict;
}

export const workloadOf = (f: FlowView): string => `${f.sourceNamespace}/${f.sourceName}`;
export const destinationOf = (f: FlowView): string =>
  f.destType === "domain" || f.destType === "net" || f.destNamespace === "-"
    ? `${f.destName}:${f.destPort}`
    : `${f.destNamespace}/${f.destName}:${f.destPort}`;

/** Workload → destination edges with their current verdict (the probe flows left out). */
export function egressEdges(flows: FlowView[]): MapEdge[] {
  const edges = new Map<string, MapEdge>();
  for (const f of egressOnly(flows)) {
    if (f.probe || (f.action !== "allow" && f.action !== "deny")) continue;
    const source = workloadOf(f);
    const dest = destinationOf(f);
    const key = `${source}→${dest}`;
    const pending = f.pendingAction === "allow" || f.pendingAction === "deny" ? f.pendingAction : undefined;
    const e = edges.get(key);
    if (!e) {
      edges.set(key, {
        source,
        dest,
        external: f.destType === "domain" || f.destType === "net" || f.destNamespace === "-",
        verdict: f.action,
        lastSeen: f.lastSeen,
        ...(pending ? { pending } : {}),
      });
      continue;
    }
    const newer = f.lastSeen > e.lastSeen;
    if (f.action !== e.verdict) {
      if (newer) {
        e.previous = { verdict: e.verdict, lastSeen: e.lastSeen };
        e.verdict = f.action;
      } else if (!e.previous || f.lastSeen > e.previous.lastSeen)
        e.previous = { verdict: f.action, lastSeen: f.lastSeen };
    }
    if (newer) {
      e.lastSeen = f.lastSeen;
      if (pending) e.pending = pending;
      else delete e.pending;
    }
  }
  return [...edges.values()].sort((a, b) => a.source.localeCompare(b.source) || a.dest.localeCompare(b.dest));
}

/** Merges updates into the table (by key), newest first, at most `max` rows. */
export function mergeFlows(current: Map<string, FlowView>, updates: FlowView[], max = 2000): void {
  for (const u of updates) {
    current.delete(u.key);
    current.set(u.key, u);
  }
  while (current.size > max) {
    const k = current.keys().next().value;
    if (k === undefined) break;
    current.delete(k);
  }
}
