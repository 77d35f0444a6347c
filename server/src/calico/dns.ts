/**
 * What Felix learns from DNS (specification §D): name → IPs from answers of trusted servers, each valid for the
 * answer's TTL plus `dnsExtraTTL`. Kept both ways so a decision can ask "which names does this IP currently have?".
 */
import { ipKey } from "./nets.ts";
import { normaliseDomain } from "./domains.ts";

export class DnsCache {
  /** ip → name → expiry (ms). */
  private readonly byIp = new Map<string, Map<string, number>>();
  /** name → ip → expiry (ms). */
  private readonly byName = new Map<string, Map<string, number>>();

  /** Records that `name` resolved to `ips` until `expires` (ms since the epoch). */
  learn(name: string, ips: string[], expires: number): void {
    const n = normaliseDomain(name);
    for (const raw of ips) {
      const ip = ipKey(raw);
      if (!ip) continue;
      let names = this.byIp.get(ip);
      if (!names) this.byIp.set(ip, (names = new Map()));
      names.set(n, Math.max(names.get(n) ?? 0, expires));
      let addrs = this.byName.get(n);
      if (!addrs) this.byName.set(n, (addrs = new Map()));
      addrs.set(ip, Math.max(addrs.get(ip) ?? 0, expires));
    }
  }

  /** The names `ip` currently stands for (unexpired at `now`). */
  namesFor(ip: string, now: number): string[] {
    const key = ipKey(ip);
    return key ? this.namesForKey(key, now) : [];
  }

  /** As `namesFor`, for an IP already in canonical form. */
  namesForKey(key: string, now: number): string[] {
    const names = this.byIp.get(key);
    if (!names) return [];
    const out: string[] = [];
    for (const [n, exp] of names) {
      if (exp > now) out.push(n);
      else names.delete(n);
    }
    return out;
  }

  /** The IPs currently learned for `name`. */
  ipsFor(name: string, now: number): string[] {
    const ips = this.byName.get(normaliseDomain(name));
    if (!ips) return [];
    return [...ips].filter(([, exp]) => exp > now).map(([ip]) => ip);
  }

  /** Drops everything that expired before `now`. */
  prune(now: number): void {
    for (const [ip, names] of this.byIp) {
      for (const [n, exp] of names) if (exp <= now) names.delete(n);
      if (!names.size) this.byIp.delete(ip);
    }
    for (const [n, ips] of this.byName) {
      for (const [ip, exp] of ips) if (exp <= now) ips.delete(ip);
      if (!ips.size) this.byName.delete(n);
    }
  }
}

/** Parses a Felix duration (`30s`, `1m30s`, `2h`, `0`) or a number of seconds; returns seconds. */
export function parseDuration(v: unknown): number {
  if (typeof v === "number" && Number.isFinite(v)) return v;
  if (typeof v !== "string") return 0;
  if (/^\d+(\.\d+)?$/.test(v)) return Number(v);
  let total = 0;
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;
  let m: RegExpExecArray | null;
  let consumed = 0;
  while ((m = re.exec(v))) {
    const n = Number(m[1]);
    total += m[2] === "ms" ? n / 1000 : m[2] === "s" ? n : m[2] === "m" ? n * 60 : n * 3600;
    consumed += m[0].length;
  }
  return consumed === v.length ? total : 0;
}

/** One entry of `dnsTrustedServers`. */
export type TrustedServer =
  | { kind: "ip"; ip: string; port: number }
  | { kind: "service"; namespace: string; name: string; port?: number };

/** Parses `<ip>[:<port>]`, `[<ipv6>]:<port>` or `k8s-service:[<namespace>/]<name>[:<port>]`. */
export function parseTrustedServer(s: string): TrustedServer | undefined {
  if (s.startsWith("k8s-service:")) {
    const rest = s.slice("k8s-service:".length);
    const m = /^(?:([^/:]+)\/)?([^/:]+)(?::(\d+))?$/.exec(rest);
    if (!m) return undefined;
    return {
      kind: "service",
      namespace: m[1] ?? "kube-system",
      name: m[2]!,
      ...(m[3] ? { port: Number(m[3]) } : {}),
    };
  }
  const v6 = /^\[([0-9a-fA-F:.]+)\](?::(\d+))?$/.exec(s);
  if (v6) {
    const ip = ipKey(v6[1]!);
    return ip ? { kind: "ip", ip, port: v6[2] ? Number(v6[2]) : 53 } : undefined;
  }
  const v4 = /^([0-9.]+)(?::(\d+))?$/.exec(s);
  if (v4) {
    const ip = ipKey(v4[1]!);
    return ip ? { kind: "ip", ip, port: v4[2] ? Number(v4[2]) : 53 } : undefined;
  }
  const bare = ipKey(s);
  return bare ? { kind: "ip", ip: bare, port: 53 } : undefined;
}
