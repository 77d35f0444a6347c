/**
 * Proves a lab works on a cluster: for every stage, carrying state forward, setup; every check fails before the
 * solution (a guard check instead needs a wrong solution that fails it); every wrong solution fails the checks it
 * names (applied on top of the stage, graded, then undone); the reference solution passes every check.
 */
import type { CheckResult } from "../labs/api.ts";
import { editionOf, renderStage } from "../labs/model/stage.ts";
import type { Edition, Lab, Manifest } from "../labs/model/types.ts";
import type { LabParams } from "../labs/api.ts";
import { noopLogger, type Logger } from "../shared/logger.ts";
import { refOf, type ClusterClient, type ClusterObject } from "./cluster.ts";
import { deleteProbePods } from "./probe-keeper.ts";
import { rootCauseFirst, runChecks } from "./run-check.ts";
import { applyManifests, setupRendered, waitReady } from "./stage.ts";

export interface Expectation {
  /** `before`, `wrong:<name>` or `solution`. */
  phase: string;
  checkId: string;
  expected: "fail" | "pass";
  result: CheckResult;
  ok: boolean;
  /** Why this expectation exists (the wrong solution's mistake). */
  why?: string;
}

export interface StageReport {
  index: number;
  id: string;
  title: string;
  /** The Calico edition the stage ran as. */
  edition: Edition;
  /** The stage cannot run on this edition: only its guide was rendered. */
  guideOnly?: boolean;
  checks: string[];
  phases: string[];
  expectations: Expectation[];
  /** Every way the stage falls short, in the author's terms. */
  problems: string[];
  seconds: number;
}

export interface ValidateReport {
  lab: string;
  /** The Calico edition validated (the session parameters' `edition`). */
  edition: Edition;
  params: LabParams;
  stages: StageReport[];
  passed: boolean;
  seconds: number;
}

export interface ValidateOptions {
  /** Pause after applying objects before grading (a real dataplane needs a moment; the simulator none). */
  settleMs?: number;
  readyTimeoutMs?: number;
  logger?: Logger;
  /** How long a probe's connection may take before it counts as denied (default 1 s). */
  connectTimeoutMs?: number;
  /** Called after each stage, for progress output. */
  onStage?: (r: StageReport) => void;
}

const volatile = ["resourceVersion", "uid", "creationTimestamp", "generation", "managedFields", "selfLink"];

function restorable(o: ClusterObject): ClusterObject {
  const metadata: Record<string, unknown> = { ...o.metadata };
  for (const k of volatile) delete metadata[k];
  const { status: _status, ...rest } = o;
  return { ...rest, metadata } as ClusterObject;
}

async function grade(
  client: ClusterClient,
  lab: Lab,
  index: number,
  params: LabParams,
  answers: Record<string, string>,
  opts: ValidateOptions,
) {
  const stage = renderStage(lab, index, params);
  return runChecks(client, stage.checks, answers, {
    ...(opts.connectTimeoutMs ? { connectTimeoutMs: opts.connectTimeoutMs } : {}),
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Validates every stage of `lab` on the cluster behind `client` with one session's parameters. */
export async function validateLab(
  client: ClusterClient,
  lab: Lab,
  params: LabParams,
  opts: ValidateOptions = {},
): Promise<ValidateReport> {
  const t0 = Date.now();
  const log = opts.logger ?? noopLogger;
  const settle = (): Promise<void> => (opts.settleMs ? sleep(opts.settleMs) : Promise.resolve());
  const stages: StageReport[] = [];
  for (const src of lab.stages) {
    const s0 = Date.now();
    const stage = renderStage(lab, src.index, params);
    const problems: string[] = [];
    const expectations: Expectation[] = [];
    const phases = ["before", ...stage.wrong.map((w) => `wrong:${w.name}`), "solution"];
    const report = (): StageReport => ({
      index: stage.index,
      id: stage.id,
      title: stage.title,
      edition: stage.edition,
      ...(stage.guideOnly ? { guideOnly: true } : {}),
      checks: stage.checks.map((c) => c.id),
      phases,
      expectations,
      problems,
      seconds: (Date.now() - s0) / 1000,
    });
    if (stage.guideOnly) {
      // Nothing runs on this edition; the loader has already proved its guide renders.
      const r = report();
      opts.onStage?.(r);
      stages.push(r);
      continue;
    }
    try {
      await setupRendered(client, stage, log, opts.readyTimeoutMs);
      await settle();

      // Before the solution: every check fails, except guards.
      const before = await grade(client, lab, src.index, params, {}, opts);
      for (const [i, c] of stage.checks.entries()) {
        const r = before[i]!;
        if (c.guard) {
          expectations.push({ phase: "before", checkId: c.id, expected: "pass", result: r, ok: r.passed });
          if (!r.passed) problems.push(`guard ${c.id} fails before the solution: ${r.seen}`);
        } else {
          expectations.push({ phase: "before", checkId: c.id, expected: "fail", result: r, ok: !r.passed });
          if (r.passed)
            problems.push(`${c.id}: this check can never fail: it passes before the solution (${r.seen})`);
        }
      }

      // Wrong solutions: each fails the checks it names.
      const failedByWrong = new Set<string>();
      for (const w of stage.wrong) {
        const snapshot = await Promise.all(
          w.manifests.map((m) => client.get(refOf(m.object as ClusterObject))),
        );
        try {
          await applyManifests(client, w.manifests);
          await waitReady(client, w.manifests, opts.readyTimeoutMs ?? 120_000);
          await settle();
          const results = await grade(client, lab, src.index, params, w.answers, opts);
          for (const [i, c] of stage.checks.entries()) {
            const r = results[i]!;
            const named = w.fails.includes(c.id);
            // A check not run because one it depends on fails is neither failed nor passed by the mistake itself.
            if (r.blockedBy !== undefined) {
              if (named)
                problems.push(
                  `wrong solution ${w.name} names ${c.id}, but ${c.id} is not checked (it depends on ${r.blockedBy}, which fails): take it out of fails`,
                );
              continue;
            }
            if (!named) {
              if (!r.passed)
                problems.push(
                  `wrong solution ${w.name} (${w.why}) also fails ${c.id}, which its fails does not name: ${r.seen}`,
                );
              continue;
            }
            expectations.push({
              phase: `wrong:${w.name}`,
              checkId: c.id,
              expected: "fail",
              result: r,
              ok: !r.passed,
              why: w.why,
            });
            if (r.passed) problems.push(`wrong solution ${w.name} (${w.why}) passes ${c.id}: ${r.seen}`);
            else failedByWrong.add(c.id);
          }
          // The learner reads the root cause first: the first failing check shown is the one the author named.
          const shown = rootCauseFirst(results, stage.checks).find((r) => !r.passed);
          if (shown?.id !== w.first)
            problems.push(
              `wrong solution ${w.name}: the first hint shown is ${shown ? `${shown.id}'s ("${shown.hint ?? shown.seen}")` : "none"}, not ${w.first}'s`,
            );
        } finally {
          await undo(client, w.manifests, snapshot);
        }
      }
      for (const c of stage.checks)
        if (c.guard && !failedByWrong.has(c.id))
          problems.push(`${c.id}: this check can never fail: it is a guard and no wrong solution fails it`);

      // The reference solution passes everything.
      await applyManifests(client, stage.solution);
      await waitReady(client, stage.solution, opts.readyTimeoutMs ?? 120_000);
      await settle();
      const after = await grade(client, lab, src.index, params, stage.solutionAnswers, opts);
      for (const [i, c] of stage.checks.entries()) {
        const r = after[i]!;
        expectations.push({ phase: "solution", checkId: c.id, expected: "pass", result: r, ok: r.passed });
        if (!r.passed) problems.push(`the reference solution fails ${c.id}: ${r.seen}`);
      }
    } catch (err) {
      problems.push(`stage could not run: ${err instanceof Error ? err.message : String(err)}`);
    }
    const r = report();
    log.info("stage validated", { stage: r.id, problems: r.problems.length, seconds: r.seconds });
    opts.onStage?.(r);
    stages.push(r);
  }
  // The cluster may be a real one that outlives the validation: leave no probe pod behind (probe-keeper.ts).
  await deleteProbePods(client).catch((err: unknown) =>
    log.warn("could not delete the grader's probe pods", {
      error: err instanceof Error ? err.message : String(err),
    }),
  );
  return {
    lab: lab.id,
    edition: editionOf(lab, params),
    params,
    stages,
    passed: stages.every((s) => s.problems.length === 0),
    seconds: (Date.now() - t0) / 1000,
  };
}

async function undo(
  client: ClusterClient,
  manifests: readonly Manifest[],
  snapshot: (ClusterObject | undefined)[],
): Promise<void> {
  for (const [i, m] of [...manifests.entries()].reverse()) {
    const before = snapshot[i];
    if (before) await client.apply(restorable(before), { replace: true });
    else await client.delete(refOf(m.object as ClusterObject));
  }
}
