import { describe, expect, it } from "vitest";
import { parseCatalogue } from "./catalogue.ts";
import { Internet } from "./internet.ts";
import { ROTATION_GROUPS, addressesAt, allCandidates, rotationCandidates, seedOf } from "./rotation.ts";
import { inCidr } from "../shared/ipv4.ts";

const text = `
resolvers: [8.8.8.8]
upstream: 172.18.0.1
domains:
  api.pay.net: {ips: [54.1.1.1, 54.1.1.2], ttl: 60, rotate: {every: 10m, pool: [54.1.0.0/16, 54.9.9.0/24]}}
  api.sms.net: {ips: [18.1.1.1], ttl: 60, rotate: {every: 0s, pool: [54.1.0.0/16]}}
  tiny.net: {ips: [10.20.30.1], ttl: 60, rotate: {every: 0s, pool: [10.20.30.0/29]}}
  fixed.net: {ips: [151.101.1.1], ttl: 300}
`;
const catalogue = parseCatalogue(text, "test.yaml");

describe("rotation candidates", () => {
  it("are distinct addresses of each domain's pools, never a listed one, the same for every cluster", () => {
    const c = rotationCandidates(catalogue);
    expect([...c.keys()]).toEqual(["api.pay.net", "api.sms.net", "tiny.net"]);
    const pay = c.get("api.pay.net")!;
    expect(pay).toHaveLength(ROTATION_GROUPS);
    expect(pay.every((g) => g.length === 2)).toBe(true);
    const all = allCandidates(c);
    expect(new Set(all).size).toBe(all.length);
    expect(all).not.toEqual(expect.arrayContaining(["54.1.1.1"]));
    for (const ip of pay.flat()) expect(inCidr(ip, "54.1.0.0/16") || inCidr(ip, "54.9.9.0/24")).toBe(true);
    // Both pools are used.
    expect(pay.flat().some((ip) => inCidr(ip, "54.9.9.0/24"))).toBe(true);
    // A /29 has six usable addresses, one of which is listed: five groups of one.
    expect(c.get("tiny.net")!.flat().sort()).toEqual(
      ["10.20.30.2", "10.20.30.3", "10.20.30.4", "10.20.30.5", "10.20.30.6"].sort(),
    );
    // Made from the catalogue alone: another copy of it gives the same.
    expect(rotationCandidates(parseCatalogue(text, "again.yaml"))).toEqual(c);
  });

  it("give generation 0 the catalogue's addresses, and never the same address two generations in a row", () => {
    const c = rotationCandidates(catalogue);
    const pay = catalogue.domains[0]!;
    expect(addressesAt(pay, c, 7, 0)).toEqual(pay.ips);
    for (const seed of [1, 2, 3, seedOf("uid")])
      for (let g = 1; g < ROTATION_GROUPS * 2; g++) {
        const a = addressesAt(pay, c, seed, g);
        const b = addressesAt(pay, c, seed, g + 1);
        expect(a.some((ip) => b.includes(ip))).toBe(false);
        expect(c.get(pay.name)!.flat()).toEqual(expect.arrayContaining(a));
      }
    expect(addressesAt(catalogue.domains[3]!, c, 7, 5)).toEqual(["151.101.1.1"]);
  });

  it("are what the simulator's internet rotates to; addresses nobody holds drop packets", () => {
    const net = new Internet(catalogue, 42, 0);
    const r = net.rotate({ domain: "api.pay.net" }, 0);
    expect(r.ips).toEqual(addressesAt(catalogue.domains[0]!, rotationCandidates(catalogue), 42, 1));
    expect(net.peer(r.ips[0]!, 443, "172.18.0.2", 0)?.description).toBe("api.pay.net");
    expect(net.peer("54.1.1.1", 443, "172.18.0.2", 0)).toBeUndefined();
    const unused = allCandidates(rotationCandidates(catalogue)).find((ip) => !r.ips.includes(ip))!;
    expect(net.peer(unused, 443, "172.18.0.2", 0)).toBeUndefined();
    // The cluster's DNS naming a candidate for its domain makes it answer as that domain (the lab's internet on kind).
    net.namedBy = (ip) => (ip === unused ? ["api.pay.net", "api.sms.net"] : []);
    const owner = [...rotationCandidates(catalogue)].find(([, g]) => g.flat().includes(unused))![0];
    expect(net.peer(unused, 443, "172.18.0.2", 0)?.description).toBe(owner);
    // Never an address outside the named domain's candidates.
    net.namedBy = () => ["api.pay.net"];
    expect(net.peer("54.1.200.200", 443, "172.18.0.2", 0)?.description).not.toBe("api.pay.net");
  });
});
