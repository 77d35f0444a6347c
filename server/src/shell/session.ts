/**
 * What runs when someone types `kubectl exec`: a command run directly (no shell), `sh -c SCRIPT`, a script on stdin,
 * or an interactive `sh` with a prompt and line editing under a TTY (backspace, Ctrl-C, Ctrl-D, Ctrl-U, history).
 */
import type { ExecIO, ExecRequest } from "../sim/types.ts";
import { Interrupted, LIMITS, ShellLimitError } from "./budget.ts";
import { lookup, NO_INPUT, runArgv, runText } from "./interp.ts";
import { parseScript, ShellSyntaxError } from "./parse.ts";
import type { CmdIO, ShellEnv } from "./types.ts";

const SHELLS = new Set(["sh", "ash", "bash", "zsh"]);

function baseName(p: string): string {
  return p.slice(p.lastIndexOf("/") + 1);
}

interface Streams {
  out(s: string): void;
  err(s: string): void;
  /** Writes past the output limit (the message that the limit was reached). */
  final(s: string): void;
}

/**
 * Wraps the exec streams: under a TTY, newlines become CRLF and stderr shares stdout. What one command line writes
 * is bounded by `LIMITS.outputChars`: past it, writing throws a session-wide `ShellLimitError`.
 */
function streams(io: ExecIO, tty: boolean): Streams {
  const conv = (s: string | Uint8Array): string | Uint8Array =>
    !tty ? s : typeof s === "string" ? s.replace(/\r?\n/g, "\r\n") : crlf(s);
  let n = 0;
  const bounded =
    (write: (s: string | Uint8Array) => void) =>
    (s: string | Uint8Array): void => {
      n += s.length;
      if (n > LIMITS.outputChars)
        throw new ShellLimitError(`output over ${LIMITS.outputChars} characters: stopped`, "session");
      write(conv(s));
    };
  return {
    out: bounded((s) => io.stdout(s)),
    err: bounded((s) => (tty ? io.stdout(s) : io.stderr(s))),
    final: (s) => (tty ? io.stdout(conv(s)) : io.stderr(s)),
  };
}

/** Bytes as a terminal (its `onlcr`) shows them: each line feed after a carriage return. */
function crlf(b: Uint8Array): Uint8Array {
  let lf = 0;
  for (const c of b) if (c === 10) lf++;
  if (lf === 0) return b;
  const out = Buffer.allocUnsafe(b.length + lf);
  let j = 0;
  for (const c of b) {
    if (c === 10) out[j++] = 13;
    out[j++] = c;
  }
  return out;
}

/**
 * All of stdin as bytes, or undefined when it is larger than `LIMITS.stdinBytes` (what is past the limit is not
 * kept).
 */
function readAllStdin(io: ExecIO): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const parts: Buffer[] = [];
    let n = 0;
    const bytes = (): Buffer => Buffer.concat(parts);
    io.onStdin((d) => {
      n += d.length;
      if (n <= LIMITS.stdinBytes) parts.push(Buffer.from(d));
    });
    io.onStdinEnd(() => resolve(n <= LIMITS.stdinBytes ? bytes() : undefined));
    io.signal.addEventListener("abort", () => resolve(bytes()), { once: true });
  });
}

async function guarded(run: () => Promise<number>, env: ShellEnv, s: Streams): Promise<number> {
  try {
    return await run();
  } catch (e) {
    if (e instanceof Interrupted || env.signal.aborted) return 130;
    if (e instanceof ShellLimitError) {
      s.final(`sh: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
}

/**
 * The program an exec asked for is not in the image: the container runtime could not start it, so there is no exit
 * code (the kubelet reports the runtime's error instead).
 */
export class ExecNotFoundError extends Error {
  constructor(readonly program: string) {
    super(
      program.includes("/")
        ? `exec: "${program}": stat ${program}: no such file or directory`
        : `exec: "${program}": executable file not found in $PATH`,
    );
    this.name = "ExecNotFoundError";
  }
}

/**
 * Runs one exec request in a pod whose shell environment is `env` (its `signal` must be the request's). Rejects with
 * `ExecNotFoundError` when the image has no such program.
 */
export async function execSession(req: ExecRequest, io: ExecIO, env: ShellEnv): Promise<number> {
  const argv = req.command;
  if (!lookup(argv[0] ?? "", env)) throw new ExecNotFoundError(argv[0] ?? "");
  const s = streams(io, req.tty);
  const prog = baseName(argv[0] ?? "");
  if (SHELLS.has(prog) && (argv.length === 1 || (argv.length === 2 && /^-[il]+$/.test(argv[1]!)))) {
    if (req.tty && req.stdin) return interactive(io, env);
    if (req.stdin) return scriptFromStdin(io, env, s);
    return guarded(() => runText("", env, { stdin: NO_INPUT, out: s.out, err: s.err }), env, s);
  }
  const stdin = req.stdin && !req.tty ? await readAllStdin(io) : NO_INPUT;
  if (stdin === undefined) return stdinTooLarge(s);
  const cmdIo: CmdIO = { stdin, out: s.out, err: s.err };
  return guarded(async () => (await runArgv(argv, env, cmdIo)) ?? 127, env, s);
}

/** True when `text` stops inside a command (an open quote, `if` without `fi`, a trailing `|`): more is to come. */
function unfinished(text: string): boolean {
  try {
    parseScript(text);
    return false;
  } catch (e) {
    return e instanceof ShellSyntaxError && /unterminated|unexpected "end of file"/.test(e.message);
  }
}

/**
 * `sh` reading its script from stdin without a TTY, as a real shell does: each complete command runs as soon as its
 * lines have arrived (a client on the v4 exec protocol cannot end stdin, so `exit` must end the shell), and what is
 * left runs when stdin ends. An unfinished command waiting for its lines is bounded by `LIMITS.scriptChars`.
 */
function scriptFromStdin(io: ExecIO, env: ShellEnv, s: Streams): Promise<number> {
  return new Promise((resolve) => {
    let buf = "";
    let ended = false;
    let running = false;
    let status = 0;
    let done = false;
    const finish = (code: number): void => {
      if (done) return;
      done = true;
      resolve(code);
    };
    /** Where the complete commands end: the last line end that closes every command, of the last few tried. */
    const complete = (): number => {
      if (ended) return buf.length;
      let end = buf.lastIndexOf("\n") + 1;
      for (let tries = 0; end > 0 && tries < 8; tries++) {
        if (!unfinished(buf.slice(0, end))) return end;
        end = buf.lastIndexOf("\n", end - 2) + 1;
      }
      return 0;
    };
    const pump = async (): Promise<void> => {
      if (running || done) return;
      running = true;
      try {
        // Input that arrives while a command runs is taken by the next turn of this loop.
        for (;;) {
          const cut = complete();
          if (cut === 0) break;
          const text = buf.slice(0, cut);
          buf = buf.slice(cut);
          status = await guarded(
            () => runText(text, env, { stdin: NO_INPUT, out: s.out, err: s.err }),
            env,
            s,
          );
          if (env.exitCode !== undefined) return finish(env.exitCode);
          if (env.signal.aborted) return finish(130);
        }
        if (ended) finish(status);
      } catch (e) {
        s.final(`sh: ${e instanceof Error ? e.message : String(e)}\n`);
        finish(2);
      } finally {
        running = false;
      }
    };
    io.onStdin((d) => {
      if (done) return;
      buf += d.toString("utf8");
      if (buf.length > LIMITS.scriptChars) {
        s.final(`sh: a command over ${LIMITS.scriptChars} characters: not run\n`);
        return finish(2);
      }
      // Only a new line end can complete a command.
      if (d.includes(10)) void pump();
    });
    io.onStdinEnd(() => {
      ended = true;
      void pump();
    });
    io.signal.addEventListener("abort", () => finish(130), { once: true });
  });
}

function stdinTooLarge(s: Streams): number {
  s.final(`sh: standard input over ${LIMITS.stdinBytes} bytes: not run\n`);
  return 1;
}

/** An interactive shell: prompt, echo, line editing and history; ends on `exit`, Ctrl-D or the client leaving. */
function interactive(io: ExecIO, base: ShellEnv): Promise<number> {
  // Echo and line editing are written once per chunk of input, not once per character.
  let echo = "";
  let batching = 0;
  const flush = (): void => {
    if (echo) io.stdout(echo);
    echo = "";
  };
  const out = (s: string): void => {
    if (batching > 0) echo += s;
    else io.stdout(s);
  };
  const prompt = (): string => base.image.prompt(base.net.pod.hostname);
  const history: string[] = [];
  let hIndex = 0;
  let line = "";
  let running: AbortController | undefined;
  let pending = "";
  let done = false;

  return new Promise<number>((resolve) => {
    const finish = (code: number): void => {
      if (done) return;
      done = true;
      resolve(code);
    };
    const replaceLine = (next: string): void => {
      out("\b \b".repeat(line.length) + next);
      line = next;
    };
    const runLine = async (text: string): Promise<void> => {
      const ctl = new AbortController();
      running = ctl;
      const env: ShellEnv = { ...base, signal: AbortSignal.any([io.signal, ctl.signal]) };
      const s = streams(io, true);
      try {
        await runText(text, env, { stdin: NO_INPUT, out: s.out, err: s.err });
      } catch (e) {
        if (!(e instanceof Interrupted) && !env.signal.aborted)
          s.final(`sh: ${e instanceof Error ? e.message : String(e)}\n`);
      }
      base.lastStatus = env.lastStatus;
      base.exitCode = env.exitCode;
      running = undefined;
      if (base.exitCode !== undefined) return finish(base.exitCode);
      if (io.signal.aborted) return finish(130);
      out(prompt());
      const rest = pending;
      pending = "";
      feed(rest);
    };
    const feed = (data: string): void => {
      batching++;
      try {
        feedChars(data);
      } finally {
        if (--batching === 0) flush();
      }
    };
    const feedChars = (data: string): void => {
      for (let i = 0; i < data.length; i++) {
        if (done) return;
        const c = data[i]!;
        if (running) {
          if (c === "\x03") {
            out("^C\r\n");
            running.abort(new Interrupted());
          } else if (pending.length < LIMITS.scriptChars) pending += c;
          continue;
        }
        if (c === "\r" || c === "\n") {
          if (c === "\r" && data[i + 1] === "\n") i++;
          out("\r\n");
          const text = line;
          line = "";
          if (text.trim()) {
            history.push(text);
            if (history.length > 100) history.shift();
          }
          hIndex = history.length;
          flush();
          void runLine(text);
          // The rest of the chunk waits for the command, except Ctrl-C, which interrupts it.
          feed(data.slice(i + 1));
          return;
        }
        if (c === "\x7f" || c === "\b") {
          if (line) {
            line = line.slice(0, -1);
            out("\b \b");
          }
        } else if (c === "\x03") {
          out("^C\r\n" + prompt());
          line = "";
          hIndex = history.length;
        } else if (c === "\x04") {
          if (!line) {
            out("\r\n");
            return finish(base.lastStatus);
          }
        } else if (c === "\x15") replaceLine("");
        else if (c === "\x1b") {
          const seq = data.slice(i, i + 3);
          if (seq === "\x1b[A" && hIndex > 0) replaceLine(history[--hIndex]!);
          else if (seq === "\x1b[B") {
            if (hIndex < history.length - 1) replaceLine(history[++hIndex]!);
            else {
              hIndex = history.length;
              replaceLine("");
            }
          }
          i += seq.length === 3 && seq[1] === "[" ? 2 : 0;
        } else if ((c >= " " || c === "\t") && line.length < LIMITS.scriptChars) {
          line += c === "\t" ? " " : c;
          out(c === "\t" ? " " : c);
        }
      }
    };
    io.onStdin((d) => feed(d.toString("utf8")));
    io.onStdinEnd(() => {
      if (!running) finish(base.lastStatus);
    });
    io.signal.addEventListener(
      "abort",
      () => {
        running?.abort(new Interrupted());
        finish(130);
      },
      { once: true },
    );
    out(prompt());
  });
}
