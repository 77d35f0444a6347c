/**
 * The shipped workshop on the simulated cluster, driven only through a kubeconfig: `validate` proves every stage
 * (checks fail before the solution, wrong solutions fail what they name, the reference solution passes), and the
 * stage lifecycle the web server uses (setup → grade → solve → grade → reset) behaves as a learner sees it.
 */
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SimHost } from "../../server/src/sim/host.ts";
import { loadLab, sessionParams, type Lab } from "../../server/src/labs/index.ts";
import { createKubeClient } from "../../server/src/grading/kube-client.ts";
import { gradeStage, resetStage, setupStage, solveStage } from "../../server/src/grading/index.ts";
import { validateLab } from "../../server/src/grading/validate-lab.ts";
import { simConnectTimeoutMs } from "../../server/src/grading/stage.ts";
import { formatReport, junitXml } from "../../server/src/grading/report.ts";
import type { ClusterConnection } from "../../server/src/providers/provider.ts";

const labDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../labs/egress-workshop");

let host: SimHost;
let lab: Lab;

beforeAll(async () => {
  host = await SimHost.start({ port: 0 });
  lab = await loadLab(labDir);
});
afterAll(async () => {
  await host?.close();
});

async function connection(id: string, seed: number): Promise<ClusterConnection> {
  const c = await host.createCluster({ id, profile: lab.profile, edition: lab.requirements.edition, seed });
  return { id: c.id, provider: "sim", kubeconfig: c.kubeconfig, edition: lab.requirements.edition };
}

describe("egress-workshop on the simulated cluster", () => {
  it("validates: every check can fail, every wrong solution is caught, every reference solution passes", async () => {
    const seed = 3; // ops/analytics compromised, drop.exfil-paste.xyz
    const conn = await connection("validate", seed);
    const report = await validateLab(createKubeClient(conn.kubeconfig), lab, sessionParams(lab, seed), {
      connectTimeoutMs: simConnectTimeoutMs,
    });
    const text = formatReport(report);
    expect(
      report.stages.flatMap((s) => s.problems),
      text,
    ).toEqual([]);
    expect(report.passed).toBe(true);
    expect(report.stages.map((s) => s.id)).toEqual(lab.stages.map((s) => s.id));
    // Every kind of check ran and both outcomes were seen.
    const results = report.stages.flatMap((s) => s.expectations);
    expect(results.some((e) => e.expected === "fail" && !e.result.passed)).toBe(true);
    expect(results.filter((e) => e.phase.startsWith("wrong:")).length).toBeGreaterThan(15);
    expect(junitXml([report])).toMatch(/failures="0"/);
    await host.deleteCluster(conn.id);
  }, 180_000);

  it("grades a learner's stage: fails with hints, passes after the solution, and reset undoes the work", async () => {
    const seed = 1;
    const params = sessionParams(lab, seed);
    const conn = await connection("learner", seed);
    await setupStage(conn, lab, 0, params);
    await solveStage(conn, lab, 0, params);
    await setupStage(conn, lab, 1, params);

    const before = await gradeStage(conn, lab, 1, params, {});
    expect(before.passed).toBe(false);
    const denied = before.checks.find((c) => c.id === "shop-egress-denied")!;
    expect(denied).toMatchObject({ passed: false, seen: expect.stringMatching(/connected \(HTTP 200\)/) });
    expect(denied.hint).toMatch(/GlobalNetworkPolicy/);
    expect(before.checks.find((c) => c.id === "dns-resolves")).toMatchObject({ passed: true });

    await solveStage(conn, lab, 1, params);
    const after = await gradeStage(conn, lab, 1, params, {});
    expect(after.checks.filter((c) => !c.passed)).toEqual([]);
    expect(after.checks.find((c) => c.id === "shop-egress-denied")?.seen).toMatch(/timed out .*curl exit 28/);

    await resetStage(conn, lab, 1, params);
    const reset = await gradeStage(conn, lab, 1, params, {});
    expect(reset.checks.find((c) => c.id === "shop-egress-denied")).toMatchObject({ passed: false });

    // Stage 0 answers are checked against the flow log.
    const answers = await gradeStage(conn, lab, 0, params, {
      external: "shop/checkout",
      suspect: params.compromised!,
      c2: `https://${params.c2Domain}/`,
    });
    expect(answers.checks.map((c) => [c.id, c.passed])).toEqual([
      ["external-inventory", false],
      ["suspect", true],
      ["c2-domain", true],
    ]);
    await host.deleteCluster(conn.id);
  }, 120_000);
});
