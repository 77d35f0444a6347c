/**
 * The learner's terminal on a real cluster is `kubectl exec` into the toolbox pod (clusters/toolbox.yaml), whose own
 * `kubectl` talks to the API server over the pod network. The lab's stage-1 default-deny selects every namespace but
 * the system ones — the toolbox's too — so without help it would cut the terminal off from the API server. The
 * toolbox's tier (order 100, before the learner's default tier) allows its API-server and DNS traffic and passes the
 * rest on. Here, on a simulated cluster of each edition, after every stage's reference solution: the toolbox pod
 * resolves and reaches `kubernetes.default` (what its kubectl dials), while the learner's policies still apply to
 * everything else it sends; and without the toolbox's tier the default-deny would indeed cut it off.
 */
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as grading from "../../server/src/grading/index.ts";
import { loadLab, type Lab } from "../../server/src/labs/index.ts";
import { createCmder } from "../../server/src/providers/cmd.ts";
import type { ClusterConnection } from "../../server/src/providers/provider.ts";
import { labRunner, type LabRunner } from "../../server/src/sessions/lab-runner.ts";
import { Toolboxes, toolboxNamespace, toolboxPod } from "../../server/src/terminal/toolbox.ts";
import { startKubectlEnv, type Kubectl, type KubectlEnv } from "../helpers/kubectl.ts";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
let env: KubectlEnv;
let model: Lab;

beforeAll(async () => {
  env = await startKubectlEnv();
  model = await loadLab(path.join(root, "labs", "egress-workshop"));
}, 120_000);

afterAll(async () => {
  await env?.close();
});

/** Runs `sh -c script` in the toolbox pod: what the learner's terminal would see. */
const inToolbox = (k: Kubectl, script: string) =>
  k(["exec", "-n", toolboxNamespace, toolboxPod, "-c", "toolbox", "--", "sh", "-c", script], {
    timeout: 60_000,
  });

/** The toolbox's kubectl dials the API server's Service by its in-cluster name; kube-dns must answer first. */
const API = "nc -z -w 2 kubernetes.default.svc.cluster.local 443";

describe.each(["enterprise", "oss"] as const)("the toolbox pod under the lab's policies (%s)", (edition) => {
  let k: Kubectl;
  let lab: LabRunner;
  let conn: ClusterConnection;

  beforeAll(async () => {
    k = await env.cluster({ profile: "egress-workshop", edition });
    lab = labRunner(model, grading, edition);
    conn = { id: k.id, provider: "sim", kubeconfig: k.kubeconfig, edition };
    const toolboxes = new Toolboxes({ cmder: createCmder({ env: { HOME: env.dir } }), readySeconds: 60 });
    await toolboxes.prepare(k.kubeconfigPath, { dirs: [], files: [] });
  }, 120_000);

  it("reaches the API server after every stage's reference solution, and meets the learner's policies otherwise", async () => {
    const params = lab.params(7);
    // What answers there is the API server (anonymous: the version, nothing else).
    const get = (p: string) =>
      inToolbox(k, `wget -qO- --no-check-certificate https://kubernetes.default.svc${p}`);
    expect(JSON.parse((await get("/version")).stdout)).toMatchObject({ gitVersion: "v1.32.2" });
    expect((await get("/api/v1/pods")).stderr).toMatch(/403 Forbidden/);
    const seen: string[] = [];
    for (let i = 0; i < model.stages.length; i++) {
      await lab.setup(conn, i, params);
      await lab.solve!(conn, i, params);
      const api = await inToolbox(k, `${API} && echo api-ok`);
      seen.push(`stage ${i}: ${api.stdout.trim() || api.stderr.trim()}`);
      if (i >= 1) {
        // The default-deny is in place: the toolbox's other egress is the learner's to allow, and it is not allowed.
        const out = await inToolbox(
          k,
          "nc -z -w 2 api.stripe.com 443 && echo stripe-open || echo stripe-closed",
        );
        seen.push(`stage ${i}: ${out.stdout.trim()}`);
      }
    }
    expect(seen).toEqual([
      "stage 0: api-ok",
      ...[1, 2, 3, 4].flatMap((i) => [`stage ${i}: api-ok`, `stage ${i}: stripe-closed`]),
    ]);
  });

  it("would be cut off by the stage-1 default-deny without the toolbox's tier", async () => {
    const policy = ["globalnetworkpolicy.projectcalico.org", "egresslab-toolbox.api-and-dns"];
    const saved = await k(["get", ...policy, "-o", "yaml"]);
    expect(saved.exitCode).toBe(0);
    expect((await k(["delete", ...policy])).exitCode).toBe(0);
    try {
      const r = await inToolbox(k, API);
      expect(r.exitCode).not.toBe(0);
    } finally {
      expect((await k(["apply", "-f", "-"], { input: saved.stdout })).exitCode).toBe(0);
    }
    expect((await inToolbox(k, API)).exitCode).toBe(0);
  });
});
