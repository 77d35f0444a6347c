import { describe, expect, it } from "vitest";
import { ValidationError } from "../shared/errors.ts";
import { isReservedName, parseCatalogue, parseDuration } from "./catalogue.ts";
import { defaultCatalogue } from "./catalogue-file.ts";
import { Internet, nameMatches } from "./internet.ts";

function problems(text: string): { line?: number; message: string }[] {
  try {
    parseCatalogue(text, "internet.yaml");
  } catch (e) {
    if (e instanceof ValidationError) return e.problems.map((p) => ({ line: p.line, message: p.message }));
    throw e;
  }
  return [];
}

describe("parseCatalogue", () => {
  it("accepts the shipped catalogue", () => {
    const c = defaultCatalogue();
    expect(c.domains.length).toBeGreaterThan(15);
    expect(c.upstream).toBe("172.18.0.1");
  });

  it("rejects every malformed entry with its file and line, all at once", () => {
    const text = [
      "domains:", //                         1
      "  good.example-shop.com:", //         2
      "    ips: [1.2.3.4]", //                3
      "  bad.example-shop.com:", //          4
      "    ips: [1.2.3.999]", //              5
      "    ttl: -1", //                       6
      "  Not_A_Domain:", //                   7
      "    ips: [1.2.3.4]", //                8
      "  partner.example-shop.com:", //      9
      "    kind: partner", //                10
      "    ips: [5.6.7.8]", //               11
      "    colour: blue", //                 12
      "  rot.example-shop.com:", //         13
      "    ips: [9.9.9.9]", //               14
      "    rotate: { every: soon, pool: [nope] }", // 15
    ].join("\n");
    const p = problems(text);
    expect(p).toEqual(
      expect.arrayContaining([
        { line: 5, message: 'bad.example-shop.com: ips: "1.2.3.999" is not an IPv4 address' },
        { line: 6, message: "bad.example-shop.com: ttl: expected whole seconds between 0 and 86400" },
        { line: 7, message: expect.stringContaining('"not_a_domain" is not a domain name') },
        { line: 9, message: "partner.example-shop.com: kind partner needs allowSources" },
        { line: 12, message: 'partner.example-shop.com: unknown field "colour"' },
        { line: 15, message: expect.stringContaining('rotate.every: "soon" is not a duration') },
        { line: 15, message: expect.stringContaining("rotate.pool") },
      ]),
    );
    expect(p).toHaveLength(7);
  });

  it("reports YAML syntax errors with their line", () => {
    const p = problems("domains:\n  a.com:\n    ips: [1.2.3.4\n");
    expect(p[0]?.line).toBeGreaterThanOrEqual(3);
  });

  it.each([
    ["30s", 30_000],
    ["5m", 300_000],
    ["1h", 3_600_000],
    ["250ms", 250],
    ["soon", undefined],
  ])("parseDuration(%s)", (s, ms) => expect(parseDuration(s)).toBe(ms));
});

describe("Internet", () => {
  const cat = parseCatalogue(
    [
      "domains:",
      "  api.pay.net: { ips: [54.1.1.1, 54.1.1.2], ttl: 60, rotate: { every: 10m, pool: [54.2.0.0/16] } }",
      "  '*.bucket.net': { ips: [52.1.1.1] }",
      "  a.cdn.net: { ips: [151.1.1.1] }",
      "  b.cdn.net: { ips: [151.1.1.1], http: { status: 204 } }",
      "  gone.pay.net: { nxdomain: true }",
      "  echo.me: { kind: echo, ips: [34.1.1.1] }",
    ].join("\n"),
    "t.yaml",
  );

  it("rotates on schedule and on demand, deterministically per seed", () => {
    const a = new Internet(cat, 7, 0);
    const b = new Internet(cat, 7, 0);
    const at0 = a.lookup("api.pay.net", 0);
    const at10 = a.lookup("api.pay.net", 600_000);
    expect(at0).toMatchObject({ ips: ["54.1.1.1", "54.1.1.2"] });
    expect(at10.kind === "answer" && at10.ips.every((ip) => ip.startsWith("54.2."))).toBe(true);
    expect(b.lookup("api.pay.net", 600_000)).toEqual(at10);
    const r = a.rotate({ domain: "api.pay.net" }, 0);
    expect(r.previous).toEqual(["54.1.1.1", "54.1.1.2"]);
    expect(r.ips).not.toEqual(r.previous);
    expect(a.peer("54.1.1.1", 443, "1.1.1.1", 0)).toBeUndefined();
  });

  it("rejects rotation of unknown or fixed domains in the user's terms", () => {
    const i = new Internet(cat, 1, 0);
    expect(() => i.rotate({ domain: "nope.net" }, 0)).toThrow(
      'domain "nope.net" is not in the internet catalogue',
    );
    expect(() => i.rotate({ domain: "a.cdn.net" }, 0)).toThrow(/fixed addresses/);
    expect(() => i.rotate({}, 0)).toThrow(/expected a JSON body/);
  });

  it("serves by Host on shared addresses, echoes the source, and answers NXDOMAIN for reserved names", () => {
    const i = new Internet(cat, 1, 0);
    const peer = i.peer("151.1.1.1", 443, "10.10.10.1", 0)!;
    const req = { method: "GET", scheme: "https" as const, port: 443, path: "/", headers: {}, body: "" };
    expect(peer.http({ ...req, host: "b.cdn.net" }).status).toBe(204);
    expect(peer.http({ ...req, host: "a.cdn.net" }).status).toBe(200);
    expect(peer.certificateValidFor("a.cdn.net")).toBe(true);
    expect(peer.certificateValidFor("151.1.1.1")).toBe(false);
    expect(i.peer("34.1.1.1", 80, "172.18.0.3", 0)!.http({ ...req, host: "echo.me" }).body).toBe(
      "172.18.0.3\n",
    );
    expect(i.lookup("gone.pay.net", 0).kind).toBe("nxdomain");
    expect(i.lookup("x.bucket.net", 0)).toMatchObject({ ips: ["52.1.1.1"] });
    expect(i.lookup("bucket.net", 0)).toMatchObject({ kind: "answer" });
    for (const n of ["a.test", "b.invalid", "c.example", "printer.local", "localhost"])
      expect(i.lookup(n, 0).kind).toBe("nxdomain");
  });

  it.each([
    ["*.example.com", "a.example.com", true],
    ["*.example.com", "a.b.example.com", true],
    ["*.example.com", "example.com", false],
    ["example.com", "example.com", true],
  ])("nameMatches(%s, %s) = %s", (p, n, want) => expect(nameMatches(p, n)).toBe(want));

  it("knows the reserved names", () => {
    expect(isReservedName("foo.localhost")).toBe(true);
    expect(isReservedName("example.com")).toBe(false);
  });
});
