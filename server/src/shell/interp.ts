/** Runs a parsed script: expansion, redirections, pipes (buffered), `&&`/`||`/`;`, `for`, subshells and `exit`. */
import { pathIn } from "./files.ts";
import { checkWord, LIMITS, setVar, ShellLimitError, step, unsetVar } from "./budget.ts";
import { coreCommands } from "./commands/core.ts";
import { netCommands } from "./commands/index.ts";
import {
  parseScript,
  ShellSyntaxError,
  type Command,
  type Pipeline,
  type Redirect,
  type Script,
  type SimpleCommand,
  type Word,
} from "./parse.ts";
import type { CmdIO, ShellEnv, Tool } from "./types.ts";

export interface Streams {
  out(s: string | Uint8Array): void;
  err(s: string | Uint8Array): void;
}

/** No input. */
export const NO_INPUT: Buffer = Buffer.alloc(0);

export { Interrupted } from "./budget.ts";

function varValue(name: string, env: ShellEnv): string | undefined {
  if (name === "?") return String(env.lastStatus);
  if (name === "$") return "1";
  if (name === "#") return "0";
  if (name === "0") return "sh";
  return env.vars.get(name);
}

/**
 * Evaluates `$((…))`: integers, variables, unary minus, + - * / % and parentheses; errors evaluate to 0. Nesting
 * deeper than `LIMITS.depth` is a `ShellLimitError`.
 */
export function arithmetic(expr: string, env: ShellEnv): number {
  const toks = expr.match(/\d+|[A-Za-z_][A-Za-z0-9_]*|[-+*/%()]|\S/g) ?? [];
  let i = 0;
  let depth = 0;
  const atom = (): number => {
    if (++depth > LIMITS.depth)
      throw new ShellLimitError("arithmetic expression nested too deeply", "script");
    try {
      return atom1();
    } finally {
      depth--;
    }
  };
  const atom1 = (): number => {
    const t = toks[i++];
    if (t === "(") {
      const v = sum();
      i++;
      return v;
    }
    if (t === "-") return -atom();
    if (t === "+") return atom();
    if (t !== undefined && /^\d+$/.test(t)) return Number(t);
    if (t !== undefined && /^[A-Za-z_]/.test(t)) return Math.trunc(Number(env.vars.get(t) ?? 0)) || 0;
    return 0;
  };
  const product = (): number => {
    let v = atom();
    while (toks[i] === "*" || toks[i] === "/" || toks[i] === "%") {
      const op = toks[i++];
      const r = atom();
      v = op === "*" ? v * r : r === 0 ? 0 : op === "/" ? Math.trunc(v / r) : v % r;
    }
    return v;
  };
  const sum = (): number => {
    let v = product();
    while (toks[i] === "+" || toks[i] === "-") v = toks[i++] === "+" ? v + product() : v - product();
    return v;
  };
  return sum();
}

/** The environment of a subshell, `sh -c` or `$( … )`: copies of the variables, one level deeper. */
export function subshellEnv(env: ShellEnv): ShellEnv {
  const depth = (env.depth ?? 0) + 1;
  if (depth > LIMITS.depth)
    throw new ShellLimitError(`shells nested too deeply (the pod allows ${LIMITS.depth})`, "script");
  return { ...env, vars: new Map(env.vars), exported: new Set(env.exported), exitCode: undefined, depth };
}

/**
 * A buffer for what a pipe stage or substitution writes, bounded by `LIMITS.pipeChars`: past it, the writer is
 * stopped with `overflow` (after the message on `err`), as a writer whose reader has gone is stopped by SIGPIPE.
 */
function captured(err: (s: string | Uint8Array) => void): {
  out(s: string | Uint8Array): void;
  bytes(): Buffer;
  overflow: ShellLimitError;
} {
  const parts: Buffer[] = [];
  let n = 0;
  const overflow = new ShellLimitError(`output over ${LIMITS.pipeChars} bytes into a pipe: stopped`);
  return {
    overflow,
    out(s) {
      const b = typeof s === "string" ? Buffer.from(s, "utf8") : Buffer.from(s);
      if (n + b.length > LIMITS.pipeChars) {
        parts.push(b.subarray(0, LIMITS.pipeChars - n));
        n = LIMITS.pipeChars;
        err(`sh: ${overflow.message}\n`);
        throw overflow;
      }
      n += b.length;
      parts.push(b);
    },
    bytes: () => Buffer.concat(parts, n),
  };
}

/** Runs the command substitutions of a word (in a subshell) and puts their output in its place. */
async function substitute(word: Word, env: ShellEnv, io: CmdIO): Promise<Word> {
  if (!word.some((p) => p.kind === "sub")) return word;
  const out: Word = [];
  for (const p of word) {
    if (p.kind !== "sub") {
      out.push(p);
      continue;
    }
    const sub = subshellEnv(env);
    const capture = captured(io.err);
    try {
      env.lastStatus = await runText(p.script, sub, { stdin: NO_INPUT, out: capture.out, err: io.err });
    } catch (e) {
      if (e !== capture.overflow) throw e;
      env.lastStatus = 2;
    }
    out.push({
      kind: "val",
      text: checkWord(capture.bytes().toString("utf8").replace(/\n+$/, "")),
      quoted: p.quoted,
    });
  }
  return out;
}

async function expandAll(words: Word[], env: ShellEnv, io: CmdIO): Promise<string[]> {
  const out: string[] = [];
  let chars = 0;
  for (const w of words) {
    for (const f of expandWord(await substitute(w, env, io), env)) {
      out.push(f);
      chars += f.length + 1;
    }
    if (out.length > LIMITS.fields || chars > LIMITS.argChars)
      throw new ShellLimitError(
        `argument list too long (the pod allows ${LIMITS.fields} words, ${LIMITS.argChars} characters)`,
        "script",
      );
  }
  return out;
}

/** Expands a word into fields: quoted parts stay whole, unquoted variables split on whitespace. */
export function expandWord(word: Word, env: ShellEnv): string[] {
  const fields: string[] = [];
  let cur = "";
  let has = false;
  for (const p of word) {
    if (p.kind === "lit") {
      cur += p.text;
      has = has || p.quoted || p.text.length > 0;
      continue;
    }
    const v =
      p.kind === "var"
        ? (varValue(p.name, env) ?? "")
        : p.kind === "val"
          ? p.text
          : p.kind === "arith"
            ? String(arithmetic(p.expr, env))
            : "";
    if (p.quoted) {
      cur += v;
      has = true;
      continue;
    }
    const parts = v.split(/[ \t\n]+/);
    for (let i = 0; i < parts.length; i++) {
      if (i > 0) {
        if (has || cur) fields.push(cur);
        cur = "";
        has = false;
      }
      cur += parts[i]!;
      if (parts[i]) has = true;
    }
  }
  if (has || cur) fields.push(cur);
  for (const f of fields) checkWord(f);
  return fields;
}

/**
 * The program `name` runs in this pod's image, or undefined when the image has none by that name: the userland's
 * basics (none in a distroless image), the image's tools, and the programs it ships that the simulator cannot run
 * (which say so).
 */
export function lookup(name: string, env: ShellEnv): Tool | undefined {
  const base = name.includes("/") ? name.slice(name.lastIndexOf("/") + 1) : name;
  if (env.image.userland === "none") return undefined;
  if (Object.hasOwn(coreCommands, base)) return coreCommands[base];
  if (base === "ash" && env.image.userland === "busybox") return coreCommands.sh;
  if (env.tools.has(base) && Object.hasOwn(netCommands, base)) return netCommands[base];
  if (env.image.unsupported?.includes(base)) return unsupported(base);
  return undefined;
}

/** A program the image ships that the simulator does not run: found, and it says so (126: cannot execute). */
function unsupported(name: string): Tool {
  return (_args, io) => {
    io.err(
      `${name}: cannot run inside a simulated pod: the simulator runs the pod's shell and network tools, not its ` +
        `other programs${name === "kubectl" ? "; use kubectl in your own terminal" : ""}\n`,
    );
    return Promise.resolve(126);
  };
}

/**
 * A write through a redirection to a file failed (the filesystem is full): the command that wrote is stopped, as a
 * write error stops it, after `<name>: write error: …` on its stderr.
 */
class RedirectWriteError extends Error {}

/**
 * Applies redirections in order; returns the resulting streams, or an exit status when one fails. `name` is the
 * command's (it names a write error).
 */
function redirect(redirects: Redirect[], env: ShellEnv, io: CmdIO, name = "sh"): CmdIO | number {
  let out = io.out;
  let err = io.err;
  let stdin = io.stdin;
  for (const r of redirects) {
    const target = expandWord(r.target, env).join(" ");
    if (r.op === ">&") {
      const dest = target === "1" ? out : target === "2" ? err : undefined;
      if (!dest) {
        io.err(`sh: ${target}: bad file descriptor\n`);
        return 1;
      }
      if (r.fd === 2) err = dest;
      else out = dest;
      continue;
    }
    if (r.op === "<") {
      const data = target === "/dev/null" ? NO_INPUT : env.files.read(pathIn(env, target));
      if (data === undefined) {
        io.err(`sh: can't open '${target}': No such file or directory\n`);
        return 1;
      }
      stdin = data;
      continue;
    }
    let sink: (s: string | Uint8Array) => void;
    if (target === "/dev/null") sink = () => {};
    else if (target === "/dev/stderr") sink = io.err;
    else if (target === "/dev/stdout") sink = io.out;
    else {
      const opened = env.files.write(pathIn(env, target), "", r.op === ">>");
      if (opened) {
        io.err(`sh: can't create ${target}: ${opened}\n`);
        return 1;
      }
      const errOut = err;
      sink = (s) => {
        const failed = env.files.write(pathIn(env, target), s, true);
        if (!failed) return;
        errOut(`${name}: write error: ${failed}\n`);
        throw new RedirectWriteError(failed);
      };
    }
    if (r.fd === 2) err = sink;
    else out = sink;
  }
  return { stdin, out, err };
}

async function runSimple(cmd: SimpleCommand, env: ShellEnv, io0: CmdIO): Promise<number> {
  const argv = await expandAll(cmd.words, env, io0);
  const assigns: (readonly [string, string])[] = [];
  for (const a of cmd.assigns)
    assigns.push([a.name, checkWord((await expandAll([a.value], env, io0)).join(" "))] as const);
  const io = redirect(cmd.redirects, env, io0, argv[0]);
  if (typeof io === "number") return io;
  const { out, err, stdin } = io;
  if (argv.length === 0) {
    for (const [k, v] of assigns) setVar(env.vars, k, v);
    return 0;
  }
  const name = argv[0]!;
  const tool = lookup(name, env);
  if (!tool) {
    err(`sh: ${name}: not found\n`);
    return 127;
  }
  const saved = assigns.map(([k]) => [k, env.vars.get(k)] as const);
  for (const [k, v] of assigns) setVar(env.vars, k, v);
  try {
    return await tool(argv.slice(1), { stdin, out, err }, env);
  } catch (e) {
    if (e instanceof RedirectWriteError) return 1;
    throw e;
  } finally {
    for (const [k, v] of saved)
      if (v === undefined) unsetVar(env.vars, k);
      else setVar(env.vars, k, v);
  }
}

async function runCommand(cmd: Command, env: ShellEnv, io: CmdIO): Promise<number> {
  await step(env.signal);
  switch (cmd.kind) {
    case "cmd":
      return runSimple(cmd, env, io);
    case "subshell": {
      const sub = subshellEnv(env);
      const rio = redirect(cmd.redirects, env, io);
      if (typeof rio === "number") return rio;
      const status = await runList(cmd.body, sub, rio);
      return sub.exitCode ?? status;
    }
    case "for": {
      let status = 0;
      for (const item of await expandAll(cmd.items, env, io)) {
        setVar(env.vars, cmd.name, item);
        status = await runList(cmd.body, env, io);
        if (env.exitCode !== undefined) break;
        await step(env.signal);
      }
      return status;
    }
    case "while": {
      let status = 0;
      for (;;) {
        const c = await runCondition(cmd.cond, env, io);
        if (env.exitCode !== undefined || (c === 0) === cmd.until) break;
        status = await runList(cmd.body, env, io);
        if (env.exitCode !== undefined) break;
        await step(env.signal);
      }
      return status;
    }
    case "if": {
      for (const b of cmd.branches) {
        const c = await runCondition(b.cond, env, io);
        if (env.exitCode !== undefined) return c;
        if (c === 0) return runList(b.body, env, io);
      }
      return cmd.otherwise ? runList(cmd.otherwise, env, io) : 0;
    }
  }
}

async function runPipeline(p: Pipeline, env: ShellEnv, io: CmdIO): Promise<number> {
  let stdin = io.stdin;
  let status = 0;
  for (let i = 0; i < p.commands.length; i++) {
    const last = i === p.commands.length - 1;
    const buf = last ? undefined : captured(io.err);
    const stageIo: CmdIO = { stdin, out: buf ? buf.out : io.out, err: io.err };
    const inPipe = p.commands.length > 1;
    const stageEnv = inPipe ? { ...env, exitCode: undefined } : env;
    try {
      status = await runCommand(p.commands[i]!, stageEnv, stageIo);
    } catch (e) {
      if (!buf || e !== buf.overflow) throw e;
      status = 141;
    }
    if (inPipe && last && stageEnv.exitCode !== undefined) status = stageEnv.exitCode;
    stdin = buf ? buf.bytes() : NO_INPUT;
  }
  return p.negate ? (status === 0 ? 1 : 0) : status;
}

/** Runs the condition of an `if` or a loop, where `set -e` does not apply. */
async function runCondition(script: Script, env: ShellEnv, io: CmdIO): Promise<number> {
  env.inCondition = (env.inCondition ?? 0) + 1;
  try {
    return await runList(script, env, io);
  } finally {
    env.inCondition--;
  }
}

/**
 * Runs a list; stops early on `exit`, and with `set -e` when the last pipeline of an and-or list fails (not one
 * before a `&&` or `||`, not a `!` pipeline, not in a condition).
 */
export async function runList(script: Script, env: ShellEnv, io: CmdIO): Promise<number> {
  for (const ao of script) {
    let status = await runPipeline(ao.first, env, io);
    let last = ao.rest.length === 0 ? ao.first : undefined;
    env.lastStatus = status;
    if (env.exitCode !== undefined) return env.exitCode;
    for (let i = 0; i < ao.rest.length; i++) {
      const r = ao.rest[i]!;
      if ((r.op === "&&" && status !== 0) || (r.op === "||" && status === 0)) continue;
      status = await runPipeline(r.pipeline, env, io);
      last = i === ao.rest.length - 1 ? r.pipeline : undefined;
      env.lastStatus = status;
      if (env.exitCode !== undefined) return env.exitCode;
    }
    if (status !== 0 && env.errexit && !env.inCondition && last && !last.negate) {
      env.exitCode = status;
      return status;
    }
  }
  return env.lastStatus;
}

/**
 * Parses and runs a script text as `sh -c` does; syntax errors print busybox's message and give exit 2, and so does
 * a script that goes past one of the pod's limits (`ShellLimitError` with `fatal`).
 */
export async function runText(text: string, env: ShellEnv, io: CmdIO): Promise<number> {
  if (text.length > LIMITS.scriptChars) {
    io.err(`sh: script too long (${text.length} characters; the pod allows ${LIMITS.scriptChars})\n`);
    return 2;
  }
  let script: Script;
  try {
    script = parseScript(text);
  } catch (e) {
    if (e instanceof ShellSyntaxError) {
      io.err(`sh: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  try {
    const status = await runList(script, env, io);
    return env.exitCode ?? status;
  } catch (e) {
    if (!(e instanceof ShellLimitError) || e.scope !== "script") throw e;
    io.err(`sh: ${e.message}\n`);
    return 2;
  }
}

/** Runs an argv directly (as `kubectl exec pod -- curl …` does, without a shell). Undefined if no such program. */
export async function runArgv(argv: string[], env: ShellEnv, io: CmdIO): Promise<number | undefined> {
  const tool = lookup(argv[0] ?? "", env);
  if (!tool) return undefined;
  const status = await tool(argv.slice(1), io, env);
  return env.exitCode ?? status;
}
