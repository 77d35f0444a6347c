/** IP addresses and CIDRs (IPv4 and IPv6), as Calico parses them: host bits are masked, a bare IP is a /32 or /128. */

export interface Cidr {
  version: 4 | 6;
  /** Network address (host bits cleared). */
  base: bigint;
  prefix: number;
  /** Canonical text, e.g. `10.1.2.0/24`. */
  text: string;
  /** True when the written address had host bits set (Calico masks them). */
  hadHostBits: boolean;
  /** IPv4 only: base and mask as unsigned 32-bit numbers (fast containment). */
  n?: number;
  mask?: number;
}

export interface Ip {
  version: 4 | 6;
  value: bigint;
  /** IPv4 only: the address as an unsigned 32-bit number. */
  n?: number;
}

function parseV4(s: string): bigint | undefined {
  const parts = s.split(".");
  if (parts.length !== 4) return undefined;
  let v = 0n;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p)) return undefined;
    const n = Number(p);
    if (n > 255) return undefined;
    v = (v << 8n) | BigInt(n);
  }
  return v;
}

function parseV6(s: string): bigint | undefined {
  if (!/^[0-9a-fA-F:.]+$/.test(s)) return undefined;
  let tail4: bigint | undefined;
  let str = s;
  const lastColon = s.lastIndexOf(":");
  if (s.includes(".")) {
    tail4 = parseV4(s.slice(lastColon + 1));
    if (tail4 === undefined) return undefined;
    str = s.slice(0, lastColon + 1) + "0:0";
  }
  const dbl = str.split("::");
  if (dbl.length > 2) return undefined;
  const head = dbl[0] ? dbl[0].split(":") : [];
  const tail = dbl.length === 2 && dbl[1] ? dbl[1].split(":") : [];
  const groups =
    dbl.length === 2 ? [...head, ...Array<string>(8 - head.length - tail.length).fill("0"), ...tail] : head;
  if (groups.length !== 8 || (dbl.length === 2 && head.length + tail.length > 7)) return undefined;
  let v = 0n;
  for (const g of groups) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
    v = (v << 16n) | BigInt(parseInt(g, 16));
  }
  if (tail4 !== undefined) v = (v & ~0xffffffffn) | tail4;
  return v;
}

/** Parses an IPv4 or IPv6 address. */
export function parseIp(s: string): Ip | undefined {
  if (typeof s !== "string") return undefined;
  const v4 = parseV4(s);
  if (v4 !== undefined) return { version: 4, value: v4, n: Number(v4) };
  if (s.includes(":")) {
    const v6 = parseV6(s);
    if (v6 !== undefined) return { version: 6, value: v6 };
  }
  return undefined;
}

export function formatIp(ip: Ip): string {
  if (ip.version === 4) {
    const v = ip.value;
    return [24n, 16n, 8n, 0n].map((sh) => String((v >> sh) & 255n)).join(".");
  }
  const groups: string[] = [];
  for (let i = 7; i >= 0; i--) groups.push(((ip.value >> BigInt(i * 16)) & 0xffffn).toString(16));
  return groups.join(":").replace(/(^|:)0(:0)+(:|$)/, "::");
}

/** Parses a CIDR; a bare IP is a host route. `requireMask` rejects bare IPs. */
export function parseCidr(s: string, opts: { requireMask?: boolean } = {}): Cidr | undefined {
  if (typeof s !== "string") return undefined;
  const slash = s.indexOf("/");
  const addr = slash < 0 ? s : s.slice(0, slash);
  if (slash < 0 && opts.requireMask) return undefined;
  const ip = parseIp(addr);
  if (!ip) return undefined;
  const width = ip.version === 4 ? 32 : 128;
  let prefix = width;
  if (slash >= 0) {
    const p = s.slice(slash + 1);
    if (!/^\d{1,3}$/.test(p)) return undefined;
    prefix = Number(p);
    if (prefix > width) return undefined;
  }
  const hostBits = BigInt(width - prefix);
  const base = (ip.value >> hostBits) << hostBits;
  const cidr: Cidr = {
    version: ip.version,
    base,
    prefix,
    text: `${formatIp({ version: ip.version, value: base })}/${prefix}`,
    hadHostBits: base !== ip.value,
  };
  if (ip.version === 4) {
    cidr.n = Number(base);
    cidr.mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  }
  return cidr;
}

/** True when `ip` is inside `cidr`. */
export function cidrContains(cidr: Cidr, ip: Ip): boolean {
  if (cidr.version !== ip.version) return false;
  if (cidr.n !== undefined && ip.n !== undefined) return (ip.n & cidr.mask!) >>> 0 === cidr.n;
  const width = ip.version === 4 ? 32 : 128;
  const hostBits = BigInt(width - cidr.prefix);
  return ip.value >> hostBits === cidr.base >> hostBits;
}

/** True when `inner` lies entirely within `outer`. */
export function cidrWithin(inner: Cidr, outer: Cidr): boolean {
  return (
    inner.version === outer.version &&
    inner.prefix >= outer.prefix &&
    cidrContains(outer, { version: inner.version, value: inner.base })
  );
}

/** A stable key for an IP (used by indexes). */
export function ipKey(s: string): string | undefined {
  const ip = parseIp(s);
  return ip ? formatIp(ip) : undefined;
}

/** True when two CIDRs share at least one address. */
export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  return cidrWithin(a, b) || cidrWithin(b, a);
}
