/**
 * Getting the learners' sandboxes ready when the server starts: proves bubblewrap works, sets up the shells'
 * cgroups (or says why there are none), decides the limits that apply, and says all of it in one log line.
 */
import { readFileSync } from "node:fs";
import { release } from "node:os";
import path from "node:path";
import { assertSandboxWorks } from "./sandbox.ts";
import { describeRlimits, type ShellLimits } from "./limits.ts";
import { setUpCgroups, sweepShellCgroups, type CgroupSetup } from "./cgroups.ts";
import { LearnerUids, type UidRange } from "./uids.ts";
import { HomeFilesystems, parseMountinfo, probeHomeFilesystems } from "./home-fs.ts";
import type { SandboxOptions } from "./manager.ts";
import type { Logger } from "../shared/logger.ts";

export interface SandboxSetupInput {
  limits: ShellLimits;
  hostPath: string;
  bwrapPath: string;
  /** The server runs as root: one host uid per learner from `range`. */
  asRoot: boolean;
  range: UidRange;
  /** Where learners' homes live (`<dataDir>/learners`). */
  learnersDir: string;
  /** Most attendees: with no uid per learner, all shells together get this many times one shell's processes. */
  capacity: number;
  cgroups?: CgroupSetup;
  /** Each home a filesystem of its own where it can be (root, working loop devices); false: plain directories. */
  homeFilesystems?: boolean;
  /** Proves homes can be filesystems of their own; returns why not (default: `probeHomeFilesystems`). */
  probeHomes?: (learnersDir: string, hostPath: string) => string | undefined;
  /** The kernel release (default this machine's). */
  kernel?: string;
  /** This process's mount table (default /proc/self/mountinfo). */
  mountinfo?: string;
  /** Skips the bubblewrap probe (tests of the rest). */
  skipProbe?: boolean;
  log: Logger;
}

/** The sandbox options, or throws `SandboxUnavailable` when bubblewrap cannot run here. */
export function setUpSandbox(input: SandboxSetupInput): Omit<SandboxOptions, "connectApi"> {
  const { asRoot, range } = input;
  const limits: ShellLimits = { ...input.limits };
  if (!input.skipProbe)
    assertSandboxWorks(
      input.hostPath,
      input.bwrapPath,
      asRoot ? { uid: range.first, gid: range.first } : undefined,
    );
  const cg = setUpCgroups(input.cgroups);
  if (cg.layout) sweepShellCgroups(cg.layout);
  // Without a uid per learner, RLIMIT_NPROC outside the sandboxes counts every shell and the server together: it
  // bounds them all, and the one set inside each sandbox counts that shell (per user namespace, Linux 5.14+).
  const perNamespace = nprocPerUserNamespace(input.kernel ?? release());
  if (!asRoot) limits.uidProcesses = limits.processes * input.capacity + 1024;
  const perShellProcesses = asRoot || perNamespace;
  const rlimits = describeRlimits(limits, asRoot);
  const mountinfo = input.mountinfo ?? readMountinfo();
  let homes: HomeFilesystems | undefined;
  let plainWhy: string | undefined;
  if (input.homeFilesystems === false) plainWhy = "--no-home-filesystems";
  else if (!asRoot) plainWhy = "the server does not run as root";
  else plainWhy = (input.probeHomes ?? probeHomeFilesystems)(input.learnersDir, input.hostPath);
  if (!plainWhy) {
    homes = new HomeFilesystems({
      root: input.learnersDir,
      sizeMiB: limits.homeMiB,
      hostPath: input.hostPath,
      logger: input.log,
      ...(input.mountinfo !== undefined ? { mountinfo: () => mountinfo } : {}),
    });
    homes.sweep();
  }
  input.log.info("learners' shells are sandboxed", {
    user: asRoot
      ? `one host uid per learner (${range.first}-${range.last})`
      : "this server's own user, in bubblewrap's unprivileged user namespace (run as root for one uid per learner)",
    network: "own namespace; only their cluster's API, through their own socket",
    limits: perShellProcesses
      ? `rlimits: ${rlimits}`
      : `rlimits: ${rlimits.replace(/^[^;]*; /, `${limits.uidProcesses} processes for all shells together (this server's user; Linux before 5.14 cannot count them per shell); `)}`,
    cgroups: cg.layout
      ? `${cg.reason}: ${limits.memoryMiB} MiB memory, ${limits.processes} pids, cpu weight below the server's, per shell`
      : `none (${cg.reason}); rlimits only`,
    homes: homes
      ? homeFilesystemsNote(input.learnersDir, limits.homeMiB)
      : `plain directories (${plainWhy}); ${homeMountNote(input.learnersDir, mountinfo)}`,
  });
  return {
    ...(asRoot ? { uids: new LearnerUids(range, input.learnersDir) } : {}),
    limits,
    bwrapPath: input.bwrapPath,
    processesInside: perShellProcesses,
    ...(cg.layout ? { cgroups: cg.layout } : {}),
    ...(homes ? { homes } : {}),
  };
}

/** The log's note on homes that are filesystems of their own. */
export function homeFilesystemsNote(learnersDir: string, homeMiB: number): string {
  return `each its own ext4 filesystem of ${homeMiB} MiB (${learnersDir}/<learner>/home.img, mounted nosuid,nodev on its home while the learner is active): a full home is "no space left" inside the sandbox, and a sandbox's mount table shows its home as / of /dev/loopN, no host path`;
}

/** True when the kernel counts RLIMIT_NPROC per user namespace (Linux 5.14 and later). */
export function nprocPerUserNamespace(kernel: string): boolean {
  const m = /^(\d+)\.(\d+)/.exec(kernel);
  if (!m) return false;
  const [major, minor] = [Number(m[1]), Number(m[2])];
  return major > 5 || (major === 5 && minor >= 14);
}

function readMountinfo(): string {
  try {
    return readFileSync("/proc/self/mountinfo", "utf8");
  } catch {
    return "";
  }
}

/**
 * What a sandbox's mount table shows of where the homes are when they are plain directories: a bind mount shows its
 * source's path inside the source's filesystem, so each home appears as `<this>/<learner>/home`. `/` when
 * `learnersDir` is a filesystem of its own.
 */
export function homesSeenAs(learnersDir: string, mountinfo: string): string {
  let best: { point: string; root: string } | undefined;
  for (const { root, point } of parseMountinfo(mountinfo)) {
    const rel = path.relative(point, learnersDir);
    if (rel.startsWith("..") || path.isAbsolute(rel)) continue;
    // The last mount over a path is the one in effect.
    if (!best || point.length >= best.point.length) best = { point, root };
  }
  if (!best) return learnersDir;
  return path.posix.join(best.root, path.relative(best.point, learnersDir)) || "/";
}

/** The log's note on what the sandboxes' mount tables show of the homes' location. */
export function homeMountNote(learnersDir: string, mountinfo: string): string {
  const seen = homesSeenAs(learnersDir, mountinfo);
  return seen === "/"
    ? `${learnersDir} is a filesystem of its own: a sandbox's mount table shows its home as /<learner>/home`
    : `a sandbox's mount table shows its home's path on the host's filesystem, ${path.posix.join(seen, "<learner>", "home")}; put ${learnersDir} on a filesystem of its own to show only /<learner>/home`;
}
