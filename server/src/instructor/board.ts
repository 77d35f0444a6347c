/**
 * The board service: keeps the board's model up to date from the workshop's events and the sessions database, and
 * publishes what changed (per attendee, per cell) at most every `flushMs` after an event, and every `tickMs` for what
 * time alone changes (a cell becoming stuck). A page that connects gets the whole board once, then only diffs.
 */
import type { CheckOutcome } from "../realtime/protocol.ts";
import type { LabRunner } from "../sessions/lab-runner.ts";
import type { SessionStore } from "../sessions/store.ts";
import type { Workshop, WorkshopEvents } from "../sessions/workshop.ts";
import type { LabParams } from "../labs/api.ts";
import type { Logger } from "../shared/logger.ts";
import { noopLogger } from "../shared/logger.ts";
import { BoardModel, type StageTimes, type StuckRule } from "./model.ts";
import type { BoardDiff, BoardSnapshot, BoardStage } from "./wire.ts";

export interface BoardServiceOptions {
  workshop: Workshop;
  store: SessionStore;
  workshopId: string;
  rule?: StuckRule;
  now?: () => number;
  /** The attendee's last typing in the terminal, ms. */
  activity?: (attendeeId: string) => number | undefined;
  /** True when the attendee has a page open on another replica (the workshop knows only this one's pages). */
  onlineElsewhere?: (attendeeId: string) => boolean;
  /** How soon after an event its diff goes out (default 100 ms). */
  flushMs?: number;
  /** How often the board is re-evaluated for what time alone changes (default 5 s). */
  tickMs?: number;
  logger?: Logger;
}

/** The stages of a lab as the board titles them. */
export function boardStages(lab: LabRunner): BoardStage[] {
  return lab.stages(lab.params(0)).map((s) => ({ index: s.index, id: s.id, title: s.title }));
}

export class BoardService {
  readonly model: BoardModel;
  private readonly listeners = new Set<(d: BoardDiff) => void>();
  private readonly params = new Map<string, LabParams>();
  private readonly seeds = new Map<string, number>();
  private refreshTimer: NodeJS.Timeout | undefined;
  private flushTimer: NodeJS.Timeout | undefined;
  private readonly ticker: NodeJS.Timeout;
  private closed = false;
  /** The refresh running now; the next waits for it. */
  private refreshing: Promise<void> = Promise.resolve();
  /** Resolves once the board holds the database's attendees and check history. */
  readonly ready: Promise<void>;
  private readonly log: Logger;
  private readonly onBoard = (): void => this.scheduleRefresh();
  /** Checks that arrived while a resync read the history, folded again after it unless the history had them. */
  private duringResync: { learnerId: string; outcome: CheckOutcome }[] | undefined;
  /** Checks of attendees the board has not read from the database yet (they joined a moment ago). */
  private unknownChecks: { learnerId: string; outcome: CheckOutcome }[] = [];
  private readonly onCheck = (...[id, r]: WorkshopEvents["check"]): void => {
    this.duringResync?.push({ learnerId: id, outcome: r });
    if (!this.model.knows(id)) {
      if (this.unknownChecks.length < 10_000) this.unknownChecks.push({ learnerId: id, outcome: r });
      this.scheduleRefresh();
      return;
    }
    this.model.recordCheck(id, r);
    this.scheduleFlush();
  };

  constructor(private readonly opts: BoardServiceOptions) {
    this.log = opts.logger ?? noopLogger;
    const lab = opts.workshop.lab;
    const model = new BoardModel({
      lab: { id: lab.summary.id, title: lab.summary.title },
      stages: boardStages(lab),
      ...(opts.rule ? { rule: opts.rule } : {}),
      ...(opts.now ? { now: opts.now } : {}),
      ...(opts.activity ? { activity: opts.activity } : {}),
      mistakes: (id, stage) => {
        const p = this.paramsOf(id);
        return p ? (lab.mistakes?.(stage, p) ?? []) : [];
      },
    });
    this.model = model;
    this.ready = (async () => {
      const history = opts.store.checkHistory(opts.workshopId);
      await this.refresh();
      for (const c of await history) model.recordCheck(c.learnerId, c.result as CheckOutcome);
      model.snapshot();
    })();
    opts.workshop.on("board", this.onBoard);
    opts.workshop.on("progress", this.onBoard);
    opts.workshop.on("check", this.onCheck);
    this.ticker = setInterval(() => this.flush(), opts.tickMs ?? 5000);
    this.ticker.unref();
  }

  private paramsOf(id: string): LabParams | undefined {
    let p = this.params.get(id);
    const seed = this.seeds.get(id);
    if (!p && seed !== undefined) {
      p = this.opts.workshop.lab.params(seed);
      this.params.set(id, p);
    }
    return p;
  }

  /** Reads names, stages, online state and stage times again from the workshop and the database. */
  private refresh(): Promise<void> {
    const next = this.refreshing.then(() => this.readDatabase());
    this.refreshing = next.catch(() => undefined);
    return next;
  }

  private async readDatabase(): Promise<void> {
    const { store, workshop, workshopId } = this.opts;
    const [learners, board, stageTimes] = await Promise.all([
      store.learners(workshopId),
      workshop.board(),
      store.stageTimesAll(workshopId),
    ]);
    if (this.closed) return;
    const rows = new Map(board.map((r) => [r.learnerId, r]));
    for (const l of learners) this.seeds.set(l.id, l.seed);
    this.model.setAttendees(
      learners.map((l) => {
        const r = rows.get(l.id);
        return {
          id: l.id,
          name: l.name,
          currentStage: l.currentStage,
          joinedAt: Date.parse(l.createdAt),
          online: (r?.online ?? false) || (this.opts.onlineElsewhere?.(l.id) ?? false),
          ...(r?.problem ? { problem: r.problem } : {}),
        };
      }),
    );
    const times = new Map<string, StageTimes[]>();
    for (const t of stageTimes) {
      let list = times.get(t.learnerId);
      if (!list) times.set(t.learnerId, (list = []));
      list[t.stageIndex] = {
        startedAt: Date.parse(t.startedAt),
        ...(t.passedAt ? { passedAt: Date.parse(t.passedAt) } : {}),
      };
    }
    for (const l of learners) this.model.setStageTimes(l.id, times.get(l.id) ?? []);
    if (this.unknownChecks.length) {
      const waiting = this.unknownChecks;
      this.unknownChecks = [];
      for (const c of waiting)
        if (this.model.knows(c.learnerId)) this.model.recordCheck(c.learnerId, c.outcome);
    }
  }

  /** Something of the board changed on another replica: read it again from the database (soon, once for many). */
  changed(): void {
    this.scheduleRefresh();
  }

  /** An attendee checked a stage on another replica. */
  remoteCheck(learnerId: string, outcome: CheckOutcome): void {
    this.onCheck(learnerId, outcome);
  }

  /**
   * Reads everything again from the database: attendees, stages and the whole check history, which replaces what
   * was folded from events (some may have been lost between replicas). Checks that arrive meanwhile are kept.
   */
  async resync(): Promise<void> {
    if (this.closed) return;
    const during: { learnerId: string; outcome: CheckOutcome }[] = [];
    this.duringResync = during;
    try {
      const history = this.opts.store.checkHistory(this.opts.workshopId);
      await this.refresh();
      const checks = await history;
      if (this.closed) return;
      const seen = new Set<string>();
      this.model.clearChecks();
      for (const c of checks) {
        const o = c.result as CheckOutcome;
        seen.add(`${c.learnerId}/${o.stageIndex}/${o.at}`);
        this.model.recordCheck(c.learnerId, o);
      }
      for (const c of during)
        if (!seen.has(`${c.learnerId}/${c.outcome.stageIndex}/${c.outcome.at}`))
          this.model.recordCheck(c.learnerId, c.outcome);
    } finally {
      if (this.duringResync === during) this.duringResync = undefined;
    }
    this.flush();
  }

  private scheduleRefresh(): void {
    if (this.closed) return;
    this.refreshTimer ??= setTimeout(() => {
      this.refreshTimer = undefined;
      this.refresh().then(
        () => this.flush(),
        (err: unknown) =>
          this.log.warn("could not read the board from the database", {
            error: err instanceof Error ? err.message : String(err),
          }),
      );
    }, this.opts.flushMs ?? 100);
  }

  private scheduleFlush(): void {
    if (this.closed) return;
    this.flushTimer ??= setTimeout(() => {
      this.flushTimer = undefined;
      this.flush();
    }, this.opts.flushMs ?? 100);
  }

  /** Publishes what changed since the last diff, if anything. */
  flush(): void {
    if (this.closed || !this.listeners.size) return;
    const d = this.model.diff();
    if (d) for (const l of this.listeners) l(d);
  }

  /**
   * Brings the board up to date with everything that happened so far: a refresh still waiting for its timer runs now,
   * and one running is waited for. A page that subscribes after this gets a snapshot with every attendee who joined.
   */
  async settle(): Promise<void> {
    if (this.refreshTimer) {
      clearTimeout(this.refreshTimer);
      this.refreshTimer = undefined;
      await this.refresh().catch((err: unknown) =>
        this.log.warn("could not read the board from the database", {
          error: err instanceof Error ? err.message : String(err),
        }),
      );
    }
    await this.refreshing;
  }

  /**
   * Subscribes a page: pending changes go out to the others first, so the snapshot this returns and the diffs
   * `listener` gets from now on add up to the board.
   */
  subscribe(listener: (d: BoardDiff) => void): { snapshot: BoardSnapshot; leave: () => void } {
    this.flush();
    const snapshot = this.model.snapshot();
    this.listeners.add(listener);
    return { snapshot, leave: () => void this.listeners.delete(listener) };
  }

  /** The board now, without changing what pages were sent. */
  rows(): BoardSnapshot["attendees"] {
    return this.model.rows();
  }

  /** The activity of an attendee (a page action the board should count). */
  touch(attendeeId: string): void {
    this.model.touch(attendeeId);
  }

  close(): void {
    this.closed = true;
    clearInterval(this.ticker);
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.opts.workshop.off("board", this.onBoard);
    this.opts.workshop.off("progress", this.onBoard);
    this.opts.workshop.off("check", this.onCheck);
    this.listeners.clear();
  }
}
