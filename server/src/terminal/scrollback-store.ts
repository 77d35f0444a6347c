/**
 * Where terminals keep their scrollback between shells, restarts and replicas: a file per learner next to their home
 * (the default, one process), or the shared database (several replicas: `scale/pg-scrollback.ts`). Either way the
 * terminal only hands output to a writer that buffers it; nothing on the keystroke path waits for storage.
 */
import path from "node:path";
import type { Logger } from "../shared/logger.ts";
import { noopLogger } from "../shared/logger.ts";
import { readScrollback, ScrollbackLog, type SavedScrollback } from "./scrollback-log.ts";

/** Characters of output a terminal keeps for replay, unless told otherwise. */
export const defaultScrollbackChars = 256 * 1024;

/** Saved scrollback, and what the learner should be told about it (it could not be read). */
export interface RestoredScrollback extends SavedScrollback {
  /** Shown in the terminal when the shell starts, e.g. that the earlier output could not be read. */
  problem?: string;
}

/** Takes a terminal's output; writes it out in the background. */
export interface ScrollbackWriter {
  /** Records output (cheap: buffers it). */
  append(data: string): void;
  /** Starts writing what is buffered now; does not wait for it. */
  flush(): void;
  /** Flushes and stops taking output. */
  close(): void;
}

export interface ScrollbackStore {
  /** What was saved of the learner's terminal: undefined when nothing was. Never rejects (a problem is reported). */
  read(learnerId: string): Promise<RestoredScrollback | undefined>;
  /**
   * A writer for the learner's next output, which continues the offsets of `tail()` (what the terminal keeps now,
   * starting with what `read` returned). `notice` shows the learner a line in their terminal.
   */
  open(learnerId: string, tail: () => SavedScrollback, notice: (text: string) => void): ScrollbackWriter;
  /** Writes everything buffered (waits for it, or gives up if storage does not answer) and stops. */
  close(): Promise<void>;
}

/** Scrollback in `<root>/<learnerId>/scrollback`, as `ScrollbackLog` keeps it. */
export function fileScrollbackStore(
  root: string,
  maxChars: number,
  log: Logger = noopLogger,
): ScrollbackStore {
  const file = (learnerId: string): string => path.join(root, learnerId, "scrollback");
  return {
    read: (learnerId) => Promise.resolve(readScrollback(file(learnerId), maxChars, log)),
    open: (learnerId, tail) => new ScrollbackLog(file(learnerId), maxChars, tail, log),
    close: () => Promise.resolve(),
  };
}
