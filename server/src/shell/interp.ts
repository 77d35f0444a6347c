/** Runs a parsed script: expansion, redirections, pipes (buffered), `&&`/`||`/`;`, `for`, subshells and `exit`. */
import { Interrupted } from "./budget.ts";
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
  out(s: string): void;
  err(s: string): void;
}

export { Interrupted } from "./budget.ts";

function varValue(name: string, env: ShellEnv): string | undefined {
  if (name === "?") return String(env.lastStatus);
  if (name === "$") return "1";
  if (name === "#") return "0";
  if (name === "0") return "sh";
  return env.vars.get(name);
}

/** Evaluates `$((…))`: integers, variables, unary minus, + - * / % and parentheses; errors evaluate to 0. */
export function arithmetic(expr: string, env: ShellEnv): number {
  const toks = expr.match(/\d+|[A-Za-z_][A-Za-z0-9_]*|[-+*/%()]|\S/g) ?? [];
  let i = 0;
  const atom = (): number => {
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

/** Runs the command substitutions of a word (in a subshell) and puts their output in its place. */
async function substitute(word: Word, env: ShellEnv, io: CmdIO): Promise<Word> {
  if (!word.some((p) => p.kind === "sub")) return word;
  const out: Word = [];
  for (const p of word) {
    if (p.kind !== "sub") {
      out.push(p);
      continue;
    }
    let text = "";
    const sub: ShellEnv = {
      ...env,
      vars: new Map(env.vars),
      exported: new Set(env.exported),
      exitCode: undefined,
    };
    env.lastStatus = await runText(p.script, sub, { stdin: "", out: (s) => (text += s), err: io.err });
    out.push({ kind: "val", text: text.replace(/\n+$/, ""), quoted: p.quoted });
  }
  return out;
}

async function expandAll(words: Word[], env: ShellEnv, io: CmdIO): Promise<string[]> {
  const out: string[] = [];
  for (const w of words) out.push(...expandWord(await substitute(w, env, io), env));
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
  return fields;
}

function lookup(name: string, env: ShellEnv): Tool | undefined {
  const base = name.includes("/") ? name.slice(name.lastIndexOf("/") + 1) : name;
  const core = coreCommands[base];
  if (core) return core;
  if (env.tools.has(base)) return netCommands[base];
  return undefined;
}

/** Applies redirections in order; returns the resulting streams, or an exit status when one fails. */
function redirect(redirects: Redirect[], env: ShellEnv, io: CmdIO): CmdIO | number {
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
      const data = target === "/dev/null" ? "" : env.files.read(target);
      if (data === undefined) {
        io.err(`sh: can't open '${target}': No such file or directory\n`);
        return 1;
      }
      stdin = data;
      continue;
    }
    let sink: (s: string) => void;
    if (target === "/dev/null") sink = () => {};
    else if (target === "/dev/stderr") sink = io.err;
    else if (target === "/dev/stdout") sink = io.out;
    else {
      if (!env.files.write(target, "", r.op === ">>")) {
        io.err(`sh: can't create ${target}: Read-only file system\n`);
        return 1;
      }
      sink = (s) => void env.files.write(target, s, true);
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
    assigns.push([a.name, (await expandAll([a.value], env, io0)).join(" ")] as const);
  const io = redirect(cmd.redirects, env, io0);
  if (typeof io === "number") return io;
  const { out, err, stdin } = io;
  if (argv.length === 0) {
    for (const [k, v] of assigns) env.vars.set(k, v);
    return 0;
  }
  const name = argv[0]!;
  const tool = lookup(name, env);
  if (!tool) {
    err(`sh: ${name}: not found\n`);
    return 127;
  }
  const saved = assigns.map(([k]) => [k, env.vars.get(k)] as const);
  for (const [k, v] of assigns) env.vars.set(k, v);
  try {
    return await tool(argv.slice(1), { stdin, out, err }, env);
  } finally {
    for (const [k, v] of saved)
      if (v === undefined) env.vars.delete(k);
      else env.vars.set(k, v);
  }
}

function yieldToEventLoop(env: ShellEnv): Promise<void> {
  return new Promise<void>((resolve, reject) =>
    setImmediate(() => (env.signal.aborted ? reject(new Interrupted()) : resolve())),
  );
}

async function runCommand(cmd: Command, env: ShellEnv, io: CmdIO): Promise<number> {
  if (env.signal.aborted) throw new Interrupted();
  switch (cmd.kind) {
    case "cmd":
      return runSimple(cmd, env, io);
    case "subshell": {
      const sub: ShellEnv = {
        ...env,
        vars: new Map(env.vars),
        exported: new Set(env.exported),
        exitCode: undefined,
      };
      const rio = redirect(cmd.redirects, env, io);
      if (typeof rio === "number") return rio;
      const status = await runList(cmd.body, sub, rio);
      return sub.exitCode ?? status;
    }
    case "for": {
      let status = 0;
      let n = 0;
      for (const item of await expandAll(cmd.items, env, io)) {
        env.vars.set(cmd.name, item);
        status = await runList(cmd.body, env, io);
        if (env.exitCode !== undefined) break;
        if (++n % 100 === 0) await yieldToEventLoop(env);
      }
      return status;
    }
    case "while": {
      let status = 0;
      for (;;) {
        const c = await runList(cmd.cond, env, io);
        if (env.exitCode !== undefined || (c === 0) === cmd.until) break;
        status = await runList(cmd.body, env, io);
        if (env.exitCode !== undefined) break;
        // A loop without sleeps must not starve the server: give the event loop a turn each iteration.
        await yieldToEventLoop(env);
      }
      return status;
    }
    case "if": {
      for (const b of cmd.branches) {
        const c = await runList(b.cond, env, io);
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
    let buf = "";
    const stageIo: CmdIO = { stdin, out: last ? io.out : (s) => void (buf += s), err: io.err };
    const inPipe = p.commands.length > 1;
    const stageEnv = inPipe ? { ...env, exitCode: undefined } : env;
    status = await runCommand(p.commands[i]!, stageEnv, stageIo);
    if (inPipe && last && stageEnv.exitCode !== undefined) status = stageEnv.exitCode;
    stdin = buf;
  }
  return p.negate ? (status === 0 ? 1 : 0) : status;
}

/** Runs a list; stops early on `exit`. */
export async function runList(script: Script, env: ShellEnv, io: CmdIO): Promise<number> {
  for (const ao of script) {
    let status = await runPipeline(ao.first, env, io);
    env.lastStatus = status;
    if (env.exitCode !== undefined) return env.exitCode;
    for (const r of ao.rest) {
      if ((r.op === "&&" && status !== 0) || (r.op === "||" && status === 0)) continue;
      status = await runPipeline(r.pipeline, env, io);
      env.lastStatus = status;
      if (env.exitCode !== undefined) return env.exitCode;
    }
  }
  return env.lastStatus;
}

/** Parses and runs a script text as `sh -c` does; syntax errors print busybox's message and give exit 2. */
export async function runText(text: string, env: ShellEnv, io: CmdIO): Promise<number> {
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
  const status = await runList(script, env, io);
  return env.exitCode ?? status;
}

/** Runs an argv directly (as `kubectl exec pod -- curl …` does, without a shell). Undefined if no such program. */
export async function runArgv(argv: string[], env: ShellEnv, io: CmdIO): Promise<number | undefined> {
  const tool = lookup(argv[0] ?? "", env);
  if (!tool) return undefined;
  const status = await tool(argv.slice(1), io, env);
  return env.exitCode ?? status;
}
