import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Scrollback } from "./scrollback.ts";
import { readScrollback, ScrollbackLog } from "./scrollback-log.ts";

const dir = mkdtempSync(path.join(tmpdir(), "egl-sblog-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A scrollback with its log, as a terminal session wires them. */
function logged(file: string, max: number, flushMs = 1000) {
  const sb = new Scrollback(max, readScrollback(file, max));
  const log = new ScrollbackLog(
    file,
    max,
    () => {
      const all = sb.since(undefined);
      return { start: all.end - all.data.length, data: all.data };
    },
    undefined,
    flushMs,
  );
  return {
    sb,
    log,
    push(d: string) {
      sb.push(d);
      log.append(d);
    },
  };
}

describe("ScrollbackLog", () => {
  it("brings the scrollback back with its offsets, so a page's offset still means the same output", () => {
    const file = path.join(dir, "a");
    const a = logged(file, 100);
    a.push("hello ");
    a.push("wörld\r\n");
    a.log.close();
    const b = logged(file, 100);
    expect(b.sb.since(undefined)).toEqual({ reset: false, data: "hello wörld\r\n", end: 13 });
    expect(b.sb.since(6)).toEqual({ reset: false, data: "wörld\r\n", end: 13 });
    b.push("more");
    b.log.close();
    expect(logged(file, 100).sb.since(13).data).toBe("more");
  });

  it("writes in batches, not per chunk, and at once on flush", async () => {
    const file = path.join(dir, "b");
    const a = logged(file, 1000, 50);
    const empty = statSync(file).size;
    a.push("one ");
    a.push("two ");
    expect(statSync(file).size).toBe(empty);
    await new Promise((r) => setTimeout(r, 120));
    expect(readScrollback(file, 1000)?.data).toBe("one two ");
    a.push("three");
    a.log.flush();
    expect(readScrollback(file, 1000)?.data).toBe("one two three");
    a.log.close();
  });

  it("stays bounded: the file is rewritten with the kept tail", () => {
    const file = path.join(dir, "c");
    const a = logged(file, 50);
    for (let i = 0; i < 200; i++) {
      a.push(`line ${i} ${"x".repeat(20)}\r\n`);
      a.log.flush();
    }
    a.log.close();
    expect(statSync(file).size).toBeLessThan(2 * 4 * 50 + 200);
    const back = readScrollback(file, 50)!;
    expect(back.data).toHaveLength(50);
    expect(back.start + back.data.length).toBe(a.sb.end);
    expect(back.data).toContain("line 199");
  });

  it("starts afresh from a file it cannot read", () => {
    const file = path.join(dir, "d");
    writeFileSync(file, "not a scrollback");
    expect(readScrollback(file, 100)).toBeUndefined();
    const a = logged(file, 100);
    a.push("fresh");
    a.log.close();
    expect(readFileSync(file, "utf8")).toBe("egresslab-scrollback 1 0\nfresh");
  });
});
