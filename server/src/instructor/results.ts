/**
 * The workshop's results, for afterwards: per attendee and stage (times, attempts, the checks passed and failed at
 * the last attempt, the mistakes matched over all attempts), per stage (how many started and passed, median time,
 * the most common mistakes and failing checks), and the room's progress over time. As JSON and as CSV; a CSV cell that
 * a spreadsheet would run as a formula (an attendee can name themselves `=HYPERLINK(…)`) is quoted as text.
 */
import type { CheckOutcome } from "../realtime/protocol.ts";
import type { LabParams } from "../labs/api.ts";
import { matchMistake, type KnownMistake } from "./mistakes.ts";
import type { BoardStage } from "./wire.ts";

export interface ResultsInput {
  lab: { id: string; title: string };
  stages: BoardStage[];
  learners: { id: string; name: string; seed: number; createdAt: string }[];
  times: { learnerId: string; stageIndex: number; startedAt: string; passedAt: string | null }[];
  checks: { learnerId: string; stageIndex: number; passed: boolean; result: unknown; at: string }[];
  params: (seed: number) => LabParams;
  mistakes?: (stage: number, params: LabParams) => readonly KnownMistake[];
  now: Date;
}

export interface AttendeeStageResult {
  stage: number;
  title: string;
  startedAt?: string;
  passedAt?: string;
  /** Minutes from start to pass (or to now, when not passed). */
  minutes?: number;
  attempts: number;
  passed: boolean;
  /** At the last attempt. */
  checksPassed: string[];
  checksFailed: string[];
  /** Mistakes matched over every failed attempt, most frequent first. */
  mistakes: { label: string; count: number }[];
}

export interface StageResults {
  stage: number;
  title: string;
  started: number;
  passed: number;
  medianMinutes?: number;
  attempts: number;
  mistakes: { label: string; count: number }[];
  failedChecks: { id: string; title: string; count: number }[];
}

export interface WorkshopResults {
  lab: { id: string; title: string };
  generatedAt: string;
  stages: BoardStage[];
  attendees: { id: string; name: string; joinedAt: string; stages: AttendeeStageResult[] }[];
  perStage: StageResults[];
  /** After each pass: how many attendees had passed each stage (index = stage). Starts with everyone at 0. */
  timeline: { at: string; passed: number[] }[];
}

const minutes = (from: string, to: string): number =>
  Math.round(((Date.parse(to) - Date.parse(from)) / 60_000) * 10) / 10;

const tally = (m: Map<string, number>): { label: string; count: number }[] =>
  [...m]
    .map(([label, count]) => ({ label, count }))
    .sort((a, b) => b.count - a.count || a.label.localeCompare(b.label));

function median(xs: number[]): number | undefined {
  if (!xs.length) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : Math.round(((s[m - 1]! + s[m]!) / 2) * 10) / 10;
}

export function workshopResults(input: ResultsInput): WorkshopResults {
  const now = input.now.toISOString();
  const times = new Map(input.times.map((t) => [`${t.learnerId}/${t.stageIndex}`, t]));
  const checks = new Map<string, ResultsInput["checks"]>();
  for (const c of input.checks) {
    const k = `${c.learnerId}/${c.stageIndex}`;
    let list = checks.get(k);
    if (!list) checks.set(k, (list = []));
    list.push(c);
  }
  const perStage = input.stages.map(() => ({
    times: [] as number[],
    started: 0,
    passed: 0,
    attempts: 0,
    mistakes: new Map<string, number>(),
    failed: new Map<string, { title: string; count: number }>(),
  }));
  const attendees = input.learners.map((l) => {
    const params = input.params(l.seed);
    return {
      id: l.id,
      name: l.name,
      joinedAt: l.createdAt,
      stages: input.stages.map((s): AttendeeStageResult => {
        const t = times.get(`${l.id}/${s.index}`);
        const list = checks.get(`${l.id}/${s.index}`) ?? [];
        const last = list.at(-1)?.result as CheckOutcome | undefined;
        const known = input.mistakes?.(s.index, params) ?? [];
        const agg = perStage[s.index]!;
        const mistakes = new Map<string, number>();
        for (const c of list) {
          const o = c.result as CheckOutcome;
          if (c.passed || !Array.isArray(o?.checks)) continue;
          const failing = o.checks.filter((x) => !x.passed);
          const m = matchMistake(
            failing.map((x) => x.id),
            known,
          );
          if (m) mistakes.set(m.label, (mistakes.get(m.label) ?? 0) + 1);
          for (const f of failing) {
            const e = agg.failed.get(f.id) ?? { title: f.title, count: 0 };
            e.count++;
            agg.failed.set(f.id, e);
          }
        }
        const passed = !!t?.passedAt;
        const mins = t ? minutes(t.startedAt, t.passedAt ?? now) : undefined;
        if (t) agg.started++;
        if (passed) {
          agg.passed++;
          agg.times.push(mins!);
        }
        agg.attempts += list.length;
        for (const [k, n] of mistakes) agg.mistakes.set(k, (agg.mistakes.get(k) ?? 0) + n);
        return {
          stage: s.index,
          title: s.title,
          ...(t ? { startedAt: t.startedAt } : {}),
          ...(t?.passedAt ? { passedAt: t.passedAt } : {}),
          ...(mins !== undefined ? { minutes: mins } : {}),
          attempts: list.length,
          passed,
          checksPassed: last?.checks?.filter((c) => c.passed).map((c) => c.id) ?? [],
          checksFailed: last?.checks?.filter((c) => !c.passed).map((c) => c.id) ?? [],
          mistakes: tally(mistakes),
        };
      }),
    };
  });
  const passes = input.times
    .filter((t): t is typeof t & { passedAt: string } => !!t.passedAt)
    .sort((a, b) => a.passedAt.localeCompare(b.passedAt));
  const counts = input.stages.map(() => 0);
  const first = input.learners.map((l) => l.createdAt).sort()[0];
  const timeline: WorkshopResults["timeline"] = first ? [{ at: first, passed: [...counts] }] : [];
  for (const p of passes) {
    if (p.stageIndex >= counts.length) continue;
    counts[p.stageIndex]!++;
    timeline.push({ at: p.passedAt, passed: [...counts] });
  }
  if (timeline.length) timeline.push({ at: now, passed: [...counts] });
  return {
    lab: input.lab,
    generatedAt: now,
    stages: input.stages,
    attendees,
    perStage: input.stages.map((s, i) => {
      const a = perStage[i]!;
      const med = median(a.times);
      return {
        stage: s.index,
        title: s.title,
        started: a.started,
        passed: a.passed,
        ...(med !== undefined ? { medianMinutes: med } : {}),
        attempts: a.attempts,
        mistakes: tally(a.mistakes),
        failedChecks: [...a.failed]
          .map(([id, v]) => ({ id, title: v.title, count: v.count }))
          .sort((x, y) => y.count - x.count || x.id.localeCompare(y.id)),
      };
    }),
    timeline,
  };
}

/** One CSV field: quoted when needed; text a spreadsheet would take for a formula is prefixed with `'`. */
export function csvField(v: string | number | boolean | undefined): string {
  let s = v === undefined ? "" : String(v);
  if (/^[=+\-@\t\r]/.test(s) && typeof v === "string") s = `'${s}`;
  return /[",\r\n]/.test(s) || s !== s.trim() ? `"${s.replace(/"/g, '""')}"` : s;
}

const csv = (rows: (string | number | boolean | undefined)[][]): string =>
  rows.map((r) => r.map(csvField).join(",")).join("\r\n") + "\r\n";

/** One line per attendee and stage. */
export function attendeesCsv(r: WorkshopResults): string {
  return csv([
    [
      "attendee",
      "attendee_id",
      "stage",
      "stage_title",
      "started_at",
      "passed_at",
      "minutes",
      "attempts",
      "passed",
      "checks_passed",
      "checks_failed",
      "mistakes",
    ],
    ...r.attendees.flatMap((a) =>
      a.stages.map((s) => [
        a.name,
        a.id,
        s.stage,
        s.title,
        s.startedAt,
        s.passedAt,
        s.minutes,
        s.attempts,
        s.passed,
        s.checksPassed.join(" "),
        s.checksFailed.join(" "),
        s.mistakes.map((m) => `${m.label} (${m.count})`).join("; "),
      ]),
    ),
  ]);
}

/** One line per stage. */
export function stagesCsv(r: WorkshopResults): string {
  return csv([
    ["stage", "stage_title", "started", "passed", "median_minutes", "attempts", "mistakes", "failed_checks"],
    ...r.perStage.map((s) => [
      s.stage,
      s.title,
      s.started,
      s.passed,
      s.medianMinutes,
      s.attempts,
      s.mistakes.map((m) => `${m.label} (${m.count})`).join("; "),
      s.failedChecks.map((c) => `${c.id} (${c.count})`).join("; "),
    ]),
  ]);
}
