/** IPv4 addresses and CIDRs as numbers: the simulated network, IPAM and grading share these. */
import { fnv32a } from "./hash.ts";

/**
 * Parses a dotted-quad IPv4 address into an unsigned 32-bit number; undefined if it is not one. Strict as Go's
 * net.ParseIP (and so Calico): no leading zeros, which other readers take as octal (`010` is 8 to inet_aton).
 */
export function parseIp(s: string): number | undefined {
  const m = /^(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})$/.exec(s);
  if (!m) return undefined;
  let n = 0;
  for (let i = 1; i <= 4; i++) {
    const o = Number(m[i]);
    if (o > 255) return undefined;
    n = n * 256 + o;
  }
  return n;
}

export function formatIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

export function isIp(s: string): boolean {
  return parseIp(s) !== undefined;
}

export interface Cidr {
  base: number;
  bits: number;
}

/** Parses `a.b.c.d/n` (or a bare address as /32); host bits are masked as Calico does. */
export function parseCidr(s: string): Cidr | undefined {
  const [ip, len, extra] = s.split("/");
  if (extra !== undefined || ip === undefined) return undefined;
  const base = parseIp(ip);
  const bits = len === undefined ? 32 : /^\d+$/.test(len) ? Number(len) : NaN;
  if (base === undefined || !(bits >= 0 && bits <= 32)) return undefined;
  return { base: (base & mask(bits)) >>> 0, bits };
}

function mask(bits: number): number {
  return bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
}

/** How many addresses a CIDR holds. */
export function cidrSize(c: Cidr): number {
  return 2 ** (32 - c.bits);
}

/** Whether `ip` lies in the CIDR written as `cidr` (false when either does not parse). */
export function inCidr(ip: string, cidr: string): boolean {
  const c = parseCidr(cidr.trim());
  return c !== undefined && cidrContains(c, ip);
}

export function cidrContains(c: Cidr, ip: string | number): boolean {
  const n = typeof ip === "number" ? ip : parseIp(ip);
  if (n === undefined) return false;
  return (n & mask(c.bits)) >>> 0 === c.base;
}

/** True for RFC 1918 private addresses (flow logs call these `pvt`, everything else `pub`). */
export function isPrivate(ip: string): boolean {
  return ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"].some((c) => cidrContains(parseCidr(c)!, ip));
}

/** A stable public address for a name the catalogue does not list: a hash of the name into 45.0.0.0/7. */
export function syntheticIp(name: string): string {
  const h = fnv32a(name.toLowerCase());
  const base = parseIp("45.0.0.0")!;
  const n = base + (h % (2 * 256 * 256 * 256 - 2)) + 1;
  return formatIp(n);
}
