import { afterEach, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { defaultShellLimits, describeRlimits, insideUlimit, ulimitCommands } from "./limits.ts";
import { LearnerUids, overlapsHostUsers, parseUidRange } from "./uids.ts";

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));
const tmp = (): string => {
  const d = mkdtempSync(path.join(tmpdir(), "egl-limits-"));
  dirs.push(d);
  return d;
};

describe("rlimits", () => {
  it("writes hard and soft rlimits", () => {
    expect(ulimitCommands({ ...defaultShellLimits, processes: 9, openFiles: 64 })).toMatch(
      /ulimit -HS -u 9 && .*ulimit -HS -n 64/,
    );
    const l = { ...defaultShellLimits, processes: 9, uidProcesses: 500, memoryMiB: 300, cpuSeconds: 60 };
    // Outside: all shells together; inside the sandbox: this shell.
    expect(ulimitCommands(l)).toMatch(/ulimit -HS -u 500 && .*-d 307200 && .*-t 60 && ulimit -HS -c 0$/);
    expect(insideUlimit(l)).toBe("ulimit -HS -u 9");
    expect(describeRlimits(l, false)).toMatch(
      /^9 processes per shell \(its own user namespace\), 500 for all shells together.*300 MiB data.*60 s CPU/,
    );
  });
});

describe("learner uids", () => {
  it("parses a range and refuses one that is not", () => {
    expect(parseUidRange("2000000-2000009")).toEqual({ first: 2000000, last: 2000009 });
    for (const bad of ["0-10", "5-4", "x", "1000-4294967295"])
      expect(() => parseUidRange(bad)).toThrow(/FIRST-LAST/);
  });

  it("finds host users and subordinate ranges inside a range", () => {
    const etc = tmp();
    writeFileSync(
      path.join(etc, "passwd"),
      "root:x:0:0::/root:/bin/sh\nalice:x:1001:1001::/home/alice:/bin/sh\n",
    );
    writeFileSync(path.join(etc, "subuid"), "alice:100000:65536\n");
    expect(overlapsHostUsers({ first: 1000, last: 1005 }, etc)).toContain("alice (uid 1001)");
    expect(overlapsHostUsers({ first: 160000, last: 170000 }, etc)).toContain("subordinate ids of alice");
    expect(overlapsHostUsers({ first: 1500000000, last: 1500000009 }, etc)).toBeUndefined();
  });

  it("gives each learner their own uid, the same one again, and runs out clearly", () => {
    const u = new LearnerUids({ first: 5000, last: 5001 }, tmp());
    expect(u.of("a")).toEqual({ uid: 5000, gid: 5000 });
    expect(u.of("b").uid).toBe(5001);
    expect(u.of("a").uid).toBe(5000);
    expect(() => u.of("c")).toThrow(/taken/);
  });

  it("never gives two learners one uid when replicas share the learners' directory", () => {
    const root = tmp();
    const range = { first: 7000, last: 7002 };
    const a = new LearnerUids(range, root);
    const b = new LearnerUids(range, root);
    const ada = a.of("ada").uid;
    // b started before ada joined on a: it neither reuses ada's uid nor gives ada another.
    const bob = b.of("bob").uid;
    expect(bob).not.toBe(ada);
    expect(b.of("ada").uid).toBe(ada);
    expect(a.of("bob").uid).toBe(bob);
    // A replica started later knows both; the last uid goes to one learner only.
    const c = new LearnerUids(range, root);
    expect([c.of("ada").uid, c.of("bob").uid]).toEqual([ada, bob]);
    const cyd = c.of("cyd").uid;
    expect([ada, bob]).not.toContain(cyd);
    expect(() => a.of("dan")).toThrow(/taken/);
  });
});
