/**
 * What pods write to their logs: the start-up lines of their images, access logs for requests they served, and
 * whatever background traffic reports. Bounded per pod.
 */
import type { LogOptions } from "../sim/types.ts";

interface Line {
  t: number;
  text: string;
}

interface PodLog {
  lines: Line[];
  followers: Set<(chunk: string, line: Line) => void>;
  /** What each follower wants called when the log ends. */
  ends: Map<(chunk: string, line: Line) => void, () => void>;
}

const MAX_LINES = 1000;

export class PodLogs {
  private readonly logs = new Map<string, PodLog>();

  private log(ns: string, name: string): PodLog {
    const k = `${ns}/${name}`;
    let l = this.logs.get(k);
    if (!l) {
      l = { lines: [], followers: new Set(), ends: new Map() };
      this.logs.set(k, l);
    }
    return l;
  }

  /** Whether the pod has a log yet. */
  has(ns: string, name: string): boolean {
    return this.logs.has(`${ns}/${name}`);
  }

  /** Appends a line (without the trailing newline). */
  write(ns: string, name: string, t: number, text: string): void {
    const l = this.log(ns, name);
    const line = { t, text };
    l.lines.push(line);
    if (l.lines.length > MAX_LINES) l.lines.splice(0, l.lines.length - MAX_LINES);
    for (const f of l.followers) f(text + "\n", line);
  }

  /** The log text with `kubectl logs` options applied. */
  read(ns: string, name: string, opts: LogOptions, now: number): string {
    let lines = this.log(ns, name).lines;
    if (opts.sinceSeconds !== undefined) lines = lines.filter((l) => l.t >= now - opts.sinceSeconds! * 1000);
    if (opts.tailLines !== undefined) lines = opts.tailLines <= 0 ? [] : lines.slice(-opts.tailLines);
    return lines.map((l) => format(l, opts.timestamps)).join("");
  }

  /** Follows new lines (`onEnd` when the pod's log is dropped); returns the stop function. */
  follow(
    ns: string,
    name: string,
    opts: LogOptions,
    cb: (chunk: string) => void,
    onEnd?: () => void,
  ): () => void {
    const l = this.log(ns, name);
    const f = (_chunk: string, line: Line): void => cb(format(line, opts.timestamps));
    l.followers.add(f);
    if (onEnd) l.ends.set(f, onEnd);
    return () => {
      l.followers.delete(f);
      l.ends.delete(f);
    };
  }

  /** Drops a deleted pod's log and ends its followers. */
  forget(ns: string, name: string): void {
    const l = this.logs.get(`${ns}/${name}`);
    this.logs.delete(`${ns}/${name}`);
    if (!l) return;
    const ends = [...l.ends.values()];
    l.followers.clear();
    l.ends.clear();
    for (const end of ends) end();
  }
}

function format(l: Line, timestamps?: boolean): string {
  return (
    (timestamps ? new Date(l.t).toISOString().replace(/\.(\d{3})Z$/, ".$1000000Z") + " " : "") + l.text + "\n"
  );
}
