import { describe, expect, it } from "vitest";
import { cidrContains, cidrWithin, formatIp, parseCidr, parseIp } from "./nets.ts";
import { DnsCache, parseDuration, parseTrustedServer } from "./dns.ts";
import { compileDomain, domainPatternProblem } from "./domains.ts";

describe("A.8 nets", () => {
  const table: [string, string, boolean][] = [
    ["10.0.0.0/8", "10.255.1.2", true],
    ["10.0.0.0/8", "11.0.0.1", false],
    ["10.1.2.3/24", "10.1.2.200", true],
    ["0.0.0.0/0", "8.8.8.8", true],
    ["8.8.8.8", "8.8.8.8", true],
    ["8.8.8.8", "8.8.8.9", false],
    ["fd00::/8", "fd12::1", true],
    ["fd00::/8", "fe80::1", false],
    ["2001:db8::/32", "2001:db8:0:1::5", true],
    ["10.0.0.0/8", "fd00::1", false],
  ];
  it.each(table)("%s contains %s → %s", (cidr, ip, expected) => {
    expect(cidrContains(parseCidr(cidr)!, parseIp(ip)!)).toBe(expected);
  });
  it("masks host bits and says so", () => {
    expect(parseCidr("10.1.2.3/24")).toMatchObject({ text: "10.1.2.0/24", hadHostBits: true });
    expect(parseCidr("10.1.2.0/24")?.hadHostBits).toBe(false);
  });
  it("rejects malformed addresses", () => {
    for (const bad of [
      "10.0.0.256/8",
      "10.0.0/8",
      "10.0.0.0/33",
      "fd00::/129",
      "1:2:3:4:5:6:7:8:9",
      "a::b::c",
      "x",
    ])
      expect(parseCidr(bad), bad).toBeUndefined();
  });
  it("formats IPv6 canonically and parses embedded IPv4", () => {
    expect(formatIp(parseIp("2001:0db8:0000:0000:0000:0000:0000:0001")!)).toBe("2001:db8::1");
    expect(parseIp("64:ff9b::10.1.2.3")?.value).toBe(0x64ff9b00000000000000000a010203n);
  });
  // Go's net.ParseIP / netip.ParseAddr (go/src/net/netip/netip.go parseIPv4Fields, parseIPv6; TestParseAddr), which
  // Calico's validator reaches through libcalico-go's cnet.ParseCIDROrIP.
  it("refuses what Go refuses: leading zeros in IPv4 (also embedded), zones, long or empty groups", () => {
    for (const bad of [
      "01.2.3.4",
      "1.2.3.04",
      "192.168.001.1",
      "00.0.0.0",
      "::ffff:01.2.3.4",
      "1.2.3.4.",
      ".1.2.3.4",
      "1..2.3",
      "fe80::1%eth0",
      "00000::1",
      "1:2:3:4:5:6:7::8",
      "1:2:3:4:5:6:7:8::",
      ":1:2:3:4:5:6:7",
      "1:2:3:4:5:6:1.2.3.4:1",
      "::1.2.3",
      "0x1.2.3.4",
    ])
      expect(parseIp(bad), bad).toBeUndefined();
    for (const bad of [
      "01.2.3.4/8",
      "10.0.0.0/",
      "10.0.0.0/-1",
      "10.0.0.0/8/8",
      "10.0.0.0/ 8",
      "::ffff:1.2.3.4/129",
    ])
      expect(parseCidr(bad), bad).toBeUndefined();
    for (const good of [
      "0.0.0.0",
      "255.255.255.255",
      "10.0.0.1",
      "::",
      "::1",
      "1::",
      "ABCD::ef01",
      "::1.2.3.4",
    ])
      expect(parseIp(good), good).toBeDefined();
    // Go's dtoi reads the prefix length, leading zeros and all.
    expect(parseCidr("10.1.0.0/016")?.text).toBe("10.1.0.0/16");
  });
  it("prints IPv6 as Go does (RFC 5952): the longest run of two or more zero groups becomes ::, a lone zero stays", () => {
    const table: [string, string][] = [
      ["2001:db8:0:0:1:0:0:0", "2001:db8:0:0:1::"],
      ["2001:db8:0:0:1::", "2001:db8:0:0:1::"],
      ["2001:0:0:1:0:0:0:1", "2001:0:0:1::1"],
      ["2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"],
      ["2001:db8:0:0:1:1:0:0", "2001:db8::1:1:0:0"],
      ["2001:DB8::0001", "2001:db8::1"],
      ["0:0:0:0:0:0:0:0", "::"],
      ["0:0:0:0:0:0:0:1", "::1"],
      ["1:0:0:0:0:0:0:0", "1::"],
      ["0:1:0:1:0:1:0:1", "0:1:0:1:0:1:0:1"],
      ["::1.2.3.4", "::102:304"],
      ["64:ff9b::192.0.2.33", "64:ff9b::c000:221"],
    ];
    for (const [input, want] of table) expect(formatIp(parseIp(input)!), input).toBe(want);
  });
  it("reads an IPv4-mapped IPv6 address as the IPv4 address, as Go's net.IP.To4 and so Calico do", () => {
    expect(parseIp("::ffff:1.2.3.4")).toEqual({ version: 4, value: 0x01020304n, n: 0x01020304 });
    expect(parseIp("::FFFF:0102:0304")).toEqual(parseIp("1.2.3.4"));
    expect(formatIp(parseIp("::ffff:1.2.3.4")!)).toBe("1.2.3.4");
    expect(formatIp({ version: 6, value: 0xffff01020304n })).toBe("1.2.3.4");
    // net.ParseCIDR keeps 128 bits; IPNet.String prints a still-mapped network as IPv4 with 96 bits fewer.
    expect(parseCidr("::ffff:1.2.3.4/120")).toMatchObject({ version: 4, text: "1.2.3.0/24", prefix: 24 });
    expect(parseCidr("::ffff:1.2.3.4")).toMatchObject({ version: 4, text: "1.2.3.4/32" });
    expect(parseCidr("::ffff:1.2.3.4/96")?.text).toBe("0.0.0.0/0");
    expect(parseCidr("::ffff:1.2.3.4/64")).toMatchObject({ version: 6, text: "::/64" });
    expect(cidrContains(parseCidr("::ffff:10.0.0.0/104")!, parseIp("10.9.8.7")!)).toBe(true);
  });
  it("cidrWithin", () => {
    expect(cidrWithin(parseCidr("10.1.0.0/16")!, parseCidr("10.0.0.0/8")!)).toBe(true);
    expect(cidrWithin(parseCidr("10.0.0.0/8")!, parseCidr("10.1.0.0/16")!)).toBe(false);
  });
});

describe("D domains", () => {
  const table: [string, string, boolean][] = [
    ["microsoft.com", "microsoft.com", true],
    ["microsoft.com", "www.microsoft.com", false],
    ["*.google.com", "www.google.com", true],
    ["*.google.com", "www.ipv6.google.com", true],
    ["*.google.com", "google.com", false],
    ["www.*.com", "www.sun.com", true],
    ["www.*.com", "www.com", false],
    ["update.*.mycompany.com", "update.tools.mycompany.com", true],
    ["update.*.mycompany.com", "update.secure.suite.mycompany.com", true],
    ["update.*.mycompany.com", "update.mycompany.com", false],
    ["API.Example.com", "api.example.COM.", true],
  ];
  it.each(table)("%s matches %s → %s", (pattern, name, expected) => {
    expect(compileDomain(pattern).matches(name)).toBe(expected);
  });
  it("rejects the unsupported wildcards", () => {
    expect(domainPatternProblem("*.*.mycompany.com")).toMatch(/one wildcard/);
    expect(domainPatternProblem("www.g*.com")).toMatch(/whole label/);
    expect(domainPatternProblem("www.mycompany.*")).toMatch(/last label/);
    expect(domainPatternProblem("")).toMatch(/non-empty/);
    expect(domainPatternProblem("*.example.com")).toBeUndefined();
  });
});

describe("D DNS cache and Felix settings", () => {
  it("learns both ways and forgets after the expiry", () => {
    const c = new DnsCache();
    c.learn("A.example.com.", ["1.2.3.4", "1.2.3.5"], 1000);
    c.learn("b.example.com", ["1.2.3.4"], 2000);
    expect(c.namesFor("1.2.3.4", 500).sort()).toEqual(["a.example.com", "b.example.com"]);
    expect(c.ipsFor("a.example.com", 500).sort()).toEqual(["1.2.3.4", "1.2.3.5"]);
    expect(c.namesFor("1.2.3.4", 1500)).toEqual(["b.example.com"]);
    c.prune(2500);
    expect(c.namesFor("1.2.3.4", 0)).toEqual([]);
  });
  it("a later answer extends, never shortens, what was learned", () => {
    const c = new DnsCache();
    c.learn("a.com", ["1.1.1.1"], 5000);
    c.learn("a.com", ["1.1.1.1"], 1000);
    expect(c.namesFor("1.1.1.1", 4000)).toEqual(["a.com"]);
  });
  it.each([
    ["30s", 30],
    ["1m30s", 90],
    ["2h", 7200],
    ["500ms", 0.5],
    ["0", 0],
    [45, 45],
    ["bogus", 0],
  ] as const)("duration %s = %s s", (v, s) => {
    expect(parseDuration(v)).toBe(s);
  });
  it.each([
    ["k8s-service:kube-dns", { kind: "service", namespace: "kube-system", name: "kube-dns" }],
    ["k8s-service:dns/resolver:5353", { kind: "service", namespace: "dns", name: "resolver", port: 5353 }],
    ["10.0.0.10", { kind: "ip", ip: "10.0.0.10", port: 53 }],
    ["10.0.0.10:5353", { kind: "ip", ip: "10.0.0.10", port: 5353 }],
    ["[fd00::10]:53", { kind: "ip", ip: "fd00::10", port: 53 }],
    ["nonsense", undefined],
  ] as const)("trusted server %s", (s, expected) => {
    expect(parseTrustedServer(s)).toEqual(expected);
  });
});
