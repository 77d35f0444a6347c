/**
 * Resource limits of a learner's shell. Resource limits (rlimits) are always set, as hard limits the learner cannot
 * raise, on the shell's first process before the sandbox starts (so every process of the shell inherits them):
 * address space and data per process, open files, file size, CPU seconds per process, no core files. Processes are
 * counted per shell: by the learner's own host uid when the server runs as root, and otherwise by the sandbox's own
 * user namespace (Linux counts RLIMIT_NPROC per user namespace since 5.14, so the limit set inside one sandbox counts
 * that sandbox's processes, while the limit set before it, recorded when its namespace was made, bounds all shells
 * together). Where the server may create cgroups (`cgroups.ts`), each shell also gets its own group.
 */

export interface ShellLimits {
  /** Processes (and threads) of the shell: RLIMIT_NPROC inside its sandbox, and pids.max of its cgroup. */
  processes: number;
  /**
   * RLIMIT_NPROC outside the sandboxes when it does not count one learner alone: without a host uid per learner the
   * kernel counts every process of the server's user there, so this bounds all shells together (and the server).
   */
  uidProcesses?: number;
  /** Memory of the whole shell (cgroup), in MiB. */
  memoryMiB: number;
  /** Address space of each process (RLIMIT_AS), in MiB; kubectl (Go) needs about 1 GiB of it. */
  addressSpaceMiB: number;
  /** Data (heap and private writable mappings) of each process (RLIMIT_DATA), in MiB; default: `memoryMiB`. */
  dataMiB?: number;
  /** Open files per process (RLIMIT_NOFILE). */
  openFiles: number;
  /** Largest file a shell may write (RLIMIT_FSIZE), in MiB. */
  fileSizeMiB: number;
  /** CPU time of each process (RLIMIT_CPU), in seconds: a process spinning longer than this is ended. */
  cpuSeconds: number;
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
  cpuSeconds: 3600,
  homeMiB: 200,
  tmpMiB: 64,
  cpuShares: 1024,
  nice: 5,
};

/** `ulimit` commands (hard and soft) for bash, run before the sandbox starts, in the order bash applies them. */
export function ulimitCommands(l: ShellLimits): string {
  return [
    `ulimit -HS -u ${l.uidProcesses ?? l.processes}`,
    `ulimit -HS -v ${l.addressSpaceMiB * 1024}`,
    `ulimit -HS -d ${(l.dataMiB ?? l.memoryMiB) * 1024}`,
    `ulimit -HS -n ${l.openFiles}`,
    `ulimit -HS -f ${l.fileSizeMiB * 1024}`,
    `ulimit -HS -t ${l.cpuSeconds}`,
    `ulimit -HS -c 0`,
  ].join(" && ");
}

/** The `ulimit` command run first inside the sandbox: the shell's own process count (see the module comment). */
export function insideUlimit(l: ShellLimits): string {
  return `ulimit -HS -u ${l.processes}`;
}

/** The rlimits of each shell, in words, for the log at start. */
export function describeRlimits(l: ShellLimits, perUid: boolean): string {
  return [
    `${l.processes} processes per shell (${perUid ? "its own host uid" : "its own user namespace"})` +
      (l.uidProcesses ? `, ${l.uidProcesses} for all shells together (this server's user)` : ""),
    `per process ${l.addressSpaceMiB} MiB address space, ${l.dataMiB ?? l.memoryMiB} MiB data, ${l.openFiles} open files, ${l.cpuSeconds} s CPU`,
    `${l.fileSizeMiB} MiB per file, no core files`,
    `nice ${l.nice}`,
    `home ${l.homeMiB} MiB (checked every minute), /tmp ${l.tmpMiB} MiB`,
  ].join("; ");
}
