import { describe, expect, it } from "vitest";
import { formatIp, inCidr, isIp, isPrivate, parseCidr, parseIp } from "./ipv4.ts";

describe("IPv4 helpers", () => {
  it("parse dotted quads strictly, as Go's net.ParseIP does: no leading zeros, no field over 255", () => {
    expect(parseIp("10.96.0.10")).toBe(0x0a60000a);
    expect(parseIp("0.0.0.0")).toBe(0);
    expect(formatIp(parseIp("255.255.255.255")!)).toBe("255.255.255.255");
    for (const bad of [
      "01.2.3.4",
      "10.96.0.010",
      "1.2.3.256",
      "1.2.3",
      "1.2.3.4.5",
      " 1.2.3.4",
      "1.2.3.4 ",
      "a.b.c.d",
    ])
      expect(isIp(bad), bad).toBe(false);
  });
  it("parse CIDRs with Go's prefix reading and mask host bits", () => {
    expect(parseCidr("10.1.2.3/24")).toEqual({ base: 0x0a010200, bits: 24 });
    expect(parseCidr("10.0.0.0/008")).toEqual({ base: 0x0a000000, bits: 8 });
    for (const bad of ["10.0.0.0/33", "010.0.0.0/8", "10.0.0.0/", "10.0.0.0/8/1"])
      expect(parseCidr(bad), bad).toBeUndefined();
    expect(inCidr("10.1.2.200", "10.1.2.0/24")).toBe(true);
    expect(inCidr("010.1.2.200", "10.1.2.0/24")).toBe(false);
  });
  it("tells private (RFC 1918) from public addresses", () => {
    expect(isPrivate("172.16.0.1")).toBe(true);
    expect(isPrivate("172.32.0.1")).toBe(false);
  });
});
