/**
 * The seat's live terminal: an attendee's terminal, read-only, on the instructor's page, wherever the attendee's shell
 * runs. The replica holding the shell watches it and sends its output to the instructor's page; when that is another
 * replica, through the adapter, to a room only the instructor's socket is in (`seat:<watch id>`).
 *
 * The instructor's replica asks every other replica (`seat:watch`, acknowledged) and renews the ask every
 * `renewMs`: a replica watches while asked, and stops `expireMs` after the last ask (the instructor's replica died)
 * or when told (`seat:unwatch`). When no replica holds a running shell, the instructor's replica shows what was
 * saved of the last one, as with one process. A renewal also finds a shell that moved to another replica.
 */
import { randomBytes } from "node:crypto";
import { z } from "zod";
import type { TerminalManager } from "../terminal/manager.ts";
import type { TerminalWatcher } from "../terminal/session.ts";
import type { SeatOutput } from "../instructor/wire.ts";
import type { Logger } from "../shared/logger.ts";
import { noopLogger } from "../shared/logger.ts";

/** What the instructor's page gets. */
export interface SeatSink {
  output(out: SeatOutput): void;
  exited(code: number): void;
}

const watchIdPattern = /^[a-f0-9]{24}$/;
const seatRequestSchema = z.object({
  watchId: z.string().regex(watchIdPattern),
  attendeeId: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/),
});
export type SeatRequest = z.infer<typeof seatRequestSchema>;

/** The room of one instructor's watch of one attendee. */
export const seatRoom = (watchId: string): string => `seat:${watchId}`;

/** The part of the socket.io server the seat uses across replicas. */
export interface SeatTransport {
  /** Asks every other replica; `done` gets the answers that came within `timeoutMs`. */
  ask(req: SeatRequest, timeoutMs: number, done: (answers: unknown[]) => void): void;
  /** Tells every other replica to stop a watch. */
  stop(watchId: string): void;
  /** Calls `fn` for every ask and stop from another replica. */
  serve(
    onAsk: (req: unknown, answer: (held: boolean) => void) => void,
    onStop: (watchId: unknown) => void,
  ): void;
  /** Sends to every instructor socket in `room`, on any replica. */
  toRoom(room: string, out: { output: SeatOutput } | { exit: { attendeeId: string; code: number } }): void;
}

export interface SeatOptions {
  terminals: TerminalManager;
  /** Without it, one process: the seat watches this replica's terminals only. */
  transport?: SeatTransport;
  renewMs?: number;
  expireMs?: number;
  logger?: Logger;
}

export class Seats {
  /** Watches this replica serves for instructors on other replicas. */
  private readonly served = new Map<string, { stop: () => void; until: number }>();
  private sweep: NodeJS.Timeout | undefined;
  private readonly renewMs: number;
  private readonly expireMs: number;
  private readonly log: Logger;

  constructor(private readonly opts: SeatOptions) {
    this.renewMs = opts.renewMs ?? 10_000;
    this.expireMs = opts.expireMs ?? 3 * this.renewMs;
    this.log = opts.logger ?? noopLogger;
  }

  /** Serves other replicas' instructors (once the socket.io server exists). */
  start(): void {
    const t = this.opts.transport;
    if (!t || this.sweep) return;
    t.serve(
      (raw, answer) => answer(this.serveAsk(raw)),
      (raw) => {
        if (typeof raw !== "string") return;
        this.served.get(raw)?.stop();
        this.served.delete(raw);
      },
    );
    this.sweep = setInterval(
      () => {
        const now = Date.now();
        for (const [id, w] of this.served)
          if (w.until < now) {
            w.stop();
            this.served.delete(id);
          }
      },
      Math.min(this.renewMs, 5000),
    );
    this.sweep.unref();
  }

  /** Another replica's instructor asks for an attendee's terminal: watch it if its shell runs here. */
  private serveAsk(raw: unknown): boolean {
    const r = seatRequestSchema.safeParse(raw);
    if (!r.success) return false;
    const { watchId, attendeeId } = r.data;
    const cur = this.served.get(watchId);
    if (cur) {
      cur.until = Date.now() + this.expireMs;
      return true;
    }
    const t = this.opts.transport!;
    if (!this.opts.terminals.get(attendeeId)) return false;
    const room = seatRoom(watchId);
    const stop = this.opts.terminals.watch(
      attendeeId,
      seatWatcher(attendeeId, this.opts.terminals, {
        output: (output) => t.toRoom(room, { output }),
        exited: (code) => t.toRoom(room, { exit: { attendeeId, code } }),
      }),
    );
    this.served.set(watchId, { stop, until: Date.now() + this.expireMs });
    this.log.debug("watching a terminal for an instructor on another replica", { attendee: attendeeId });
    return true;
  }

  /**
   * Shows the attendee's terminal on one instructor's page: `join` puts the page's socket in a room (output from other
   * replicas arrives there), `sink` is the page. Returns the way out.
   */
  watch(
    attendeeId: string,
    sink: SeatSink,
    join: (room: string) => void,
    leave: (room: string) => void,
  ): () => void {
    const { terminals, transport } = this.opts;
    if (!transport) return terminals.watch(attendeeId, seatWatcher(attendeeId, terminals, sink));
    const watchId = randomBytes(12).toString("hex");
    const room = seatRoom(watchId);
    join(room);
    let stopLocal: (() => void) | undefined;
    let remote = false;
    let stopped = false;
    const local = (): void => {
      if (remote) transport.stop(watchId);
      remote = false;
      stopLocal ??= terminals.watch(attendeeId, seatWatcher(attendeeId, terminals, sink));
    };
    const ask = (): void => {
      if (stopped) return;
      if (terminals.get(attendeeId)) return local();
      transport.ask({ watchId, attendeeId }, Math.min(2000, this.renewMs), (answers) => {
        if (stopped) return;
        if (!answers.includes(true)) return local();
        if (stopLocal) {
          stopLocal();
          stopLocal = undefined;
        }
        remote = true;
      });
    };
    ask();
    const renew = setInterval(ask, this.renewMs);
    renew.unref();
    return () => {
      stopped = true;
      clearInterval(renew);
      stopLocal?.();
      if (remote) transport.stop(watchId);
      leave(room);
    };
  }

  close(): void {
    clearInterval(this.sweep);
    for (const w of this.served.values()) w.stop();
    this.served.clear();
  }
}

/** Most output a watcher holds for a slow instructor's page before it keeps only the newest part. */
const WATCH_BUFFER = 256 * 1024;

/**
 * A read-only viewer for the instructor's socket: output is gathered for 50 ms and sent as one event; when the page
 * falls behind by more than `WATCH_BUFFER` characters, only the newest half is kept and sent as a fresh screen, so
 * a flooding shell costs the server bounded memory and never waits for the instructor.
 */
export function seatWatcher(attendeeId: string, terminals: TerminalManager, sink: SeatSink): TerminalWatcher {
  let buf = "";
  let end = 0;
  let replay = false;
  let timer: NodeJS.Timeout | undefined;
  const flush = (): void => {
    timer = undefined;
    if (!buf && !replay) return;
    sink.output({
      attendeeId,
      data: buf,
      end,
      ...(replay ? { replay: true } : {}),
      live: terminals.get(attendeeId) !== undefined,
    });
    buf = "";
    replay = false;
  };
  return {
    output(data, at, isReplay) {
      if (isReplay) {
        buf = data;
        replay = true;
      } else buf += data;
      end = at;
      if (buf.length > WATCH_BUFFER) {
        buf = buf.slice(-WATCH_BUFFER / 2);
        replay = true;
      }
      if (isReplay) flush();
      else timer ??= setTimeout(flush, 50);
    },
    exited(code) {
      if (timer) clearTimeout(timer);
      flush();
      sink.exited(code);
    },
  };
}
