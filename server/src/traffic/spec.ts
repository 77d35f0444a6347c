/**
 * The traffic a workload declares in its `egresslab.io/traffic` annotation (YAML or JSON list); see `README.md`.
 * Pure: text in, validated items out.
 */
import { parse } from "yaml";
import { parseDuration } from "../net/catalogue.ts";
import { ValidationError, type Problem } from "../shared/errors.ts";

export const TRAFFIC_ANNOTATION = "egresslab.io/traffic";

export interface TrafficItem {
  /** Host name or address to reach. */
  host: string;
  port: number;
  protocol: "TCP" | "UDP";
  /** `http`/`https` for HTTP requests; `tcp`/`udp` for a bare connection. */
  scheme: "http" | "https" | "tcp" | "udp";
  path: string;
  method: string;
  everyMs: number;
  /** Delay before the first attempt (default: a seeded fraction of `every`). */
  afterMs?: number;
  /** Fraction of `every` by which each interval varies (seeded); default 0.1. */
  jitter: number;
  /** Write a line per attempt to the pod's log. */
  log: boolean;
}

const FIELDS = new Set(["to", "port", "protocol", "every", "after", "jitter", "method", "path", "log"]);

/** Parses an annotation value; throws `ValidationError` listing every problem (located as `traffic[i].field`). */
export function parseTraffic(text: string, where = TRAFFIC_ANNOTATION): TrafficItem[] {
  let raw: unknown;
  try {
    raw = parse(text);
  } catch (e) {
    throw new ValidationError([
      {
        where,
        message: `not valid YAML or JSON: ${e instanceof Error ? e.message.split("\n")[0] : String(e)}`,
      },
    ]);
  }
  if (!Array.isArray(raw))
    throw new ValidationError([
      { where, message: "expected a list such as [{to: api.stripe.com, port: 443, every: 20s}]" },
    ]);
  const problems: Problem[] = [];
  const items: TrafficItem[] = [];
  raw.forEach((r: unknown, i) => {
    const at = (field: string, message: string): void =>
      void problems.push({ where: `${where}[${i}]${field ? "." + field : ""}`, message });
    if (!r || typeof r !== "object" || Array.isArray(r))
      return at("", "expected a mapping with to and every");
    const v = r as Record<string, unknown>;
    for (const k of Object.keys(v)) if (!FIELDS.has(k)) at(k, "unknown field");
    if (typeof v.to !== "string" || !v.to) return at("to", "required: a host name, an address or a URL");
    const m = /^(?:(https?|tcp|udp):\/\/)?([^/:\s]+)(?::(\d+))?(\/\S*)?$/.exec(v.to);
    if (!m) return at("to", `"${v.to}" is not a host, address or URL`);
    const protocol = (v.protocol ?? (m[1] === "udp" ? "UDP" : "TCP")) as string;
    if (protocol !== "TCP" && protocol !== "UDP") at("protocol", "must be TCP or UDP");
    const scheme = (m[1] ??
      (protocol === "UDP"
        ? "udp"
        : v.port === undefined || v.port === 443
          ? "https"
          : v.port === 80
            ? "http"
            : "tcp")) as TrafficItem["scheme"];
    const port =
      v.port ?? (m[3] ? Number(m[3]) : scheme === "https" ? 443 : scheme === "http" ? 80 : undefined);
    if (typeof port !== "number" || !Number.isInteger(port) || port < 1 || port > 65535)
      at("port", "required for tcp/udp targets: a port number");
    const everyMs = parseDuration(v.every);
    if (everyMs === undefined || everyMs < 1000)
      at("every", `expected a duration of at least 1s such as 20s or 5m, got ${JSON.stringify(v.every)}`);
    const afterMs = v.after === undefined ? undefined : parseDuration(v.after);
    if (v.after !== undefined && afterMs === undefined)
      at("after", `expected a duration such as 30s, got ${JSON.stringify(v.after)}`);
    const jitter = v.jitter === undefined ? 0.1 : v.jitter;
    if (typeof jitter !== "number" || jitter < 0 || jitter > 1)
      at("jitter", "expected a fraction between 0 and 1");
    if (v.method !== undefined && (typeof v.method !== "string" || !/^[A-Z]+$/.test(v.method)))
      at("method", "expected an HTTP method such as GET or POST");
    if (v.log !== undefined && typeof v.log !== "boolean") at("log", "expected true or false");
    items.push({
      host: m[2]!.toLowerCase(),
      port: typeof port === "number" ? port : 0,
      protocol: protocol === "UDP" ? "UDP" : "TCP",
      scheme,
      path: typeof v.path === "string" ? v.path : (m[4] ?? "/"),
      method: typeof v.method === "string" ? v.method : "GET",
      everyMs: everyMs ?? 0,
      afterMs,
      jitter: typeof jitter === "number" ? jitter : 0.1,
      log: v.log === true,
    });
  });
  if (problems.length) throw new ValidationError(problems);
  return items;
}
