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

  it("forgets an address once its bucket has refilled", () => {
    let t = 0;
    const r = new RateLimiter(2, 60, () => t);
    for (let i = 0; i < 500; i++) {
      r.take(`10.0.${i >> 8}.${i & 255}`);
      r.take(`10.0.${i >> 8}.${i & 255}`);
    }
    expect(r.size).toBe(500);
    t += 1_000; // one token back each: not full yet
    r.take("other");
    expect(r.size).toBe(501);
    t += 2_000; // full again: the same as never seen
    r.take("other");
    expect(r.size).toBe(1);
  });

  it("keeps at most maxKeys addresses, dropping the least recently used", () => {
    const t = 0;
    const r = new RateLimiter(1, 1, () => t, 100);
    r.take("first");
    for (let i = 0; i < 200; i++) r.take(`k${i}`);
    expect(r.size).toBe(100);
    // "first" was dropped, so it gets a fresh bucket; the most recent key is still limited.
    expect(r.take("first")).toBe(0);
    expect(r.take("k199")).toBeGreaterThan(0);
  });
});
