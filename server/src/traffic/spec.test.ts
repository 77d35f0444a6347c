import { describe, expect, it } from "vitest";
import { ValidationError } from "../shared/errors.ts";
import { parseTraffic } from "./spec.ts";

describe("parseTraffic", () => {
  it("reads the documented forms", () => {
    const items = parseTraffic(
      '[{to: api.stripe.com, port: 443, every: 20s}, {to: "http://catalog.shop:8080/items", every: 5s, log: true}, {to: 10.0.0.5, port: 5432, every: 1m}, {to: "udp://198.51.100.7:9999", every: 30s}]',
    );
    expect(items).toEqual([
      expect.objectContaining({
        host: "api.stripe.com",
        port: 443,
        scheme: "https",
        protocol: "TCP",
        everyMs: 20_000,
        log: false,
      }),
      expect.objectContaining({
        host: "catalog.shop",
        port: 8080,
        scheme: "http",
        path: "/items",
        everyMs: 5_000,
        log: true,
      }),
      expect.objectContaining({ host: "10.0.0.5", port: 5432, scheme: "tcp" }),
      expect.objectContaining({ host: "198.51.100.7", port: 9999, scheme: "udp", protocol: "UDP" }),
    ]);
  });

  it("accepts JSON", () => {
    expect(parseTraffic('[{"to":"example.com","every":"10s"}]')[0]).toMatchObject({
      port: 443,
      scheme: "https",
    });
  });

  it("lists every problem with its item and field", () => {
    try {
      parseTraffic(
        "[{to: a.com, every: soon}, {every: 5s}, {to: b.com, every: 10s, port: 70000, jitter: 3, colour: red}]",
      );
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ValidationError);
      const where = (e as ValidationError).problems.map((p) => p.where);
      expect(where).toEqual([
        "egresslab.io/traffic[0].every",
        "egresslab.io/traffic[1].to",
        "egresslab.io/traffic[2].colour",
        "egresslab.io/traffic[2].port",
        "egresslab.io/traffic[2].jitter",
      ]);
    }
  });

  it.each(["not: a list", "[unclosed", "42"])("rejects %j", (t) =>
    expect(() => parseTraffic(t)).toThrow(ValidationError),
  );
});
