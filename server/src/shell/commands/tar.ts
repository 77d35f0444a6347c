/**
 * `tar` as busybox's (and so as `kubectl cp` drives it: `tar cf - PATH` to copy out, `tar -xmf - -C DIR` to copy in):
 * ustar archives of the pod's files on stdin/stdout or in a file, `c`/`x`/`t`, `v`, `-C DIR`; ownership and mode
 * options are accepted and have nothing to change. Extraction reads pax (`x`) and GNU long-name (`L`) headers for
 * names and skips other entry types. Files are text in the pod, so contents are UTF-8.
 */
import type { CmdIO, ShellEnv } from "../types.ts";

const BLOCK = 512;
const IGNORED = new Set([
  "--no-same-permissions",
  "--no-same-owner",
  "--same-owner",
  "--numeric-owner",
  "-o",
  "-p",
  "-m",
]);

interface Options {
  mode?: "c" | "x" | "t";
  archive?: string;
  dir: string;
  verbose: boolean;
  paths: string[];
}

function parseArgs(args: string[]): Options | string {
  const o: Options = { dir: "", verbose: false, paths: [] };
  const letters = (s: string, i: number): string | undefined => {
    for (const ch of s) {
      if (ch === "c" || ch === "x" || ch === "t") o.mode = ch;
      else if (ch === "v") o.verbose = true;
      else if (ch === "f") {
        const v = args[i + 1];
        if (v === undefined) return "option requires an argument -- 'f'";
        o.archive = v;
        args.splice(i + 1, 1);
      } else if (ch === "m" || ch === "o" || ch === "p") continue;
      else return `invalid option -- '${ch}'`;
    }
    return undefined;
  };
  args = [...args];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (IGNORED.has(a)) continue;
    if (a === "-C") {
      const v = args[++i];
      if (v === undefined) return "option requires an argument -- 'C'";
      o.dir = v;
    } else if (a.startsWith("--")) return `unrecognized option '${a}'`;
    else if (a.startsWith("-") && a.length > 1) {
      const err = letters(a.slice(1), i);
      if (err) return err;
    } else if (i === 0 && !o.mode) {
      const err = letters(a, i);
      if (err) return err;
    } else o.paths.push(a);
  }
  return o;
}

const join = (dir: string, name: string): string =>
  name.startsWith("/") ? name : `${dir.replace(/\/+$/, "")}/${name}`.replace(/^\/\//, "/");

function header(name: string, size: number, type: "0" | "5", mtime: number): Buffer | undefined {
  const h = Buffer.alloc(BLOCK);
  let prefix = "";
  let base = name;
  if (Buffer.byteLength(name) > 100) {
    const cut = name.lastIndexOf("/", name.length - 1);
    prefix = name.slice(0, cut);
    base = name.slice(cut + 1);
    if (cut < 0 || Buffer.byteLength(base) > 100 || Buffer.byteLength(prefix) > 155) return undefined;
  }
  const octal = (v: number, width: number): string => v.toString(8).padStart(width - 1, "0") + "\0";
  h.write(base, 0, "utf8");
  h.write(octal(type === "5" ? 0o755 : 0o644, 8), 100, "ascii");
  h.write(octal(0, 8), 108, "ascii");
  h.write(octal(0, 8), 116, "ascii");
  h.write(octal(size, 12), 124, "ascii");
  h.write(octal(mtime, 12), 136, "ascii");
  h.write("        ", 148, "ascii");
  h.write(type, 156, "ascii");
  h.write("ustar\0", 257, "ascii");
  h.write("00", 263, "ascii");
  h.write("root", 265, "ascii");
  h.write("root", 297, "ascii");
  h.write(prefix, 345, "utf8");
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, "0") + "\0 ", 148, "ascii");
  return h;
}

function create(o: Options, io: CmdIO, env: ShellEnv): { data: Buffer; status: number } {
  const parts: Buffer[] = [];
  let status = 0;
  let warned = false;
  const mtime = Math.floor(env.clock.now() / 1000);
  const cwd = env.vars.get("PWD") ?? "/";
  const add = (path: string, name: string, given: string, depth: number): void => {
    const children = env.files.list(path);
    if (children) {
      const h = header(name.replace(/\/*$/, "/"), 0, "5", mtime);
      if (h) parts.push(h);
      if (depth < 32)
        for (const c of children)
          add(
            `${path.replace(/\/+$/, "")}/${c}`,
            `${name.replace(/\/+$/, "")}/${c}`,
            `${given.replace(/\/+$/, "")}/${c}`,
            depth + 1,
          );
      return;
    }
    const text = env.files.read(path);
    if (text === undefined) {
      io.err(`tar: ${given}: No such file or directory\n`);
      status = 1;
      return;
    }
    const body = Buffer.from(text, "utf8");
    const h = header(name, body.length, "0", mtime);
    if (!h) {
      io.err(`tar: ${name}: name too long\n`);
      status = 1;
      return;
    }
    if (o.verbose) io.err(`${name}\n`);
    parts.push(h, body, Buffer.alloc((BLOCK - (body.length % BLOCK)) % BLOCK));
  };
  if (!o.paths.length) {
    io.err("tar: empty archive\n");
    return { data: Buffer.alloc(0), status: 1 };
  }
  for (const p of o.paths) {
    const path = join(o.dir ? join(cwd, o.dir) : cwd, p);
    let name = p;
    if (name.startsWith("/")) {
      if (!warned) io.err("tar: removing leading '/' from member names\n");
      warned = true;
      name = name.replace(/^\/+/, "");
    }
    add(path, name || ".", p, 0);
  }
  parts.push(Buffer.alloc(2 * BLOCK));
  return { data: Buffer.concat(parts), status };
}

/** Reads a NUL-terminated field. */
const field = (b: Buffer, start: number, len: number): string => {
  const end = b.indexOf(0, start);
  return b.toString("utf8", start, end >= start && end < start + len ? end : start + len);
};

function extract(o: Options, data: Buffer, io: CmdIO, env: ShellEnv): number {
  const cwd = env.vars.get("PWD") ?? "/";
  const dir = o.dir ? join(cwd, o.dir) : cwd;
  let off = 0;
  let longName: string | undefined;
  let status = 0;
  while (off + BLOCK <= data.length) {
    const h = data.subarray(off, off + BLOCK);
    if (h.every((b) => b === 0)) break;
    const size = parseInt(field(h, 124, 12).trim() || "0", 8);
    if (!Number.isFinite(size) || size < 0 || off + BLOCK + Math.ceil(size / BLOCK) * BLOCK > data.length) {
      io.err("tar: short read\n");
      return 1;
    }
    const type = String.fromCharCode(h[156] ?? 0);
    const body = data.subarray(off + BLOCK, off + BLOCK + size);
    off += BLOCK + Math.ceil(size / BLOCK) * BLOCK;
    if (type === "x") {
      const m = /(?:^|\n)\d+ path=([^\n]*)\n/.exec(body.toString("utf8"));
      if (m) longName = m[1];
      continue;
    }
    if (type === "L") {
      longName = body.toString("utf8").replace(/\0+$/, "");
      continue;
    }
    const prefix = field(h, 257, 6) === "ustar" ? field(h, 345, 155) : "";
    const name = (longName ?? (prefix ? `${prefix}/${field(h, 0, 100)}` : field(h, 0, 100))).replace(
      /^\/+/,
      "",
    );
    longName = undefined;
    if (o.mode === "t" || o.verbose) io.out(`${name}\n`);
    if (o.mode === "t" || (type !== "0" && type !== "\0")) continue;
    if (!env.files.write(join(dir, name), body.toString("utf8"))) {
      io.err(`tar: can't open '${name}': Read-only file system\n`);
      status = 1;
    }
  }
  return status;
}

export function tar(args: string[], io: CmdIO, env: ShellEnv): Promise<number> {
  const o = parseArgs(args);
  if (typeof o === "string" || !o.mode) {
    io.err(`tar: ${typeof o === "string" ? o : "need to specify one of -c, -x or -t"}\n`);
    return Promise.resolve(1);
  }
  const toStdio = o.archive === undefined || o.archive === "-";
  if (o.mode === "c") {
    const { data, status } = create(o, io, env);
    if (toStdio) io.out(data.toString("utf8"));
    else if (!env.files.write(join(env.vars.get("PWD") ?? "/", o.archive!), data.toString("utf8"))) {
      io.err(`tar: can't open '${o.archive!}': Read-only file system\n`);
      return Promise.resolve(1);
    }
    return Promise.resolve(status);
  }
  const text = toStdio ? io.stdin : env.files.read(join(env.vars.get("PWD") ?? "/", o.archive!));
  if (text === undefined) {
    io.err(`tar: can't open '${o.archive!}': No such file or directory\n`);
    return Promise.resolve(1);
  }
  return Promise.resolve(extract(o, Buffer.from(text, "utf8"), io, env));
}
