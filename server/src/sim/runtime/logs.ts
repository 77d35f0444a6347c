/**
 * Containers' logs as the kubelet keeps them: one log per container and attempt (the kubelet's
 * `/var/log/pods/<ns>_<pod>_<uid>/<container>/<restartCount>.log`), of which the current attempt's and the last
 * terminated one's are kept — the kubelet's garbage collector keeps one dead container per container
 * (`MaxPerPodContainer` 1), which is what `kubectl logs --previous` reads. Which attempt a request reads is the
 * kubelet's decision from the pod's status (`log-request.ts`); this store only keeps the lines.
 *
 * Bounded: each attempt keeps its newest lines up to `MAX_ATTEMPT_BYTES` (64 KiB), dropping the oldest first. The
 * kubelet rotates a container's log at `containerLogMaxSize` (10Mi) and `kubectl logs` then shows the newest file
 * only; a smaller cap keeps hundreds of clusters' logs, and their saved state, small.
 */
import type { LogOptions } from "../types.ts";

export const MAX_ATTEMPT_BYTES = 64 * 1024;

interface Line {
  t: number;
  text: string;
  /** Part of a longer line: no newline follows it (containerd's partial record). */
  partial?: boolean;
}

interface Follower {
  write(line: Line): void;
  end?: () => void;
}

interface Attempt {
  n: number;
  lines: Line[];
  bytes: number;
  followers: Set<Follower>;
}

/** One container's kept attempts, oldest first: at most the previous and the current. */
type ContainerLog = Attempt[];

/** A pod's logs as saved with the dataplane's state. */
export interface SavedPodLog {
  namespace: string;
  pod: string;
  /** Each line as `[t, text]`, or `[t, text, 1]` for a part of a longer line. */
  containers: {
    name: string;
    attempts: { n: number; lines: ([t: number, text: string] | [t: number, text: string, partial: 1])[] }[];
  }[];
}

export interface ContainerLogsOptions {
  /** The container a write without one goes to (the pod's first), undefined when the pod is gone. */
  defaultContainer(namespace: string, pod: string): string | undefined;
  /** Called when an attempt begins or ends, so the owner can save the logs. */
  onChange?: () => void;
  /** Logs to start from (`snapshot()` of an earlier run). */
  restore?: readonly SavedPodLog[];
}

const lineBytes = (l: Line): number => Buffer.byteLength(l.text) + (l.partial ? 0 : 1);

/** The longest line kept whole: longer ones are split into parts, as containerd's `max_container_log_line_size`. */
export const MAX_LINE_BYTES = 16 * 1024;

/**
 * Splits a process's output into log lines for `emit`: at newlines, and into parts of at most `MAX_LINE_BYTES`
 * (`partial`: the line goes on). `flush` passes on what is left without a newline as a whole line, as containerd
 * writes the rest of a stream that ends.
 */
export function lineSplitter(emit: (text: string, partial: boolean) => void): {
  write(d: string | Uint8Array): void;
  flush(): void;
} {
  const decoder = new TextDecoder();
  let rest = "";
  const long = (line: string): string => {
    let l = line;
    while (Buffer.byteLength(l) > MAX_LINE_BYTES) {
      const head = limit(l, MAX_LINE_BYTES);
      emit(head, true);
      l = l.slice(head.length);
    }
    return l;
  };
  return {
    write(d) {
      const lines = (rest + (typeof d === "string" ? d : decoder.decode(d, { stream: true }))).split("\n");
      rest = long(lines.pop() ?? "");
      for (const l of lines) emit(long(l), false);
    },
    flush() {
      const last = long(rest + decoder.decode());
      if (last) emit(last, false);
      rest = "";
    },
  };
}

/** Every container's log of one cluster. */
export class ContainerLogs {
  private readonly pods = new Map<string, Map<string, ContainerLog>>();

  constructor(private readonly o: ContainerLogsOptions) {
    for (const p of o.restore ?? [])
      for (const c of p.containers)
        for (const a of c.attempts) {
          // Saved oldest first; an attempt out of order is not kept.
          const attempt = this.attempt(p.namespace, p.pod, c.name, a.n, true);
          if (!attempt) continue;
          for (const [t, text, partial] of a.lines)
            append(attempt, partial ? { t, text, partial: true } : { t, text });
        }
  }

  private containerLog(ns: string, pod: string, container: string): ContainerLog {
    const k = `${ns}/${pod}`;
    let p = this.pods.get(k);
    if (!p) this.pods.set(k, (p = new Map()));
    let c = p.get(container);
    if (!c) p.set(container, (c = []));
    return c;
  }

  /**
   * Attempt `n` of the container; with `create`, begun when it is newer than the latest (attempts older than the one
   * before it are dropped, their followers ended). Undefined when it is not kept.
   */
  private attempt(
    ns: string,
    pod: string,
    container: string,
    n: number,
    create: boolean,
  ): Attempt | undefined {
    const found = this.pods
      .get(`${ns}/${pod}`)
      ?.get(container)
      ?.find((a) => a.n === n);
    if (found || !create) return found;
    const log = this.containerLog(ns, pod, container);
    const latest = log.at(-1);
    if (latest && latest.n > n) return undefined;
    const a: Attempt = { n, lines: [], bytes: 0, followers: new Set() };
    for (const old of log) if (old.n < n - 1) endFollowers(old);
    log.splice(0, log.length, ...log.filter((x) => x.n === n - 1), a);
    return a;
  }

  /** The newest attempt of the container that has a log, or undefined. */
  latest(ns: string, pod: string, container: string): number | undefined {
    return this.pods.get(`${ns}/${pod}`)?.get(container)?.at(-1)?.n;
  }

  /**
   * Attempt `n` of the container starts: it becomes the current one and the one before it the previous; older ones
   * go. With `fresh`, whatever attempt `n` had logged is dropped (its process starts again from the beginning).
   */
  begin(ns: string, pod: string, container: string, n: number, opts: { fresh?: boolean } = {}): void {
    const before = this.latest(ns, pod, container);
    const a = this.attempt(ns, pod, container, n, true);
    if (a && opts.fresh) {
      a.lines = [];
      a.bytes = 0;
    }
    if (before !== n) this.o.onChange?.();
  }

  /** Attempt `n` of the container has ended: whoever follows it is told so. */
  end(ns: string, pod: string, container: string, n: number): void {
    const a = this.attempt(ns, pod, container, n, false);
    if (a) endFollowers(a);
    this.o.onChange?.();
  }

  /**
   * Appends a line (without its newline) to the container's current attempt; without a container, to the pod's
   * default one. A write for a pod that is gone is dropped.
   */
  write(ns: string, pod: string, t: number, text: string, container?: string, partial = false): void {
    const name = container ?? this.o.defaultContainer(ns, pod);
    if (name === undefined) return;
    const n = this.latest(ns, pod, name) ?? 0;
    const a = this.attempt(ns, pod, name, n, true)!;
    const line: Line = partial ? { t, text, partial } : { t, text };
    append(a, line);
    for (const f of a.followers) f.write(line);
  }

  /** Attempt `n`'s log with `kubectl logs` options applied ("" when it is not kept). */
  read(ns: string, pod: string, container: string, n: number, opts: LogOptions, now: number): string {
    const a = this.attempt(ns, pod, container, n, false);
    if (!a) return "";
    // As the kubelet reads a log file: the last `tailLines` lines, of those the ones since `since`, then the byte limit.
    let lines = a.lines;
    if (opts.tailLines !== undefined) lines = opts.tailLines <= 0 ? [] : lines.slice(-opts.tailLines);
    const since = sinceMs(opts, now);
    if (since !== undefined) lines = lines.filter((l) => l.t >= since);
    return limit(
      lines.map((l, i) => format(l, opts.timestamps && !lines[i - 1]?.partial)).join(""),
      opts.limitBytes,
    );
  }

  /**
   * Follows attempt `n`: `cb` with each new line (formatted per `opts`; at most `opts.limitBytes` in all) until the
   * returned function is called; `onEnd` once when the attempt ends, is dropped or the byte limit is reached.
   */
  follow(
    ns: string,
    pod: string,
    container: string,
    n: number,
    opts: LogOptions,
    cb: (chunk: string) => void,
    onEnd?: () => void,
  ): () => void {
    const a = this.attempt(ns, pod, container, n, true);
    if (!a) {
      onEnd?.();
      return () => {};
    }
    let left = opts.limitBytes;
    let afterPartial = a.lines.at(-1)?.partial === true;
    const f: Follower = {
      write: (line) => {
        let chunk = format(line, opts.timestamps && !afterPartial);
        afterPartial = line.partial === true;
        if (left !== undefined) {
          chunk = limit(chunk, left);
          left -= Buffer.byteLength(chunk);
        }
        if (chunk) cb(chunk);
        if (left !== undefined && left <= 0) endOne(a, f);
      },
      ...(onEnd ? { end: onEnd } : {}),
    };
    a.followers.add(f);
    return () => {
      a.followers.delete(f);
    };
  }

  /** Drops a deleted pod's logs and ends their followers. */
  forget(ns: string, pod: string): void {
    const p = this.pods.get(`${ns}/${pod}`);
    this.pods.delete(`${ns}/${pod}`);
    for (const log of p?.values() ?? []) for (const a of log) endFollowers(a);
  }

  /** Every kept log, for the dataplane's saved state (JSON). */
  snapshot(): SavedPodLog[] {
    const out: SavedPodLog[] = [];
    for (const [k, containers] of this.pods) {
      const slash = k.indexOf("/");
      out.push({
        namespace: k.slice(0, slash),
        pod: k.slice(slash + 1),
        containers: [...containers].map(([name, log]) => ({
          name,
          attempts: log.map((a) => ({
            n: a.n,
            lines: a.lines.map((l): [number, string] | [number, string, 1] =>
              l.partial ? [l.t, l.text, 1] : [l.t, l.text],
            ),
          })),
        })),
      });
    }
    return out;
  }
}

function append(a: Attempt, line: Line): void {
  a.lines.push(line);
  a.bytes += lineBytes(line);
  let drop = 0;
  while (a.bytes > MAX_ATTEMPT_BYTES && drop < a.lines.length) a.bytes -= lineBytes(a.lines[drop++]!);
  if (drop) a.lines.splice(0, drop);
}

function endOne(a: Attempt, f: Follower): void {
  if (!a.followers.delete(f)) return;
  f.end?.();
}

function endFollowers(a: Attempt): void {
  for (const f of [...a.followers]) endOne(a, f);
}

function sinceMs(opts: LogOptions, now: number): number | undefined {
  if (opts.sinceTime !== undefined) return opts.sinceTime;
  if (opts.sinceSeconds !== undefined) return now - opts.sinceSeconds * 1000;
  return undefined;
}

/** The first `max` bytes of `s`, cut at a character boundary. */
function limit(s: string, max: number | undefined): string {
  if (max === undefined) return s;
  const b = Buffer.from(s);
  if (b.length <= max) return s;
  let end = Math.max(0, max);
  while (end > 0 && (b[end]! & 0xc0) === 0x80) end--;
  return b.subarray(0, end).toString();
}

/**
 * A line as `kubectl logs` prints it; with timestamps (not before the rest of a split line), the kubelet's RFC 3339
 * with nanoseconds, always 9 digits.
 */
function format(l: Line, timestamps?: boolean): string {
  return (
    (timestamps ? `${new Date(l.t).toISOString().slice(0, -1)}000000Z ` : "") +
    l.text +
    (l.partial ? "" : "\n")
  );
}

/** Saved logs read tolerantly: malformed entries are skipped and counted. */
export function parseSavedLogs(raw: unknown): { logs: SavedPodLog[]; bad: number } {
  const logs: SavedPodLog[] = [];
  let bad = 0;
  for (const p of Array.isArray(raw) ? raw : []) {
    const ok =
      p &&
      typeof p === "object" &&
      typeof (p as SavedPodLog).namespace === "string" &&
      typeof (p as SavedPodLog).pod === "string" &&
      Array.isArray((p as SavedPodLog).containers) &&
      (p as SavedPodLog).containers.every(
        (c) =>
          c &&
          typeof c.name === "string" &&
          Array.isArray(c.attempts) &&
          c.attempts.every(
            (a) =>
              a &&
              Number.isSafeInteger(a.n) &&
              a.n >= 0 &&
              Array.isArray(a.lines) &&
              a.lines.every(
                (l) =>
                  Array.isArray(l) &&
                  (l.length === 2 || (l.length === 3 && l[2] === 1)) &&
                  Number.isFinite(l[0]) &&
                  typeof l[1] === "string",
              ),
          ),
      );
    if (ok) logs.push(p as SavedPodLog);
    else bad++;
  }
  return { logs, bad };
}
