import { describe, expect, it } from "vitest";
import { VirtualClock } from "./clock.ts";

describe("VirtualClock", () => {
  it("wakes sleepers in time order only when advanced", async () => {
    const c = new VirtualClock(0);
    const woke: number[] = [];
    void c.sleep(200).then(() => woke.push(c.now()));
    void c.sleep(100).then(() => woke.push(c.now()));
    await c.advance(50);
    expect(woke).toEqual([]);
    await c.advance(200);
    expect(woke).toEqual([100, 200]);
    expect(c.now()).toBe(250);
  });
  it("rejects an aborted sleep and forgets it", async () => {
    const c = new VirtualClock(0);
    const ac = new AbortController();
    const p = c.sleep(100, ac.signal);
    ac.abort(new Error("gone"));
    await expect(p).rejects.toThrow("gone");
    expect(c.pending).toBe(0);
  });
});
