/**
 * The shipped workshop on the simulated cluster, driven only through a kubeconfig: `validate` proves every stage
 * (checks fail before the solution, wrong solutions fail what they name, the reference solution passes), and the
 * stage lifecycle the web server uses (setup → grade → solve → grade → reset) behaves as a learner sees it.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { execa } from "execa";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SimHost } from "../../server/src/sim/host.ts";
import { loadLab, renderStage, sessionParams, type Edition, type Lab } from "../../server/src/labs/index.ts";
import type { ClusterObject } from "../../server/src/grading/cluster.ts";
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

async function connection(
  id: string,
  seed: number,
  edition: Edition = lab.requirements.edition,
): Promise<ClusterConnection> {
  const c = await host.createCluster({ id, profile: lab.profile, edition, seed });
  return { id: c.id, provider: "sim", kubeconfig: c.kubeconfig, edition };
}

describe("egress-workshop on the simulated cluster", () => {
  it.each(["enterprise", "oss"] as const)(
    "validates on %s: every check can fail, every wrong solution is caught with its root cause first, every reference solution passes",
    async (edition) => {
      const seed = 3; // ops/analytics compromised, drop.exfil-paste.xyz
      const conn = await connection(`validate-${edition}`, seed, edition);
      const report = await validateLab(
        createKubeClient(conn.kubeconfig),
        lab,
        sessionParams(lab, seed, edition),
        { connectTimeoutMs: simConnectTimeoutMs },
      );
      const text = formatReport(report);
      expect(
        report.stages.flatMap((s) => s.problems),
        text,
      ).toEqual([]);
      expect(report.passed).toBe(true);
      expect(report.edition).toBe(edition);
      expect(report.stages.map((s) => s.id)).toEqual(lab.stages.map((s) => s.id));
      // Stage 3 needs egress gateways: it runs on Enterprise only.
      expect(report.stages.filter((s) => s.guideOnly).map((s) => s.id)).toEqual(
        edition === "oss" ? ["03-egress-gateway"] : [],
      );
      // Every kind of check ran and both outcomes were seen.
      const results = report.stages.flatMap((s) => s.expectations);
      expect(results.some((e) => e.expected === "fail" && !e.result.passed)).toBe(true);
      expect(results.filter((e) => e.phase.startsWith("wrong:")).length).toBeGreaterThan(15);
      expect(junitXml([report])).toMatch(/failures="0"/);
      expect(junitXml([report])).toContain(`classname="egress-workshop.${edition}.`);
      await host.deleteCluster(conn.id);
    },
    180_000,
  );

  it("an oss cluster refuses what Calico Open Source lacks, with the errors the Open Source guides show", async () => {
    const conn = await connection("oss-refusals", 1, "oss");
    const dir = mkdtempSync(path.join(tmpdir(), "egresslab-oss-"));
    try {
      const kubeconfig = path.join(dir, "kubeconfig");
      writeFileSync(kubeconfig, conn.kubeconfig);
      const kubectl = (args: string[], input?: string) =>
        execa("kubectl", args, {
          env: { KUBECONFIG: kubeconfig, HOME: dir, PATH: process.env.PATH ?? "" },
          extendEnv: false,
          reject: false,
          ...(input !== undefined ? { input } : {}),
        });
      // Stage 2 (oss): kubectl validates strictly, so a domain rule is refused, as on Calico Open Source.
      const byName = await kubectl(
        ["apply", "--dry-run=server", "-f", "-"],
        [
          "apiVersion: projectcalico.org/v3",
          "kind: NetworkPolicy",
          "metadata: {name: by-name, namespace: shop}",
          "spec:",
          '  selector: app == "checkout"',
          "  egress: [{action: Allow, protocol: TCP, destination: {domains: [api.stripe.com], ports: [443]}}]",
        ].join("\n"),
      );
      expect(byName.exitCode).not.toBe(0);
      expect(byName.stderr).toContain(
        'strict decoding error: unknown field "spec.egress[0].destination.domains"',
      );
      // Stage 3 (oss): there is no EgressGateway kind.
      const gateways = await kubectl(["get", "egressgateways.operator.tigera.io"]);
      expect(gateways.stderr).toContain('error: the server doesn\'t have a resource type "egressgateways"');
      // Stage 0's network sets are in the prepared cluster, so flows name the known destinations from the start.
      const sets = await kubectl(["get", "globalnetworksets", "-o", "name"]);
      expect(sets.stdout.split("\n").sort()).toEqual(
        ["api-stripe", "api-twilio", "aws-s3", "fabrikam-logistics", "github", "pypi"].map(
          (n) => `globalnetworkset.projectcalico.org/${n}`,
        ),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
      await host.deleteCluster(conn.id);
    }
  }, 60_000);

  it("shows the root cause first: with DNS denied, the probes that need names say they were not checked", async () => {
    const seed = 1;
    const params = sessionParams(lab, seed);
    const conn = await connection("root-cause", seed);
    await setupStage(conn, lab, 0, params);
    await solveStage(conn, lab, 0, params);
    await setupStage(conn, lab, 1, params);
    const client = createKubeClient(conn.kubeconfig);
    const noDns = renderStage(lab, 1, params).wrong.find((w) => w.name === "no-dns")!;
    for (const m of noDns.manifests) await client.apply(m.object as ClusterObject);
    const r = await gradeStage(conn, lab, 1, params, {});
    expect(r.checks[0]).toMatchObject({ id: "dns-resolves", passed: false });
    expect(r.checks[0]!.hint).toMatch(/Names no longer resolve/);
    for (const id of ["shop-egress-denied", "ops-egress-denied", "dns-over-tcp", "shop-internal-works"])
      expect(r.checks.find((c) => c.id === id)).toMatchObject({
        passed: false,
        blockedBy: "dns-resolves",
        seen: expect.stringMatching(/^not checked: /),
      });
    await host.deleteCluster(conn.id);
  }, 120_000);

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
