/** What a command inside a simulated pod sees: its arguments, streams, environment and the pod's network. */
import type { Clock } from "../shared/clock.ts";
import type { PodNet } from "../net/podnet.ts";
import type { ImageProfile } from "../sim/runtime/images.ts";

export interface CmdIO {
  /** Everything piped or redirected into the command (pipes are buffered: the previous stage has finished). */
  stdin: string;
  out(s: string): void;
  err(s: string): void;
}

/** The state shared by the commands of one shell session. */
export interface ShellEnv {
  vars: Map<string, string>;
  exported: Set<string>;
  lastStatus: number;
  /** Set by `exit`: the session ends with this code. */
  exitCode?: number;
  clock: Clock;
  signal: AbortSignal;
  net: PodNet;
  /** The pod's files: read-only system files plus what commands wrote (e.g. `curl -o /tmp/x`). */
  files: PodFiles;
  /** The commands this image has (`curl`, `wget`, …), beyond the shell builtins every pod has. */
  tools: ReadonlySet<string>;
  /** The image's flavour of the tools (`nslookup`, `nc`, prompt). */
  image: ImageProfile;
  /** How many shells (`sh -c`, scripts, `$( … )`) this one runs inside; bounded by `LIMITS.depth`. */
  depth?: number;
  /** Whether the session has a terminal (`kubectl exec -t`): curl then shows no progress meter. */
  tty: boolean;
}

export interface PodFiles {
  /** Contents of a file, or undefined if it does not exist. */
  read(path: string): string | undefined;
  /** Writes a file (bounded in size); false if the path is not writable. */
  write(path: string, data: string, append?: boolean): boolean;
  /** Names in a directory, or undefined if it is not a directory. */
  list(path: string): string[] | undefined;
}

/** A command: resolves with its exit status. */
export type Tool = (args: string[], io: CmdIO, env: ShellEnv) => Promise<number>;
