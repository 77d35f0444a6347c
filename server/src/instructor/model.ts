/**
 * The board's model: what is known of each attendee (stage times, check history folded as it arrives, activity), the
 * cells computed from it on an injected clock, and the diff against what the page was last sent. No I/O: the board
 * service (`board.ts`) feeds it from the workshop's events and the sessions database.
 *
 * A cell is stuck when the attendee is on that stage, has not passed it, and either has failed the same checks for
 * `failingMs` (counted from the first check that failed that way) or has done nothing for `idleMs`.
 */
import type { CheckOutcome } from "../realtime/protocol.ts";
import { matchMistake, type KnownMistake } from "./mistakes.ts";
import type { BoardAttendee, BoardCell, BoardDiff, BoardSnapshot, BoardStage, FailingCheck } from "./wire.ts";

export interface StuckRule {
  /** Failing the same checks this long makes a cell stuck. */
  failingMs: number;
  /** No activity this long on an unpassed current stage makes a cell stuck. */
  idleMs: number;
}

export const defaultStuckRule: StuckRule = { failingMs: 5 * 60_000, idleMs: 10 * 60_000 };

/** An attendee's header, as the sessions database has it. */
export interface ModelAttendee {
  id: string;
  name: string;
  currentStage: number;
  /** Join time, ms. */
  joinedAt: number;
  online: boolean;
  problem?: string;
}

/** When a stage started and was passed (ms), as the database records them. */
export interface StageTimes {
  startedAt?: number;
  passedAt?: number;
}

interface StageFacts {
  startedAt?: number;
  passedAt?: number;
  attempts: number;
  last?: { at: number; passed: boolean; failing: FailingCheck[] };
  /** Time of the first of the consecutive checks that failed with the same checks as the last one. */
  failingSince?: number;
}

interface Facts {
  header: ModelAttendee;
  stages: StageFacts[];
  /** Last activity seen by the model (checks, stage changes, explicit touches), ms. */
  active: number;
}

export interface BoardModelOptions {
  lab: { id: string; title: string };
  stages: BoardStage[];
  rule?: StuckRule;
  now?: () => number;
  /** The wrong solutions of a stage, for an attendee (their values may differ). */
  mistakes?: (attendeeId: string, stage: number) => readonly KnownMistake[];
  /** Activity the model does not see as events (typing in the terminal), ms. */
  activity?: (attendeeId: string) => number | undefined;
}

const iso = (ms: number | undefined): string | undefined =>
  ms === undefined || !Number.isFinite(ms) ? undefined : new Date(ms).toISOString();

const sameIds = (a: readonly FailingCheck[], b: readonly FailingCheck[]): boolean =>
  a.length === b.length && a.every((c, i) => c.id === b[i]!.id);

export class BoardModel {
  private readonly facts = new Map<string, Facts>();
  /** What the page was last sent: serialized headers and cells. */
  private readonly sentHeaders = new Map<string, string>();
  private readonly sentCells = new Map<string, string[]>();
  private readonly now: () => number;
  readonly rule: StuckRule;

  constructor(private readonly opts: BoardModelOptions) {
    this.now = opts.now ?? Date.now;
    this.rule = opts.rule ?? defaultStuckRule;
  }

  get stages(): BoardStage[] {
    return this.opts.stages;
  }

  private blank(): StageFacts[] {
    return this.opts.stages.map(() => ({ attempts: 0 }));
  }

  /** Replaces the attendee list (names, current stages, online); attendees not in it leave the board. */
  setAttendees(list: readonly ModelAttendee[]): void {
    const seen = new Set<string>();
    for (const a of list) {
      seen.add(a.id);
      const f = this.facts.get(a.id);
      if (f) {
        if (f.header.currentStage !== a.currentStage) f.active = Math.max(f.active, this.now());
        f.header = a;
      } else this.facts.set(a.id, { header: a, stages: this.blank(), active: a.joinedAt });
    }
    for (const id of [...this.facts.keys()]) if (!seen.has(id)) this.facts.delete(id);
  }

  /** Sets an attendee's stage start and pass times (a reset clears them, then starts the stage again). */
  setStageTimes(attendeeId: string, times: readonly (StageTimes | undefined)[]): void {
    const f = this.facts.get(attendeeId);
    if (!f) return;
    f.stages.forEach((s, i) => {
      const t = times[i];
      if (t?.startedAt !== undefined && t.startedAt !== s.startedAt)
        f.active = Math.max(f.active, Math.min(t.startedAt, this.now()));
      s.startedAt = t?.startedAt;
      s.passedAt = t?.passedAt;
    });
  }

  /** Folds one check of a stage in (from the history at start, then live, in order). */
  recordCheck(attendeeId: string, outcome: CheckOutcome): void {
    const f = this.facts.get(attendeeId);
    const s = f?.stages[outcome.stageIndex];
    if (!f || !s) return;
    const at = Date.parse(outcome.at);
    const failing: FailingCheck[] = outcome.checks
      .filter((c) => !c.passed)
      .map((c) => ({
        id: c.id,
        title: c.title,
        ...(c.hint && !c.blockedBy ? { hint: c.hint } : {}),
        ...(c.blockedBy ? { blockedBy: c.blockedBy } : {}),
      }));
    s.attempts++;
    if (outcome.passed) s.failingSince = undefined;
    else if (!s.last || s.last.passed || !sameIds(s.last.failing, failing) || s.failingSince === undefined)
      s.failingSince = at;
    s.last = { at, passed: outcome.passed, failing };
    if (Number.isFinite(at)) f.active = Math.max(f.active, at);
  }

  /** True when the attendee is on the board. */
  knows(attendeeId: string): boolean {
    return this.facts.has(attendeeId);
  }

  /** Forgets every check folded so far (before the whole history is folded again). */
  clearChecks(): void {
    for (const f of this.facts.values())
      for (const s of f.stages) {
        s.attempts = 0;
        s.last = undefined;
        s.failingSince = undefined;
      }
  }

  /** Records activity the model would not otherwise see (a page action), at the clock's now. */
  touch(attendeeId: string): void {
    const f = this.facts.get(attendeeId);
    if (f) f.active = Math.max(f.active, this.now());
  }

  /** The attendee's last activity, ms. */
  lastActive(attendeeId: string): number | undefined {
    const f = this.facts.get(attendeeId);
    if (!f) return undefined;
    const typed = this.opts.activity?.(attendeeId);
    return typed === undefined ? f.active : Math.max(f.active, typed);
  }

  private cell(f: Facts, i: number, now: number, lastActive: number): BoardCell {
    const s = f.stages[i]!;
    // A check from before the stage (re)started says nothing about it now.
    const last = s.last && s.startedAt !== undefined && s.last.at >= s.startedAt - 1000 ? s.last : undefined;
    const failing = last && !last.passed ? last.failing : [];
    const base: BoardCell = {
      stage: i,
      state: "not-started",
      attempts: s.attempts,
      failing,
      ...(iso(s.startedAt) ? { startedAt: iso(s.startedAt)! } : {}),
      ...(iso(s.passedAt) ? { passedAt: iso(s.passedAt)! } : {}),
      ...(last ? { lastCheckAt: iso(last.at)! } : {}),
    };
    if (failing.length) {
      const m = matchMistake(
        failing.map((c) => c.id),
        this.opts.mistakes?.(f.header.id, i) ?? [],
      );
      if (m) base.mistake = m;
    }
    if (s.passedAt !== undefined) return { ...base, state: "passed", failing: [] };
    if (s.startedAt === undefined) return base;
    if (i === f.header.currentStage) {
      if (failing.length && s.failingSince !== undefined && now - s.failingSince >= this.rule.failingMs)
        return { ...base, state: "stuck", stuck: { reason: "failing", since: iso(s.failingSince)! } };
      if (now - lastActive >= this.rule.idleMs)
        return { ...base, state: "stuck", stuck: { reason: "idle", since: iso(lastActive)! } };
    }
    return { ...base, state: "working" };
  }

  private attendee(f: Facts, now: number): BoardAttendee {
    const lastActive = this.lastActive(f.header.id) ?? f.active;
    return {
      id: f.header.id,
      name: f.header.name,
      online: f.header.online,
      currentStage: f.header.currentStage,
      lastActive: iso(lastActive) ?? new Date(0).toISOString(),
      ...(f.header.problem ? { problem: f.header.problem } : {}),
      cells: f.stages.map((_, i) => this.cell(f, i, now, lastActive)),
    };
  }

  /** Every attendee's row now, in join order. */
  rows(): BoardAttendee[] {
    const now = this.now();
    return [...this.facts.values()]
      .sort((a, b) => a.header.joinedAt - b.header.joinedAt)
      .map((f) => this.attendee(f, now));
  }

  /** The whole board; what was sent is remembered, so the next `diff` starts from it. */
  snapshot(): BoardSnapshot {
    const attendees = this.rows();
    this.sentHeaders.clear();
    this.sentCells.clear();
    for (const a of attendees) this.remember(a);
    return {
      lab: this.opts.lab,
      stages: this.opts.stages,
      attendees,
      stuck: { failingMinutes: this.rule.failingMs / 60_000, idleMinutes: this.rule.idleMs / 60_000 },
      at: new Date(this.now()).toISOString(),
    };
  }

  private remember(a: BoardAttendee): void {
    const { cells, ...header } = a;
    this.sentHeaders.set(a.id, JSON.stringify(header));
    this.sentCells.set(
      a.id,
      cells.map((c) => JSON.stringify(c)),
    );
  }

  /**
   * What changed since the last snapshot or diff (headers without their `lastActive`, which alone does not make a
   * change worth sending, and cells), or undefined when nothing did.
   */
  diff(): BoardDiff | undefined {
    const changes: BoardDiff["changes"] = [];
    const rows = this.rows();
    const ids = new Set<string>();
    for (const a of rows) {
      ids.add(a.id);
      const { cells, ...header } = a;
      const oldHeader = this.sentHeaders.get(a.id);
      const oldCells = this.sentCells.get(a.id);
      const headerText = JSON.stringify(header);
      const headerChanged =
        oldHeader === undefined ||
        JSON.stringify({ ...header, lastActive: "" }) !==
          JSON.stringify({ ...(JSON.parse(oldHeader) as object), lastActive: "" });
      const changedCells = cells.filter((c, i) => oldCells?.[i] !== JSON.stringify(c));
      if (!headerChanged && !changedCells.length) continue;
      const change: BoardDiff["changes"][number] = { id: a.id };
      if (headerChanged) change.attendee = header;
      if (changedCells.length) change.cells = changedCells;
      changes.push(change);
      this.sentHeaders.set(a.id, headerChanged ? headerText : oldHeader!);
      this.sentCells.set(
        a.id,
        cells.map((c) => JSON.stringify(c)),
      );
    }
    const remove = [...this.sentHeaders.keys()].filter((id) => !ids.has(id));
    for (const id of remove) {
      this.sentHeaders.delete(id);
      this.sentCells.delete(id);
    }
    if (!changes.length && !remove.length) return undefined;
    return { changes, remove, at: new Date(this.now()).toISOString() };
  }
}
