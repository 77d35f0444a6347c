/**
 * Probes: a real command run in a pod (curl, nc, nslookup), and its exit code and output read the way they read on a
 * real cluster: curl 6 = the name did not resolve, 7 = refused, 28 = timed out (a Calico deny drops packets, so a
 * denied connection times out); nslookup's "can't resolve"/"timed out" = DNS failed.
 */
import type { ProbeCheck, ProbeExpectation, ProbeTarget } from "../labs/model/types.ts";
import type { ExecResult } from "./cluster.ts";
import { inCidr } from "../shared/ipv4.ts";

/** Milliseconds a connection attempt may take by default; a probe that exceeds it reads as denied. */
export const defaultConnectTimeoutMs = 1000;

export type ProbeOutcome = "allowed" | "denied" | "dns-failure" | "refused" | "resolves" | "error";

/** What a probe saw. */
export interface Observation {
  outcome: ProbeOutcome;
  /** The HTTP status, for HTTP(S) probes that connected. */
  status?: number;
  /** The first IPv4 address in the response body (the source IP an echo service reports). */
  sourceIp?: string;
  /** The addresses a DNS probe resolved. */
  addresses?: string[];
  /** A short account of the command's result, for the learner. */
  detail: string;
}

export function hostOf(t: ProbeTarget): string {
  if (t.domain) return t.domain;
  if (t.ip) return t.ip;
  return `${t.service!.name}.${t.service!.namespace}.svc.cluster.local`;
}

export function schemeOf(t: ProbeTarget): NonNullable<ProbeTarget["scheme"]> {
  if (t.scheme) return t.scheme;
  if (t.protocol === "UDP" && t.port === 53) return "dns";
  if (t.protocol === "UDP") return "tcp";
  if (t.port === 443) return "https";
  if (t.port === 80 || t.port === 8080) return "http";
  return "tcp";
}

/** The command a probe runs in the source pod. */
export function probeCommand(t: ProbeTarget, connectTimeoutMs = defaultConnectTimeoutMs): string[] {
  const host = hostOf(t);
  const scheme = schemeOf(t);
  const m = String(Math.max(1, Math.ceil(connectTimeoutMs / 1000)));
  const seconds = String(connectTimeoutMs / 1000);
  switch (scheme) {
    case "dns":
      return ["dig", "+short", `+time=${m}`, "+tries=1", host];
    case "tcp":
      // A bare TCP connect is an HTTP request to the port: curl takes fractional timeouts and tells a dropped
      // connection (28) from a refused one (7); a peer that does not speak HTTP still shows the connection worked.
      if (t.protocol === "UDP") return ["nc", "-z", "-u", "-w", m, host, String(t.port)];
      return [
        "curl",
        "-sS",
        "--connect-timeout",
        seconds,
        "-m",
        String(connectTimeoutMs / 1000 + 2),
        "-w",
        "\n%{http_code}",
        `http://${host}:${t.port}/`,
      ];
    default: {
      const port =
        (scheme === "https" && t.port === 443) || (scheme === "http" && t.port === 80) ? "" : `:${t.port}`;
      return [
        "curl",
        "-sS",
        "-k",
        "--connect-timeout",
        seconds,
        "-m",
        String(connectTimeoutMs / 1000 + 2),
        "-w",
        "\n%{http_code}",
        `${scheme}://${host}${port}${t.path ?? "/"}`,
      ];
    }
  }
}

const ipv4 = /\b(\d{1,3}(?:\.\d{1,3}){3})\b/;
const dnsFailureText =
  /bad address|could not resolve|can't resolve|name does not resolve|name or service not known|getaddrinfo|nxdomain|no servers could be reached|temporary failure in name resolution/i;

function firstLine(s: string): string {
  return s.trim().split("\n")[0]?.slice(0, 160) ?? "";
}

/** Reads a probe's exit code and output. */
export function interpretProbe(t: ProbeTarget, r: ExecResult): Observation {
  const scheme = schemeOf(t);
  const host = hostOf(t);
  if (r.code === 126 || r.code === 127)
    return {
      outcome: "error",
      detail: `the pod cannot run the probe (${firstLine(r.stderr) || `exit ${r.code}`})`,
    };
  if (scheme === "dns") {
    // dig +short: one line per CNAME and address; nothing for NXDOMAIN; exit 9 when no server answered.
    const addresses = [...r.stdout.matchAll(/^(\d{1,3}(?:\.\d{1,3}){3})\s*$/gm)].map((m) => m[1]!);
    if (r.code === 0 && addresses.length)
      return { outcome: "resolves", addresses, detail: `${host} resolved to ${addresses.join(", ")}` };
    if (r.code === 0) return { outcome: "dns-failure", detail: `${host} does not exist (NXDOMAIN)` };
    const why =
      r.code === 9 || /timed out|no servers could be reached/i.test(r.stdout + r.stderr)
        ? "DNS timed out"
        : "the lookup failed";
    return { outcome: "dns-failure", detail: `${why} (dig exit ${r.code})` };
  }
  if (scheme === "tcp" && t.protocol === "UDP") {
    const text = r.stdout + r.stderr;
    if (r.code === 0) return { outcome: "allowed", detail: `connected to ${host}:${t.port}` };
    if (dnsFailureText.test(text))
      return { outcome: "dns-failure", detail: `${host} did not resolve (${firstLine(text)})` };
    if (/refused/i.test(text))
      return { outcome: "refused", detail: `the connection was refused (${firstLine(text)})` };
    return { outcome: "denied", detail: `the connection timed out (nc exit ${r.code})` };
  }
  // curl
  const lines = r.stdout.replace(/\n$/, "").split("\n");
  const code = Number(lines.pop());
  const body = lines.join("\n");
  switch (r.code) {
    case 0:
    case 22: {
      const ip = ipv4.exec(body)?.[1];
      return {
        outcome: "allowed",
        ...(Number.isInteger(code) && code > 0 ? { status: code } : {}),
        ...(ip ? { sourceIp: ip } : {}),
        detail: `it connected (HTTP ${Number.isInteger(code) && code > 0 ? code : "?"}${ip ? `, the far end saw ${ip}` : ""})`,
      };
    }
    case 6:
      return { outcome: "dns-failure", detail: `curl could not resolve ${host} (exit 6)` };
    case 7:
      return { outcome: "refused", detail: `the connection was refused (curl exit 7)` };
    case 28:
      // curl's timeout covers name resolution too: a blocked DNS query times out as "Resolving timed out".
      if (/Resolving timed out/i.test(r.stderr))
        return { outcome: "dns-failure", detail: `resolving ${host} timed out (curl exit 28)` };
      return {
        outcome: "denied",
        detail: "the connection timed out (curl exit 28)",
      };
    case 35:
    case 51:
    case 52:
    case 60:
      return { outcome: "allowed", detail: `it connected; TLS or HTTP then failed (curl exit ${r.code})` };
    case 56:
      return {
        outcome: "allowed",
        detail: "it connected; the far end then reset the connection (curl exit 56)",
      };
    default:
      return { outcome: "error", detail: `curl exit ${r.code}: ${firstLine(r.stderr) || "no output"}` };
  }
}

/** The learner-facing description of what a probe checks. */
export function describeExpectation(e: ProbeExpectation): string {
  switch (e.outcome) {
    case "allowed":
      return "is allowed";
    case "denied":
      return "is denied (times out)";
    case "blocked":
      return "is blocked";
    case "dns-failure":
      return "fails to resolve";
    case "resolves":
      return "resolves";
    case "refused":
      return "is refused";
    case "status":
      return `answers HTTP ${e.status}`;
    case "source-ip":
      return `arrives from ${e.equals ?? (e.in ? `an address in ${e.in}` : `an address outside ${e.notIn}`)}`;
  }
}

/** Whether an observation meets the expectation. */
export function judgeProbe(e: ProbeExpectation, o: Observation): boolean {
  switch (e.outcome) {
    case "allowed":
      return o.outcome === "allowed";
    case "blocked":
      return o.outcome === "denied" || o.outcome === "dns-failure";
    case "status":
      return o.outcome === "allowed" && o.status === e.status;
    case "source-ip": {
      const ip = o.sourceIp;
      if (o.outcome !== "allowed" || !ip) return false;
      return (
        (e.equals === undefined || ip === e.equals) &&
        (e.in === undefined || inCidr(ip, e.in)) &&
        (e.notIn === undefined || !inCidr(ip, e.notIn))
      );
    }
    default:
      return o.outcome === e.outcome;
  }
}

/** "curl from shop/checkout to api.payments.example:443 is denied". */
export function probeTitle(c: ProbeCheck): string {
  const src = `${c.from.namespace}/${c.from.pod ?? c.from.selector}`;
  return `${schemeOf(c.to)} from ${src} to ${hostOf(c.to)}:${c.to.port} ${describeExpectation(c.expect)}`;
}
