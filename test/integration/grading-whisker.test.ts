/**
 * Grading reads flows as on a real cluster: Calico Whisker through port-forward to `calico-system/svc/whisker:8081`
 * (client-node's `PortForward`), mapped back to the flow-log fields checks match on. Port-forward bypasses network
 * policy, so a deny-all over `calico-system` does not stop it; without the Service the check says flows are
 * unavailable and fails, never passes.
 */
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SimHost } from "../../server/src/sim/host.ts";
import { loadLab, type Lab } from "../../server/src/labs/index.ts";
import { createKubeClient } from "../../server/src/grading/kube-client.ts";
import { fetchFlows, runFlowsCheck } from "../../server/src/grading/flows.ts";
import type { ClusterClient } from "../../server/src/grading/cluster.ts";
import type { FlowsCheck } from "../../server/src/labs/model/types.ts";

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

async function client(id: string, edition: "oss" | "enterprise"): Promise<ClusterClient> {
  const c = await host.createCluster({ id, profile: lab.profile, edition, seed: 3 });
  return createKubeClient(c.kubeconfig);
}

/** Whisker's flows for `query`, polled until `ready` holds for them (the workshop's traffic starts with the cluster). */
async function someFlows(
  c: ClusterClient,
  query: Record<string, string>,
  ready: (flows: Record<string, unknown>[]) => boolean = (flows) => flows.length > 0,
): Promise<Record<string, unknown>[]> {
  for (let i = 0; i < 150; i++) {
    const flows = await fetchFlows(c, query);
    if (ready(flows)) return flows;
    await new Promise((r) => setTimeout(r, 200));
  }
  return [];
}

describe("flow checks through port-forward to Whisker", () => {
  it("reads the workshop's egress with flow-log fields, domains on Enterprise, despite a deny-all on calico-system", async () => {
    const c = await client("grading-whisker-ent", "enterprise");
    await c.apply({
      apiVersion: "projectcalico.org/v3",
      kind: "GlobalNetworkPolicy",
      metadata: { name: "deny-calico-system" },
      spec: { selector: 'projectcalico.org/namespace == "calico-system"', types: ["Ingress", "Egress"] },
    });
    const flows = await someFlows(c, { reporter: "src", action: "allow" }, (fs) =>
      fs.some((f) => f.dest_type === "net" && (f.dest_domains as string[]).length > 0),
    );
    expect(flows.length).toBeGreaterThan(0);
    const out = flows.filter((f) => f.dest_type === "net");
    expect(out.length).toBeGreaterThan(0);
    for (const f of flows) {
      expect(f.reporter).toBe("src");
      expect(f.action).toBe("allow");
      expect(Number.isInteger(f.end_time)).toBe(true);
    }
    expect(out.some((f) => (f.dest_domains as string[]).length > 0)).toBe(true);
    expect(out.every((f) => f.dest_name === "pub" || f.dest_name === "pvt")).toBe(true);
    const check: FlowsCheck = {
      id: "egress",
      title: "shop reaches the internet",
      hint: "",
      guard: false,
      kind: "flows",
      query: { reporter: "src" },
      match: { dest_type: "net", source_namespace: ["shop", "ops"] },
      expect: { present: true },
    };
    expect(await runFlowsCheck(c, check)).toMatchObject({ passed: true });
    // Without the Service there is no way in: the check fails and says why.
    expect(
      await c.delete({ apiVersion: "v1", kind: "Service", name: "whisker", namespace: "calico-system" }),
    ).toBe(true);
    const r = await runFlowsCheck(c, check);
    expect(r.passed).toBe(false);
    expect(r.seen).toMatch(/flow logs not available on this cluster .*Service calico-system\/whisker/);
  }, 90_000);

  it("on Open Source, flows carry no domains", async () => {
    const c = await client("grading-whisker-oss", "oss");
    const flows = await someFlows(c, { reporter: "src" });
    expect(flows.length).toBeGreaterThan(0);
    expect(flows.every((f) => (f.dest_domains as string[]).length === 0)).toBe(true);
  }, 90_000);
});
