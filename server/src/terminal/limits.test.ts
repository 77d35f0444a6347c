import { afterEach, describe, expect, it } from "vitest";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import {
  defaultShellLimits,
  setUpCgroups,
  shellCgroup,
  sweepShellCgroups,
  ulimitCommands,
} from "./limits.ts";
import { LearnerUids, overlapsHostUsers, parseUidRange } from "./uids.ts";

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));
const tmp = (): string => {
  const d = mkdtempSync(path.join(tmpdir(), "egl-limits-"));
  dirs.push(d);
  return d;
};

describe("cgroups", () => {
  it("on cgroup v1, nests the shells' groups under the server's own group of each controller", () => {
    const root = tmp();
    for (const c of ["memory/slice/me", "pids", "cpu"]) mkdirSync(path.join(root, c), { recursive: true });
    const self = path.join(root, "self-cgroup");
    writeFileSync(self, "8:pids:/\n4:memory:/slice/me\n1:cpu:/\n0::/\n");
    const r = setUpCgroups(defaultShellLimits, root, self);
    expect(r.layout?.version).toBe(1);
    expect(r.layout?.parents.memory).toBe(path.join(root, "memory/slice/me/egresslab-shells"));
    expect(readFileSync(path.join(root, "cpu/egresslab-shells/cpu.shares"), "utf8")).toBe("512");
    const procs = shellCgroup(r.layout!, "l-1", { ...defaultShellLimits, memoryMiB: 64, processes: 33 });
    expect(procs).toHaveLength(3);
    expect(readFileSync(path.join(root, "pids/egresslab-shells/l-1/pids.max"), "utf8")).toBe("33");
    expect(
      readFileSync(path.join(root, "memory/slice/me/egresslab-shells/l-1/memory.limit_in_bytes"), "utf8"),
    ).toBe(String(64 * 1024 * 1024));
    expect(() => shellCgroup(r.layout!, "../escape", defaultShellLimits)).toThrow(/not a cgroup name/);
  });

  it("sweeps empty groups an earlier run left, but not fresh ones", () => {
    const root = tmp();
    const layout = { version: 1 as const, parents: { pids: root } };
    mkdirSync(path.join(root, "l-old"));
    mkdirSync(path.join(root, "l-new"));
    const later = Date.now() + 30_000;
    expect(sweepShellCgroups(layout, 60_000, later)).toBe(0);
    expect(sweepShellCgroups(layout, 60_000, later + 60_000)).toBe(2);
    expect(readdirSync(root)).toEqual([]);
  });

  it("says why when there is nothing to use, so rlimits alone apply", () => {
    const root = tmp();
    const self = path.join(root, "self-cgroup");
    writeFileSync(self, "0::/\n");
    expect(setUpCgroups(defaultShellLimits, root, self)).toEqual({
      reason: "no cgroup v1 controller is writable: memory, pids, cpu",
    });
    expect(setUpCgroups(defaultShellLimits, root, path.join(root, "absent")).layout).toBeUndefined();
  });

  it("writes hard and soft rlimits", () => {
    expect(ulimitCommands({ ...defaultShellLimits, processes: 9, openFiles: 64 })).toMatch(
      /ulimit -HS -u 9 && .*ulimit -HS -n 64/,
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
});
