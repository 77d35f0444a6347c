/**
 * The instructor's console: one attendee opened (their checks, flows, policies and changes), the actions taken from
 * the seat (reset the stage, jump to a stage, send a message) and for the room (broadcast a message, pause everyone
 * to look at the screen). Every action is validated, recorded in the audit log with its outcome, then told to the
 * pages concerned. Callers have already authorised the instructor; attendees are looked up in this workshop only.
 */
import { NotFoundError, ValidationError } from "../shared/errors.ts";
import type { Logger } from "../shared/logger.ts";
import { noopLogger } from "../shared/logger.ts";
import type { ClusterClient } from "../grading/cluster.ts";
import type { CheckOutcome } from "../realtime/protocol.ts";
import type { Actor, Learner, SessionStore } from "../sessions/store.ts";
import type { Workshop } from "../sessions/workshop.ts";
import type { BoardService } from "./board.ts";
import { clusterDetail, type AttendeeDetail } from "./seat.ts";
import type { BoardAttendee, BoardStage, RoomMessage, RoomPause } from "./wire.ts";

/** How the console reaches the attendees' pages. */
export interface RoomNotifier {
  /** Shows `m` on one attendee's page, or (`learnerId` undefined) on everyone's. */
  message(learnerId: string | undefined, m: RoomMessage): void;
  /** Shows or hides the pause overlay on every page. */
  pause(p: RoomPause): void;
}

export interface ConsoleOptions {
  workshop: Workshop;
  store: SessionStore;
  board: BoardService;
  /** A client for an attendee's cluster (grading's, over the connection's kubeconfig). */
  client: (kubeconfig: string) => ClusterClient;
  notify: RoomNotifier;
  now?: () => Date;
  logger?: Logger;
}

const MAX_MESSAGE = 500;

/** A message's text: 1 to 500 characters, no control characters but new lines. */
export function messageText(v: unknown): string {
  const text = typeof v === "string" ? v.trim() : "";
  if (!text) throw new ValidationError([{ where: "text", message: "write the message" }]);
  if (text.length > MAX_MESSAGE)
    throw new ValidationError([
      { where: "text", message: `a message has at most ${MAX_MESSAGE} characters` },
    ]);
  if (/[\p{Cc}]/u.test(text.replace(/\n/g, "")))
    throw new ValidationError([{ where: "text", message: "a message cannot hold control characters" }]);
  return text;
}

export class InstructorConsole {
  private pauseState: RoomPause | undefined;
  private readonly now: () => Date;
  private readonly log: Logger;

  constructor(private readonly opts: ConsoleOptions) {
    this.now = opts.now ?? (() => new Date());
    this.log = opts.logger ?? noopLogger;
  }

  /** The pause overlay, while it is on (told to pages that connect). */
  get paused(): RoomPause | undefined {
    return this.pauseState;
  }

  /** The pause overlay as another replica's instructor set it (its pages were told through the adapter). */
  pausedElsewhere(p: RoomPause): void {
    this.pauseState = p.paused ? p : undefined;
  }

  /** Reads the pause overlay again from the audit log: the last pause or resume that succeeded. */
  async reloadPause(): Promise<void> {
    for (const a of await this.opts.store.actions(this.opts.workshop.id)) {
      if (a.action !== "room.pause" && a.action !== "room.resume") continue;
      const d = (a.detail ?? {}) as { ok?: unknown; text?: unknown };
      if (d.ok !== true) continue;
      this.pauseState =
        a.action === "room.pause"
          ? { paused: true, ...(typeof d.text === "string" ? { text: d.text } : {}), at: a.at }
          : undefined;
      return;
    }
    this.pauseState = undefined;
  }

  /** The attendee `id` of this workshop, or a 404 (an id of another workshop is unknown here). */
  async learner(id: unknown): Promise<Learner> {
    const l = typeof id === "string" ? await this.opts.workshop.learnerForId(id) : undefined;
    if (!l || l.workshopId !== this.opts.workshop.id)
      throw new NotFoundError("there is no such attendee here");
    return l;
  }

  private row(id: string): BoardAttendee | undefined {
    return this.opts.board.rows().find((r) => r.id === id);
  }

  /** What the seat view shows of an attendee. */
  async detail(
    id: unknown,
  ): Promise<AttendeeDetail & { attendee: BoardAttendee | undefined; stages: BoardStage[] }> {
    const l = await this.learner(id);
    const attendee = this.row(l.id);
    const checks: AttendeeDetail["checks"] = [];
    for (const s of this.opts.board.model.stages) {
      const last = (await this.opts.store.checks(l.id, s.index, 1))[0];
      if (last) checks.push({ stage: s.index, outcome: last.result as CheckOutcome });
    }
    const started = attendee?.cells[l.currentStage]?.startedAt;
    let cluster: Omit<AttendeeDetail, "checks">;
    try {
      const conn = await this.opts.workshop.connection(l);
      cluster = await clusterDetail(
        this.opts.client(conn.kubeconfig),
        started ? Date.parse(started) : undefined,
      );
    } catch (err) {
      const error = `the attendee's cluster cannot be reached: ${err instanceof Error ? err.message : String(err)}`;
      cluster = {
        flows: { denied: [], error },
        policies: { items: [], error },
        changes: { items: [], error },
      };
    }
    return { attendee, stages: this.opts.board.model.stages, checks, ...cluster };
  }

  /** Runs `fn` and records it (and how it ended) in the audit log. */
  private async act<T>(
    actor: Actor,
    action: string,
    learnerId: string | undefined,
    detail: Record<string, unknown>,
    fn: () => Promise<T> | T,
  ): Promise<T> {
    const record = (outcome: Record<string, unknown>): Promise<void> =>
      this.opts.store.recordAction({
        workshopId: this.opts.workshop.id,
        actor,
        action,
        ...(learnerId ? { target: learnerId } : {}),
        detail: { ...detail, ...outcome },
      });
    try {
      const r = await fn();
      await record({ ok: true });
      this.log.info("instructor action", { actor, action, learner: learnerId, ...detail });
      return r;
    } catch (err) {
      await record({ ok: false, error: err instanceof Error ? err.message : String(err) }).catch(
        () => undefined,
      );
      throw err;
    }
  }

  private stage(v: unknown): number {
    const n = typeof v === "string" && /^\d+$/.test(v) ? Number(v) : v;
    const count = this.opts.board.model.stages.length;
    if (typeof n !== "number" || !Number.isInteger(n) || n < 0 || n >= count)
      throw new ValidationError([{ where: "stage", message: `a stage is 0 to ${count - 1}` }]);
    return n;
  }

  /** Resets the attendee's stage (cleanup, setup again; its pass is forgotten). */
  async reset(actor: Actor, id: unknown, stage: unknown): Promise<unknown> {
    const l = await this.learner(id);
    const s = this.stage(stage);
    return this.act(actor, "attendee.reset-stage", l.id, { stage: s }, async () => {
      await this.opts.workshop.reset(l, s);
      this.opts.notify.message(l.id, {
        text: `The instructor reset stage ${s} for you: its setup is fresh.`,
        at: this.now().toISOString(),
        broadcast: false,
      });
      return { stage: s };
    });
  }

  /** Moves the attendee to a stage, earlier stages set up with the lab's solutions. */
  async jump(actor: Actor, id: unknown, stage: unknown): Promise<unknown> {
    const l = await this.learner(id);
    const s = this.stage(stage);
    return this.act(actor, "attendee.jump-to-stage", l.id, { stage: s, from: l.currentStage }, async () => {
      await this.opts.workshop.jumpTo(l, s);
      this.opts.notify.message(l.id, {
        text: `The instructor moved you to stage ${s}; the stages before it are set up with their solutions.`,
        at: this.now().toISOString(),
        broadcast: false,
      });
      return { stage: s };
    });
  }

  /** Shows a message on one attendee's page. */
  async message(actor: Actor, id: unknown, text: unknown): Promise<RoomMessage> {
    const l = await this.learner(id);
    const t = messageText(text);
    return this.act(actor, "attendee.message", l.id, { text: t }, () => {
      const m: RoomMessage = { text: t, at: this.now().toISOString(), broadcast: false };
      this.opts.notify.message(l.id, m);
      return m;
    });
  }

  /** Shows a message on every attendee's page. */
  broadcast(actor: Actor, text: unknown): Promise<RoomMessage> {
    const t = messageText(text);
    return this.act(actor, "room.broadcast", undefined, { text: t }, () => {
      const m: RoomMessage = { text: t, at: this.now().toISOString(), broadcast: true };
      this.opts.notify.message(undefined, m);
      return m;
    });
  }

  /** Puts up (or takes down) the "look at the screen" overlay on every page. */
  pause(actor: Actor, paused: unknown, text?: unknown): Promise<RoomPause> {
    if (typeof paused !== "boolean")
      throw new ValidationError([{ where: "paused", message: "paused is true or false" }]);
    const t = text === undefined || text === "" ? undefined : messageText(text);
    return this.act(actor, paused ? "room.pause" : "room.resume", undefined, t ? { text: t } : {}, () => {
      const p: RoomPause = { paused, ...(t ? { text: t } : {}), at: this.now().toISOString() };
      this.pauseState = paused ? p : undefined;
      this.opts.notify.pause(p);
      return p;
    });
  }
}
