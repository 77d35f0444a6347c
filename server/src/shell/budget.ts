/**
 * The pod shell's limits. Everything here runs on the server's event loop, and whatever an attendee types is hostile:
 * each command either does a bounded amount of work per event-loop turn (and then gives the loop a turn with
 * `yieldTurn`) or stops with a clear error when it would exceed one of these limits.
 */

/** Thrown through the interpreter when the session is interrupted (Ctrl-C, client gone). */
export class Interrupted extends Error {
  constructor() {
    super("interrupted");
  }
}

/** A command went past one of the pod shell's limits; the message is what the shell prints (without `sh: `). */
export class ShellLimitError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ShellLimitError";
  }
}

export const LIMITS = {
  /** Commands (simple commands, loop iterations, subshells) the interpreter runs between two event-loop turns. */
  stepsPerTurn: 64,
  /** Length of one script (a command line, `sh -c` text, a script file or stdin). */
  scriptChars: 256 * 1024,
  /** Nesting of `( … )`, `if`, loops and `$( … )` in one script, and of `sh`/`$( … )` calls at run time. */
  depth: 100,
  /** Characters one word, variable or command substitution may expand to. */
  wordChars: 1024 * 1024,
  /** Fields (words after expansion) of one command, including a `for` list. */
  fields: 200_000,
  /** What one pipe stage or command substitution may write before it is stopped. */
  pipeChars: 4 * 1024 * 1024,
  /** Regex work (characters × regex program size) one `grep` does before it gives the event loop a turn. */
  regexWorkPerTurn: 200_000,
  /** Regex work one line may take at most: a line that needs more is refused rather than holding the event loop. */
  regexWorkPerLine: 1_000_000,
  /** Characters of text any other command handles between two event-loop turns. */
  charsPerTurn: 256 * 1024,
} as const;

/** Gives the event loop a turn; rejects with `Interrupted` if the session was interrupted meanwhile. */
export function yieldTurn(signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) =>
    setImmediate(() => (signal.aborted ? reject(new Interrupted()) : resolve())),
  );
}
