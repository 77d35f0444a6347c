/**
 * The pod shell's limits. Everything here runs on the server's event loop, and whatever an attendee types is hostile:
 * each command either does a bounded amount of work per event-loop turn (and then gives the loop a turn with
 * `spend`) or stops with a clear error when it would exceed one of these limits.
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
  scriptChars: 64 * 1024,
  /** Nesting of `( … )`, `if`, loops and `$( … )` in one script, and of `sh`/`$( … )` calls at run time. */
  depth: 100,
  /** Characters one word, variable or command substitution may expand to. */
  wordChars: 1024 * 1024,
  /** Characters of all of one shell's variables (names and values), and how many variables (or exported names). */
  varChars: 4 * 1024 * 1024,
  vars: 10_000,
  /** Fields (words after expansion) of one command, including a `for` list, and their characters in all. */
  fields: 200_000,
  argChars: 2 * 1024 * 1024,
  /** What one pipe stage or command substitution may write before it is stopped, and the most stdin a command gets. */
  pipeChars: 1024 * 1024,
  /**
   * The most a `kubectl exec -i` command gets on stdin (bytes): what `kubectl cp` sends a pod's `tar`, a little more
   * than one pod's files may hold.
   */
  stdinBytes: 9 * 1024 * 1024,
  /** What one command line (or `kubectl exec`) may write to the terminal in all before it is stopped. */
  outputChars: 16 * 1024 * 1024,
  /** Items (lines, arguments) a command handles between two event-loop turns. */
  itemsPerTurn: 4096,
  /** Regex work (characters × regex program size) one `grep` does before it gives the event loop a turn. */
  regexWorkPerTurn: 200_000,
  /** Regex work one line may take at most: a line that needs more is refused rather than holding the event loop. */
  regexWorkPerLine: 1_000_000,
} as const;

/**
 * The work every pod shell on this server may do in one event-loop turn, shared: a shell that has used it up waits
 * for the next turn with all the others, so ten attendees' endless loops cost the server no more than one does.
 */
let spent = 0;
let nextTurn: Promise<void> | undefined;

/**
 * Spends `turns` (a fraction of one event-loop turn's work, e.g. `1 / LIMITS.stepsPerTurn` for one command) of the
 * shared budget; when it is used up, waits for the next turn. Rejects with `Interrupted` if the session was
 * interrupted.
 */
export async function spend(turns: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) throw new Interrupted();
  spent += turns;
  if (spent < 1) return;
  nextTurn ??= new Promise<void>((resolve) =>
    setImmediate(() => {
      spent = 0;
      nextTurn = undefined;
      resolve();
    }),
  );
  await nextTurn;
  if (signal.aborted) throw new Interrupted();
}

/** Counts one interpreter step (a command, a loop iteration) against the shared per-turn budget. */
export function step(signal: AbortSignal): Promise<void> {
  return spend(1 / LIMITS.stepsPerTurn, signal);
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

/** Counts items (lines, arguments) a command handled against the shared per-turn budget, a batch at a time. */
export class Pacer {
  private n = 0;
  constructor(private readonly signal: AbortSignal) {}
  /** Call once per item (or with the number of items handled). */
  async tick(items = 1): Promise<void> {
    this.n += items;
    if (this.n >= LIMITS.itemsPerTurn / 16) {
      const n = this.n;
      this.n = 0;
      await spend(n / LIMITS.itemsPerTurn, this.signal);
    }
  }
}

const varChars = new WeakMap<Map<string, string>, number>();

/** Sets a shell variable; throws a `script` `ShellLimitError` when the shell's variables would pass `LIMITS.varChars`. */
export function setVar(vars: Map<string, string>, name: string, value: string): void {
  let total = varChars.get(vars);
  if (total === undefined) {
    total = 0;
    for (const [k, v] of vars) total += k.length + v.length;
  }
  const old = vars.get(name);
  total += old === undefined ? name.length + value.length : value.length - old.length;
  if (total > LIMITS.varChars || (old === undefined && vars.size >= LIMITS.vars))
    throw new ShellLimitError(
      `too many variables (the pod allows ${LIMITS.vars}, ${LIMITS.varChars} characters in all)`,
      "script",
    );
  varChars.set(vars, total);
  vars.set(name, value);
}

/** Removes a shell variable (and its size from the shell's total). */
export function unsetVar(vars: Map<string, string>, name: string): void {
  const old = vars.get(name);
  if (old === undefined) return;
  const total = varChars.get(vars);
  if (total !== undefined) varChars.set(vars, total - name.length - old.length);
  vars.delete(name);
}
