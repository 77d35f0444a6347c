/**
 * Each learner's shell in its own cgroup under the server's, where the server may create one: total memory, a
 * process count and a CPU weight, so a fork bomb or a memory hog in one shell is held inside that shell's group.
 * cgroup v1 (a hierarchy per controller) or v2 (one unified tree, with the controllers delegated to the server's
 * group). All file access goes through `CgroupFs`, so the same code runs against a test's fake cgroup tree.
 */
import {
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  rmdirSync,
  statSync,
  writeFileSync,
} from "node:fs";
import path from "node:path";
import type { ShellLimits } from "./limits.ts";

/** What the cgroup code does to the cgroup filesystem. */
export interface CgroupFs {
  /** The text of a file (throws when absent). */
  read(file: string): string;
  /** Writes a control file (throws as the kernel refuses: ENOENT for a controller not enabled, EBUSY, EINVAL). */
  write(file: string, text: string): void;
  /** Creates a group (and its parents). */
  mkdir(dir: string): void;
  /** Removes an empty group (throws EBUSY while processes remain). */
  rmdir(dir: string): void;
  /** The child groups of a group. */
  children(dir: string): string[];
  /** When a group was last changed (ms since the epoch). */
  mtimeMs(dir: string): number;
  exists(p: string): boolean;
}

/** The host's cgroup filesystem. */
export const hostCgroupFs: CgroupFs = {
  read: (f) => readFileSync(f, "utf8"),
  write: (f, t) => writeFileSync(f, t),
  mkdir: (d) => mkdirSync(d, { recursive: true }),
  rmdir: (d) => rmdirSync(d),
  children: (d) =>
    readdirSync(d, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name),
  mtimeMs: (d) => statSync(d).mtimeMs,
  exists: (p) => existsSync(p),
};

type Controller = "memory" | "pids" | "cpu";
const controllers: readonly Controller[] = ["memory", "pids", "cpu"];

/** The cgroup directories (one per controller on v1, one on v2) of the shells' parent group. */
export interface CgroupLayout {
  version: 1 | 2;
  /** Controller → the directory under which each shell's group is created. */
  parents: Partial<Record<Controller, string>>;
  /** The filesystem (default: the host's). */
  fs?: CgroupFs;
}

const groupName = "egresslab-shells";
/** On cgroup v2, the leaf the server moves itself into when its group must pass controllers down. */
export const serverLeaf = "egresslab-server";

export interface CgroupSetup {
  /** Where cgroups are mounted (default /sys/fs/cgroup). */
  root?: string;
  /** This process's cgroup membership (default /proc/self/cgroup). */
  selfCgroup?: string;
  fs?: CgroupFs;
  /** This process (moved into a leaf on cgroup v2 when needed). */
  pid?: number;
}

const firstLine = (err: unknown): string =>
  (err as NodeJS.ErrnoException).code ?? (err instanceof Error ? err.message.split("\n")[0]! : String(err));

/**
 * Finds (and creates) the shells' parent group under the server's own cgroup. Returns undefined, with the reason,
 * when this machine or this user does not allow it; rlimits still apply then. `reason` names the mechanism.
 */
export function setUpCgroups(setup: CgroupSetup = {}): { layout?: CgroupLayout; reason: string } {
  const fs = setup.fs ?? hostCgroupFs;
  const root = setup.root ?? "/sys/fs/cgroup";
  let lines: string[];
  try {
    lines = fs
      .read(setup.selfCgroup ?? "/proc/self/cgroup")
      .trim()
      .split("\n");
  } catch {
    return { reason: "no cgroups on this system" };
  }
  const withFs = (l: CgroupLayout): CgroupLayout => (setup.fs ? { ...l, fs: setup.fs } : l);
  if (fs.exists(path.join(root, "cgroup.controllers"))) {
    const own = lines.find((l) => l.startsWith("0::"))?.slice(3);
    if (own === undefined) return { reason: "cgroup v2 without an entry for this process" };
    const r = setUpV2(fs, path.join(root, own), setup.pid ?? process.pid);
    return r.dir
      ? {
          layout: withFs({ version: 2, parents: { memory: r.dir, pids: r.dir, cpu: r.dir } }),
          reason: r.reason,
        }
      : { reason: r.reason };
  }
  const parents: Partial<Record<Controller, string>> = {};
  const missing: string[] = [];
  for (const c of controllers) {
    const line = lines.find((l) => l.split(":")[1]?.split(",").includes(c));
    const mount = path.join(root, c);
    if (!line || !fs.exists(mount)) {
      missing.push(c);
      continue;
    }
    const dir = path.join(mount, line.split(":").slice(2).join(":"), groupName);
    try {
      fs.mkdir(dir);
      // All shells together weigh half of one task of the server's own group.
      if (c === "cpu") fs.write(path.join(dir, "cpu.shares"), "512");
      parents[c] = dir;
    } catch (err) {
      missing.push(`${c} (${firstLine(err)})`);
    }
  }
  if (!Object.keys(parents).length)
    return { reason: `no cgroup v1 controller is writable: ${missing.join(", ")}` };
  return {
    layout: withFs({ version: 1, parents }),
    reason: `cgroup v1 ${Object.keys(parents).join(", ")}${missing.length ? ` (not ${missing.join(", ")})` : ""}`,
  };
}

/**
 * cgroup v2: the controllers must be delegated to the server's group (`base`) and enabled for its children. A group
 * with processes of its own cannot pass controllers down, so the server first moves itself into a leaf of its group.
 */
function setUpV2(fs: CgroupFs, base: string, pid: number): { dir?: string; reason: string } {
  let available: string[];
  try {
    available = fs.read(path.join(base, "cgroup.controllers")).trim().split(/\s+/);
  } catch (err) {
    return { reason: `cgroup v2, but this server's group ${base} cannot be read (${firstLine(err)})` };
  }
  const absent = controllers.filter((c) => !available.includes(c));
  if (absent.length)
    return {
      reason: `cgroup v2, but the ${absent.join(", ")} controller${absent.length > 1 ? "s are" : " is"} not delegated to this server's group ${base}`,
    };
  const enable = (): void => {
    const on = fs.read(path.join(base, "cgroup.subtree_control")).trim().split(/\s+/);
    const want = controllers.filter((c) => !on.includes(c));
    if (want.length) fs.write(path.join(base, "cgroup.subtree_control"), want.map((c) => `+${c}`).join(" "));
  };
  let moved = false;
  try {
    try {
      enable();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EBUSY") throw err;
      const leaf = path.join(base, serverLeaf);
      fs.mkdir(leaf);
      fs.write(path.join(leaf, "cgroup.procs"), String(pid));
      moved = true;
      enable();
    }
    const dir = path.join(base, groupName);
    fs.mkdir(dir);
    fs.write(path.join(dir, "cgroup.subtree_control"), "+memory +pids +cpu");
    // All shells together weigh half of the server (whose group weighs the default 100).
    fs.write(path.join(dir, "cpu.weight"), "50");
    return {
      dir,
      reason: `cgroup v2 under ${dir}${moved ? ` (this server moved to ${serverLeaf}, beside it)` : ""}`,
    };
  } catch (err) {
    const why = firstLine(err);
    return {
      reason:
        why === "EBUSY"
          ? `cgroup v2, but other processes share this server's group ${base}, so it cannot pass controllers down`
          : `cgroup v2 controllers are not delegated to this server (${why})`,
    };
  }
}

/** Creates (or refreshes) one shell's group; returns the `cgroup.procs` files its first process writes itself into. */
export function shellCgroup(layout: CgroupLayout, id: string, limits: ShellLimits): string[] {
  if (!/^[A-Za-z0-9_-]+$/.test(id)) throw new Error(`"${id}" is not a cgroup name`);
  const fs = layout.fs ?? hostCgroupFs;
  const procs = new Set<string>();
  const mem = String(limits.memoryMiB * 1024 * 1024);
  for (const [c, parent] of Object.entries(layout.parents) as [Controller, string][]) {
    const dir = path.join(parent, id);
    fs.mkdir(dir);
    if (layout.version === 1) {
      if (c === "memory") fs.write(path.join(dir, "memory.limit_in_bytes"), mem);
      if (c === "pids") fs.write(path.join(dir, "pids.max"), String(limits.processes));
      if (c === "cpu") fs.write(path.join(dir, "cpu.shares"), String(limits.cpuShares));
    } else if (!procs.has(path.join(dir, "cgroup.procs"))) {
      fs.write(path.join(dir, "memory.max"), mem);
      try {
        fs.write(path.join(dir, "memory.swap.max"), "0");
      } catch {
        /* no swap accounting */
      }
      fs.write(path.join(dir, "pids.max"), String(limits.processes));
      fs.write(path.join(dir, "cpu.weight"), String(Math.max(1, Math.round(limits.cpuShares / 10.24))));
    }
    procs.add(path.join(dir, "cgroup.procs"));
  }
  return [...procs];
}

/**
 * Removes the empty shell groups an earlier run left (a server stopped before its shells' groups could go). Only
 * groups older than `minAgeMs`, so a group another server on this host has just made for a starting shell stays.
 */
export function sweepShellCgroups(layout: CgroupLayout, minAgeMs = 60_000, now = Date.now()): number {
  const fs = layout.fs ?? hostCgroupFs;
  let removed = 0;
  for (const parent of new Set(Object.values(layout.parents))) {
    let names: string[];
    try {
      names = fs.children(parent);
    } catch {
      continue;
    }
    for (const name of names) {
      try {
        if (now - fs.mtimeMs(path.join(parent, name)) < minAgeMs) continue;
        fs.rmdir(path.join(parent, name));
        removed++;
      } catch {
        /* in use, or not ours to remove */
      }
    }
  }
  return removed;
}

/** Removes a shell's group once it is empty; false while processes remain (or it could not go). */
export function removeShellCgroup(layout: CgroupLayout, id: string): boolean {
  const fs = layout.fs ?? hostCgroupFs;
  let gone = true;
  for (const parent of new Set(Object.values(layout.parents))) {
    const dir = path.join(parent, id);
    if (!fs.exists(dir)) continue;
    try {
      fs.rmdir(dir);
    } catch {
      gone = false;
    }
  }
  return gone;
}
