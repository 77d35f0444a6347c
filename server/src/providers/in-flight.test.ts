import { describe, expect, it } from "vitest";
import { InFlight } from "./in-flight.ts";

describe("InFlight", () => {
  it("shares a running call per key and forgets it once settled, also after a failure", async () => {
    const calls = new InFlight<number>();
    let started = 0;
    const start = (): Promise<number> => Promise.resolve(++started);
    const [a, b] = await Promise.all([calls.run("x", start), calls.run("x", start)]);
    expect([a, b, started]).toEqual([1, 1, 1]);
    expect(await calls.run("y", start)).toBe(2);
    await expect(calls.run("x", () => Promise.reject(new Error("no")))).rejects.toThrow("no");
    expect(await calls.run("x", start)).toBe(3);
  });
});
