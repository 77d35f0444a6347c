/**
 * The virtual internet's catalogue (`clusters/internet.yaml`, format in `clusters/internet.md`): parsed and checked
 * with file and line for every problem. Pure: text in, catalogue out.
 */
import { LineCounter, isMap, isScalar, isSeq, parseDocument, type Node } from "yaml";
import { ValidationError, type Problem } from "../shared/errors.ts";
import { isIp, parseCidr } from "../shared/ipv4.ts";

export type ServiceKind = "web" | "echo" | "partner" | "beacon" | "dns";

export interface HttpSpec {
  status: number;
  body: string;
  headers: Record<string, string>;
}

export interface DomainEntry {
  /** Exact name, or `*.suffix` matching one or more labels before the suffix. */
  name: string;
  line: number;
  ips: string[];
  ttl: number;
  cname?: string;
  nxdomain: boolean;
  kind: ServiceKind;
  ports: number[];
  http: HttpSpec;
  /** For `partner`: CIDRs admitted; other sources get 403. */
  allowSources: string[];
  /** Rotation: a new set of addresses from `pool` every `everyMs` (0 = only on demand). */
  rotate?: { everyMs: number; pool: string[] };
  description: string;
}

export interface Catalogue {
  file: string;
  /** Public resolvers (answer any name, e.g. 8.8.8.8). */
  resolvers: string[];
  /** Where CoreDNS forwards names outside the cluster. */
  upstream: string;
  domains: DomainEntry[];
}

const RESERVED_TLDS = ["invalid", "test", "example", "local", "localhost"];

/** True for names that must never resolve on the public internet (RFC 2606 / RFC 6761 names and `.local`). */
export function isReservedName(name: string): boolean {
  const n = name.toLowerCase().replace(/\.$/, "");
  const tld = n.split(".").pop() ?? "";
  return RESERVED_TLDS.includes(tld);
}

/** Parses a duration such as `30s`, `5m`, `1h`, `1500ms`; undefined if malformed. */
export function parseDuration(s: unknown): number | undefined {
  if (typeof s === "number" && Number.isFinite(s) && s >= 0) return s * 1000;
  if (typeof s !== "string") return undefined;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(s.trim());
  if (!m) return undefined;
  const mult = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as "ms" | "s" | "m" | "h"];
  return Number(m[1]) * mult;
}

const DOMAIN_RE = /^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;
const KINDS: ServiceKind[] = ["web", "echo", "partner", "beacon", "dns"];
const FIELDS = new Set([
  "ips",
  "ttl",
  "cname",
  "nxdomain",
  "kind",
  "ports",
  "http",
  "allowSources",
  "rotate",
  "description",
]);

/** Parses and validates a catalogue; throws `ValidationError` listing every problem with its file and line. */
export function parseCatalogue(text: string, file: string): Catalogue {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false });
  const problems: Problem[] = [];
  const lineOf = (n: Node | null | undefined): number | undefined =>
    n?.range ? lc.linePos(n.range[0]).line : undefined;
  for (const e of doc.errors)
    problems.push({ where: file, line: lc.linePos(e.pos[0]).line, message: e.message });
  if (problems.length) throw new ValidationError(problems);
  const root = doc.contents;
  if (!isMap(root))
    throw new ValidationError([{ where: file, line: 1, message: "expected a mapping at the top" }]);
  const js = doc.toJS() as Record<string, unknown>;

  const resolvers: string[] = [];
  const rNode = root.get("resolvers", true) as Node | undefined;
  if (js.resolvers !== undefined) {
    if (!Array.isArray(js.resolvers))
      problems.push({ where: file, line: lineOf(rNode), message: "resolvers: expected a list of addresses" });
    else
      js.resolvers.forEach((r, i) => {
        if (typeof r === "string" && isIp(r)) resolvers.push(r);
        else
          problems.push({
            where: file,
            line: lineOf(isSeq(rNode) ? (rNode.items[i] as Node) : rNode),
            message: `resolvers[${i}]: "${String(r)}" is not an IPv4 address`,
          });
      });
  }
  const upstream = typeof js.upstream === "string" ? js.upstream : "172.18.0.1";
  if (!isIp(upstream))
    problems.push({
      where: file,
      line: lineOf(root.get("upstream", true) as Node),
      message: `upstream: "${upstream}" is not an IPv4 address`,
    });

  const domains: DomainEntry[] = [];
  const dNode = root.get("domains", true) as Node | undefined;
  if (!isMap(dNode)) {
    problems.push({
      where: file,
      line: lineOf(dNode) ?? 1,
      message: "domains: expected a mapping of domain name to entry",
    });
    throw new ValidationError(problems);
  }
  const seen = new Set<string>();
  for (const pair of dNode.items) {
    const keyNode = pair.key as Node;
    const line = lineOf(keyNode) ?? 1;
    const name = isScalar(keyNode) ? String(keyNode.value).toLowerCase() : "";
    const at = (msg: string, n?: Node | null): void => {
      problems.push({ where: file, line: lineOf(n) ?? line, message: `${name}: ${msg}` });
    };
    if (!DOMAIN_RE.test(name)) {
      at(`"${name}" is not a domain name (lower-case labels, optionally starting with "*.")`);
      continue;
    }
    if (seen.has(name)) at("listed twice");
    seen.add(name);
    const vNode = pair.value as Node | null;
    const raw = (vNode ? (vNode as { toJSON(): unknown }).toJSON() : {}) as unknown;
    if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
      at("expected a mapping (ips, ttl, http, …)", vNode);
      continue;
    }
    const v = raw as Record<string, unknown>;
    const field = (k: string): Node | undefined =>
      isMap(vNode) ? ((vNode.get(k, true) as Node | undefined) ?? undefined) : undefined;
    for (const k of Object.keys(v)) if (!FIELDS.has(k)) at(`unknown field "${k}"`, field(k));
    const nxdomain = v.nxdomain === true;
    const ips: string[] = [];
    if (v.ips !== undefined) {
      if (!Array.isArray(v.ips)) at("ips: expected a list of IPv4 addresses", field("ips"));
      else
        for (const ip of v.ips) {
          if (typeof ip === "string" && isIp(ip)) ips.push(ip);
          else at(`ips: "${String(ip)}" is not an IPv4 address`, field("ips"));
        }
    }
    const cname = typeof v.cname === "string" ? v.cname.toLowerCase() : undefined;
    if (v.cname !== undefined && (!cname || !DOMAIN_RE.test(cname)))
      at("cname: expected a domain name", field("cname"));
    if (!nxdomain && ips.length === 0 && !cname && v.ips === undefined)
      at("needs ips (or cname, or nxdomain: true)");
    const ttl = v.ttl === undefined ? 300 : v.ttl;
    if (typeof ttl !== "number" || !Number.isInteger(ttl) || ttl < 0 || ttl > 86400)
      at("ttl: expected whole seconds between 0 and 86400", field("ttl"));
    const kind = (v.kind ?? "web") as ServiceKind;
    if (!KINDS.includes(kind)) at(`kind: must be one of ${KINDS.join(", ")}`, field("kind"));
    const ports: number[] = [];
    const rawPorts = v.ports ?? [80, 443];
    if (!Array.isArray(rawPorts)) at("ports: expected a list of port numbers", field("ports"));
    else
      for (const p of rawPorts) {
        if (Number.isInteger(p) && (p as number) > 0 && (p as number) < 65536) ports.push(p as number);
        else at(`ports: ${String(p)} is not a port`, field("ports"));
      }
    const http: HttpSpec = { status: 200, body: "", headers: {} };
    if (v.http !== undefined) {
      const h = v.http as Record<string, unknown>;
      if (typeof h !== "object" || h === null)
        at("http: expected a mapping (status, body, headers)", field("http"));
      else {
        if (h.status !== undefined) {
          if (typeof h.status === "number" && h.status >= 100 && h.status <= 599) http.status = h.status;
          else at("http.status: expected an HTTP status code", field("http"));
        }
        if (h.body !== undefined) {
          if (typeof h.body === "string") http.body = h.body;
          else at("http.body: expected text", field("http"));
        }
        if (h.headers !== undefined) {
          if (typeof h.headers === "object" && h.headers !== null && !Array.isArray(h.headers))
            for (const [k, val] of Object.entries(h.headers)) http.headers[k] = String(val);
          else at("http.headers: expected a mapping", field("http"));
        }
      }
    }
    const allowSources: string[] = [];
    if (v.allowSources !== undefined) {
      if (!Array.isArray(v.allowSources)) at("allowSources: expected a list of CIDRs", field("allowSources"));
      else
        for (const c of v.allowSources) {
          if (typeof c === "string" && parseCidr(c)) allowSources.push(c);
          else at(`allowSources: "${String(c)}" is not a CIDR`, field("allowSources"));
        }
    }
    if (kind === "partner" && allowSources.length === 0) at("kind partner needs allowSources");
    let rotate: DomainEntry["rotate"];
    if (v.rotate !== undefined) {
      const r = v.rotate as Record<string, unknown>;
      const everyMs = r.every === undefined ? 0 : parseDuration(r.every);
      if (everyMs === undefined)
        at(`rotate.every: "${String(r.every)}" is not a duration like 30s, 5m or 1h`, field("rotate"));
      const pool = Array.isArray(r.pool) ? r.pool : [];
      if (pool.length === 0 || !pool.every((c) => typeof c === "string" && parseCidr(c)))
        at("rotate.pool: expected a list of CIDRs to draw new addresses from", field("rotate"));
      else rotate = { everyMs: everyMs ?? 0, pool: pool as string[] };
    }
    domains.push({
      name,
      line,
      ips,
      ttl: typeof ttl === "number" ? ttl : 300,
      cname,
      nxdomain,
      kind,
      ports,
      http,
      allowSources,
      rotate,
      description: typeof v.description === "string" ? v.description : "",
    });
  }
  if (problems.length) throw new ValidationError(problems);
  return { file, resolvers, upstream, domains };
}
