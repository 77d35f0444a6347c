/**
 * What runs when someone types `kubectl exec`: a command run directly (no shell), `sh -c SCRIPT`, a script on stdin,
 * or an interactive `sh` with a prompt and line editing under a TTY (backspace, Ctrl-C, Ctrl-D, Ctrl-U, history).
 */
import type { ExecIO, ExecRequest } from "../sim/types.ts";
import { Interrupted, runArgv, runText } from "./interp.ts";
import type { CmdIO, ShellEnv } from "./types.ts";

const SHELLS = new Set(["sh", "ash", "bash", "zsh"]);

function baseName(p: string): string {
  return p.slice(p.lastIndexOf("/") + 1);
}

/** Wraps the exec streams: under a TTY, newlines become CRLF and stderr shares stdout. */
function streams(io: ExecIO, tty: boolean): { out(s: string): void; err(s: string): void } {
  if (!tty) return { out: (s) => io.stdout(s), err: (s) => io.stderr(s) };
  const conv = (s: string): string => s.replace(/\r?\n/g, "\r\n");
  return { out: (s) => io.stdout(conv(s)), err: (s) => io.stdout(conv(s)) };
}

function readAllStdin(io: ExecIO): Promise<string> {
  return new Promise((resolve) => {
    let buf = "";
    io.onStdin((d) => (buf += d.toString("utf8")));
    io.onStdinEnd(() => resolve(buf));
    io.signal.addEventListener("abort", () => resolve(buf), { once: true });
  });
}

async function guarded(run: () => Promise<number>, env: ShellEnv): Promise<number> {
  try {
    return await run();
  } catch (e) {
    if (e instanceof Interrupted || env.signal.aborted) return 130;
    throw e;
  }
}

/** Runs one exec request in a pod whose shell environment is `env` (its `signal` must be the request's). */
export async function execSession(req: ExecRequest, io: ExecIO, env: ShellEnv): Promise<number> {
  const s = streams(io, req.tty);
  const argv = req.command;
  const prog = baseName(argv[0] ?? "");
  if (SHELLS.has(prog) && (argv.length === 1 || (argv.length === 2 && /^-[il]+$/.test(argv[1]!)))) {
    if (req.tty && req.stdin) return interactive(io, env);
    const text = req.stdin ? await readAllStdin(io) : "";
    return guarded(() => runText(text, env, { stdin: "", ...s }), env);
  }
  const stdin = req.stdin && !req.tty ? await readAllStdin(io) : "";
  const cmdIo: CmdIO = { stdin, ...s };
  const status = await guarded(async () => (await runArgv(argv, env, cmdIo)) ?? -1, env);
  if (status === -1) {
    s.err(
      `OCI runtime exec failed: exec failed: unable to start container process: exec: "${argv[0] ?? ""}": executable file not found in $PATH: unknown\n`,
    );
    return 126;
  }
  return status;
}

/** An interactive shell: prompt, echo, line editing and history; ends on `exit`, Ctrl-D or the client leaving. */
function interactive(io: ExecIO, base: ShellEnv): Promise<number> {
  const out = (s: string): void => io.stdout(s);
  const s = streams(io, true);
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
      try {
        await runText(text, env, { stdin: "", ...s });
      } catch (e) {
        if (!(e instanceof Interrupted) && !env.signal.aborted)
          s.err(`sh: ${e instanceof Error ? e.message : String(e)}\n`);
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
      for (let i = 0; i < data.length; i++) {
        if (done) return;
        const c = data[i]!;
        if (running) {
          if (c === "\x03") {
            out("^C\r\n");
            running.abort(new Interrupted());
          } else pending += c;
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
        } else if (c >= " " || c === "\t") {
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
