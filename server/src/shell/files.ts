/**
 * A pod's files: the ones the kubelet and the image provide (read from the cluster), plus what commands write. Files
 * are bytes, as in a container: text is written as UTF-8 and comes back byte for byte, and so does anything else (a
 * gzip, an image, random bytes). Space is bounded per file, per pod and across a cluster's pods (its `Disk`), and a
 * write past a bound fails as a full filesystem does: `No space left on device`.
 */
import type { FileError, PathError, PodFiles } from "./types.ts";

/** The space of one cluster's pod filesystems (like a node's disk, shared by its containers' writable layers). */
export interface Disk {
  /** Bytes the pods' written files hold now. */
  used: number;
  /** Bytes they may hold in all. */
  readonly capacity: number;
}

export const FILE_LIMITS = {
  /** One file. */
  fileBytes: 4 * 1024 * 1024,
  /** The files one pod writes. */
  podBytes: 8 * 1024 * 1024,
  /** The files all of one cluster's pods write. */
  clusterBytes: 16 * 1024 * 1024,
  /** Files and directories one pod writes (its inodes: past them a write fails as a full disk does). */
  podEntries: 10_000,
  /** The space a made directory takes (one block). */
  dirBytes: 4096,
} as const;

/** `path` as the shell means it: relative to the working directory (`$PWD`) unless absolute. */
export function pathIn(env: { vars: ReadonlyMap<string, string> }, path: string): string {
  if (path.startsWith("/") || path === "") return path;
  return `${(env.vars.get("PWD") ?? "/").replace(/\/+$/, "")}/${path}`;
}

/** A new disk for one cluster's pods. */
export function newDisk(capacity: number = FILE_LIMITS.clusterBytes): Disk {
  return { used: 0, capacity };
}

/** A written file: a buffer that grows by doubling as it is appended to, and how much of it is the file. */
interface Entry {
  buf: Buffer;
  size: number;
  /** The file's bytes in base64 while they are unchanged (for saving), dropped by every write to it. */
  base64?: string;
}

/** Directories every image has (beside those of the system files and what is written). */
const DIRS = ["/tmp", "/root", "/bin", "/usr/bin", "/var/log", "/home", "/etc"];

const toBytes = (data: string | Uint8Array): Buffer =>
  typeof data === "string" ? Buffer.from(data, "utf8") : Buffer.isBuffer(data) ? data : Buffer.from(data);

/** A writable overlay over fixed system files; bounded in size (per file, per pod and on the cluster's disk). */
export class PodFileSystem implements PodFiles {
  private readonly written = new Map<string, Entry>();
  /** Directories commands made (`mkdir`). */
  private readonly made = new Set<string>();
  /**
   * The names in each directory that written files and made directories give it, with how many of those each name
   * stands for: a listing reads its own directory's entry, not every file of the pod.
   */
  private readonly children = new Map<string, Map<string, number>>();
  private bytes = 0;
  private changes = 0;

  /**
   * @param system the files the kubelet and the image provide (text), read when asked for
   * @param disk the cluster's disk this pod's writes count against
   * @param dirs more directories the image has (its WORKDIR)
   */
  constructor(
    private readonly system: () => Record<string, string>,
    private readonly disk: Disk = newDisk(),
    private readonly dirs: readonly string[] = [],
  ) {}

  private norm(path: string, cwd = "/"): string {
    const abs = path.startsWith("/") ? path : `${cwd.replace(/\/$/, "")}/${path}`;
    const out: string[] = [];
    for (const part of abs.split("/")) {
      if (part === "" || part === ".") continue;
      if (part === "..") out.pop();
      else out.push(part);
    }
    return "/" + out.join("/");
  }

  read(path: string): Buffer | undefined {
    const p = this.norm(path);
    const e = this.written.get(p);
    if (e) return e.buf.subarray(0, e.size);
    const text = this.system()[p];
    return text === undefined ? undefined : Buffer.from(text, "utf8");
  }

  write(path: string, data: string | Uint8Array, append = false): FileError | undefined {
    const p = this.norm(path);
    if (p.startsWith("/proc") || p.startsWith("/sys")) return "Read-only file system";
    if (this.list(p)) return "Is a directory";
    const bytes = toBytes(data);
    let old = this.written.get(p);
    if (append && !old) {
      const sys = this.system()[p];
      if (sys !== undefined) {
        const err = this.write(p, sys);
        if (err) return err;
        old = this.written.get(p);
      }
    }
    const size = (append && old ? old.size : 0) + bytes.length;
    const delta = size - (old?.size ?? 0);
    if (
      (!old && this.written.size + this.made.size >= FILE_LIMITS.podEntries) ||
      size > FILE_LIMITS.fileBytes ||
      this.bytes + delta > FILE_LIMITS.podBytes ||
      this.disk.used + delta > this.disk.capacity
    )
      return "No space left on device";
    this.bytes += delta;
    this.disk.used += delta;
    this.changes++;
    if (old) old.base64 = undefined;
    if (append && old) {
      if (size > old.buf.length) {
        // Doubling keeps a loop of small appends linear; a read's view of the old buffer stays as it was.
        const grown = Buffer.alloc(Math.min(Math.max(size, old.buf.length * 2, 256), FILE_LIMITS.fileBytes));
        old.buf.copy(grown, 0, 0, old.size);
        old.buf = grown;
      }
      bytes.copy(old.buf, old.size);
      old.size = size;
    } else {
      if (!old) this.index(p, 1);
      this.written.set(p, { buf: Buffer.from(bytes), size });
    }
    return undefined;
  }

  /** Counts `p` (a written file or made directory) in the listing of each directory above it, or stops counting it. */
  private index(p: string, by: 1 | -1): void {
    let dir = p;
    while (dir !== "/") {
      const cut = dir.lastIndexOf("/");
      const name = dir.slice(cut + 1);
      dir = dir.slice(0, cut) || "/";
      let names = this.children.get(dir);
      if (!names) this.children.set(dir, (names = new Map()));
      const n = (names.get(name) ?? 0) + by;
      if (n > 0) names.set(name, n);
      else names.delete(name);
      if (names.size === 0) this.children.delete(dir);
    }
  }

  isDir(path: string): boolean {
    const p = this.norm(path);
    if (p === "/" || this.made.has(p) || this.children.has(p)) return true;
    const prefix = p + "/";
    return (
      Object.keys(this.system()).some((f) => f.startsWith(prefix)) ||
      [...DIRS, ...this.dirs, "/bin", "/usr/bin"].some((d) => d === p || d.startsWith(prefix))
    );
  }

  list(path: string): string[] | undefined {
    const p = this.norm(path);
    const prefix = p === "/" ? "/" : p + "/";
    const names = new Set<string>(this.children.get(p)?.keys());
    if (this.made.has(p)) names.add(".keep");
    // The image's and the kubelet's files and directories: a few dozen.
    const fixed = [
      ...Object.keys(this.system()),
      ...[...DIRS, ...this.dirs].map((d) => `${d}/.keep`),
      "/bin/sh",
      "/usr/bin/env",
    ];
    for (const f of fixed) if (f.startsWith(prefix)) names.add(f.slice(prefix.length).split("/")[0]!);
    if (names.size === 0) return undefined;
    names.delete(".keep");
    return [...names].sort();
  }

  private readOnly(p: string): boolean {
    return p === "/proc" || p === "/sys" || p.startsWith("/proc/") || p.startsWith("/sys/");
  }

  mkdir(path: string): PathError | undefined {
    const p = this.norm(path);
    if (this.read(p) !== undefined || this.list(p)) return "File exists";
    if (this.readOnly(p)) return "Read-only file system";
    const parent = p.slice(0, p.lastIndexOf("/")) || "/";
    if (!this.list(parent))
      return this.read(parent) !== undefined ? "Not a directory" : "No such file or directory";
    if (
      this.written.size + this.made.size >= FILE_LIMITS.podEntries ||
      this.bytes + FILE_LIMITS.dirBytes > FILE_LIMITS.podBytes ||
      this.disk.used + FILE_LIMITS.dirBytes > this.disk.capacity
    )
      return "No space left on device";
    this.made.add(p);
    this.index(p, 1);
    this.bytes += FILE_LIMITS.dirBytes;
    this.disk.used += FILE_LIMITS.dirBytes;
    this.changes++;
    return undefined;
  }

  remove(path: string): PathError | undefined {
    const p = this.norm(path);
    const e = this.written.get(p);
    if (e) {
      this.written.delete(p);
      this.index(p, -1);
      this.bytes -= e.size;
      this.disk.used -= e.size;
      this.changes++;
      return undefined;
    }
    const names = this.list(p);
    if (names === undefined) {
      if (this.read(p) === undefined) return "No such file or directory";
      // What the kubelet mounts and the image's own files stay.
      return this.readOnly(p) ? "Read-only file system" : "Device or resource busy";
    }
    if (names.length > 0) return "Directory not empty";
    if (!this.made.has(p)) return this.readOnly(p) ? "Read-only file system" : "Device or resource busy";
    this.made.delete(p);
    this.index(p, -1);
    this.bytes -= FILE_LIMITS.dirBytes;
    this.disk.used -= FILE_LIMITS.dirBytes;
    this.changes++;
    return undefined;
  }

  rename(from: string, to: string): PathError | undefined {
    const f = this.norm(from);
    const t = this.norm(to);
    const e = this.written.get(f);
    if (!e) return this.read(f) === undefined ? "No such file or directory" : "Device or resource busy";
    if (f === t) return undefined;
    if (this.readOnly(t)) return "Read-only file system";
    if (this.list(t)) return "Is a directory";
    const old = this.written.get(t);
    if (old) {
      this.bytes -= old.size;
      this.disk.used -= old.size;
    }
    this.written.delete(f);
    this.index(f, -1);
    if (!old) this.index(t, 1);
    this.written.set(t, e);
    this.changes++;
    return undefined;
  }

  /** Counts the writes: it changes whenever a file does. */
  get version(): number {
    return this.changes;
  }

  /** The files commands wrote, with their bytes (for saving the pod's state). */
  files(): [string, Buffer][] {
    return [...this.written.keys()].map((p) => [p, this.read(p)!]);
  }

  /**
   * The files commands wrote, path → bytes in base64 (for saving the pod's state). Each file is encoded once per
   * change: a file no write touched since the last call is not encoded again.
   */
  encodedFiles(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [p, e] of this.written) out[p] = e.base64 ??= e.buf.toString("base64", 0, e.size);
    return out;
  }

  /** Puts back files saved with `files()` (counted against the limits; those past them are not restored). */
  restore(files: Iterable<[string, Buffer]>): void {
    for (const [p, data] of files) this.write(p, data);
  }

  /** Gives this pod's space back to the cluster's disk (the pod is gone). */
  release(): void {
    this.disk.used -= this.bytes;
    this.bytes = 0;
    this.written.clear();
    this.made.clear();
    this.children.clear();
  }
}
