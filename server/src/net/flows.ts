/**
 * The flow log of one cluster: every connection attempt becomes a record with Goldmane's fields (and Calico
 * Enterprise's `dest_domains`), aggregated per 15 s window, kept in a bounded ring. Format and filters: `README.md`.
 */
import { ValidationError, type Problem } from "../shared/errors.ts";

export type EndpointType = "wep" | "net" | "ns" | "hep";

/** One aggregated flow record, as served by `GET /egresslab/v1/flows`. */
export interface FlowRecord {
  start_time: number;
  end_time: number;
  source_name: string;
  source_namespace: string;
  source_type: EndpointType;
  source_labels: string[];
  dest_name: string;
  dest_namespace: string;
  dest_type: EndpointType;
  dest_labels: string[];
  dest_port: number;
  dest_service_name: string;
  dest_service_namespace: string;
  dest_service_port: number;
  dest_domains: string[];
  proto: "tcp" | "udp" | "icmp";
  reporter: "src" | "dst";
  action: "allow" | "deny";
  policies: { enforced_policies: string[]; pending_policies: string[] };
  packets_in: number;
  packets_out: number;
  bytes_in: number;
  bytes_out: number;
  num_flows: number;
  num_flows_started: number;
  num_flows_completed: number;
}

/** One connection attempt, as the dataplane reports it. */
export type FlowEvent = Omit<
  FlowRecord,
  "start_time" | "end_time" | "num_flows" | "num_flows_started" | "num_flows_completed"
> & { time: number };

export const WINDOW_MS = 15_000;

export interface FlowQuery {
  namespace?: string;
  workload?: string;
  action?: "allow" | "deny";
  reporter?: "src" | "dst";
  dest?: string;
  domain?: string;
  port?: number;
  proto?: string;
  since?: number;
  until?: number;
  limit: number;
}

/** Parses the query string of `GET /egresslab/v1/flows`; every problem at once. */
export function parseFlowQuery(q: URLSearchParams): FlowQuery {
  const problems: Problem[] = [];
  const known = new Set([
    "namespace",
    "workload",
    "action",
    "reporter",
    "dest",
    "domain",
    "port",
    "proto",
    "since",
    "until",
    "limit",
    "watch",
  ]);
  for (const k of q.keys())
    if (!known.has(k))
      problems.push({ where: k, message: `unknown filter; known: ${[...known].join(", ")}` });
  const out: FlowQuery = { limit: 1000 };
  const str = (k: string): string | undefined => q.get(k) ?? undefined;
  out.namespace = str("namespace");
  out.workload = str("workload");
  out.dest = str("dest");
  out.domain = str("domain")?.toLowerCase();
  out.proto = str("proto")?.toLowerCase();
  const action = str("action");
  if (action !== undefined) {
    if (action === "allow" || action === "deny") out.action = action;
    else problems.push({ where: "action", message: `must be allow or deny, got "${action}"` });
  }
  const reporter = str("reporter");
  if (reporter !== undefined) {
    if (reporter === "src" || reporter === "dst") out.reporter = reporter;
    else problems.push({ where: "reporter", message: `must be src or dst, got "${reporter}"` });
  }
  const num = (k: string, min: number, max: number): number | undefined => {
    const v = str(k);
    if (v === undefined) return undefined;
    const n = Number(v);
    if (v.trim() === "" || !Number.isInteger(n) || n < min || n > max) {
      problems.push({ where: k, message: `expected a whole number between ${min} and ${max}, got "${v}"` });
      return undefined;
    }
    return n;
  };
  const time = (k: string): number | undefined => {
    const v = str(k);
    if (v === undefined) return undefined;
    if (/^\d+$/.test(v)) return Number(v);
    const t = Date.parse(v);
    if (Number.isNaN(t)) {
      problems.push({ where: k, message: `expected unix seconds or an ISO time, got "${v}"` });
      return undefined;
    }
    return Math.floor(t / 1000);
  };
  out.port = num("port", 0, 65535);
  out.limit = num("limit", 1, 100_000) ?? 1000;
  out.since = time("since");
  out.until = time("until");
  if (problems.length) throw new ValidationError(problems);
  return out;
}

function matches(r: FlowRecord, q: FlowQuery): boolean {
  if (q.namespace !== undefined && r.source_namespace !== q.namespace && r.dest_namespace !== q.namespace)
    return false;
  if (q.workload !== undefined) {
    const w = q.workload.replace(/\*$/, "");
    if (!r.source_name.startsWith(w) && !r.dest_name.startsWith(w)) return false;
  }
  if (q.action && r.action !== q.action) return false;
  if (q.reporter && r.reporter !== q.reporter) return false;
  if (
    q.dest !== undefined &&
    r.dest_name !== q.dest &&
    !r.dest_name.startsWith(q.dest.replace(/\*$/, "")) &&
    r.dest_service_name !== q.dest
  )
    return false;
  if (q.domain !== undefined && !r.dest_domains.some((d) => d === q.domain)) return false;
  if (q.port !== undefined && r.dest_port !== q.port) return false;
  if (q.proto !== undefined && r.proto !== q.proto) return false;
  if (q.since !== undefined && r.end_time < q.since) return false;
  if (q.until !== undefined && r.start_time > q.until) return false;
  return true;
}

type KeyFields = Pick<
  FlowRecord,
  | "source_namespace"
  | "source_name"
  | "dest_namespace"
  | "dest_name"
  | "dest_type"
  | "dest_port"
  | "dest_service_namespace"
  | "dest_service_name"
  | "proto"
  | "reporter"
  | "action"
  | "policies"
>;

function keyOf(e: KeyFields, window: number): string {
  return [
    window,
    e.source_namespace,
    e.source_name,
    e.dest_namespace,
    e.dest_name,
    e.dest_type,
    e.dest_port,
    e.dest_service_namespace,
    e.dest_service_name,
    e.proto,
    e.reporter,
    e.action,
    e.policies.enforced_policies.join(","),
    e.policies.pending_policies.join(","),
  ].join("\u0000");
}

const isStrings = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === "string");
const isCount = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v) && v >= 0;

/** Whether a value read back from disk has the shape of a `FlowRecord` (every field, with its type). */
export function isFlowRecord(v: unknown): v is FlowRecord {
  if (!v || typeof v !== "object") return false;
  const r = v as Record<string, unknown>;
  const types = ["wep", "net", "ns", "hep"];
  const p = r.policies as Record<string, unknown> | undefined;
  return (
    [
      "source_name",
      "source_namespace",
      "dest_name",
      "dest_namespace",
      "dest_service_name",
      "dest_service_namespace",
    ].every((k) => typeof r[k] === "string") &&
    [
      "start_time",
      "end_time",
      "dest_port",
      "dest_service_port",
      "packets_in",
      "packets_out",
      "bytes_in",
      "bytes_out",
      "num_flows",
      "num_flows_started",
      "num_flows_completed",
    ].every((k) => isCount(r[k])) &&
    Number.isInteger((r.start_time as number) / (WINDOW_MS / 1000)) &&
    types.includes(r.source_type as string) &&
    types.includes(r.dest_type as string) &&
    isStrings(r.source_labels) &&
    isStrings(r.dest_labels) &&
    isStrings(r.dest_domains) &&
    ["tcp", "udp", "icmp"].includes(r.proto as string) &&
    ["src", "dst"].includes(r.reporter as string) &&
    ["allow", "deny"].includes(r.action as string) &&
    !!p &&
    typeof p === "object" &&
    isStrings(p.enforced_policies) &&
    isStrings(p.pending_policies)
  );
}

/** A bounded, aggregating flow log. */
export class FlowLog {
  private readonly ring: (FlowRecord | undefined)[];
  /** Identical label and trace lists are shared between records (they repeat in every window). */
  private readonly interned = new Map<string, string[]>();
  private head = 0;
  private size = 0;
  private readonly index = new Map<string, FlowRecord>();
  private readonly watchers = new Set<{ q: FlowQuery; cb: (r: FlowRecord) => void }>();
  private total = 0;

  constructor(readonly capacity = 5000) {
    this.ring = new Array<FlowRecord | undefined>(capacity);
  }

  /** Records one attempt: merged into its window's record, or a new record (evicting the oldest when full). */
  record(e: FlowEvent): FlowRecord {
    this.total++;
    const window = Math.floor(e.time / WINDOW_MS);
    const key = keyOf(e, window);
    let r = this.index.get(key);
    if (r) {
      r.packets_in += e.packets_in;
      r.packets_out += e.packets_out;
      r.bytes_in += e.bytes_in;
      r.bytes_out += e.bytes_out;
      r.num_flows += 1;
      r.num_flows_started += 1;
      r.num_flows_completed += 1;
      for (const d of e.dest_domains)
        if (!r.dest_domains.includes(d) && r.dest_domains.length < 16) r.dest_domains.push(d);
    } else {
      const start = (window * WINDOW_MS) / 1000;
      r = {
        start_time: start,
        end_time: start + WINDOW_MS / 1000,
        source_name: e.source_name,
        source_namespace: e.source_namespace,
        source_type: e.source_type,
        source_labels: this.intern(e.source_labels),
        dest_name: e.dest_name,
        dest_namespace: e.dest_namespace,
        dest_type: e.dest_type,
        dest_labels: this.intern(e.dest_labels),
        dest_port: e.dest_port,
        dest_service_name: e.dest_service_name,
        dest_service_namespace: e.dest_service_namespace,
        dest_service_port: e.dest_service_port,
        dest_domains: [...e.dest_domains],
        proto: e.proto,
        reporter: e.reporter,
        action: e.action,
        policies: {
          enforced_policies: this.intern(e.policies.enforced_policies),
          pending_policies: this.intern(e.policies.pending_policies),
        },
        packets_in: e.packets_in,
        packets_out: e.packets_out,
        bytes_in: e.bytes_in,
        bytes_out: e.bytes_out,
        num_flows: 1,
        num_flows_started: 1,
        num_flows_completed: 1,
      };
      const slot = (this.head + this.size) % this.capacity;
      if (this.size === this.capacity) {
        const old = this.ring[slot];
        if (old) this.index.delete(keyOf(old, (old.start_time * 1000) / WINDOW_MS));
        this.head = (this.head + 1) % this.capacity;
      } else this.size++;
      this.ring[slot] = r;
      this.index.set(key, r);
    }
    for (const w of this.watchers) if (matches(r, w.q)) w.cb(r);
    return r;
  }

  private intern(list: string[]): string[] {
    const k = list.join("\u0000");
    const hit = this.interned.get(k);
    if (hit) return hit;
    if (this.interned.size > 4096) this.interned.clear();
    const copy = [...list];
    this.interned.set(k, copy);
    return copy;
  }

  /** Every record held, oldest first (at most `capacity`), for saving. */
  snapshot(): FlowRecord[] {
    const out: FlowRecord[] = [];
    for (let i = 0; i < this.size; i++) out.push(this.ring[(this.head + i) % this.capacity]!);
    return out;
  }

  /**
   * Loads saved records (oldest first) into an empty log, keeping the newest `capacity`; attempts in a restored
   * record's window merge into it as before the restart.
   */
  restore(records: readonly FlowRecord[]): void {
    for (const saved of records.slice(-this.capacity)) {
      const r: FlowRecord = {
        ...saved,
        source_labels: this.intern(saved.source_labels),
        dest_labels: this.intern(saved.dest_labels),
        dest_domains: [...saved.dest_domains],
        policies: {
          enforced_policies: this.intern(saved.policies.enforced_policies),
          pending_policies: this.intern(saved.policies.pending_policies),
        },
      };
      const slot = (this.head + this.size) % this.capacity;
      this.ring[slot] = r;
      this.size++;
      this.index.set(keyOf(r, (r.start_time * 1000) / WINDOW_MS), r);
    }
  }

  /** Records matching the query, oldest first, at most `limit` (the newest ones). */
  query(q: FlowQuery): FlowRecord[] {
    const out: FlowRecord[] = [];
    for (let i = 0; i < this.size; i++) {
      const r = this.ring[(this.head + i) % this.capacity]!;
      if (matches(r, q)) out.push(r);
    }
    return out.length > q.limit ? out.slice(out.length - q.limit) : out;
  }

  /** Calls `cb` with every new or updated record matching `q`; returns the unsubscribe function. */
  watch(q: FlowQuery, cb: (r: FlowRecord) => void): () => void {
    const w = { q, cb };
    this.watchers.add(w);
    return () => this.watchers.delete(w);
  }

  /** Records held now, and attempts recorded since creation. */
  stats(): { records: number; attempts: number } {
    return { records: this.size, attempts: this.total };
  }
}
