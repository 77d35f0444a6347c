/**
 * Cell helpers for Table output, formatted as the real server's printers do (`kubectl get`).
 */
import type { KubeObject, TableColumn } from "../types.ts";

/** `translateTimestampSince`: 5s, 3m, 2d5h, … as kubectl prints ages. */
export function humanDuration(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 0) return "0s";
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 10) return s % 60 === 0 ? `${m}m` : `${m}m${s % 60}s`;
  if (m < 180) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 8) return m % 60 === 0 ? `${h}h` : `${h}h${m % 60}m`;
  if (h < 48) return `${h}h`;
  const d = Math.floor(h / 24);
  if (d < 8) return h % 24 === 0 ? `${d}d` : `${d}d${h % 24}h`;
  if (d < 365 * 2) return `${d}d`;
  const y = Math.floor(d / 365);
  if (y < 8) return d % 365 === 0 ? `${y}y` : `${y}y${d % 365}d`;
  return `${y}y`;
}

export function ageOf(ts: string | undefined, now: number): string {
  if (!ts) return "<unknown>";
  return humanDuration(now - Date.parse(ts));
}

export type Now = () => number;

export function col(
  name: string,
  type: TableColumn["type"],
  value: (o: KubeObject) => unknown,
  opts: { priority?: number; description?: string; format?: string } = {},
): TableColumn {
  return {
    name,
    type,
    priority: opts.priority ?? 0,
    ...(opts.description ? { description: opts.description } : {}),
    ...(opts.format ? { format: opts.format } : {}),
    value,
  };
}

export function ageColumn(now: Now): TableColumn {
  return col("Age", "string", (o) => ageOf(o.metadata.creationTimestamp, now()), {
    description:
      "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.",
  });
}

/** The columns of the generic table convertor (aggregated servers without printers): `Created At`. */
export function createdAtColumn(): TableColumn {
  return col("Created At", "date", (o) => o.metadata.creationTimestamp ?? "", {
    description:
      "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.",
  });
}

/** Reads a nested field without throwing. */
export function field(o: unknown, ...path: (string | number)[]): unknown {
  let cur: unknown = o;
  for (const p of path) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<string | number, unknown>)[p];
  }
  return cur;
}

export function asArray(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

export function asRecord(v: unknown): Record<string, unknown> {
  return v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

/** `metav1.FormatLabelSelector`: `app=web,tier in (a,b)`; `<none>` for empty. */
export function formatLabelSelector(sel: unknown): string {
  const s = asRecord(sel);
  const parts: string[] = [];
  for (const [k, v] of Object.entries(asRecord(s.matchLabels))) parts.push(`${k}=${String(v)}`);
  for (const e of asArray(s.matchExpressions)) {
    const r = asRecord(e);
    const key = String(r.key);
    const values = asArray(r.values).map(String).join(",");
    switch (r.operator) {
      case "In":
        parts.push(`${key} in (${values})`);
        break;
      case "NotIn":
        parts.push(`${key} notin (${values})`);
        break;
      case "Exists":
        parts.push(key);
        break;
      case "DoesNotExist":
        parts.push(`!${key}`);
        break;
    }
  }
  return parts.length ? parts.join(",") : "<none>";
}

/** A `map[string]string` selector as `k=v,k2=v2`, `<none>` when empty. */
export function formatMapSelector(m: unknown): string {
  const e = Object.entries(asRecord(m));
  return e.length ? e.map(([k, v]) => `${k}=${String(v)}`).join(",") : "<none>";
}
