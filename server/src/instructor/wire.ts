/**
 * The instructor's board as it travels to the page: attendees × stages, each cell saying why (state, time in stage,
 * attempts, the checks failing now with their hints, the mistake matched), and the per-stage summary the page and the
 * exports compute from the same rows. Pure: the page imports this file too.
 */
import type { CheckOutcome } from "../realtime/protocol.ts";

/** A message from the instructor on an attendee's page. */
export interface RoomMessage {
  text: string;
  at: string;
  /** Sent to everyone, not only this attendee. */
  broadcast: boolean;
}

/** The "pause — look at the screen" overlay: shown on every attendee's page while `paused`. */
export interface RoomPause {
  paused: boolean;
  text?: string;
  at: string;
}

/** Output of an attendee's terminal, read-only, to the instructor who opened them. */
export interface SeatOutput {
  attendeeId: string;
  data: string;
  end: number;
  /** The whole screen again (scrollback): clear first. */
  replay?: boolean;
  /** False while the attendee has no shell running (what was saved of the last one). */
  live: boolean;
}

/** What the seat view shows of an attendee's cluster and checks. */
export interface DeniedFlow {
  /** ISO time the flow last ended. */
  at: string;
  source: string;
  dest: string;
  port: number;
  proto: string;
  /** The policy that denied it, as Calico's trace names it (`tier|kind:ns/name|deny|rule`). */
  policy?: string;
  /** What the staged policies would do. */
  pending?: string;
}

export interface PolicyRow {
  kind: string;
  namespace?: string;
  name: string;
  tier?: string;
  order?: number;
  /** Ingress and egress rules. */
  rules: number;
  selector?: string;
}

export interface ObjectChange {
  kind: string;
  namespace?: string;
  name: string;
  change: "created" | "changed";
  at: string;
  /** The field managers that wrote it since (kubectl-client-side-apply, kubectl-edit, …). */
  by: string[];
}

export interface AttendeeDetail {
  checks: { stage: number; outcome: CheckOutcome }[];
  flows: { denied: DeniedFlow[]; error?: string };
  policies: { items: PolicyRow[]; error?: string };
  changes: { since?: string; items: ObjectChange[]; error?: string };
}

export type CellState = "not-started" | "working" | "passed" | "stuck";

/** A check failing now, as the learner sees it. */
export interface FailingCheck {
  id: string;
  title: string;
  /** The learner-facing hint. */
  hint?: string;
  /** Not run because this check (an id) failed first. */
  blockedBy?: string;
}

/** A known wrong solution of the lab that the attendee's failing checks match. */
export interface MistakeMatch {
  /** The lab's names of the wrong solutions that fail this way (more than one when they fail alike). */
  names: string[];
  /** The names in words ("no dns or catches kube system"). */
  label: string;
  /** The lab's explanation of the first of them. */
  why: string;
}

export interface BoardCell {
  stage: number;
  state: CellState;
  /** ISO times; time in stage is counted by the page from these. */
  startedAt?: string;
  passedAt?: string;
  /** Checks run on this stage. */
  attempts: number;
  /** The checks failing at the last check, root causes first; empty when it passed or was never checked. */
  failing: FailingCheck[];
  mistake?: MistakeMatch;
  /** Why the cell is stuck, and since when. */
  stuck?: { reason: "failing" | "idle"; since: string };
  lastCheckAt?: string;
}

export interface BoardAttendee {
  id: string;
  name: string;
  online: boolean;
  currentStage: number;
  /** ISO time of the attendee's last action (typing, checking, changing stage). */
  lastActive: string;
  /** Something the instructor should know ("cluster rebuilt: …"). */
  problem?: string;
  cells: BoardCell[];
}

export interface BoardStage {
  index: number;
  id: string;
  title: string;
}

export interface BoardSnapshot {
  lab: { id: string; title: string };
  stages: BoardStage[];
  attendees: BoardAttendee[];
  /** The stuck thresholds, in minutes. */
  stuck: { failingMinutes: number; idleMinutes: number };
  at: string;
}

/**
 * What changed since the last snapshot or diff: per attendee, the header when it changed (`attendee`, without cells)
 * and the cells that changed; `remove` lists attendees gone from the board.
 */
export interface BoardDiff {
  changes: { id: string; attendee?: Omit<BoardAttendee, "cells">; cells?: BoardCell[] }[];
  remove: string[];
  at: string;
}

/** Applies a diff to the page's copy of the board (in place); returns the attendees it touched. */
export function applyBoardDiff(attendees: Map<string, BoardAttendee>, diff: BoardDiff): string[] {
  for (const id of diff.remove) attendees.delete(id);
  for (const c of diff.changes) {
    const cur = attendees.get(c.id);
    const next: BoardAttendee = cur
      ? { ...cur, ...(c.attendee ?? {}), cells: [...cur.cells] }
      : { ...c.attendee!, cells: [] };
    for (const cell of c.cells ?? []) next.cells[cell.stage] = cell;
    attendees.set(c.id, next);
  }
  return [...diff.remove, ...diff.changes.map((c) => c.id)];
}

export interface StageSummaryLine {
  stage: number;
  counts: Record<CellState, number>;
  /** Among the attendees stuck on this stage, how many for each reason, most common first. */
  reasons: { label: string; count: number }[];
  /** Among everyone whose last check of this stage failed, the mistakes matched, most common first. */
  mistakes: { label: string; why: string; count: number }[];
  /** "14 of 50 stuck on stage 1: 9 no dns, 5 explicit deny first". */
  text: string;
}

/** Why one stuck cell is stuck, in a few words. */
export function stuckReason(c: BoardCell): string {
  if (c.mistake) return c.mistake.label;
  const root = c.failing.find((f) => !f.blockedBy) ?? c.failing[0];
  if (root) return `failing “${root.title}”`;
  return c.stuck?.reason === "idle" ? "idle" : "stuck";
}

/** The per-stage summary of a board: who is where, and the most common reasons and mistakes. */
export function summarize(stages: BoardStage[], attendees: Iterable<BoardAttendee>): StageSummaryLine[] {
  const list = [...attendees];
  return stages.map((s) => {
    const counts: Record<CellState, number> = { "not-started": 0, working: 0, passed: 0, stuck: 0 };
    const reasons = new Map<string, number>();
    const mistakes = new Map<string, { why: string; count: number }>();
    for (const a of list) {
      const c = a.cells[s.index];
      if (!c) continue;
      counts[c.state]++;
      if (c.state === "stuck") {
        const r = stuckReason(c);
        reasons.set(r, (reasons.get(r) ?? 0) + 1);
      }
      if (c.mistake && c.state !== "passed") {
        const m = mistakes.get(c.mistake.label) ?? { why: c.mistake.why, count: 0 };
        m.count++;
        mistakes.set(c.mistake.label, m);
      }
    }
    const byCount = <T extends { count: number; label: string }>(a: T, b: T): number =>
      b.count - a.count || a.label.localeCompare(b.label);
    const r = [...reasons].map(([label, count]) => ({ label, count })).sort(byCount);
    const m = [...mistakes].map(([label, v]) => ({ label, why: v.why, count: v.count })).sort(byCount);
    const text = counts.stuck
      ? `${counts.stuck} of ${list.length} stuck on stage ${s.index}: ${r.map((x) => `${x.count} ${x.label}`).join(", ")}`
      : `${counts.passed} of ${list.length} passed stage ${s.index}`;
    return { stage: s.index, counts, reasons: r, mistakes: m, text };
  });
}
