/**
 * Resource limits of a learner's shell. Resource limits (rlimits) are always set, as hard limits the learner cannot
 * raise: processes (per host uid, so per learner when each learner has their own uid), address space per process, open
 * files and file size. Where the server may create cgroups (cgroup v1 controllers, or a cgroup v2 subtree with the
 * controllers delegated), each shell also gets its own group under the server's: total memory, a process count and a
 * CPU weight below the server's, so a fork bomb or a memory hog in one shell is held inside that shell's group.
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

export interface ShellLimits {
  /** Processes (and threads) of the shell: RLIMIT_NPROC per learner uid, and pids.max of its cgroup. */
  processes: number;
  /**
   * RLIMIT_NPROC when it does not count one learner alone: the kernel counts every process of the host uid, so where
   * all shells run as the server's own user this bounds all of them together (and the server), not each.
   */
  uidProcesses?: number;
  /** Memory of the whole shell (cgroup), in MiB. */
  memoryMiB: number;
  /** Address space of each process (RLIMIT_AS), in MiB; kubectl (Go) needs about 1 GiB of it. */
  addressSpaceMiB: number;
  /** Open files per process (RLIMIT_NOFILE). */
  openFiles: number;
  /** Largest file a shell may write (RLIMIT_FSIZE), in MiB. */
  fileSizeMiB: number;
  /** Size of HOME, in MiB, checked periodically; the learner is told when over it. */
  homeMiB: number;
  /** Size of the shell's private /tmp (tmpfs), in MiB. */
  tmpMiB: number;
  /** CPU weight of each shell relative to the others (cgroup), and the nice value of its processes. */
  cpuShares: number;
  nice: number;
}

export const defaultShellLimits: ShellLimits = {
  processes: 256,
  memoryMiB: 1024,
  addressSpaceMiB: 2048,
  openFiles: 1024,
  fileSizeMiB: 100,
  homeMiB: 200,
  tmpMiB: 64,
  cpuShares: 1024,
  nice: 5,
};

/** `ulimit` arguments (hard and soft) for bash, in the order bash applies them. */
export function ulimitCommands(l: ShellLimits): string {
  return [
    `ulimit -HS -u ${l.uidProcesses ?? l.processes}`,
    `ulimit -HS -v ${l.addressSpaceMiB * 1024}`,
    `ulimit -HS -n ${l.openFiles}`,
    `ulimit -HS -f ${l.fileSizeMiB * 1024}`,
    `ulimit -HS -c 0`,
  ].join(" && ");
}

type Controller = "memory" | "pids" | "cpu";

/** The cgroup directories (one per controller on v1, one on v2) of the shells' parent group. */
export interface CgroupLayout {
  version: 1 | 2;
  /** Controller → the directory under which each shell's group is created. */
  parents: Partial<Record<Controller, string>>;
}

const groupName = "egresslab-shells";

/**
 * Finds (and creates) the shells' parent group under the server's own cgroup. Returns undefined, with the reason,
 * when this machine or this user does not allow it; rlimits still apply then.
 */
export function setUpCgroups(
  limits: ShellLimits,
  root = "/sys/fs/cgroup",
  selfCgroup = "/proc/self/cgroup",
): { layout?: CgroupLayout; reason: string } {
  let lines: string[];
  try {
    lines = readFileSync(selfCgroup, "utf8").trim().split("\n");
  } catch {
    return { reason: "no cgroups on this system" };
  }
  if (existsSync(path.join(root, "cgroup.controllers"))) {
    const own = lines.find((l) => l.startsWith("0::"))?.slice(3);
    if (own === undefined) return { reason: "cgroup v2 without an entry for this process" };
    const base = path.join(root, own);
    try {
      const available = readFileSync(path.join(base, "cgroup.subtree_control"), "utf8").split(/\s+/);
      const want = (["memory", "pids", "cpu"] as const).filter((c) => !available.includes(c));
      if (want.length)
        writeFileSync(path.join(base, "cgroup.subtree_control"), want.map((c) => `+${c}`).join(" "));
      const dir = path.join(base, groupName);
      mkdirSync(dir, { recursive: true });
      writeFileSync(path.join(dir, "cgroup.subtree_control"), "+memory +pids +cpu");
      writeFileSync(path.join(dir, "cpu.weight"), "50");
      return {
        layout: { version: 2, parents: { memory: dir, pids: dir, cpu: dir } },
        reason: `cgroup v2 under ${dir}`,
      };
    } catch (err) {
      return {
        reason: `cgroup v2 controllers are not delegated to this server (${(err as Error).message.split("\n")[0]})`,
      };
    }
  }
  const parents: Partial<Record<Controller, string>> = {};
  const missing: string[] = [];
  for (const c of ["memory", "pids", "cpu"] as const) {
    const line = lines.find((l) => l.split(":")[1]?.split(",").includes(c));
    const mount = path.join(root, c);
    if (!line || !existsSync(mount)) {
      missing.push(c);
      continue;
    }
    const dir = path.join(mount, line.split(":").slice(2).join(":"), groupName);
    try {
      mkdirSync(dir, { recursive: true });
      // All shells together weigh half of one task of the server's own group.
      if (c === "cpu") writeFileSync(path.join(dir, "cpu.shares"), "512");
      parents[c] = dir;
    } catch (err) {
      missing.push(`${c} (${(err as NodeJS.ErrnoException).code ?? "error"})`);
    }
  }
  if (!Object.keys(parents).length)
    return { reason: `no cgroup v1 controller is writable: ${missing.join(", ")}` };
  return {
    layout: { version: 1, parents },
    reason: `cgroup v1 ${Object.keys(parents).join(", ")}${missing.length ? ` (not ${missing.join(", ")})` : ""}`,
  };
}

/** Creates (or refreshes) one shell's group; returns the `cgroup.procs` files its first process writes itself into. */
export function shellCgroup(layout: CgroupLayout, id: string, limits: ShellLimits): string[] {
  if (!/^[A-Za-z0-9_-]+$/.test(id)) throw new Error(`"${id}" is not a cgroup name`);
  const procs = new Set<string>();
  const mem = String(limits.memoryMiB * 1024 * 1024);
  for (const [c, parent] of Object.entries(layout.parents) as [Controller, string][]) {
    const dir = path.join(parent, id);
    mkdirSync(dir, { recursive: true });
    if (layout.version === 1) {
      if (c === "memory") writeFileSync(path.join(dir, "memory.limit_in_bytes"), mem);
      if (c === "pids") writeFileSync(path.join(dir, "pids.max"), String(limits.processes));
      if (c === "cpu") writeFileSync(path.join(dir, "cpu.shares"), String(limits.cpuShares));
    } else if (!procs.has(path.join(dir, "cgroup.procs"))) {
      writeFileSync(path.join(dir, "memory.max"), mem);
      try {
        writeFileSync(path.join(dir, "memory.swap.max"), "0");
      } catch {
        /* no swap accounting */
      }
      writeFileSync(path.join(dir, "pids.max"), String(limits.processes));
      writeFileSync(path.join(dir, "cpu.weight"), String(Math.max(1, Math.round(limits.cpuShares / 10.24))));
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
  let removed = 0;
  for (const parent of new Set(Object.values(layout.parents))) {
    let names: string[];
    try {
      names = readdirSync(parent, { withFileTypes: true })
        .filter((e) => e.isDirectory())
        .map((e) => e.name);
    } catch {
      continue;
    }
    for (const name of names) {
      try {
        if (now - statSync(path.join(parent, name)).mtimeMs < minAgeMs) continue;
        rmdirSync(path.join(parent, name));
        removed++;
      } catch {
        /* in use, or not ours to remove */
      }
    }
  }
  return removed;
}

/** Removes a shell's group once it is empty (ignored while processes remain). */
export function removeShellCgroup(layout: CgroupLayout, id: string): void {
  for (const parent of new Set(Object.values(layout.parents))) {
    try {
      rmdirSync(path.join(parent, id));
    } catch {
      /* busy or gone */
    }
  }
}
