/** The shell builtins and the small utilities every pod has (busybox or coreutils flavour, same output). */
import { pathIn } from "../files.ts";
import { LIMITS, Pacer, setVar, ShellLimitError, spend, unsetVar } from "../budget.ts";
import { lookup, runText, subshellEnv } from "../interp.ts";
import { compileLineRegex, RegexError, regexWork, type LineRegex } from "../regex.ts";
import type { CmdIO, ShellEnv, Tool } from "../types.ts";
import { fileCommands } from "./fileutils.ts";

const ok = Promise.resolve(0);

function echo(args: string[], io: CmdIO): Promise<number> {
  let newline = true;
  let escapes = false;
  while (args[0] && /^-[neE]+$/.test(args[0])) {
    const f = args.shift()!;
    if (f.includes("n")) newline = false;
    if (f.includes("e")) escapes = true;
    if (f.includes("E")) escapes = false;
  }
  let s = args.join(" ");
  if (escapes) s = unescape(s);
  io.out(s + (newline ? "\n" : ""));
  return ok;
}

function unescape(s: string): string {
  return s.replace(/\\([nt\\r0abfv]|x[0-9a-fA-F]{1,2})/g, (_m, c: string) => {
    if (c.startsWith("x")) return String.fromCharCode(parseInt(c.slice(1), 16));
    return (
      (
        { n: "\n", t: "\t", "\\": "\\", r: "\r", "0": "\0", a: "\x07", b: "\b", f: "\f", v: "\v" } as Record<
          string,
          string
        >
      )[c] ?? c
    );
  });
}

async function printf(args: string[], io: CmdIO, env: ShellEnv): Promise<number> {
  const fmt = args[0];
  if (fmt === undefined) {
    io.err("printf: usage: printf FORMAT [ARGUMENT...]\n");
    return 2;
  }
  const pace = new Pacer(env.signal);
  const rest = args.slice(1);
  const format = unescape(fmt);
  const parts: string[] = [];
  let size = 0;
  let next = 0;
  do {
    let used = 0;
    const piece = format.replace(/%(-?\d*)([sdbc%])/g, (_m, width: string, conv: string) => {
      if (conv === "%") return "%";
      const a = rest[next + used++] ?? "";
      let v =
        conv === "d"
          ? String(parseInt(a, 10) || 0)
          : conv === "b"
            ? unescape(a)
            : conv === "c"
              ? a.slice(0, 1)
              : a;
      const w = Math.min(Math.abs(Number(width)), LIMITS.wordChars);
      if (w) v = width.startsWith("-") ? v.padEnd(w) : v.padStart(w);
      return v;
    });
    size += piece.length;
    if (size > LIMITS.pipeChars) {
      io.err(`printf: output over ${LIMITS.pipeChars} characters: stopped\n`);
      return 1;
    }
    parts.push(piece);
    next += used;
    if (used === 0) break;
    await pace.tick(used);
  } while (next < rest.length);
  io.out(parts.join(""));
  return 0;
}

/** Parses `sleep`'s argument: seconds with an optional s/m/h suffix. */
export function parseSleep(a: string): number | undefined {
  const m = /^(\d+(?:\.\d*)?|\.\d+)([smhd]?)$/.exec(a);
  if (!m) return undefined;
  const mult = { "": 1, s: 1, m: 60, h: 3600, d: 86400 }[m[2] as "" | "s" | "m" | "h" | "d"];
  return Number(m[1]) * mult * 1000;
}

async function sleep(args: string[], io: CmdIO, env: ShellEnv): Promise<number> {
  if (args.length === 0) {
    io.err("sleep: missing operand\n");
    return 1;
  }
  let total = 0;
  for (const a of args) {
    const ms = parseSleep(a);
    if (ms === undefined) {
      io.err(`sleep: invalid number '${a}'\n`);
      return 1;
    }
    total += ms;
  }
  await env.clock.sleep(total, env.signal);
  return 0;
}

/** The bytes of the command's input files (`-` or none: stdin), bounded by `LIMITS.pipeChars` in all. */
function readInputs(args: string[], io: CmdIO, env: ShellEnv, cmd: string): { data: Buffer; status: number } {
  if (args.length === 0 || (args.length === 1 && args[0] === "-")) return { data: io.stdin, status: 0 };
  const parts: Buffer[] = [];
  let n = 0;
  let status = 0;
  for (const f of args) {
    const data = f === "-" ? io.stdin : env.files.read(pathIn(env, f));
    if (data === undefined) {
      if (env.files.list(pathIn(env, f))) io.err(`${cmd}: read error: Is a directory\n`);
      else io.err(`${cmd}: can't open '${f}': No such file or directory\n`);
      status = 1;
    } else if (n + data.length > LIMITS.pipeChars) {
      io.err(`${cmd}: input over ${LIMITS.pipeChars} bytes: stopped\n`);
      return { data: Buffer.concat(parts, n), status: 1 };
    } else {
      parts.push(data);
      n += data.length;
    }
  }
  return { data: parts.length === 1 ? parts[0]! : Buffer.concat(parts, n), status };
}

function lines(text: string): string[] {
  if (text === "") return [];
  const l = text.split("\n");
  if (l[l.length - 1] === "") l.pop();
  return l;
}

async function cat(args: string[], io: CmdIO, env: ShellEnv): Promise<number> {
  const { data, status } = readInputs(
    args.filter((a) => a !== "-n" && a !== "-v"),
    io,
    env,
    "cat",
  );
  if (!args.includes("-n")) {
    io.out(data);
    return status;
  }
  const text = data.toString("utf8");
  const pace = new Pacer(env.signal);
  const all = lines(text);
  const out: string[] = [];
  for (let i = 0; i < all.length; i++) {
    out.push(`${String(i + 1).padStart(6)}\t${all[i]!}\n`);
    await pace.tick();
  }
  io.out(out.join(""));
  return status;
}

const GREP_USAGE =
  "Usage: grep [-HhnlLoqvsrRiwxFE] [-m N] [-A|B|C N] { PATTERN | -e PATTERN... | -f FILE... } [FILE]...\n";

/**
 * BusyBox's grep on the linear-time engine (./regex.ts). Lines are matched a bounded amount of regex work at a time,
 * with an event-loop turn in between; a line that alone needs more than a turn's worth is refused.
 */
async function grep(args: string[], io: CmdIO, env: ShellEnv): Promise<number> {
  const flags = new Set<string>();
  const rest: string[] = [];
  const patterns: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === "-e") {
      const p = args[++i];
      if (p === undefined) {
        io.err(`grep: option requires an argument -- 'e'\n${GREP_USAGE}`);
        return 2;
      }
      patterns.push(p);
      continue;
    }
    if (a === "--") {
      rest.push(...args.slice(i + 1));
      break;
    }
    if (/^-[ivcqEFonwxlsh]+$/.test(a)) for (const c of a.slice(1)) flags.add(c);
    else if (a.startsWith("-") && a.length > 1) {
      io.err(
        `grep: unrecognized option: ${a.replace(/^-+/, "")}\nBusyBox v1.36.1 multi-call binary.\n\n${GREP_USAGE}`,
      );
      return 2;
    } else rest.push(a);
  }
  if (patterns.length === 0) {
    const p = rest.shift();
    if (p === undefined) {
      io.err(GREP_USAGE);
      return 2;
    }
    patterns.push(p);
  }
  let re: LineRegex;
  try {
    re = compileLineRegex(patterns, {
      syntax: flags.has("F") ? "fixed" : flags.has("E") ? "extended" : "basic",
      ignoreCase: flags.has("i"),
      word: flags.has("w"),
      line: flags.has("x"),
    });
  } catch (e) {
    if (!(e instanceof RegexError)) throw e;
    io.err(`grep: bad regex '${patterns.join("\n")}': ${e.message}\n`);
    return 2;
  }
  const { data, status } = readInputs(rest, io, env, "grep");
  const text = data.toString("utf8");
  const invert = flags.has("v");
  const only = flags.has("o") && !invert;
  const number = flags.has("n");
  let count = 0;
  let work = 0;
  const out: string[] = [];
  const all = lines(text);
  for (let i = 0; i < all.length; i++) {
    const l = all[i]!;
    // Each line costs at least a share of a turn, so that at most LIMITS.itemsPerTurn short lines run per turn.
    const lineWork = Math.max(regexWork(l, re), LIMITS.regexWorkPerTurn / LIMITS.itemsPerTurn);
    if (lineWork > LIMITS.regexWorkPerLine) {
      io.err(
        `grep: line ${i + 1} is too long for this pattern (${l.length} characters; the pod allows ${Math.floor(LIMITS.regexWorkPerLine / re.size)})\n`,
      );
      return 2;
    }
    work += lineWork;
    if (work >= LIMITS.regexWorkPerTurn / 16) {
      await spend(work / LIMITS.regexWorkPerTurn, env.signal);
      work = 0;
    }
    const hit = re.test(l) !== invert;
    if (!hit) continue;
    count++;
    if (flags.has("q")) break;
    if (!only) out.push((number ? `${i + 1}:` : "") + l);
    else {
      let found: { matches: string[]; work: number };
      try {
        found = re.matchAll(l, LIMITS.regexWorkPerLine);
      } catch (e) {
        if (!(e instanceof ShellLimitError)) throw e;
        io.err(`grep: line ${i + 1}: ${e.message}\n`);
        return 2;
      }
      work += found.work;
      for (const m of found.matches) out.push((number ? `${i + 1}:` : "") + m);
    }
  }
  if (!flags.has("q")) io.out(flags.has("c") ? `${count}\n` : out.map((l) => l + "\n").join(""));
  return status !== 0 ? 2 : count > 0 ? 0 : 1;
}

/** The first `n` lines of a text (each ending in a newline), found without splitting the rest. */
function headLines(text: string, n: number): string {
  if (n < 0)
    return lines(text)
      .slice(0, n)
      .map((l) => l + "\n")
      .join("");
  let end = 0;
  for (let i = 0; i < n && end < text.length; i++) {
    const nl = text.indexOf("\n", end);
    end = nl < 0 ? text.length : nl + 1;
  }
  const out = text.slice(0, end);
  return out && !out.endsWith("\n") ? out + "\n" : out;
}

/** The last `n` lines of a text (each ending in a newline), found without splitting the rest. */
function tailLines(text: string, n: number): string {
  if (n <= 0 || text === "") return "";
  const body = text.endsWith("\n") ? text.slice(0, -1) : text;
  let pos = body.length;
  for (let i = 0; i < n; i++) {
    const nl = pos > 0 ? body.lastIndexOf("\n", pos - 1) : -1;
    if (nl < 0) return body + "\n";
    pos = nl;
  }
  return body.slice(pos + 1) + "\n";
}

function headTail(which: "head" | "tail"): Tool {
  return (args, io, env) => {
    let n = 10;
    const files: string[] = [];
    for (let i = 0; i < args.length; i++) {
      const a = args[i]!;
      if (a === "-n") n = Number(args[++i]);
      else if (/^-n\d+$/.test(a)) n = Number(a.slice(2));
      else if (/^-\d+$/.test(a)) n = Number(a.slice(1));
      else if (a.startsWith("-") && a !== "-") {
        io.err(`${which}: unrecognized option: ${a.slice(1)}\n`);
        return Promise.resolve(1);
      } else files.push(a);
    }
    if (!Number.isFinite(n)) {
      io.err(`${which}: invalid number '${args.join(" ")}'\n`);
      return Promise.resolve(1);
    }
    const { data, status } = readInputs(files, io, env, which);
    const text = data.toString("utf8");
    io.out(which === "head" ? headLines(text, n) : tailLines(text, n));
    return Promise.resolve(status);
  };
}

function wc(args: string[], io: CmdIO, env: ShellEnv): Promise<number> {
  const opts = args
    .filter((a) => a.startsWith("-") && a !== "-")
    .join("")
    .replace(/-/g, "");
  const files = args.filter((a) => !a.startsWith("-") || a === "-");
  const { data, status } = readInputs(files, io, env, "wc");
  const text = data.toString("latin1");
  let l = 0;
  let w = 0;
  let inWord = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (ch === 10) l++;
    const space = ch === 32 || (ch >= 9 && ch <= 13);
    if (!space && !inWord) w++;
    inWord = !space;
  }
  const c = data.length;
  const parts = opts ? [...opts].map((o) => (o === "l" ? l : o === "w" ? w : c)) : [l, w, c];
  io.out(
    parts
      .map((p) => String(p).padStart(opts.length === 1 ? 0 : 7))
      .join(" ")
      .trimStart() +
      (files.length === 1 ? ` ${files[0]}` : "") +
      "\n",
  );
  return Promise.resolve(status);
}

function env_(args: string[], io: CmdIO, env: ShellEnv): Promise<number> {
  if (args.length > 0 && !args.every((a) => a.includes("="))) {
    io.err(`env: can't execute '${args.find((a) => !a.includes("="))}': No such file or directory\n`);
    return Promise.resolve(127);
  }
  const vars = new Map(
    [...env.exported].filter((k) => env.vars.has(k)).map((k) => [k, env.vars.get(k)!] as const),
  );
  for (const a of args) vars.set(a.slice(0, a.indexOf("=")), a.slice(a.indexOf("=") + 1));
  io.out([...vars].map(([k, v]) => `${k}=${v}\n`).join(""));
  return ok;
}

function test(args: string[], env: ShellEnv): number {
  const t = (a: string[]): boolean => {
    if (a[0] === "!") return !t(a.slice(1));
    if (a.length === 0) return false;
    if (a.length === 1) return a[0] !== "";
    if (a.length === 2) {
      const [op, v] = a as [string, string];
      if (op === "-z") return v === "";
      if (op === "-n") return v !== "";
      if (op === "-e" || op === "-f")
        return (
          env.files.read(pathIn(env, v)) !== undefined ||
          (op === "-e" && env.files.list(pathIn(env, v)) !== undefined)
        );
      if (op === "-d") return env.files.list(pathIn(env, v)) !== undefined;
      return false;
    }
    const [x, op, y] = a as [string, string, string];
    const nx = Number(x);
    const ny = Number(y);
    switch (op) {
      case "=":
      case "==":
        return x === y;
      case "!=":
        return x !== y;
      case "-eq":
        return nx === ny;
      case "-ne":
        return nx !== ny;
      case "-lt":
        return nx < ny;
      case "-le":
        return nx <= ny;
      case "-gt":
        return nx > ny;
      case "-ge":
        return nx >= ny;
    }
    return false;
  };
  return t(args) ? 0 : 1;
}

function formatDate(ms: number): string {
  const d = new Date(ms);
  const days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
  const months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  const p = (n: number): string => String(n).padStart(2, "0");
  return `${days[d.getUTCDay()]} ${months[d.getUTCMonth()]} ${String(d.getUTCDate()).padStart(2)} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} UTC ${d.getUTCFullYear()}`;
}

export const coreCommands: Record<string, Tool> = {
  echo: (a, io) => echo([...a], io),
  printf,
  true: () => ok,
  false: () => Promise.resolve(1),
  ":": () => ok,
  exit: (a, io, env) => {
    const n = a[0] === undefined ? env.lastStatus : Number(a[0]);
    if (!Number.isInteger(n)) {
      io.err(`sh: exit: Illegal number: ${a[0]}\n`);
      env.exitCode = 2;
      return Promise.resolve(2);
    }
    env.exitCode = ((n % 256) + 256) % 256;
    return Promise.resolve(env.exitCode);
  },
  sleep,
  env: env_,
  printenv: (a, io, env) => {
    if (a.length === 0) return env_([], io, env);
    const v = env.vars.get(a[0]!);
    if (v === undefined || !env.exported.has(a[0]!)) return Promise.resolve(1);
    io.out(v + "\n");
    return ok;
  },
  hostname: (a, io, env) => {
    io.out((a[0] === "-i" ? env.net.pod.ip : env.net.pod.hostname) + "\n");
    return ok;
  },
  ip: (a, io, env) => {
    const obj = a[0] ?? "";
    const ip = env.net.pod.ip;
    if (/^a(d(d(r(e(s(s)?)?)?)?)?)?$/.test(obj)) {
      const mac = `52:${[1, 2, 3, 4, 5]
        .map((i) =>
          Number(ip.split(".")[i % 4] ?? 0)
            .toString(16)
            .padStart(2, "0"),
        )
        .join(":")}`;
      io.out(
        "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN group default qlen 1000\n" +
          "    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00\n" +
          "    inet 127.0.0.1/8 scope host lo\n       valid_lft forever preferred_lft forever\n" +
          "2: eth0@if7: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1450 qdisc noqueue state UP group default qlen 1000\n" +
          `    link/ether ${mac} brd ff:ff:ff:ff:ff:ff link-netnsid 0\n` +
          `    inet ${ip}/32 scope global eth0\n       valid_lft forever preferred_lft forever\n`,
      );
      return ok;
    }
    if (/^r(o(u(t(e)?)?)?)?$/.test(obj)) {
      io.out("default via 169.254.1.1 dev eth0 \n169.254.1.1 dev eth0 scope link \n");
      return ok;
    }
    io.err(`Object "${obj}" is unknown, try "ip help".\n`);
    return Promise.resolve(255);
  },
  cat,
  grep,
  head: headTail("head"),
  tail: headTail("tail"),
  wc,
  ls: (a, io, env) => {
    const paths = a.filter((x) => !x.startsWith("-"));
    // Names that start with a dot are shown with -a (or -A).
    const all = a.some((x) => /^-[a-zA-Z]*[aA]/.test(x));
    let status = 0;
    for (const p of paths.length ? paths : [env.vars.get("PWD") ?? "/"]) {
      const l = env.files.list(pathIn(env, p))?.filter((n) => all || !n.startsWith("."));
      if (l) io.out(l.join("\n") + (l.length ? "\n" : ""));
      else if (env.files.read(pathIn(env, p)) !== undefined) io.out(p + "\n");
      else {
        io.err(`ls: ${p}: No such file or directory\n`);
        status = 1;
      }
    }
    return Promise.resolve(status);
  },
  id: (_a, io) => {
    io.out(
      "uid=0(root) gid=0(root) groups=0(root),1(bin),2(daemon),3(sys),4(adm),6(disk),10(wheel),11(floppy),20(dialout),26(tape),27(video)\n",
    );
    return ok;
  },
  whoami: (_a, io) => {
    io.out("root\n");
    return ok;
  },
  date: (a, io, env) => {
    if (a[0] === "+%s") io.out(`${Math.floor(env.clock.now() / 1000)}\n`);
    else io.out(formatDate(env.clock.now()) + "\n");
    return ok;
  },
  pwd: (_a, io, env) => {
    io.out((env.vars.get("PWD") ?? "/") + "\n");
    return ok;
  },
  cd: (a, io, env) => {
    const dir = a[0] ?? env.vars.get("HOME") ?? "/";
    const abs = dir.startsWith("/") ? dir : `${(env.vars.get("PWD") ?? "/").replace(/\/$/, "")}/${dir}`;
    if (!env.files.list(abs)) {
      io.err(`sh: cd: can't cd to ${dir}: No such file or directory\n`);
      return Promise.resolve(2);
    }
    setVar(env.vars, "PWD", abs);
    return ok;
  },
  export: (a, _io, env) => {
    for (const x of a) {
      const i = x.indexOf("=");
      const k = i < 0 ? x : x.slice(0, i);
      if (i >= 0) setVar(env.vars, k, x.slice(i + 1));
      if (!env.exported.has(k) && env.exported.size >= LIMITS.vars)
        throw new ShellLimitError(`too many exported names (the pod allows ${LIMITS.vars})`, "script");
      env.exported.add(k);
    }
    return ok;
  },
  unset: (a, _io, env) => {
    for (const k of a) {
      unsetVar(env.vars, k);
      env.exported.delete(k);
    }
    return ok;
  },
  test: (a, _io, env) => Promise.resolve(test(a, env)),
  "[": (a, io, env) => {
    if (a[a.length - 1] !== "]") {
      io.err("sh: missing ]\n");
      return Promise.resolve(2);
    }
    return Promise.resolve(test(a.slice(0, -1), env));
  },
  which: (a, io, env) => {
    let status = 0;
    for (const n of a) {
      if (lookup(n, env)) io.out(`/usr/bin/${n}\n`);
      else status = 1;
    }
    return Promise.resolve(status);
  },
  seq: (a, io, env) => {
    const n = a.map(Number);
    if (n.length < 1 || n.length > 3 || n.some((x) => !Number.isFinite(x))) {
      io.err(
        n.length < 1 || n.length > 3
          ? "seq: missing operand\n"
          : `seq: invalid number '${a.find((x) => !Number.isFinite(Number(x)))}'\n`,
      );
      return Promise.resolve(1);
    }
    const [first, step, last] =
      n.length === 1 ? [1, 1, n[0]!] : n.length === 2 ? [n[0]!, 1, n[1]!] : [n[0]!, n[1]!, n[2]!];
    if (step === 0) {
      io.err("seq: invalid increment '0'\n");
      return Promise.resolve(1);
    }
    return seqLines(first, step, last, io, env);
  },
  sh: shTool,
  set,
  base64,
  ...fileCommands,
};

/** `base64 [-d] [-w COLS] [FILE]`: bytes to base64 (lines of 76 by default, `-w 0` for one), or back with `-d`. */
function base64(args: string[], io: CmdIO, env: ShellEnv): Promise<number> {
  let decode = false;
  let wrap = 76;
  const files: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === "-d" || a === "--decode") decode = true;
    else if (a === "-w" || /^-w\d+$/.test(a) || a.startsWith("--wrap=")) {
      const v = a === "-w" ? args[++i] : a.startsWith("--wrap=") ? a.slice(7) : a.slice(2);
      if (v === undefined || !/^\d+$/.test(v)) {
        io.err(`base64: invalid wrap size: '${v ?? ""}'\n`);
        return Promise.resolve(1);
      }
      wrap = Number(v);
    } else if (a.startsWith("-") && a !== "-") {
      io.err(`base64: unrecognized option '${a}'\n`);
      return Promise.resolve(1);
    } else files.push(a);
  }
  const { data, status } = readInputs(files.slice(0, 1), io, env, "base64");
  if (status) return Promise.resolve(status);
  if (decode) {
    const text = data.toString("latin1").replace(/\s+/g, "");
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text)) {
      io.out(Buffer.from(text.replace(/[^A-Za-z0-9+/=].*$/s, ""), "base64"));
      io.err("base64: invalid input\n");
      return Promise.resolve(1);
    }
    io.out(Buffer.from(text, "base64"));
    return ok;
  }
  const enc = data.toString("base64");
  if (wrap === 0) io.out(enc + (enc ? "\n" : ""));
  else {
    const lines: string[] = [];
    for (let i = 0; i < enc.length; i += wrap) lines.push(enc.slice(i, i + wrap));
    io.out(lines.map((l) => l + "\n").join(""));
  }
  return ok;
}

/** Writes seq's numbers a chunk at a time, with an event-loop turn between chunks (at most 100,001 numbers). */
async function seqLines(
  first: number,
  step: number,
  last: number,
  io: CmdIO,
  env: ShellEnv,
): Promise<number> {
  let chunk = "";
  let n = 0;
  for (let x = first; step > 0 ? x <= last : x >= last; x += step) {
    chunk += `${x}\n`;
    if (++n > 100_000) break;
    if (n % (LIMITS.itemsPerTurn / 16) === 0) {
      io.out(chunk);
      chunk = "";
      await spend(1 / 16, env.signal);
    }
  }
  io.out(chunk);
  return 0;
}

/** The options `set -o`/`+o` knows (only `errexit` changes anything here). */
const SET_OPTIONS: Record<string, string> = {
  errexit: "e",
  nounset: "u",
  xtrace: "x",
  noglob: "f",
  verbose: "v",
  noclobber: "C",
  noexec: "n",
  allexport: "a",
  pipefail: "",
};

/** `set [-+euxfvCna] [-o OPTION]`: `-e` makes the shell exit on a failed command; the others are accepted. */
function set(args: string[], io: CmdIO, env: ShellEnv): Promise<number> {
  if (args.length === 0) {
    io.out([...env.vars].map(([k, v]) => `${k}='${v.replace(/'/g, `'"'"'`)}'\n`).join(""));
    return ok;
  }
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === "--" || a === "-") {
      if (i + 1 < args.length) {
        io.err("sh: set: positional parameters are not supported in a simulated pod\n");
        return Promise.resolve(2);
      }
      break;
    }
    const on = a.startsWith("-");
    if (!on && !a.startsWith("+")) {
      io.err("sh: set: positional parameters are not supported in a simulated pod\n");
      return Promise.resolve(2);
    }
    for (const ch of a.slice(1)) {
      if (ch === "o") {
        const name = args[++i];
        if (name === undefined || !Object.hasOwn(SET_OPTIONS, name)) {
          io.err(`sh: set: illegal option -o ${name ?? ""}\n`);
          return Promise.resolve(2);
        }
        if (name === "errexit") env.errexit = on;
      } else if ("euxfvCna".includes(ch)) {
        if (ch === "e") env.errexit = on;
      } else {
        io.err(`sh: set: illegal option ${on ? "-" : "+"}${ch}\n`);
        return Promise.resolve(2);
      }
    }
  }
  return ok;
}

export async function shTool(args: string[], io: CmdIO, env: ShellEnv): Promise<number> {
  // A new shell: its own options.
  const sub = { ...subshellEnv(env), errexit: false, inCondition: 0 };
  if (args[0] === "-c") {
    if (args[1] === undefined) {
      io.err("sh: -c requires an argument\n");
      return 2;
    }
    return runText(args[1], sub, io);
  }
  if (args[0] !== undefined && !args[0].startsWith("-")) {
    const script = env.files.read(pathIn(env, args[0]));
    if (script === undefined) {
      io.err(`sh: can't open '${args[0]}': No such file or directory\n`);
      return 2;
    }
    return runText(script.toString("utf8"), sub, io);
  }
  return runText(io.stdin.toString("utf8"), sub, io);
}
