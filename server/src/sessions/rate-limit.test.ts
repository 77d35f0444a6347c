import { describe, expect, it } from "vitest";
import { RateLimiter } from "./rate-limit.ts";

describe("RateLimiter", () => {
  it("allows a burst, then asks to wait, then refills", () => {
    let t = 0;
    const r = new RateLimiter(3, 6, () => t);
    expect([r.take("a"), r.take("a"), r.take("a")]).toEqual([0, 0, 0]);
    expect(r.take("a")).toBe(10);
    expect(r.take("b")).toBe(0);
    t += 10_000;
    expect(r.take("a")).toBe(0);
    expect(r.take("a")).toBeGreaterThan(0);
  });
});
