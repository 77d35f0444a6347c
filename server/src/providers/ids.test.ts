import { describe, expect, it } from "vitest";
import { safeClusterId } from "./ids.ts";

describe("safeClusterId", () => {
  it.each(["a", "seat-1", "c-0123456789ab", "x".repeat(40)])("keeps %s", (id) => {
    expect(safeClusterId(id)).toBe(id);
  });
  it.each(["Alice", "a_b", "-x-", "x".repeat(41), "∂", "a--"])(
    "turns %s into a valid, stable, distinct id",
    (id) => {
      const out = safeClusterId(id);
      expect(out).toMatch(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/);
      expect(out.length).toBeLessThanOrEqual(40);
      expect(safeClusterId(id)).toBe(out);
      expect(out).not.toBe(safeClusterId(id + "!"));
    },
  );
});
