/**
 * `tar` as busybox's (and so as `kubectl cp` drives it: `tar cf - PATH` to copy out, `tar -xmf - -C DIR` to copy in):
 * ustar archives of the pod's files on stdin/stdout or in a file, `c`/`x`/`t`, `v`, `-C DIR`; ownership and mode
 * options are accepted and have nothing to change. Extraction reads pax (`x`) and GNU long-name (`L`) headers for
 * names and skips other entry types. Contents are bytes, copied unchanged both ways. The messages are busybox tar's
 * in busybox and Alpine images, GNU tar's in the others (Debian, RHEL). An archive is worked through an entry at a
 * time, with event-loop turns between entries.
 */
import { Pacer } from "../budget.ts";
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

/** What each tar says (busybox's or GNU's). */
interface Words {
  missing(given: string): string;
  leadingSlash: string;
  /** A file it could not create (`why`: the system's error). */
  cantOpen(name: string, why: string): string;
  /** A file it could not write all of; busybox stops there, GNU goes on. */
  cantWrite(name: string, why: string): string;
  stopsOnWriteError: boolean;
  notAnArchive: string;
  shortRead: string;
  /** Printed at the end when something failed (GNU), with the exit status. */
  failed: { text: string; status: number };
}

const BUSYBOX: Words = {
  missing: (g) => `tar: ${g}: No such file or directory\n`,
  leadingSlash: "tar: removing leading '/' from member names\n",
  cantOpen: (n, why) => `tar: can't open '${n}': ${why}\n`,
  cantWrite: (_n, why) => `tar: write error: ${why}\n`,
  stopsOnWriteError: true,
  notAnArchive: "tar: invalid tar magic\n",
  shortRead: "tar: short read\n",
  failed: { text: "", status: 1 },
};

const GNU: Words = {
  missing: (g) => `tar: ${g}: Cannot stat: No such file or directory\n`,
  leadingSlash: "tar: Removing leading `/' from member names\n",
  cantOpen: (n, why) => `tar: ${n}: Cannot open: ${why}\n`,
  cantWrite: (n, why) => `tar: ${n}: Cannot write: ${why}\n`,
  stopsOnWriteError: false,
  notAnArchive: "tar: This does not look like a tar archive\n",
  shortRead: "tar: Unexpected EOF in archive\ntar: Error is not recoverable: exiting now\n",
  failed: { text: "tar: Exiting with failure status due to previous errors\n", status: 2 },
};

const wordsFor = (env: ShellEnv): Words => (env.image.userland === "gnu" ? GNU : BUSYBOX);

async function create(
  o: Options,
  io: CmdIO,
  env: ShellEnv,
  w: Words,
): Promise<{ data: Buffer; status: number }> {
  const parts: Buffer[] = [];
  let status = 0;
  let warned = false;
  const pace = new Pacer(env.signal);
  const mtime = Math.floor(env.clock.now() / 1000);
  const cwd = env.vars.get("PWD") ?? "/";
  const add = async (path: string, name: string, given: string, depth: number): Promise<void> => {
    await pace.tick();
    const children = env.files.list(path);
    if (children) {
      const h = header(name.replace(/\/*$/, "/"), 0, "5", mtime);
      if (h) parts.push(h);
      if (depth < 32)
        for (const c of children)
          await add(
            `${path.replace(/\/+$/, "")}/${c}`,
            `${name.replace(/\/+$/, "")}/${c}`,
            `${given.replace(/\/+$/, "")}/${c}`,
            depth + 1,
          );
      return;
    }
    const body = env.files.read(path);
    if (body === undefined) {
      io.err(w.missing(given));
      status = 1;
      return;
    }
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
    io.err(w === GNU ? "tar: Cowardly refusing to create an empty archive\n" : "tar: empty archive\n");
    return { data: Buffer.alloc(0), status: w === GNU ? 2 : 1 };
  }
  for (const p of o.paths) {
    const path = join(o.dir ? join(cwd, o.dir) : cwd, p);
    let name = p;
    if (name.startsWith("/")) {
      if (!warned) io.err(w.leadingSlash);
      warned = true;
      name = name.replace(/^\/+/, "");
    }
    await add(path, name || ".", p, 0);
  }
  parts.push(Buffer.alloc(2 * BLOCK));
  if (status && w.failed.text) {
    io.err(w.failed.text);
    status = w.failed.status;
  }
  return { data: Buffer.concat(parts), status };
}

/** Reads a NUL-terminated field. */
const field = (b: Buffer, start: number, len: number): string => {
  const end = b.indexOf(0, start);
  return b.toString("utf8", start, end >= start && end < start + len ? end : start + len);
};

/** Whether a header block's checksum is right (the unsigned sum, or the signed one old tars wrote). */
function checksumOk(h: Buffer): boolean {
  const want = parseInt(field(h, 148, 8).trim(), 8);
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const b = i >= 148 && i < 156 ? 32 : h[i]!;
    unsigned += b;
    signed += b > 127 ? b - 256 : b;
  }
  return want === unsigned || want === signed;
}

async function extract(o: Options, data: Buffer, io: CmdIO, env: ShellEnv, w: Words): Promise<number> {
  const cwd = env.vars.get("PWD") ?? "/";
  const dir = o.dir ? join(cwd, o.dir) : cwd;
  const pace = new Pacer(env.signal);
  let off = 0;
  let longName: string | undefined;
  let status = 0;
  const fail = (): number => {
    if (w.failed.text) io.err(w.failed.text);
    return w.failed.status;
  };
  while (off + BLOCK <= data.length) {
    await pace.tick();
    const h = data.subarray(off, off + BLOCK);
    if (h.every((b) => b === 0)) break;
    // busybox checks the magic, then the checksum; GNU tar says the same of both.
    const ustar = field(h, 257, 6).startsWith("ustar");
    if (!checksumOk(h) || (w === BUSYBOX && !ustar)) {
      io.err(w === BUSYBOX && ustar ? "tar: invalid tar header checksum\n" : w.notAnArchive);
      return fail();
    }
    const size = parseInt(field(h, 124, 12).trim() || "0", 8);
    if (!Number.isFinite(size) || size < 0 || off + BLOCK + Math.ceil(size / BLOCK) * BLOCK > data.length) {
      io.err(w.shortRead);
      return w === GNU ? 2 : 1;
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
    const path = join(dir, name);
    // Created empty first, as open(2) would, then written: a full filesystem fails the write, not the open.
    const opened = env.files.write(path, "");
    if (opened && opened !== "No space left on device") {
      io.err(w.cantOpen(name, opened));
      status = 1;
      continue;
    }
    const wrote = opened ?? env.files.write(path, body);
    if (wrote) {
      io.err(w.cantWrite(name, wrote));
      if (w.stopsOnWriteError) return 1;
      status = 1;
    }
  }
  return status ? fail() : 0;
}

export async function tar(args: string[], io: CmdIO, env: ShellEnv): Promise<number> {
  const o = parseArgs(args);
  const w = wordsFor(env);
  if (typeof o === "string" || !o.mode) {
    if (w === GNU) {
      io.err(
        `tar: ${typeof o === "string" ? o : "You must specify one of the '-Acdtrux', '--delete' or '--test-label' options"}\n` +
          "Try 'tar --help' or 'tar --usage' for more information.\n",
      );
      return 2;
    }
    io.err(`tar: ${typeof o === "string" ? o : "need to specify one of -c, -x or -t"}\n`);
    return 1;
  }
  const toStdio = o.archive === undefined || o.archive === "-";
  const archivePath = join(env.vars.get("PWD") ?? "/", o.archive ?? "-");
  if (o.mode === "c") {
    const { data, status } = await create(o, io, env, w);
    if (toStdio) io.out(data);
    else {
      const failed = env.files.write(archivePath, data);
      if (failed) {
        io.err(w.cantOpen(o.archive!, failed));
        return w === GNU ? 2 : 1;
      }
    }
    return status;
  }
  const data = toStdio ? io.stdin : env.files.read(archivePath);
  if (data === undefined) {
    io.err(w.cantOpen(o.archive!, "No such file or directory"));
    return w === GNU ? 2 : 1;
  }
  return extract(o, data, io, env, w);
}
