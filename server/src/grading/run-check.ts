/**
 * Runs one check of any kind. A failing check is a result, not an error; only a broken cluster connection throws.
 */
import type { CheckResult } from "../labs/api.ts";
import type { Check, PodRef, ProbeCheck } from "../labs/model/types.ts";
import { EgresslabError } from "../shared/errors.ts";
import { runAnswerCheck } from "./answers.ts";
import type { ClusterClient, ClusterObject } from "./cluster.ts";
import { PROBE_LABEL } from "./probe-pod.ts";
import { withProbePod } from "./probe-keeper.ts";
import { defaultFlowWaitMs, runFlowsCheck } from "./flows.ts";
import { defaultConnectTimeoutMs, interpretProbe, judgeProbe, probeCommand } from "./probe.ts";
import { runResourceCheck } from "./resource-check.ts";
import { NoLabInternetError, rotateDomain, type RotateOptions } from "./rotation.ts";

export interface PodChoice {
  name: string;
  container: string;
  /** The pod itself. */
  object: ClusterObject;
}

/** The running pod a reference names (by name, or the first running pod its selector matches), or why there is none. */
export async function choosePod(client: ClusterClient, ref: PodRef): Promise<PodChoice | string> {
  const pods = await client.list("v1", "Pod", {
    namespace: ref.namespace,
    ...(ref.selector ? { labelSelector: ref.selector } : {}),
  });
  const candidates = pods
    .filter((p) => (ref.pod ? p.metadata.name === ref.pod : true))
    .filter((p) => !p.metadata.deletionTimestamp)
    // The grader's own probe pods carry the workload's labels; they are never the workload.
    .filter((p) => (p.metadata.labels as Record<string, string> | undefined)?.[PROBE_LABEL] !== "true")
    .sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
  const running = candidates.filter((p) => (p.status as { phase?: string } | undefined)?.phase === "Running");
  const what = ref.pod
    ? `pod ${ref.namespace}/${ref.pod}`
    : `pod matching ${ref.selector} in namespace ${ref.namespace}`;
  const pod = running[0];
  if (!pod) return candidates.length ? `no ${what} is running yet` : `no ${what} exists`;
  const containers = ((pod.spec as { containers?: { name: string }[] } | undefined)?.containers ?? []).map(
    (c) => c.name,
  );
  const container = ref.container ?? containers[0];
  if (!container) return `${what} has no containers`;
  return { name: pod.metadata.name, container, object: pod };
}

/** How checks run. */
export interface CheckOptions {
  /** How long a probe's connection attempt may take before it counts as denied (default 1 s). */
  connectTimeoutMs?: number;
  /** How long a flows check that expects flows waits for them to reach Whisker (default 20 s, see flows.ts). */
  flowWaitMs?: number;
  /** How long a probe pod is kept after its last use for the next check (default 2 min, see probe-keeper.ts). */
  probeIdleMs?: number;
  /** How a check's `before: {rotate}` rotates (catalogue, CoreDNS restart timeout). */
  rotate?: RotateOptions;
}

async function runProbeCheck(client: ClusterClient, c: ProbeCheck, opts: CheckOptions): Promise<CheckResult> {
  const timeout = opts.connectTimeoutMs ?? defaultConnectTimeoutMs;
  const base = { id: c.id, title: c.title };
  const source = await choosePod(client, c.from);
  if (typeof source === "string") return { ...base, passed: false, seen: source, hint: c.hint };
  // The probe runs in the grader's probe pod beside the workload (same identity to policy), so that its traffic is
  // never shown as the workload's own (probe-pod.ts); the pod is kept a while for the next check (probe-keeper.ts).
  let note = "";
  const r = await withProbePod(
    client,
    source.object,
    source.container,
    async (pod) => {
      if (c.before) {
        try {
          const rotated = await rotateDomain(client, c.before.rotate, opts.rotate);
          note = ` (after ${rotated.domain} rotated to ${rotated.ips.join(", ")})`;
        } catch (err) {
          // A cluster without the lab's internet (a cloud cluster) cannot rotate a real provider: probe as it is.
          if (err instanceof NoLabInternetError)
            note = ` (${c.before.rotate} not rotated: no lab internet here)`;
          else
            return {
              failed: `could not rotate ${c.before.rotate}: ${err instanceof Error ? err.message : String(err)}`,
            };
        }
      }
      return client.exec(
        c.from.namespace,
        pod.name,
        pod.container,
        probeCommand(c.to, timeout),
        timeout + 10_000,
      );
    },
    opts.probeIdleMs,
  );
  if ("failed" in r) return { ...base, passed: false, seen: r.failed, hint: c.hint };
  const o = interpretProbe(c.to, r);
  const passed = judgeProbe(c.expect, o);
  return { ...base, passed, seen: o.detail + note, ...(passed ? {} : { hint: c.hint }) };
}

/**
 * Runs a stage's checks: probes and resource checks first (in parallel), then the flow-log checks and answers, so
 * those see the traffic the probes just made. Results come back in the checks' order.
 */
export async function runChecks(
  client: ClusterClient,
  checks: readonly Check[],
  answers: Record<string, string>,
  opts: CheckOptions = {},
): Promise<CheckResult[]> {
  // In waves: a check runs once every check it depends on has a result; flow and answer checks run after the probes
  // of their wave, so they see the traffic those probes made. A check whose dependency failed is not run.
  const late = (c: Check): boolean => c.kind === "flows" || c.kind === "answer";
  const known = new Set(checks.map((c) => c.id));
  const deps = (c: Check): string[] => (c.dependsOn ?? []).filter((d) => known.has(d) && d !== c.id);
  const results = new Map<string, CheckResult>();
  let remaining = [...checks];
  while (remaining.length) {
    const ready = remaining.filter((c) => deps(c).every((d) => results.has(d)));
    // A circle of dependencies (refused when a lab loads) would leave nothing ready: run the rest as if independent.
    const pool = ready.length ? ready : remaining;
    const wave = pool.some((c) => !late(c)) ? pool.filter((c) => !late(c)) : pool;
    const out = await Promise.all(
      wave.map((c) => {
        const failed = deps(c)
          .map((d) => results.get(d))
          .find((r) => r && !r.passed);
        return failed ? notChecked(c, failed) : runCheck(client, c, answers, opts);
      }),
    );
    wave.forEach((c, i) => results.set(c.id, out[i]!));
    remaining = remaining.filter((c) => !results.has(c.id));
  }
  return checks.map((c) => results.get(c.id)!);
}

/** The result of a check not run because `dependency` failed: it says which, and gives no hint of its own. */
function notChecked(c: Check, dependency: CheckResult): CheckResult {
  const root = dependency.blockedBy ?? dependency.id;
  return {
    id: c.id,
    title: c.title,
    passed: false,
    seen: dependency.blockedBy ? dependency.seen : `not checked: “${dependency.title}” fails first`,
    blockedBy: root,
  };
}

/**
 * The results in the order a learner should read them, each group in the stage's order: failing guards first (what
 * worked before the stage and is now broken, such as name resolution, is the root cause of everything after it), then
 * the other failing checks that ran, then those not checked because of a failing dependency, then the passing ones.
 * The first hint the learner sees is the first one here.
 */
export function rootCauseFirst<T extends Pick<CheckResult, "id" | "passed" | "blockedBy">>(
  results: readonly T[],
  checks: readonly Pick<Check, "id" | "guard">[] = [],
): T[] {
  const guards = new Set(checks.filter((c) => c.guard).map((c) => c.id));
  const rank = (r: T): number => (r.passed ? 3 : r.blockedBy ? 2 : guards.has(r.id) ? 0 : 1);
  return results
    .map((r, i) => ({ r, i }))
    .sort((a, b) => rank(a.r) - rank(b.r) || a.i - b.i)
    .map((x) => x.r);
}

/** Runs one check; `answers` are the learner's (question id → text). */
export async function runCheck(
  client: ClusterClient,
  c: Check,
  answers: Record<string, string>,
  opts: CheckOptions = {},
): Promise<CheckResult> {
  try {
    switch (c.kind) {
      case "probe":
        return await runProbeCheck(client, c, opts);
      case "resource":
        return await runResourceCheck(client, c);
      case "flows":
        return await runFlowsCheck(client, c, opts.flowWaitMs ?? defaultFlowWaitMs);
      case "answer":
        return await runAnswerCheck(client, c, answers);
    }
  } catch (err) {
    if (!(err instanceof EgresslabError)) throw err;
    return {
      id: c.id,
      title: c.title,
      passed: false,
      seen: `could not run the check: ${err.message}`,
      hint: c.hint,
    };
  }
}
