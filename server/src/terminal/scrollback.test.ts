import { describe, expect, it } from "vitest";
import { Scrollback } from "./scrollback.ts";

describe("Scrollback", () => {
  it("replays only what comes after the given offset", () => {
    const s = new Scrollback(100);
    s.push("hello ");
    s.push("world");
    expect(s.since(6)).toEqual({ reset: false, data: "world", end: 11 });
    expect(s.since(11)).toEqual({ reset: false, data: "", end: 11 });
    expect(s.since(undefined)).toEqual({ reset: false, data: "hello world", end: 11 });
  });

  it("keeps at most maxChars, trimming the oldest output", () => {
    const s = new Scrollback(8);
    s.push("abcdef");
    s.push("ghijkl");
    expect(s.start).toBe(4);
    expect(s.end).toBe(12);
    expect(s.since(undefined).data).toBe("efghijkl");
    expect(s.since(10)).toEqual({ reset: false, data: "kl", end: 12 });
  });

  it.each([
    { since: 2, why: "older than what is kept" },
    { since: 99, why: "in the future (a different shell)" },
    { since: 0, why: "from the start, which was trimmed" },
  ])("asks the page to clear when the offset is $why", ({ since }) => {
    const s = new Scrollback(4);
    s.push("abcdefgh");
    const r = s.since(since);
    expect(r.reset).toBe(true);
    expect(r.data).toBe("efgh");
  });

  it("stays bounded under a flood", () => {
    const s = new Scrollback(1000);
    for (let i = 0; i < 10_000; i++) s.push("x".repeat(37));
    expect(s.since(undefined).data.length).toBe(1000);
    expect(s.end).toBe(370_000);
  });

  it("gives the whole screen to a page whose offset an earlier server sent but never saved", () => {
    const s = new Scrollback(100, { start: 10, data: "saved" });
    s.push("[new]");
    s.unknownBefore(s.end);
    s.push("own");
    // 17 was only ever sent by the server that stopped: what this one holds there is another text.
    expect(s.since(17)).toEqual({ reset: true, data: "saved[new]own", end: 23 });
    expect(s.since(15)).toEqual({ reset: false, data: "[new]own", end: 23 });
    expect(s.since(20)).toEqual({ reset: false, data: "own", end: 23 });
    const fresh = new Scrollback(100);
    fresh.unknownBefore(5);
    fresh.push("abcdef");
    expect(fresh.since(3)).toEqual({ reset: false, data: "def", end: 6 });
  });
});
