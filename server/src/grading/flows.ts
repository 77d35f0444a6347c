/**
 * Flow checks and flow-derived truths: flows come from Calico Whisker through port-forward, as on any real cluster
 * (`whisker-flows.ts` maps them to Calico's flow-log field names, snake_case), then are filtered here by `match`. A
 * cluster without Whisker makes the check fail with "flow logs not available on this cluster", never pass.
 */
import type { FlowMatch, FlowsCheck } from "../labs/model/types.ts";
import type { CheckResult } from "../labs/api.ts";
import type { ClusterClient } from "./cluster.ts";
import { queryMatches, recordOfWhiskerFlow, whiskerFlowsPath } from "./whisker-flows.ts";
import { isProbeFlow } from "./probe-pod.ts";

export type FlowRecord = Record<string, unknown>;

export class FlowsUnavailable extends Error {
  constructor(readonly detail: string) {
    super(`flow logs not available on this cluster (${detail})`);
  }
}

/**
 * Reads flow records matching `query` from Whisker (`/whisker-backend/flows` on `calico-system/svc/whisker:8081`,
 * through port-forward), mapped to the flow log's fields, without the grader's probe pods' flows. Throws
 * FlowsUnavailable when the cluster has no Whisker.
 */
export async function fetchFlows(
  client: ClusterClient,
  query: Record<string, string>,
): Promise<FlowRecord[]> {
  let r: { status: number; body: string };
  try {
    r = await client.whisker(whiskerFlowsPath(query));
  } catch (err) {
    throw new FlowsUnavailable(`Calico Whisker: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (r.status >= 400) {
    let msg = r.body.slice(0, 200);
    try {
      msg = (JSON.parse(r.body) as { error?: string }).error ?? msg;
    } catch {
      // not JSON: keep the text
    }
    throw new FlowsUnavailable(`Calico Whisker answered HTTP ${r.status}: ${msg}`);
  }
  let body: unknown;
  try {
    body = JSON.parse(r.body);
  } catch {
    throw new FlowsUnavailable("Calico Whisker answered without JSON");
  }
  const items = (body as { items?: unknown[] } | null)?.items;
  if (!Array.isArray(items)) throw new FlowsUnavailable("Calico Whisker answered without a list of flows");
  return (
    items
      .filter((x): x is Record<string, unknown> => !!x && typeof x === "object" && !Array.isArray(x))
      .map(recordOfWhiskerFlow)
      // The grader's own probes are not the cluster's traffic: checks and truths never count them (probe-pod.ts).
      .filter((rec) => !isProbeFlow(rec) && queryMatches(rec, query))
  );
}

function glob(pattern: string): RegExp {
  return new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*")}$`, "i");
}

/** The value at a dotted path (`policies.enforced_policies`) of a record. */
function at(r: FlowRecord, field: string): unknown {
  let v: unknown = r;
  for (const part of field.split("."))
    v = v && typeof v === "object" ? (v as Record<string, unknown>)[part] : undefined;
  return v;
}

function valueMatches(actual: unknown, want: string | number): boolean {
  if (Array.isArray(actual)) return actual.some((a) => valueMatches(a, want));
  if (actual === undefined || actual === null) return false;
  const w = String(want);
  return w.includes("*") ? glob(w).test(String(actual)) : String(actual).toLowerCase() === w.toLowerCase();
}

/** Whether a record has every field of `match` (a list means any of its values). */
export function recordMatches(r: FlowRecord, match: FlowMatch): boolean {
  return Object.entries(match).every(([field, want]) =>
    Array.isArray(want) ? want.some((w) => valueMatches(at(r, field), w)) : valueMatches(at(r, field), want),
  );
}

/** Records that ended within `seconds` of the newest record (the flow log's own clock). */
export function withinWindow(records: FlowRecord[], seconds: number | undefined): FlowRecord[] {
  if (seconds === undefined) return records;
  const ends = records.map((r) => Number(r.end_time)).filter(Number.isFinite);
  if (!ends.length) return records;
  const newest = Math.max(...ends);
  return records.filter(
    (r) => !Number.isFinite(Number(r.end_time)) || Number(r.end_time) >= newest - seconds,
  );
}

/** The value of `field` in a record; `{a}/{b}` joins several fields. Arrays give one value per element. */
export function fieldValues(r: FlowRecord, field: string): string[] {
  if (!field.includes("{")) {
    const v = r[field];
    if (Array.isArray(v)) return v.map(String);
    return v === undefined || v === null || v === "" ? [] : [String(v)];
  }
  let missing = false;
  const text = field.replace(/\{([a-z_]+)\}/g, (_, f: string) => {
    const v = r[f];
    if (v === undefined || v === null || v === "" || v === "-") missing = true;
    return String(Array.isArray(v) ? v[0] : v);
  });
  return missing ? [] : [text];
}

function summarize(records: FlowRecord[]): string {
  const parts = records.slice(0, 3).map((r) => {
    const src = `${String(r.source_namespace ?? "-")}/${String(r.source_name ?? "-")}`;
    const dst =
      Array.isArray(r.dest_domains) && r.dest_domains.length
        ? String(r.dest_domains[0])
        : String(r.dest_name ?? "-");
    return `${src} → ${dst}:${String(r.dest_port ?? "?")} ${String(r.action ?? "?")}`;
  });
  return parts.join("; ") + (records.length > 3 ? `; and ${records.length - 3} more` : "");
}

/**
 * How long a flows check that expects flows keeps reading Whisker for them by default: Felix flushes flow logs to
 * Goldmane every 15 s (`flowLogsFlushInterval`), so a flow made a moment ago may not be there yet.
 */
export const defaultFlowWaitMs = 20_000;

/**
 * Runs a flows check. One that expects flows (`present`, `atLeast`) and does not see them yet reads again, once a
 * second, for up to `waitMs`; one that expects none reads once.
 */
export async function runFlowsCheck(client: ClusterClient, c: FlowsCheck, waitMs = 0): Promise<CheckResult> {
  const e = c.expect;
  const waits = "present" in e || ("atLeast" in e && e.atLeast !== undefined && e.atLeast > 0);
  const deadline = Date.now() + (waits ? waitMs : 0);
  let hits: FlowRecord[];
  let passed: boolean;
  for (;;) {
    let records: FlowRecord[];
    try {
      records = withinWindow(await fetchFlows(client, c.query), c.windowSeconds);
    } catch (err) {
      if (err instanceof FlowsUnavailable)
        return { id: c.id, title: c.title, passed: false, seen: err.message, hint: c.hint };
      throw err;
    }
    hits = records.filter((r) => recordMatches(r, c.match));
    const n = hits.length;
    passed =
      "present" in e
        ? n > 0
        : "absent" in e
          ? n === 0
          : (e.atLeast === undefined || n >= e.atLeast) && (e.atMost === undefined || n <= e.atMost);
    if (passed || Date.now() + 1000 > deadline) break;
    await new Promise((r) => setTimeout(r, 1000));
  }
  const n = hits.length;
  const seen =
    n === 0
      ? "no matching flow records"
      : `${n} matching flow record${n === 1 ? "" : "s"}: ${summarize(hits)}`;
  return { id: c.id, title: c.title, passed, seen, ...(passed ? {} : { hint: c.hint }) };
}
