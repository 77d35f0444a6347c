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

/**
 * A command went past one of the pod shell's limits; the message is what the shell prints (without `sh: `). Its scope
 * says what stops: the command (`stage`: a pipe stage or substitution that writes too much, as SIGPIPE would stop
 * it), the shell script it runs in (`script`: the script ends with status 2, as on a syntax error), or everything the
 * attendee started with this command line (`session`: the terminal output limit).
 */
export class ShellLimitError extends Error {
  constructor(
    message: string,
    readonly scope: "stage" | "script" | "session" = "stage",
  ) {
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
  /** Fields (words after expansion) of one command, including a `for` list, and their characters in all. */
  fields: 200_000,
  argChars: 2 * 1024 * 1024,
  /** What one pipe stage or command substitution may write before it is stopped, and the most stdin a command gets. */
  pipeChars: 1024 * 1024,
  /** What one command line (or `kubectl exec`) may write to the terminal in all before it is stopped. */
  outputChars: 16 * 1024 * 1024,
  /** Items (lines, arguments) a command handles between two event-loop turns. */
  itemsPerTurn: 4096,
  /** Regex work (characters × regex program size) one `grep` does before it gives the event loop a turn. */
  regexWorkPerTurn: 200_000,
  /** Regex work one line may take at most: a line that needs more is refused rather than holding the event loop. */
  regexWorkPerLine: 1_000_000,
} as const;

/** Gives the event loop a turn; rejects with `Interrupted` if the session was interrupted meanwhile. */
export function yieldTurn(signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) =>
    setImmediate(() => (signal.aborted ? reject(new Interrupted()) : resolve())),
  );
}

let steps = 0;

/**
 * Counts one interpreter step (a command, a loop iteration) and gives the event loop a turn every
 * `LIMITS.stepsPerTurn` steps, so a loop without sleeps or a long script cannot starve other attendees.
 */
export async function step(signal: AbortSignal): Promise<void> {
  if (signal.aborted) throw new Interrupted();
  if (++steps % LIMITS.stepsPerTurn === 0) await yieldTurn(signal);
}

/** Throws `ShellLimitError` when a text that a word, variable or substitution expands to is too long. */
export function checkWord(s: string): string {
  if (s.length > LIMITS.wordChars)
    throw new ShellLimitError(
      `word too long (${s.length} characters; the pod allows ${LIMITS.wordChars})`,
      "script",
    );
  return s;
}

/** Counts items a command handled and gives the event loop a turn every `LIMITS.itemsPerTurn` of them. */
export class Pacer {
  private n = 0;
  constructor(private readonly signal: AbortSignal) {}
  /** Call once per item (or with the number of items handled). */
  async tick(items = 1): Promise<void> {
    this.n += items;
    if (this.n >= LIMITS.itemsPerTurn) {
      this.n = 0;
      await yieldTurn(this.signal);
    }
  }
}
