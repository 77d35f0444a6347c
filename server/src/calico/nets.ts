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

/**
 * Dotted-quad IPv4 as Go's netip.ParseAddr reads it (and so net.ParseIP, which Calico uses): four decimal fields of
 * at most 255, no empty field, and no leading zero ("01.2.3.4" is refused, as Go does since 1.17).
 */
function parseV4(s: string): bigint | undefined {
  const parts = s.split(".");
  if (parts.length !== 4) return undefined;
  let v = 0n;
  for (const p of parts) {
    if (!/^(0|[1-9]\d{0,2})$/.test(p)) return undefined;
    const n = Number(p);
    if (n > 255) return undefined;
    v = (v << 8n) | BigInt(n);
  }
  return v;
}

/**
 * IPv6 as netip.ParseAddr reads it, without a zone: groups of 1–4 hex digits, at most one `::` standing for at least
 * one zero group, and an embedded IPv4 (strict, as above) only as the last 32 bits.
 */
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

/** True for an IPv4-mapped IPv6 value (`::ffff:a.b.c.d`): 80 zero bits, 16 one bits, then the IPv4 address. */
function isV4Mapped(v: bigint): boolean {
  return v >> 32n === 0xffffn;
}

/**
 * Parses an IPv4 or IPv6 address. An IPv4-mapped IPv6 address (`::ffff:1.2.3.4`) is the IPv4 address, as it is for
 * Calico: Go's net.IP.To4 accepts it, so libcalico-go's IP.Version and Felix see version 4, and net.IP.String prints
 * `1.2.3.4`.
 */
export function parseIp(s: string): Ip | undefined {
  if (typeof s !== "string") return undefined;
  const v4 = parseV4(s);
  if (v4 !== undefined) return { version: 4, value: v4, n: Number(v4) };
  if (s.includes(":")) {
    const v6 = parseV6(s);
    if (v6 !== undefined && isV4Mapped(v6)) {
      const value = v6 & 0xffffffffn;
      return { version: 4, value, n: Number(value) };
    }
    if (v6 !== undefined) return { version: 6, value: v6 };
  }
  return undefined;
}

/**
 * The address as Go's net.IP.String prints it (RFC 5952 for IPv6): lower-case hex without leading zeros, the longest
 * run of two or more zero groups shortened to `::` (the first such run on a tie), a single zero group kept as `0`;
 * an IPv4-mapped value in dotted decimal.
 */
export function formatIp(ip: Ip): string {
  const v4 = (v: bigint): string => [24n, 16n, 8n, 0n].map((sh) => String((v >> sh) & 255n)).join(".");
  if (ip.version === 4) return v4(ip.value);
  if (isV4Mapped(ip.value)) return v4(ip.value & 0xffffffffn);
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((ip.value >> BigInt(i * 16)) & 0xffffn));
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) [bestStart, bestLen] = [i, j - i];
    i = j;
  }
  const hex = (g: number[]): string => g.map((x) => x.toString(16)).join(":");
  if (bestLen < 2) return hex(groups);
  return `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLen))}`;
}

/**
 * Parses a CIDR as Go's net.ParseCIDR does (Calico's cnet.ParseCIDROrIP); a bare IP is a host route. `requireMask`
 * rejects bare IPs. The prefix length is decimal digits (Go's dtoi: leading zeros allowed) no longer than the address.
 * An IPv4-mapped IPv6 CIDR whose network is still IPv4-mapped (prefix 96 or more) is that IPv4 network, as Go's
 * IPNet.String prints it (`::ffff:10.0.0.0/104` is `10.0.0.0/8`).
 */
export function parseCidr(s: string, opts: { requireMask?: boolean } = {}): Cidr | undefined {
  if (typeof s !== "string") return undefined;
  const slash = s.indexOf("/");
  const addr = slash < 0 ? s : s.slice(0, slash);
  if (slash < 0 && opts.requireMask) return undefined;
  const asV4 = parseV4(addr);
  const asV6 = asV4 === undefined && addr.includes(":") ? parseV6(addr) : undefined;
  if (asV4 === undefined && asV6 === undefined) return undefined;
  const width = asV4 !== undefined ? 32 : 128;
  const value = asV4 ?? asV6!;
  let prefix = width;
  if (slash >= 0) {
    const p = s.slice(slash + 1);
    if (!/^\d+$/.test(p)) return undefined;
    prefix = Number(p);
    if (prefix > width) return undefined;
  } else if (asV6 !== undefined && isV4Mapped(asV6)) prefix = 128;
  const hostBits = BigInt(width - prefix);
  let base = (value >> hostBits) << hostBits;
  let version: 4 | 6 = width === 32 ? 4 : 6;
  const hadHostBits = base !== value;
  if (version === 6 && isV4Mapped(base)) {
    version = 4;
    base &= 0xffffffffn;
    prefix -= 96;
  }
  const cidr: Cidr = {
    version,
    base,
    prefix,
    text: `${formatIp({ version, value: base })}/${prefix}`,
    hadHostBits,
  };
  if (version === 4) {
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
