/** What a command inside a simulated pod sees: its arguments, streams, environment and the pod's network. */
import type { Clock } from "../shared/clock.ts";
import type { PodNet } from "../net/podnet.ts";
import type { ImageProfile } from "../sim/runtime/images.ts";

export interface CmdIO {
  /** Everything piped or redirected into the command, as bytes (pipes are buffered: the previous stage has finished). */
  stdin: Buffer;
  /** Writes to stdout: text (as UTF-8) or bytes. */
  out(s: string | Uint8Array): void;
  err(s: string | Uint8Array): void;
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
  /** `set -e`: the shell exits when a command fails outside a condition. */
  errexit?: boolean;
  /** How many conditions (`if`, `while`, `until`) are being evaluated: `set -e` is off inside them. */
  inCondition?: number;
  /** Whether the session has a terminal (`kubectl exec -t`): curl then shows no progress meter. */
  tty: boolean;
}

/** Why a file could not be written, as the system's error text (`strerror`). */
export type FileError = "Read-only file system" | "Is a directory" | "No space left on device";

/** Why a directory could not be made or a name removed or renamed (`strerror`). */
export type PathError =
  | FileError
  | "File exists"
  | "No such file or directory"
  | "Not a directory"
  | "Directory not empty"
  | "Device or resource busy";

export interface PodFiles {
  /** The bytes of a file, or undefined if it does not exist. */
  read(path: string): Buffer | undefined;
  /**
   * Writes (or appends to) a file, text as UTF-8; bounded in size. Returns undefined, or why it could not (and then
   * nothing changed).
   */
  write(path: string, data: string | Uint8Array, append?: boolean): FileError | undefined;
  /** Names in a directory, or undefined if it is not a directory. */
  list(path: string): string[] | undefined;
  /** Whether `path` is a directory (without listing it). */
  isDir(path: string): boolean;
  /** Makes one directory (its parent must exist). Returns undefined, or why it could not. */
  mkdir(path: string): PathError | undefined;
  /** Removes a file or an empty directory. Returns undefined, or why it could not. */
  remove(path: string): PathError | undefined;
  /** Renames a written file (its bytes move, no space is used). Returns undefined, or why it could not. */
  rename(from: string, to: string): PathError | undefined;
}

/** A command: resolves with its exit status. */
export type Tool = (args: string[], io: CmdIO, env: ShellEnv) => Promise<number>;
