/**
 * What the rest of the server sees of labs and grading. The lab loader and model live in `labs/`, the check runners in
 * `grading/`; the web server and `egresslab validate` use only these types and the functions named below.
 *
 *   labs/index.ts:     loadLab(dir): Promise<Lab>            (throws ValidationError listing every problem, file:line)
 *                      listLabs(root): Promise<LabSummary[]>
 *                      sessionParams(lab, seed): LabParams     (the per-session randomised values)
 *                      renderGuide(lab, stageIndex, params): RenderedGuide
 *                      stageSummaries(lab, params): StageSummary[]   (titles and questions, for navigation)
 *   grading/index.ts:  setupStage(conn, lab, stageIndex, params, opts?): Promise<void>
 *                      gradeStage(conn, lab, stageIndex, params, answers, opts?): Promise<StageResult>
 *                      solveStage(conn, lab, stageIndex, params, opts?): Promise<void>   (applies the reference solution)
 *                      resetStage(conn, lab, stageIndex, params, opts?): Promise<void>   (cleanup, then setup again)
 *                      startAtStage(conn, lab, stageIndex, params, opts?): Promise<void> (earlier stages set up and solved)
 *                      endGrading(conn, opts?): Promise<void>            (the grader's probe pods deleted: session over)
 *                      validateLab(client, lab, params, opts?): Promise<ValidateReport> (what `egresslab validate` runs)
 *
 * Stages build on each other: a learner who starts at stage N needs stages 0..N-1 set up and solved first
 * (startAtStage does that).
 * gradeStage never throws for a failing check (a failure is a result with a hint); it throws only when the cluster
 * cannot be reached.
 */

export type LabParams = Record<string, string>;

export interface LabSummary {
  id: string;
  title: string;
  description: string;
  durationMinutes: number;
  stageCount: number;
}

/** A question the learner answers in the page (for `answer` checks). */
export interface LabQuestion {
  id: string;
  prompt: string;
  /** Input hint shown in the field, e.g. "namespace/workload". */
  placeholder?: string;
}

export interface StageSummary {
  index: number;
  id: string;
  title: string;
  questions: LabQuestion[];
}

/** A fenced action in a guide: what the page does when the learner clicks it. */
export interface GuideAction {
  id: string;
  kind: "run" | "copy" | "apply" | "check" | "rotate";
  /** The text: a command to type into the terminal, text to copy, YAML to apply, the domain to rotate. */
  text: string;
}

/** A rotation the learner asked for with a guide's `rotate` action: the domain's addresses before and after. */
export interface RotationOutcome {
  domain: string;
  previous: string[];
  ips: string[];
}

export interface RenderedGuide {
  /** Safe HTML: actions are rendered as elements with `data-action-id` attributes. */
  html: string;
  actions: GuideAction[];
}

export interface CheckResult {
  id: string;
  /** What was checked, in the learner's terms: "curl from shop/checkout to api.payments.example:443 is denied". */
  title: string;
  passed: boolean;
  /** What was seen: "it was allowed (HTTP 200)". */
  seen: string;
  /** Shown when the check fails: what to look at. */
  hint?: string;
  /** Set when the check was not run because a check it depends on fails (that check's id). */
  blockedBy?: string;
}

export interface StageResult {
  stageIndex: number;
  passed: boolean;
  checks: CheckResult[];
  /** ISO time the grading finished. */
  at: string;
}
