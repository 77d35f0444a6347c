/**
 * Flow checks and flow-derived truths: records come from `GET /egresslab/v1/flows?…` through the API server with the
 * connection's credentials (Calico's field names, snake_case), then are filtered here by `match`. A cluster that does
 * not serve the flow API makes the check fail with "flow logs not available on this cluster", never pass.
 */
import type { FlowMatch, FlowsCheck } from "../labs/model/types.ts";
import type { CheckResult } from "../labs/api.ts";
import type { ClusterClient } from "./cluster.ts";

export type FlowRecord = Record<string, unknown>;

export class FlowsUnavailable extends Error {
  constructor(readonly detail: string) {
    super(`flow logs not available on this cluster (${detail})`);
  }
}

/** Reads flow records matching `query` from the cluster. Throws FlowsUnavailable when the cluster has no flow API. */
export async function fetchFlows(
  client: ClusterClient,
  query: Record<string, string>,
): Promise<FlowRecord[]> {
  const qs = new URLSearchParams({ limit: "100000", ...query }).toString();
  const r = await client.request("GET", `/egresslab/v1/flows?${qs}`);
  if (r.status === 404) throw new FlowsUnavailable("the API server has no /egresslab/v1/flows");
  if (r.status >= 400) {
    let msg = r.body.slice(0, 200);
    try {
      msg = (JSON.parse(r.body) as { message?: string }).message ?? msg;
    } catch {
      // not JSON: keep the text
    }
    throw new FlowsUnavailable(`HTTP ${r.status}: ${msg}`);
  }
  const body = JSON.parse(r.body) as unknown;
  const items = Array.isArray(body) ? body : (body as { items?: unknown[] } | null)?.items;
  if (!Array.isArray(items)) throw new FlowsUnavailable("the flow API answered without a list of records");
  return items.filter((x): x is FlowRecord => !!x && typeof x === "object");
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

/** Runs a flows check. */
export async function runFlowsCheck(client: ClusterClient, c: FlowsCheck): Promise<CheckResult> {
  let records: FlowRecord[];
  try {
    records = withinWindow(await fetchFlows(client, c.query), c.windowSeconds);
  } catch (err) {
    if (err instanceof FlowsUnavailable)
      return { id: c.id, title: c.title, passed: false, seen: err.message, hint: c.hint };
    throw err;
  }
  const hits = records.filter((r) => recordMatches(r, c.match));
  const n = hits.length;
  const e = c.expect;
  const passed =
    "present" in e
      ? n > 0
      : "absent" in e
        ? n === 0
        : (e.atLeast === undefined || n >= e.atLeast) && (e.atMost === undefined || n <= e.atMost);
  const seen =
    n === 0
      ? "no matching flow records"
      : `${n} matching flow record${n === 1 ? "" : "s"}: ${summarize(hits)}`;
  return { id: c.id, title: c.title, passed, seen, ...(passed ? {} : { hint: c.hint }) };
}
