/**
 * One learner's shell: a pty that outlives dropped connections. Output is recorded in a bounded scrollback with
 * character offsets; at most one page is attached at a time (a newer tab takes over and the older one is told); the
 * attached page acknowledges output, and the pty is paused while too much is unacknowledged, so a flood of output
 * cannot grow memory.
 */
import * as pty from "node-pty";
import { Scrollback } from "./scrollback.ts";
import { readScrollback, ScrollbackLog, type SavedScrollback } from "./scrollback-log.ts";
import {
  defaultScrollbackChars,
  type RestoredScrollback,
  type ScrollbackWriter,
} from "./scrollback-store.ts";
import type { Logger } from "../shared/logger.ts";
import type { ShellLaunch } from "./sandbox.ts";
import type { TermOutput } from "../realtime/protocol.ts";

/** The attached page, as the terminal sees it. */
export interface TerminalClient {
  /** Sends output (or, with `replay`, what the page missed). */
  output(out: TermOutput & { replay?: boolean }): void;
  /** Tells the page to clear its screen: what follows is the whole scrollback. */
  reset(): void;
  /** Tells the page another tab took over. */
  replaced(): void;
  /** Tells the page the shell ended with `code`. */
  exited(code: number): void;
}

/** A read-only viewer (the instructor's): gets the output as it comes and never pauses the shell. */
export interface TerminalWatcher {
  /** Output; `replay` with the whole scrollback: the viewer clears its screen first. */
  output(data: string, end: number, replay?: boolean): void;
  /** The shell ended with `code`. */
  exited(code: number): void;
}

export interface TerminalOptions {
  launch: ShellLaunch;
  cols: number;
  rows: number;
  /** Characters of output kept for replay. */
  scrollbackChars?: number;
  /** Unacknowledged characters at which the pty is paused. */
  highWater?: number;
  /** Unacknowledged characters below which a paused pty resumes. */
  lowWater?: number;
  now?: () => number;
  /** Keeps the scrollback in this file across restarts (and shells): restored at start, appended in batches. */
  scrollbackFile?: string;
  /**
   * Keeps the scrollback elsewhere (see `ScrollbackStore`): what was saved, continued by this shell, and the writer of
   * this shell's output. Takes the place of `scrollbackFile`.
   */
  persist?: {
    saved: RestoredScrollback | undefined;
    open(tail: () => SavedScrollback, notice: (text: string) => void): ScrollbackWriter;
  };
  logger?: Logger;
}

/** Written between the output of an earlier shell (restored from disk) and this one's. */
export const NEW_SHELL_MARK = "\r\n\x1b[2m[a new shell]\x1b[0m\r\n";

/** A line from the server, as the terminal shows it. */
const noticeText = (text: string): string => `\r\n\x1b[1;33megresslab: ${text}\x1b[0m\r\n`;

export class TerminalSession {
  private readonly proc: pty.IPty;
  private readonly scrollback: Scrollback;
  private readonly log: ScrollbackWriter | undefined;
  private client: TerminalClient | undefined;
  private pending = "";
  private flushScheduled = false;
  private sentEnd = 0;
  private ackedEnd = 0;
  private paused = false;
  private exitCode: number | undefined;
  private readonly exitListeners: ((code: number) => void)[] = [];
  private readonly watchers = new Set<TerminalWatcher>();
  private readonly high: number;
  private readonly low: number;
  private readonly now: () => number;
  /** Time of the last input or attach, for the idle timeout. */
  lastActivity: number;

  constructor(opts: TerminalOptions) {
    const max = opts.scrollbackChars ?? defaultScrollbackChars;
    const file = opts.scrollbackFile;
    const persist: TerminalOptions["persist"] =
      opts.persist ??
      (file
        ? {
            saved: readScrollback(file, max, opts.logger),
            open: (tail: () => SavedScrollback) => new ScrollbackLog(file, max, tail, opts.logger),
          }
        : undefined);
    const saved = persist?.saved;
    this.scrollback = new Scrollback(max, saved);
    if (persist) {
      const sb = this.scrollback;
      this.log = persist.open(
        () => {
          const all = sb.since(undefined);
          return { start: all.end - all.data.length, data: all.data };
        },
        (text) => this.notice(text),
      );
      if (saved?.data) this.record(NEW_SHELL_MARK);
      if (saved?.problem) this.record(noticeText(saved.problem));
    }
    // Offsets between the end of what was saved and this shell's first output were only ever sent by an earlier
    // server (output it could not save before it stopped): a page at one of them gets the whole screen again.
    this.scrollback.unknownBefore(this.scrollback.end);
    this.high = opts.highWater ?? 128 * 1024;
    this.low = opts.lowWater ?? 16 * 1024;
    this.now = opts.now ?? Date.now;
    this.lastActivity = this.now();
    this.proc = pty.spawn(opts.launch.file, opts.launch.args, {
      name: "xterm-256color",
      cols: opts.cols,
      rows: opts.rows,
      cwd: opts.launch.cwd,
      env: opts.launch.env,
    });
    this.proc.onData((data) => this.onData(data));
    this.proc.onExit(({ exitCode }) => {
      this.flush();
      this.log?.close();
      this.exitCode = exitCode;
      this.client?.exited(exitCode);
      for (const w of this.watchers) w.exited(exitCode);
      for (const l of this.exitListeners) l(exitCode);
    });
  }

  get pid(): number {
    return this.proc.pid;
  }

  get exited(): boolean {
    return this.exitCode !== undefined;
  }

  get attached(): boolean {
    return this.client !== undefined;
  }

  /** True while the pty is paused waiting for the page to catch up. */
  get isPaused(): boolean {
    return this.paused;
  }

  /** Characters sent to the attached page and not yet acknowledged. */
  get unacknowledged(): number {
    return this.sentEnd - this.ackedEnd;
  }

  onExit(cb: (code: number) => void): void {
    this.exitListeners.push(cb);
  }

  /** Attaches a page, detaching (and telling) any other; replays what the page missed since `since`. */
  attach(client: TerminalClient, since: number | undefined, size: { cols: number; rows: number }): void {
    this.flush();
    if (this.client && this.client !== client) this.client.replaced();
    this.client = client;
    this.lastActivity = this.now();
    const replay = this.scrollback.since(since);
    if (replay.reset) client.reset();
    this.ackedEnd = replay.reset || since === undefined ? replay.end - replay.data.length : since;
    this.sentEnd = replay.end;
    client.output({ data: replay.data, end: replay.end, replay: true });
    this.resize(size.cols, size.rows);
    this.applyFlowControl();
    if (this.exitCode !== undefined) client.exited(this.exitCode);
  }

  /** Adds a read-only viewer and replays the scrollback to it; it never pauses the shell. */
  watch(w: TerminalWatcher): void {
    this.flush();
    this.watchers.add(w);
    const all = this.scrollback.since(undefined);
    w.output(all.data, all.end, true);
    if (this.exitCode !== undefined) w.exited(this.exitCode);
  }

  unwatch(w: TerminalWatcher): void {
    this.watchers.delete(w);
  }

  /** Detaches `client` if it is the one attached; the shell keeps running. */
  detach(client: TerminalClient): void {
    if (this.client !== client) return;
    this.client = undefined;
    this.ackedEnd = this.sentEnd;
    this.applyFlowControl();
  }

  /** True when `client` is the page currently attached. */
  isAttached(client: TerminalClient): boolean {
    return this.client === client;
  }

  input(data: string): void {
    if (this.exitCode !== undefined) return;
    this.lastActivity = this.now();
    this.proc.write(data);
  }

  resize(cols: number, rows: number): void {
    if (this.exitCode !== undefined) return;
    if (this.proc.cols === cols && this.proc.rows === rows) return;
    this.proc.resize(cols, rows);
  }

  /** The attached page has written everything up to `end`. */
  ack(client: TerminalClient, end: number): void {
    if (this.client !== client) return;
    if (end > this.ackedEnd && end <= this.sentEnd) this.ackedEnd = end;
    this.applyFlowControl();
  }

  /** Shows a message from the server in the terminal (and its scrollback), e.g. that HOME is over its size. */
  notice(text: string): void {
    if (this.exitCode !== undefined) return;
    this.onData(noticeText(text));
  }

  kill(): void {
    this.log?.flush();
    if (this.exitCode !== undefined) return;
    try {
      this.proc.kill("SIGHUP");
    } catch {
      /* already gone */
    }
  }

  private record(data: string): void {
    this.scrollback.push(data);
    this.log?.append(data);
  }

  private onData(data: string): void {
    this.record(data);
    if (!this.client && !this.watchers.size) return;
    this.pending += data;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  private flush(): void {
    this.flushScheduled = false;
    if (!this.pending) return;
    const data = this.pending;
    this.pending = "";
    for (const w of this.watchers) w.output(data, this.scrollback.end);
    if (!this.client) return;
    this.sentEnd = this.scrollback.end;
    this.client.output({ data, end: this.sentEnd });
    this.applyFlowControl();
  }

  private applyFlowControl(): void {
    if (this.exitCode !== undefined) return;
    const unacked = this.client ? this.sentEnd - this.ackedEnd : 0;
    if (!this.paused && unacked > this.high) {
      this.paused = true;
      this.proc.pause();
    } else if (this.paused && unacked < this.low) {
      this.paused = false;
      this.proc.resume();
    }
  }
}
