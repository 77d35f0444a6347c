/**
 * Grading cost on the simulated cluster: the median time to grade one stage (each stage of the workshop, with its
 * reference solution in place, graded repeatedly), loading the lab, and the wall time of a full `validate`.
 * Targets: a stage graded in under 1 s; the whole workshop validated in under 60 s.
 */
import path from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { SimHost } from "../../server/src/sim/host.ts";
import { loadLab, sessionParams } from "../../server/src/labs/index.ts";
import { createKubeClient } from "../../server/src/grading/kube-client.ts";
import { gradeStage, setupStage, solveStage } from "../../server/src/grading/index.ts";
import { simConnectTimeoutMs } from "../../server/src/grading/stage.ts";
import { validateLab } from "../../server/src/grading/validate-lab.ts";
import { renderStage } from "../../server/src/labs/model/stage.ts";

const labDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../labs/egress-workshop");
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

export async function run(): Promise<void> {
  let t = performance.now();
  const lab = await loadLab(labDir);
  process.stdout.write(
    `load lab (render every stage for every parameter choice): ${(performance.now() - t).toFixed(0)} ms\n`,
  );
  const params = sessionParams(lab, 1);
  const host = await SimHost.start({ port: 0 });
  try {
    const c = await host.createCluster({
      id: "bench-grade",
      profile: lab.profile,
      edition: lab.requirements.edition,
      seed: 1,
    });
    const conn = {
      id: c.id,
      provider: "sim" as const,
      kubeconfig: c.kubeconfig,
      edition: lab.requirements.edition,
    };
    process.stdout.write("stage                     checks  median grade (solved, 5 runs)\n");
    for (const s of lab.stages) {
      await setupStage(conn, lab, s.index, params);
      await solveStage(conn, lab, s.index, params);
      const answers = renderStage(lab, s.index, params).solutionAnswers;
      const times: number[] = [];
      let passed = true;
      for (let i = 0; i < 5; i++) {
        t = performance.now();
        const r = await gradeStage(conn, lab, s.index, params, answers);
        times.push(performance.now() - t);
        passed &&= r.passed;
      }
      process.stdout.write(
        `${s.id.padEnd(26)}${String(renderStage(lab, s.index, params).checks.length).padEnd(8)}${median(times).toFixed(0)} ms${passed ? "" : " (some checks failed)"}\n`,
      );
    }
    await host.deleteCluster(c.id);

    const v = await host.createCluster({
      id: "bench-validate",
      profile: lab.profile,
      edition: lab.requirements.edition,
      seed: 1,
    });
    t = performance.now();
    const report = await validateLab(createKubeClient(v.kubeconfig), lab, params, {
      connectTimeoutMs: simConnectTimeoutMs,
    });
    const wall = (performance.now() - t) / 1000;
    process.stdout.write(
      `full validate: ${wall.toFixed(1)} s (${report.passed ? "passed" : "FAILED"}); per stage: ${report.stages.map((s) => `${s.id.slice(0, 2)} ${s.seconds.toFixed(1)}s`).join(", ")}\n`,
    );
    await host.deleteCluster(v.id);
  } finally {
    await host.close();
  }
}
