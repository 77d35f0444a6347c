/** Helpers shared by the network tools: name resolution with the caller's deadline, waiting on the cluster clock. */
import { isIp } from "../../shared/ipv4.ts";
import { spend } from "../budget.ts";
import type { DnsLookup } from "../../net/podnet.ts";
import type { ShellEnv } from "../types.ts";

/** How long a client waits for a dropped connection when it sets no timeout of its own (cluster clock). */
export const DEFAULT_CONNECT_CAP_MS = 10_000;

export async function wait(ms: number, env: ShellEnv): Promise<void> {
  if (ms > 0) await env.clock.sleep(ms, env.signal);
}

export type Resolved =
  | { ok: true; ips: string[]; lookup?: DnsLookup; elapsedMs: number }
  | { ok: false; lookup: DnsLookup; elapsedMs: number; timedOut: boolean };

/**
 * Resolves `host` (an address is returned as is), waiting the resolver's time but at most `budgetMs`.
 * `timedOut` is true when the caller's budget ran out first.
 */
export async function resolveHost(
  host: string,
  env: ShellEnv,
  budgetMs = Infinity,
  server?: string,
): Promise<Resolved> {
  // Every connection a tool makes starts here: each costs a share of the shell's per-turn budget (policy
  // evaluation, the simulated peer), so a command line of 100,000 URLs gives the event loop its turns.
  await spend(1 / 16, env.signal);
  if (isIp(host)) return { ok: true, ips: [host], elapsedMs: 0 };
  const { result, elapsedMs } = env.net.resolve(host, server ? { server } : {});
  if (elapsedMs > budgetMs) {
    await wait(budgetMs, env);
    return { ok: false, lookup: result, elapsedMs: budgetMs, timedOut: true };
  }
  await wait(elapsedMs, env);
  if (result.kind === "answer") return { ok: true, ips: result.ips, lookup: result, elapsedMs };
  return { ok: false, lookup: result, elapsedMs, timedOut: false };
}

/** Parses seconds (fractional allowed) into milliseconds; undefined if malformed. */
export function seconds(v: string | undefined): number | undefined {
  if (v === undefined || !/^(\d+(\.\d*)?|\.\d+)$/.test(v)) return undefined;
  return Number(v) * 1000;
}

export interface ParsedUrl {
  scheme: "http" | "https";
  host: string;
  port: number;
  path: string;
}

/** Parses a URL as curl/wget accept it (scheme optional: http). */
export function parseUrl(raw: string): ParsedUrl | { error: "scheme"; scheme: string } | undefined {
  const m = /^(?:([a-zA-Z][a-zA-Z0-9+.-]*):\/\/)?([^/:?#\s]+)(?::(\d+))?([/?#][^\s]*)?$/.exec(raw);
  if (!m) return undefined;
  const scheme = (m[1] ?? "http").toLowerCase();
  if (scheme !== "http" && scheme !== "https") return { error: "scheme", scheme: m[1]! };
  const port = m[3] ? Number(m[3]) : scheme === "https" ? 443 : 80;
  if (port < 1 || port > 65535) return undefined;
  let path = m[4] ?? "/";
  if (!path.startsWith("/")) path = "/" + path;
  return { scheme, host: m[2]!.toLowerCase(), port, path: path.replace(/#.*$/, "") };
}
