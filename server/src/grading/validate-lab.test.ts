import { describe, expect, it } from "vitest";
import type { Lab } from "../labs/model/types.ts";
import { FakeClient } from "./fake-client.ts";
import { formatReport, junitXml } from "./report.ts";
import { validateLab } from "./validate-lab.ts";

const f = (path: string, text: string) => ({ path, text });

/** A one-stage lab: block the C2 domain; a guard says the payment API keeps working. */
function lab(opts: {
  solution: string;
  wrong: string;
  wrongFails: string[];
  first?: string;
  extraCheck?: string;
}): Lab {
  return {
    id: "t",
    title: "t",
    description: "t",
    durationMinutes: 1,
    profile: "bare",
    requirements: { edition: "enterprise", editions: ["enterprise"], providers: ["sim"] },
    params: [],
    stages: [
      {
        index: 0,
        id: "s0",
        title: "Block",
        guide: f("s0/README.md", "# Block\n"),
        setup: [
          f(
            "s0/setup/pod.yaml",
            "apiVersion: v1\nkind: Pod\nmetadata: {name: backup-1, namespace: ops, labels: {app: backup}}\nspec: {containers: [{name: main}]}\nstatus: {phase: Running}\n",
          ),
        ],
        checks: f(
          "s0/checks.yaml",
          `checks:
  - {id: c2, kind: probe, title: C2 blocked, hint: h, from: {namespace: ops, selector: app=backup}, to: {domain: c2.test, port: 443}, expect: blocked}
  - {id: pay, kind: probe, guard: true, title: payments work, hint: h, from: {namespace: ops, selector: app=backup}, to: {domain: pay.test, port: 443}, expect: allowed}
${opts.extraCheck ?? ""}`,
        ),
        solution: [f("s0/solution/p.yaml", opts.solution)],
        wrong: [
          {
            name: "deny-all",
            meta: f(
              "s0/wrong/deny-all/wrong.yaml",
              `why: denies everything\nfails: [${opts.wrongFails.join(", ")}]\nfirst: ${opts.first ?? opts.wrongFails[0]}\n`,
            ),
            manifests: [f("s0/wrong/deny-all/p.yaml", opts.wrong)],
          },
        ],
        cleanup: [],
      },
    ],
  };
}

const policy = (name: string, blocks: string) =>
  `apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: ${name}, annotations: {blocks: "${blocks}"}}\nspec: {}\n`;

/** curl sees a timeout for a domain some policy's `blocks` annotation lists. */
function cluster(): FakeClient {
  return new FakeClient((objects, _at, cmd) => {
    const url = cmd[cmd.length - 1] ?? "";
    const blocked = objects.some((o) =>
      String((o.metadata.annotations as Record<string, string> | undefined)?.blocks ?? "")
        .split(",")
        .some((d) => d && url.includes(d)),
    );
    return blocked ? { code: 28, stdout: "\n000", stderr: "" } : { code: 0, stdout: "ok\n200", stderr: "" };
  });
}

describe("validateLab", () => {
  it("passes a lab whose checks fail before, fail with the wrong solution and pass with the reference", async () => {
    const c = cluster();
    const r = await validateLab(
      c,
      lab({
        solution: policy("block-c2", "c2.test"),
        wrong: policy("deny-all", "c2.test,pay.test"),
        wrongFails: ["pay"],
        first: "pay",
      }),
      {},
    );
    expect(r.stages[0]!.problems).toEqual([]);
    expect(r.passed).toBe(true);
    // The wrong solution was undone before the reference solution went in.
    expect(c.calls).toContain("delete GlobalNetworkPolicy/deny-all");
    expect(formatReport(r)).toContain("PASSED");
    expect(junitXml([r])).toContain('failures="0"');
  });

  it("reports a check that can never fail, a wrong solution that passes, and a failing reference solution", async () => {
    const r = await validateLab(
      cluster(),
      lab({
        solution: policy("block-c2", "pay.test"),
        wrong: policy("deny-all", "c2.test"),
        wrongFails: ["c2", "pay"],
        extraCheck:
          "  - {id: always, kind: probe, title: t, hint: h, from: {namespace: ops, selector: app=backup}, to: {domain: x.test, port: 443}, expect: allowed}",
      }),
      {},
    );
    expect(r.passed).toBe(false);
    const problems = r.stages[0]!.problems.join("\n");
    expect(problems).toMatch(/always: this check can never fail: it passes before the solution/);
    // The attempt is the reference solution with the mistake added: block-c2 (which blocks pay) and deny-all.
    expect(problems).toMatch(/wrong solution deny-all \(denies everything\) passes c2/);
    expect(problems).toMatch(/wrong solution deny-all: the first hint shown is pay's \("h"\), not c2's/);
    expect(problems).toMatch(/the reference solution fails c2/);
    expect(problems).toMatch(/the reference solution fails pay/);
    expect(formatReport(r)).toMatch(/always\s+PASS!/);
    expect(junitXml([r])).toMatch(/<failure message="it connected \(HTTP 200\)"/);
  });

  it("reports a wrong solution that fails more than it names, or names a check that is not run", async () => {
    const r = await validateLab(
      cluster(),
      lab({
        solution: policy("block-c2", "c2.test"),
        wrong: policy("block-c2", "c2.test,pay.test,x.test"),
        wrongFails: ["pay", "after-pay"],
        extraCheck: [
          "  - {id: x, kind: probe, title: x works, hint: hx, guard: true, from: {namespace: ops, selector: app=backup}, to: {domain: x.test, port: 443}, expect: allowed}",
          "  - {id: after-pay, kind: probe, title: t, hint: h, guard: true, dependsOn: [pay], from: {namespace: ops, selector: app=backup}, to: {domain: y.test, port: 443}, expect: allowed}",
        ].join("\n"),
      }),
      {},
    );
    const problems = r.stages[0]!.problems;
    expect(problems).toContain(
      "wrong solution deny-all (denies everything) also fails x, which its fails does not name: the connection timed out (curl exit 28)",
    );
    expect(problems).toContain(
      "wrong solution deny-all names after-pay, but after-pay is not checked (it depends on pay, which fails): take it out of fails",
    );
    // Guards first, in checks.yaml order: pay's hint is the first the learner reads, as the author said.
    expect(problems.join("\n")).not.toMatch(/first hint shown/);
  });
});

describe("resetStage", () => {
  it("deletes what the stage created, keeps shared objects and strips what the stage merged into them", async () => {
    const { resetStage } = await import("./stage.ts");
    const c = cluster();
    const base = lab({
      solution: policy("block-c2", "c2.test"),
      wrong: policy("deny-all", "c2.test"),
      wrongFails: ["c2"],
    });
    const stage = base.stages[0]!;
    stage.solution.push(
      f(
        "s0/solution/ns.yaml",
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: ops, annotations: {egress.projectcalico.org/selector: x}}\n",
      ),
    );
    const conn = { id: "t", provider: "sim" as const, kubeconfig: "", edition: "enterprise" as const };
    await c.apply({
      apiVersion: "v1",
      kind: "Namespace",
      metadata: { name: "ops", labels: { tenant: "ops" } },
    });
    await c.apply(
      JSON.parse(
        '{"apiVersion":"projectcalico.org/v3","kind":"GlobalNetworkPolicy","metadata":{"name":"block-c2"},"spec":{}}',
      ),
    );
    await c.apply({
      apiVersion: "v1",
      kind: "Namespace",
      metadata: { name: "ops", annotations: { "egress.projectcalico.org/selector": "x" } },
    });
    await resetStage(conn, base, 0, {}, { client: c });
    const ns = await c.get({ apiVersion: "v1", kind: "Namespace", name: "ops" });
    expect(ns?.metadata).toEqual({ name: "ops", labels: { tenant: "ops" }, annotations: {} });
    expect(
      await c.get({ apiVersion: "projectcalico.org/v3", kind: "GlobalNetworkPolicy", name: "block-c2" }),
    ).toBeUndefined();
    expect(await c.get({ apiVersion: "v1", kind: "Pod", namespace: "ops", name: "backup-1" })).toBeDefined();
  });
});

describe("startAtStage", () => {
  it("sets up and solves every earlier stage, then sets up the requested one", async () => {
    const { startAtStage } = await import("./stage.ts");
    const one = lab({
      solution: policy("block-c2", "c2.test"),
      wrong: policy("deny-all", "c2.test"),
      wrongFails: ["c2"],
    });
    const two: Lab = {
      ...one,
      stages: [one.stages[0]!, { ...one.stages[0]!, index: 1, id: "s1", solution: [] }],
    };
    const c = cluster();
    await startAtStage(
      { id: "t", provider: "sim", kubeconfig: "", edition: "enterprise" },
      two,
      1,
      {},
      { client: c },
    );
    expect(c.calls.filter((x) => x.startsWith("apply"))).toEqual([
      "apply Pod/backup-1",
      "apply GlobalNetworkPolicy/block-c2",
      "apply Pod/backup-1",
    ]);
  });
});
