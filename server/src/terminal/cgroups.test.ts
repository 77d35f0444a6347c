import { afterEach, describe, expect, it } from "vitest";
import { spawn } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { removeShellCgroup, serverLeaf, setUpCgroups, shellCgroup, sweepShellCgroups } from "./cgroups.ts";
import { defaultShellLimits } from "./limits.ts";
import { FakeCgroup2 } from "../../../test/fixtures/cgroup2.ts";

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));
const tmp = (): string => {
  const d = mkdtempSync(path.join(tmpdir(), "egl-cgroups-"));
  dirs.push(d);
  return d;
};

describe("cgroup v1", () => {
  it("nests the shells' groups under the server's own group of each controller", () => {
    const root = tmp();
    for (const c of ["memory/slice/me", "pids", "cpu"]) mkdirSync(path.join(root, c), { recursive: true });
    const self = path.join(root, "self-cgroup");
    writeFileSync(self, "8:pids:/\n4:memory:/slice/me\n1:cpu:/\n0::/\n");
    const r = setUpCgroups({ root, selfCgroup: self });
    expect(r.layout?.version).toBe(1);
    expect(r.reason).toBe("cgroup v1 memory, pids, cpu");
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
    expect(setUpCgroups({ root, selfCgroup: self })).toEqual({
      reason: "no cgroup v1 controller is writable: memory, pids, cpu",
    });
    expect(setUpCgroups({ root, selfCgroup: path.join(root, "absent") }).layout).toBeUndefined();
  });
});

/** A cgroup v2 host where the server's service group (with the server in it) has the controllers delegated. */
function v2Host(opts: { delegated?: string; others?: number[] } = {}) {
  const dir = tmp();
  const fs = new FakeCgroup2(path.join(dir, "cgroup"));
  fs.write(path.join(fs.root, "cgroup.subtree_control"), "+cpu +memory +pids +io");
  fs.group("system.slice");
  fs.write(
    path.join(fs.root, "system.slice", "cgroup.subtree_control"),
    opts.delegated ?? "+cpu +memory +pids",
  );
  const service = fs.group("system.slice/egresslab.service", [process.pid, ...(opts.others ?? [])]);
  const self = path.join(dir, "self-cgroup");
  writeFileSync(self, "0::/system.slice/egresslab.service\n");
  return { fs, service, setup: { root: fs.root, selfCgroup: self, fs, pid: process.pid } };
}

describe("cgroup v2 (a fake cgroup2 tree)", () => {
  it("moves the server into a leaf of its group, passes memory, pids and cpu down, and weighs the shells below it", () => {
    const { fs, service, setup } = v2Host();
    const r = setUpCgroups(setup);
    const shells = path.join(service, "egresslab-shells");
    expect(r.layout).toMatchObject({ version: 2, parents: { memory: shells, pids: shells, cpu: shells } });
    expect(r.reason).toBe(`cgroup v2 under ${shells} (this server moved to ${serverLeaf}, beside it)`);
    expect(fs.procs(path.join(service, serverLeaf))).toEqual([process.pid]);
    expect(fs.procs(service)).toEqual([]);
    expect(fs.read(path.join(service, "cgroup.subtree_control")).split(" ").sort()).toEqual([
      "cpu",
      "memory",
      "pids",
    ]);
    expect(fs.read(path.join(shells, "cgroup.subtree_control")).split(" ").sort()).toEqual([
      "cpu",
      "memory",
      "pids",
    ]);
    expect(fs.read(path.join(shells, "cpu.weight"))).toBe("50");
    // A second start finds it all in place.
    expect(setUpCgroups(setup).reason).toBe(`cgroup v2 under ${shells}`);
  });

  it("gives each shell its own group with memory, swap, pids and cpu limits, removed once its processes are gone", async () => {
    const { fs, setup } = v2Host();
    const layout = setUpCgroups(setup).layout!;
    const procs = shellCgroup(layout, "l-1", {
      ...defaultShellLimits,
      memoryMiB: 64,
      processes: 33,
      cpuShares: 512,
    });
    const group = path.dirname(procs[0]!);
    expect(procs).toEqual([path.join(layout.parents.pids!, "l-1", "cgroup.procs")]);
    expect(fs.read(path.join(group, "memory.max"))).toBe(String(64 * 1024 * 1024));
    expect(fs.read(path.join(group, "memory.swap.max"))).toBe("0");
    expect(fs.read(path.join(group, "pids.max"))).toBe("33");
    expect(fs.read(path.join(group, "cpu.weight"))).toBe("50");
    const child = spawn("sleep", ["30"], { stdio: "ignore" });
    await new Promise((r) => child.once("spawn", r));
    fs.write(procs[0]!, String(child.pid));
    expect(removeShellCgroup(layout, "l-1")).toBe(false);
    expect(existsSync(group)).toBe(true);
    child.kill("SIGKILL");
    await new Promise((r) => child.once("exit", r));
    expect(removeShellCgroup(layout, "l-1")).toBe(true);
    expect(existsSync(group)).toBe(false);
  });

  it("says which controllers are not delegated, and that other processes in the server's group block it", () => {
    const notDelegated = v2Host({ delegated: "+cpu +pids" });
    const r = setUpCgroups(notDelegated.setup);
    expect(r.layout).toBeUndefined();
    expect(r.reason).toBe(
      `cgroup v2, but the memory controller is not delegated to this server's group ${notDelegated.service}`,
    );
    const shared = v2Host({ others: [process.ppid] });
    const s = setUpCgroups(shared.setup);
    expect(s.layout).toBeUndefined();
    expect(s.reason).toBe(
      `cgroup v2, but other processes share this server's group ${shared.service}, so it cannot pass controllers down`,
    );
  });
});
