/**
 * The file utilities every image with a userland has: `mkdir [-p]`, `rm [-f] [-r]`, `cp [-r]`, `mv [-f]`, `touch` and
 * `chmod` (modes are checked and accepted: the pod's files keep none). Messages and exit codes are busybox's in
 * busybox and Alpine images and GNU coreutils' in the others. Writes count against the pod's file limits (a copy past
 * them fails as on a full disk), `/proc` and `/sys` are read-only, and a recursive copy, move or removal works an
 * entry at a time with event-loop turns between entries.
 */
import { Pacer } from "../budget.ts";
import { pathIn } from "../files.ts";
import type { CmdIO, PathError, ShellEnv, Tool } from "../types.ts";

interface Words {
  usage(cmd: string): string;
  badOption(cmd: string, opt: string): string;
  mkdir(p: string, e: PathError): string;
  rmMissing(p: string): string;
  rmDir(p: string): string;
  rmFailed(p: string, e: PathError): string;
  cantStat(cmd: string, p: string): string;
  omitDir(p: string): string;
  cantCreate(p: string, e: PathError): string;
  writeError(p: string, e: PathError): string;
  notDir(cmd: string, p: string): string;
  intoItself(cmd: string, s: string, d: string): string;
  touch(p: string, e: PathError): string;
  chmodMissing(p: string): string;
  badMode(m: string): string;
}

const BB_USAGE: Record<string, string> = {
  mkdir: "mkdir [-m MODE] [-p] DIRECTORY...",
  rm: "rm [-irf] FILE...",
  cp: "cp [-arPLHpfinlsTu] SOURCE DEST",
  mv: "mv [-fin] SOURCE DEST",
  touch: "touch [-c] [-d DATE] [-t DATE] [-r FILE] FILE...",
  chmod: "chmod [-Rcvf] MODE[,MODE]... FILE...",
};

const BUSYBOX: Words = {
  usage: (cmd) => `BusyBox v1.36.1 multi-call binary.\n\nUsage: ${BB_USAGE[cmd]}\n`,
  badOption: (cmd, opt) => `${cmd}: unrecognized option: ${opt}\n${BUSYBOX.usage(cmd)}`,
  mkdir: (p, e) => `mkdir: can't create directory '${p}': ${e}\n`,
  rmMissing: (p) => `rm: can't remove '${p}': No such file or directory\n`,
  rmDir: (p) => `rm: '${p}' is a directory\n`,
  rmFailed: (p, e) => `rm: can't remove '${p}': ${e}\n`,
  cantStat: (cmd, p) =>
    cmd === "mv"
      ? `mv: can't rename '${p}': No such file or directory\n`
      : `${cmd}: can't stat '${p}': No such file or directory\n`,
  omitDir: (p) => `cp: omitting directory '${p}'\n`,
  cantCreate: (p, e) => `cp: can't create '${p}': ${e}\n`,
  writeError: (_p, e) => `cp: write error: ${e}\n`,
  notDir: (cmd, p) => `${cmd}: '${p}' is not a directory\n`,
  intoItself: (cmd, s, d) => `${cmd}: can't copy a directory '${s}' into itself '${d}'\n`,
  touch: (p, e) => `touch: ${p}: ${e}\n`,
  chmodMissing: (p) => `chmod: ${p}: No such file or directory\n`,
  badMode: (m) => `chmod: invalid mode '${m}'\n`,
};

const GNU: Words = {
  usage: (cmd) => `${cmd}: missing operand\nTry '${cmd} --help' for more information.\n`,
  badOption: (cmd, opt) =>
    `${cmd}: ${opt.length > 1 ? `unrecognized option '--${opt}'` : `invalid option -- '${opt}'`}\nTry '${cmd} --help' for more information.\n`,
  mkdir: (p, e) => `mkdir: cannot create directory '${p}': ${e}\n`,
  rmMissing: (p) => `rm: cannot remove '${p}': No such file or directory\n`,
  rmDir: (p) => `rm: cannot remove '${p}': Is a directory\n`,
  rmFailed: (p, e) => `rm: cannot remove '${p}': ${e}\n`,
  cantStat: (cmd, p) => `${cmd}: cannot stat '${p}': No such file or directory\n`,
  omitDir: (p) => `cp: -r not specified; omitting directory '${p}'\n`,
  cantCreate: (p, e) => `cp: cannot create regular file '${p}': ${e}\n`,
  writeError: (p, e) => `cp: error writing '${p}': ${e}\n`,
  notDir: (cmd, p) => `${cmd}: target '${p}' is not a directory\n`,
  intoItself: (cmd, s, d) => `${cmd}: cannot copy a directory, '${s}', into itself, '${d}'\n`,
  touch: (p, e) => `touch: cannot touch '${p}': ${e}\n`,
  chmodMissing: (p) => `chmod: cannot access '${p}': No such file or directory\n`,
  badMode: (m) => `chmod: invalid mode: '${m}'\nTry 'chmod --help' for more information.\n`,
};

const wordsFor = (env: ShellEnv): Words => (env.image.userland === "gnu" ? GNU : BUSYBOX);

/** Splits `-pf`-style flags (up to `--`) from operands; returns the unknown flag letter or long option instead. */
function options(args: string[], known: string): { flags: Set<string>; rest: string[] } | { bad: string } {
  const flags = new Set<string>();
  const rest: string[] = [];
  let i = 0;
  for (; i < args.length; i++) {
    const a = args[i]!;
    if (a === "--") {
      i++;
      break;
    }
    if (!a.startsWith("-") || a === "-") break;
    if (a.startsWith("--")) {
      const long: Record<string, string> = { parents: "p", force: "f", recursive: "r" };
      const f = long[a.slice(2)];
      if (!f || !known.includes(f)) return { bad: a.slice(2) };
      flags.add(f);
      continue;
    }
    for (const ch of a.slice(1)) {
      if (!known.includes(ch)) return { bad: ch };
      flags.add(ch === "R" ? "r" : ch === "a" ? "r" : ch);
    }
  }
  rest.push(...args.slice(i));
  return { flags, rest };
}

const isDir = (env: ShellEnv, abs: string): boolean => env.files.isDir(abs);
const exists = (env: ShellEnv, abs: string): boolean => env.files.read(abs) !== undefined || isDir(env, abs);
const base = (p: string): string => p.replace(/\/+$/, "").slice(p.replace(/\/+$/, "").lastIndexOf("/") + 1);
const joinPath = (dir: string, name: string): string => `${dir.replace(/\/+$/, "")}/${name}`;
/** A path without `.`/`..` or repeated slashes (to compare a copy's source and destination). */
function norm(p: string): string {
  const out: string[] = [];
  for (const part of p.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") out.pop();
    else out.push(part);
  }
  return "/" + out.join("/");
}

function usage(cmd: string, io: CmdIO, w: Words): number {
  io.err(w.usage(cmd));
  return 1;
}

async function mkdir(args: string[], io: CmdIO, env: ShellEnv): Promise<number> {
  const w = wordsFor(env);
  const o = options(args, "pm");
  if ("bad" in o) return usage("mkdir", io, { ...w, usage: () => w.badOption("mkdir", o.bad) });
  const rest = [...o.rest];
  if (o.flags.has("m")) rest.shift();
  if (rest.length === 0) return usage("mkdir", io, w);
  const pace = new Pacer(env.signal);
  let status = 0;
  for (const d of rest) {
    await pace.tick();
    const abs = pathIn(env, d);
    if (!o.flags.has("p")) {
      const e = env.files.mkdir(abs);
      if (e) {
        io.err(w.mkdir(d, e));
        status = 1;
      }
      continue;
    }
    // -p: each missing parent in turn; one that exists as a directory is fine.
    const parts = norm(abs).split("/").filter(Boolean);
    let cur = "";
    for (const part of parts) {
      cur += "/" + part;
      if (isDir(env, cur)) continue;
      await pace.tick();
      const e = env.files.mkdir(cur);
      if (e) {
        io.err(w.mkdir(d, e));
        status = 1;
        break;
      }
    }
  }
  return status;
}

/** Removes `abs` (shown as `shown`) and, with `recursive`, what is inside it first. */
async function removeTree(
  abs: string,
  shown: string,
  recursive: boolean,
  io: CmdIO,
  env: ShellEnv,
  w: Words,
  pace: Pacer,
): Promise<number> {
  await pace.tick();
  const names = env.files.list(abs);
  if (names !== undefined && env.files.read(abs) === undefined) {
    if (!recursive) {
      io.err(w.rmDir(shown));
      return 1;
    }
    let status = 0;
    for (const n of names)
      status |= await removeTree(joinPath(abs, n), joinPath(shown, n), true, io, env, w, pace);
    if (status) return status;
  }
  const e = env.files.remove(abs);
  if (e) {
    io.err(w.rmFailed(shown, e));
    return 1;
  }
  return 0;
}

async function rm(args: string[], io: CmdIO, env: ShellEnv): Promise<number> {
  const w = wordsFor(env);
  const o = options(args, "frRiv");
  if ("bad" in o) return usage("rm", io, { ...w, usage: () => w.badOption("rm", o.bad) });
  const force = o.flags.has("f");
  if (o.rest.length === 0) return force ? 0 : usage("rm", io, w);
  const pace = new Pacer(env.signal);
  let status = 0;
  for (const p of o.rest) {
    const abs = pathIn(env, p);
    if (!exists(env, abs)) {
      if (!force) {
        io.err(w.rmMissing(p));
        status = 1;
      }
      continue;
    }
    status |= await removeTree(abs, p, o.flags.has("r"), io, env, w, pace);
  }
  return status;
}

/** Copies one file's bytes, opened empty first as open(2) would: a full disk fails the write, not the open. */
function copyFile(from: string, to: string, shown: string, io: CmdIO, env: ShellEnv, w: Words): number {
  const data = env.files.read(from)!;
  const opened = env.files.write(to, "");
  if (opened && opened !== "No space left on device") {
    io.err(w.cantCreate(shown, opened));
    return 1;
  }
  const wrote = opened ?? env.files.write(to, data);
  if (wrote) {
    io.err(w.writeError(shown, wrote));
    return 1;
  }
  return 0;
}

/** Copies (or, for `mv`, moves) `from` to `to`: a file, or a directory entry by entry. */
async function transfer(
  cmd: "cp" | "mv",
  from: string,
  to: string,
  shown: string,
  io: CmdIO,
  env: ShellEnv,
  w: Words,
  pace: Pacer,
): Promise<number> {
  await pace.tick();
  if (env.files.read(from) !== undefined) {
    if (isDir(env, to)) {
      io.err(cmd === "cp" ? w.cantCreate(shown, "Is a directory") : w.rmFailed(shown, "Is a directory"));
      return 1;
    }
    const parent = to.slice(0, to.lastIndexOf("/")) || "/";
    if (!isDir(env, parent)) {
      io.err(cmd === "cp" ? w.cantCreate(shown, "No such file or directory") : w.cantStat("mv", shown));
      return 1;
    }
    if (cmd === "mv") {
      const e = env.files.rename(from, to);
      if (e === undefined) return 0;
      if (e !== "Device or resource busy") {
        io.err(`mv: can't rename '${shown}': ${e}\n`);
        return 1;
      }
    }
    const status = copyFile(from, to, shown, io, env, w);
    return status;
  }
  // A directory.
  if (norm(to) === norm(from) || norm(to).startsWith(norm(from) + "/")) {
    io.err(w.intoItself(cmd, from, to));
    return 1;
  }
  if (!isDir(env, to)) {
    if (env.files.read(to) !== undefined) {
      io.err(w.notDir(cmd, shown));
      return 1;
    }
    const e = env.files.mkdir(to);
    if (e) {
      io.err(w.mkdir(shown, e).replace(/^mkdir/, cmd));
      return 1;
    }
  }
  let status = 0;
  for (const n of env.files.list(from) ?? [])
    status |= await transfer(cmd, joinPath(from, n), joinPath(to, n), joinPath(shown, n), io, env, w, pace);
  if (cmd === "mv" && status === 0) {
    const e = env.files.remove(from);
    if (e) {
      io.err(w.rmFailed(from, e));
      return 1;
    }
  }
  return status;
}

function copyOrMove(cmd: "cp" | "mv"): Tool {
  return async (args, io, env) => {
    const w = wordsFor(env);
    const o = options(args, cmd === "cp" ? "rRafpPLdv" : "fiv");
    if ("bad" in o) return usage(cmd, io, { ...w, usage: () => w.badOption(cmd, o.bad) });
    if (o.rest.length < 2) return usage(cmd, io, w);
    const sources = o.rest.slice(0, -1);
    const dest = o.rest[o.rest.length - 1]!;
    const destAbs = pathIn(env, dest);
    const intoDir = isDir(env, destAbs) && env.files.read(destAbs) === undefined;
    if (sources.length > 1 && !intoDir) {
      io.err(w.notDir(cmd, dest));
      return 1;
    }
    const pace = new Pacer(env.signal);
    let status = 0;
    for (const s of sources) {
      const abs = pathIn(env, s);
      if (!exists(env, abs)) {
        io.err(w.cantStat(cmd, s));
        status = 1;
        continue;
      }
      const to = intoDir ? joinPath(destAbs, base(s)) : destAbs;
      const shown = intoDir ? joinPath(dest, base(s)) : dest;
      if (cmd === "cp" && env.files.read(abs) === undefined && !o.flags.has("r")) {
        io.err(w.omitDir(s));
        status = 1;
        continue;
      }
      status |= await transfer(cmd, abs, to, shown, io, env, w, pace);
    }
    return status;
  };
}

async function touch(args: string[], io: CmdIO, env: ShellEnv): Promise<number> {
  const w = wordsFor(env);
  const o = options(args, "cam");
  if ("bad" in o) return usage("touch", io, { ...w, usage: () => w.badOption("touch", o.bad) });
  if (o.rest.length === 0) return usage("touch", io, w);
  const pace = new Pacer(env.signal);
  let status = 0;
  for (const p of o.rest) {
    await pace.tick();
    const abs = pathIn(env, p);
    if (exists(env, abs) || o.flags.has("c")) continue;
    const parent = norm(abs).slice(0, norm(abs).lastIndexOf("/")) || "/";
    const e = isDir(env, parent) ? env.files.write(abs, "") : "No such file or directory";
    if (e) {
      io.err(w.touch(p, e));
      status = 1;
    }
  }
  return status;
}

/** An octal mode, or symbolic clauses such as `u+x`, `go-w`, `a=rx,u+w`. */
const MODE = /^([0-7]{1,4}|[ugoa]*([-+=]([rwxXst]*|[ugo]))+(,[ugoa]*([-+=]([rwxXst]*|[ugo]))+)*)$/;

async function chmod(args: string[], io: CmdIO, env: ShellEnv): Promise<number> {
  const w = wordsFor(env);
  // A symbolic mode such as `-x` looks like an option: chmod takes it as the mode when it parses as one.
  const flags = new Set<string>();
  let i = 0;
  for (; i < args.length && /^-[Rcvf]+$/.test(args[i]!); i++)
    for (const ch of args[i]!.slice(1)) flags.add(ch);
  if (args[i] === "--") i++;
  const [mode, ...files] = args.slice(i);
  if (mode === undefined || files.length === 0) return usage("chmod", io, w);
  if (!MODE.test(mode)) {
    io.err(w.badMode(mode));
    return 1;
  }
  const pace = new Pacer(env.signal);
  let status = 0;
  for (const p of files) {
    await pace.tick();
    if (!exists(env, pathIn(env, p))) {
      if (!flags.has("f")) io.err(w.chmodMissing(p));
      status = 1;
    }
  }
  return status;
}

export const fileCommands: Record<string, Tool> = {
  mkdir,
  rm,
  cp: copyOrMove("cp"),
  mv: copyOrMove("mv"),
  touch,
  chmod,
};
