/**
 * The learner's flow view reads Calico Whisker as on any real cluster: port-forward to `calico-system/svc/whisker`,
 * a list then a server-sent event stream, with policy bypassed as the kubelet's port-forward bypasses it. And the
 * premise of stage 4 holds: after the graders' probes ran (stage 2's least-privilege probe is denied from
 * shop/checkout), the page's view and the `flows` helper show denied flows only from the compromised workload; the
 * probes' flows are marked, from pods of their own.
 */
import { writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { environment } from "../../server/src/config/options.ts";
import { gradeStage, startAtStage } from "../../server/src/grading/index.ts";
import { simConnectTimeoutMs } from "../../server/src/grading/stage.ts";
import { loadLab, sessionParams, type Lab } from "../../server/src/labs/index.ts";
import { FlowHub, whiskerFlowSource, type FlowListener } from "../../server/src/realtime/flows.ts";
import type { FlowView } from "../../server/src/realtime/protocol.ts";
import { flowsScript } from "../../server/src/terminal/flows-helper.ts";
import { egressEdges, emptyFilter, matches } from "../../web/src/flow-filter.ts";
import { startKubectlEnv, type Kubectl, type KubectlEnv } from "../helpers/kubectl.ts";

const labDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../labs/egress-workshop");

let env: KubectlEnv;
let lab: Lab;

beforeAll(async () => {
  env = await startKubectlEnv();
  lab = await loadLab(labDir);
});
afterAll(async () => {
  await env?.close();
});

/** A page watching one cluster: its current table. */
class Page implements FlowListener {
  readonly rows = new Map<string, FlowView>();
  snapshots = 0;
  errors: string[] = [];
  snapshot(flows: FlowView[]): void {
    this.snapshots++;
    this.rows.clear();
    for (const f of flows) this.rows.set(f.key, f);
  }
  update(flows: FlowView[]): void {
    for (const f of flows) this.rows.set(f.key, f);
  }
  error(message: string): void {
    this.errors.push(message);
  }
  get all(): FlowView[] {
    return [...this.rows.values()];
  }
}

async function until(what: string, test: () => boolean, ms = 60_000): Promise<void> {
  const t0 = Date.now();
  while (!test()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function watch(k: Kubectl): { page: Page; hub: FlowHub } {
  const hub = new FlowHub({ batchMs: 50, retryMs: 200 });
  const page = new Page();
  hub.subscribe(k.id, () => whiskerFlowSource(k.kubeconfig), page);
  return { page, hub };
}

describe("the page's flow view reads Whisker through port-forward", () => {
  it("lists, then streams new flows, although a deny-all covers calico-system", async () => {
    const k = await env.cluster({ id: "flowview-stream", profile: lab.profile, edition: "enterprise" });
    const denyAll = await k(["apply", "-f", "-"], {
      input: `apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: deny-calico-system}
spec:
  selector: projectcalico.org/namespace == "calico-system"
  types: [Ingress, Egress]
`,
    });
    expect(denyAll.exitCode, denyAll.stderr).toBe(0);
    const { page, hub } = watch(k);
    try {
      await until("the first snapshot", () => page.snapshots > 0 && page.rows.size > 0);
      expect(page.errors).toEqual([]);
      // Whisker's JSON, as the page shows it: source-reported egress to domains (Enterprise), Allow → allow.
      const out = page.all.filter((f) => f.reporter === "src" && f.destType === "domain");
      expect(out.length).toBeGreaterThan(0);
      expect(out.every((f) => f.action === "allow" && !f.probe)).toBe(true);
      // A new flow arrives on the stream (server-sent events through the same port-forward).
      const pods = await k(["get", "pods", "-n", "shop", "-l", "app=storefront", "-o", "name"]);
      const pod = pods.stdout.trim().split("\n")[0]!.replace("pod/", "");
      await k([
        "exec",
        "-n",
        "shop",
        pod,
        "--",
        "curl",
        "-s",
        "-m",
        "2",
        "-o",
        "/dev/null",
        "https://pypi.org/",
      ]);
      await until("the storefront's new flow to pypi.org", () =>
        page.all.some((f) => f.sourceName.startsWith("storefront-") && f.destName === "pypi.org"),
      );
    } finally {
      hub.close();
    }
  }, 120_000);

  it("says Calico Whisker is not reachable on a cluster without it, and keeps retrying", async () => {
    const k = await env.cluster({ id: "flowview-nowhisker", profile: lab.profile, edition: "oss" });
    expect((await k(["delete", "service", "-n", "calico-system", "whisker"])).exitCode).toBe(0);
    const { page, hub } = watch(k);
    try {
      await until("two failures", () => page.errors.length >= 2);
      expect(page.errors[0]).toMatch(/Calico Whisker is not reachable .*calico-system\/whisker/);
      expect(page.snapshots).toBe(0);
    } finally {
      hub.close();
    }
  }, 60_000);
});

describe("stage 4's premise: the graders' probes never pass for an attendee's traffic", () => {
  it("after the checks ran, the page and the flows helper show denied flows only from the compromised workload", async () => {
    const seed = 1;
    const params = sessionParams(lab, seed);
    const compromised = { ns: String(params["compromised.ns"]), app: String(params["compromised.app"]) };
    const k = await env.cluster({ id: "flowview-stage4", profile: lab.profile, edition: "enterprise" });
    const conn = {
      id: k.id,
      provider: "sim" as const,
      kubeconfig: k.kubeconfig,
      edition: "enterprise" as const,
    };
    const opts = { connectTimeoutMs: simConnectTimeoutMs };
    await startAtStage(conn, lab, 4, params, opts);
    // Stage 2's checks probe a destination shop/checkout may not reach; stage 4's probe the compromised workload.
    const stage2 = await gradeStage(conn, lab, 2, params, {}, opts);
    expect(stage2.checks.find((c) => c.id === "least-privilege")).toMatchObject({ passed: true });
    await gradeStage(conn, lab, 4, params, {}, opts);

    const { page, hub } = watch(k);
    try {
      // The probes' denied flows are there, from the grader's probe pods, marked as such.
      await until("the least-privilege probe's denied flow", () =>
        page.all.some((f) => f.probe && f.action === "deny" && f.destName === "api.twilio.com"),
      );
      const probeDenied = page.all.find(
        (f) => f.probe && f.action === "deny" && f.destName === "api.twilio.com",
      )!;
      expect(probeDenied).toMatchObject({ sourceNamespace: "shop" });
      expect(probeDenied.sourceName).toMatch(/^egresslab-probe-checkout-[0-9a-f]{8}$/);

      // What the learner sees (the default filters, every window): denied flows come from the compromised workload.
      const shown = page.all.filter((f) => matches(f, { ...emptyFilter, window: "all" }));
      const denied = shown.filter((f) => f.action === "deny" && f.reporter === "src");
      expect(denied.length).toBeGreaterThan(0);
      for (const f of denied)
        expect(`${f.sourceNamespace}/${f.sourceName}`).toMatch(`${compromised.ns}/${compromised.app}-`);
      const deniedEdges = egressEdges(shown).filter((e) => e.verdict === "deny");
      expect(deniedEdges.map((e) => e.source.split("/")[1]!.split("-")[0])).toEqual(
        deniedEdges.map(() => compromised.app),
      );
      // With "Grader probes" ticked they show, marked.
      expect(page.all.filter((f) => matches(f, { ...emptyFilter, window: "all", probes: true }))).toContain(
        probeDenied,
      );
    } finally {
      hub.close();
    }

    // The flows helper in the learner's shell, through kubectl port-forward.
    const script = path.join(env.dir, "flows");
    writeFileSync(script, flowsScript, { mode: 0o755 });
    const run = (args: string[]) =>
      execa("/bin/bash", [script, ...args], {
        env: {
          PATH: environment().PATH ?? "/usr/bin:/bin",
          KUBECONFIG: k.kubeconfigPath,
          HOME: path.join(env.dir, "home"),
        },
        extendEnv: false,
        reject: false,
        timeout: 40_000,
      });
    const table = await run(["-a", "deny", "-s", "3600"]);
    expect(table.exitCode, table.stderr).toBe(0);
    const rows = table.stdout.trim().split("\n").slice(1);
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) expect(row.split(/\s+/)[1], row).toMatch(`${compromised.ns}/${compromised.app}-`);
    expect(table.stdout).not.toContain("egresslab-probe-");
    const withProbes = await run(["-a", "deny", "-s", "3600", "--probes"]);
    expect(withProbes.stdout).toMatch(/\[probe\] shop\/egresslab-probe-checkout-[0-9a-f]{8}/);
    const json = await run(["--json", "-s", "3600"]);
    expect(json.exitCode, json.stderr).toBe(0);
    expect(json.stdout).not.toContain("egresslab-probe-");
    expect(JSON.parse(json.stdout)).toMatchObject({ items: expect.any(Array) });
  }, 300_000);
});
