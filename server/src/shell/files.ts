/** A pod's files: the ones the kubelet and the image provide (read from the cluster), plus what commands write. */
import type { PodFiles } from "./types.ts";

const MAX_BYTES = 1 << 20;

/** A writable overlay over fixed system files; bounded in total size. */
export class PodFileSystem implements PodFiles {
  private readonly written = new Map<string, string>();
  private bytes = 0;

  constructor(private readonly system: () => Record<string, string>) {}

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

  read(path: string): string | undefined {
    const p = this.norm(path);
    return this.written.get(p) ?? this.system()[p];
  }

  write(path: string, data: string, append = false): boolean {
    const p = this.norm(path);
    if (p.startsWith("/proc") || p.startsWith("/sys") || this.list(p)) return false;
    const prev = this.written.get(p) ?? (append ? (this.system()[p] ?? "") : "");
    const next = append ? prev + data : data;
    const delta = next.length - (this.written.get(p)?.length ?? 0);
    if (this.bytes + delta > MAX_BYTES) return false;
    this.bytes += delta;
    this.written.set(p, next);
    return true;
  }

  list(path: string): string[] | undefined {
    const p = this.norm(path);
    const prefix = p === "/" ? "/" : p + "/";
    const names = new Set<string>();
    const all = [
      ...Object.keys(this.system()),
      ...this.written.keys(),
      "/tmp/.keep",
      "/root/.keep",
      "/bin/sh",
      "/usr/bin/env",
      "/var/log/.keep",
      "/home/.keep",
    ];
    for (const f of all) if (f.startsWith(prefix)) names.add(f.slice(prefix.length).split("/")[0]!);
    if (names.size === 0) return undefined;
    names.delete(".keep");
    return [...names].sort();
  }
}
