/**
 * The kind provider's whole path, as an instructor with Docker runs it: create → lab → terminal → check → delete.
 * `kind` and `docker` are the fakes in test/fixtures/bin; the cluster behind the kubeconfig kind hands out is a simulated
 * Calico Open Source cluster (a real Kubernetes API), and every kubectl command but Calico's manifests goes to the
 * real kubectl: Goldmane and Whisker, readiness, CoreDNS's forward block, the lab's workloads, the toolbox pod, the
 * terminal's `kubectl exec`, and grading.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { environment } from "../../server/src/config/options.ts";
import { createCmder } from "../../server/src/providers/cmd.ts";
import { createKindProvider, type KindProvider } from "../../server/src/providers/kind/provider.ts";
import type { ClusterConnection } from "../../server/src/providers/provider.ts";
import { loadLab, renderStage, type Lab } from "../../server/src/labs/index.ts";
import { readLabBlock } from "../../server/src/net/corefile-block.ts";
import { defaultCatalogue } from "../../server/src/net/catalogue-file.ts";
import { rotationCandidates } from "../../server/src/net/rotation.ts";
import { applyManifests, waitReady } from "../../server/src/grading/stage.ts";
import * as grading from "../../server/src/grading/index.ts";
import { labRunner, sessionEdition, type LabRunner } from "../../server/src/sessions/lab-runner.ts";
import { TerminalManager } from "../../server/src/terminal/manager.ts";
import { Toolboxes } from "../../server/src/terminal/toolbox.ts";
import type { TerminalClient } from "../../server/src/terminal/session.ts";
import { startKubectlEnv, type Kubectl, type KubectlEnv } from "../helpers/kubectl.ts";
import { onPath } from "../setup/host-tools.ts";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const fakes = path.join(root, "test", "fixtures", "bin");
const hostPath = environment().PATH ?? "/usr/bin:/bin";
const realKubectl = hostPath
  .split(path.delimiter)
  .map((d) => path.join(d, "kubectl"))
  .find((f) => onPath("kubectl", path.dirname(f)))!;

let dir: string;
let env: KubectlEnv;
let sim: Kubectl;
let provider: KindProvider;
let lab: LabRunner;
let conn: ClusterConnection;
let model: Lab;
const steps: string[] = [];

async function calls(): Promise<string[]> {
  return (await readFile(path.join(dir, "fake", "calls.log"), "utf8")).split("\n").filter(Boolean);
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "egresslab-kind-workshop-"));
  await import("node:fs/promises").then((fs) => fs.mkdir(path.join(dir, "fake")));
  env = await startKubectlEnv();
  // What kind makes and the operator installs: a cluster with Calico Open Source and nothing of the lab yet.
  sim = await env.cluster({ edition: "oss", profile: "bare" });
  const cmder = createCmder({
    env: {
      PATH: `${fakes}${path.delimiter}${hostPath}`,
      HOME: dir,
      EGRESSLAB_FAKE_DIR: path.join(dir, "fake"),
      FAKE_KIND_KUBECONFIG: sim.kubeconfigPath,
      FAKE_KUBECTL_REAL: realKubectl,
    },
  });
  provider = await createKindProvider({ cmder, dataDir: path.join(dir, "data"), pollMs: 50 });
  model = await loadLab(path.join(root, "labs", "egress-workshop"));
  lab = labRunner(model, grading, sessionEdition(model, provider.capabilities.calicoEdition));
}, 120_000);

afterAll(async () => {
  await env?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("a workshop on kind (fake kind and docker, a simulated Calico Open Source cluster as the API)", () => {
  it("creates the cluster: Calico, Goldmane and Whisker, the lab's internet, the lab's workloads", async () => {
    conn = await provider.acquire({
      id: "ada",
      profile: lab.profile,
      edition: lab.edition,
      onProgress: (s) => steps.push(s),
    });
    expect(conn).toMatchObject({ provider: "kind", edition: "oss" });
    expect(provider.capabilities.calicoEdition).toBe("oss");
    expect(steps).toEqual(
      expect.arrayContaining([
        "enabling Goldmane and Whisker (flow logs): kubectl apply -f observability.yaml",
        "waiting: nodes Ready 3/3; Calico components Available 5/5",
        "the lab's internet: CoreDNS forwards the lab's domains to 172.18.0.251",
        `applying the ${lab.profile} profile's workloads`,
        "kind cluster egresslab-ada is ready",
      ]),
    );
    // Goldmane and Whisker were applied (server-side) by the real kubectl, and the cluster has them.
    expect(await calls()).toContainEqual(
      expect.stringMatching(
        / apply --server-side --force-conflicts --field-manager=egresslab -f \S+\/clusters\/kind\/observability\.yaml$/,
      ),
    );
    const cr = await sim(["get", "goldmanes.operator.tigera.io,whiskers.operator.tigera.io", "-o", "name"]);
    expect(cr.stdout.split("\n").sort()).toEqual([
      "goldmane.operator.tigera.io/default",
      "whisker.operator.tigera.io/default",
    ]);
    // CoreDNS forwards the lab's zones (the C2 domains among them) to the DNS container, and restarted.
    const corefile = await sim([
      "-n",
      "kube-system",
      "get",
      "configmap",
      "coredns",
      "-o",
      "jsonpath={.data.Corefile}",
    ]);
    expect(corefile.stdout).toMatch(/^\.:53 \{\n/);
    expect(corefile.stdout).toMatch(
      / beacon\.darkhollow-c2\.net:53 [^\n]*\{\n {4}errors\n {4}cache 30\n {4}forward \. 172\.18\.0\.251\n\}/,
    );
    const restarted = await sim([
      "-n",
      "kube-system",
      "get",
      "deployment",
      "coredns",
      "-o",
      "jsonpath={.spec.template.metadata.annotations.kubectl\\.kubernetes\\.io/restartedAt}",
    ]);
    expect(restarted.stdout).not.toBe("");
    // The lab's workloads were applied.
    const shop = await sim(["-n", "shop", "get", "deployments", "-o", "name"]);
    expect(shop.stdout).toContain("deployment.apps/checkout");
    // Calico's manifests were the only commands kept from the cluster.
    const log = await calls();
    expect(log.filter((c) => / create -f /.test(c))).toHaveLength(3);
    expect(log).toContain("kind get nodes --name egresslab-ada");
  });

  it("runs the learner's terminal as kubectl exec into a toolbox pod in their cluster, never a host shell", async () => {
    const terminals = new TerminalManager({
      root: path.join(dir, "learners"),
      mode: "local",
      hostPath,
      idleTimeoutMs: 60_000,
      toolbox: new Toolboxes({ cmder: createCmder({ env: { HOME: dir } }), readySeconds: 60 }),
    });
    try {
      await terminals.prepare("ada", {
        kubeconfig: conn.kubeconfig,
        dirs: ["stage-0", "stage-1"],
        files: [],
        toolboxExecNamespaces: ["shop", "ops", "lab-extra"],
      });
      // The toolbox may exec in the lab's namespaces (the lab's toolbox.execNamespaces), each with its RoleBinding.
      const bindings = await sim([
        "get",
        "rolebindings",
        "-A",
        "--field-selector=metadata.name=egresslab-toolbox-exec",
        "-o",
        "jsonpath={.items[*].metadata.namespace}",
      ]);
      expect(bindings.stdout.split(" ").sort()).toEqual(["lab-extra", "ops", "shop"]);
      const pod = await sim([
        "-n",
        "egresslab-toolbox",
        "get",
        "pod",
        "toolbox",
        "-o",
        "jsonpath={.status.phase} {.spec.serviceAccountName}",
      ]);
      expect(pod.stdout).toBe("Running toolbox");
      // The toolbox's own tier comes first and lets it reach the API server whatever the learner denies.
      const tier = await sim([
        "get",
        "globalnetworkpolicies.projectcalico.org",
        "egresslab-toolbox.api-and-dns",
        "-o",
        "jsonpath={.spec.tier}",
      ]);
      expect(tier.stdout).toBe("egresslab-toolbox");

      let out = "";
      let exited: number | undefined;
      const client: TerminalClient = {
        output: (o) => (out += o.data),
        reset: () => {},
        replaced: () => {},
        exited: (code) => (exited = code),
      };
      const s = await terminals.attach("ada", client, { cols: 100, rows: 30, startDir: "stage-1" });
      // The pty's child runs kubectl once it has exec'd (a moment after the spawn).
      const deadline = Date.now() + 30_000;
      let cmdline: string[] = [];
      while (Date.now() < deadline) {
        // Empty while the kernel swaps images (and for a process that has exited: then the output says why).
        cmdline = readFileSync(`/proc/${s.pid}/cmdline`, "utf8").split("\0");
        if (!["node", ""].includes(path.basename(cmdline[0]!))) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(path.basename(cmdline[0]!), `the terminal printed: ${out}`).toBe("kubectl");
      expect(cmdline.slice(3, 11)).toEqual([
        "exec",
        "-it",
        "-n",
        "egresslab-toolbox",
        "toolbox",
        "-c",
        "toolbox",
        "--",
      ]);
      expect(cmdline[2]).toBe(path.join(dir, "learners", "ada", "home", ".kube", "config"));
      s.input("hostname\r");
      while (!/\btoolbox\b/.test(out.replace(/hostname/g, "")) && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 100));
      expect(out.replace(/hostname/g, "")).toMatch(/\btoolbox\b/);
      s.input("exit\r");
      while (exited === undefined && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect(exited).toBe(0);
    } finally {
      terminals.close();
    }
  });

  it("grades a stage on the cluster: fails before the learner's work, passes with the reference solution", async () => {
    const params = lab.params(7);
    await lab.setup(conn, 1, params);
    const before = await lab.grade(conn, 1, params, {});
    expect(before.passed).toBe(false);
    if (!lab.solve) throw new Error("the lab runner has no reference solutions");
    await lab.solve(conn, 1, params);
    const after = await lab.grade(conn, 1, params, {});
    expect(after.checks.filter((c) => !c.passed)).toEqual([]);
    expect(after.passed).toBe(true);
    // The toolbox's own tier passes its traffic on to the learner's policies: their default-deny applies to it.
    const nc = (host: string, port: string) =>
      sim(["exec", "-n", "egresslab-toolbox", "toolbox", "--", "nc", "-z", "-w", "2", host, port]);
    const stripe = await nc("api.stripe.com", "443");
    expect(stripe.stderr).toMatch(/timed out/);
    expect(stripe.exitCode).not.toBe(0);
  });

  it("rotates a provider through the lab's internet in CoreDNS: an allowlist pinned to its addresses fails, the published ranges pass", async () => {
    const params = lab.params(7);
    const client = grading.createKubeClient(conn.kubeconfig);
    const corefile = async (): Promise<string> =>
      (await sim(["-n", "kube-system", "get", "configmap", "coredns", "-o", "jsonpath={.data.Corefile}"]))
        .stdout;
    const stripe = defaultCatalogue().domains.find((d) => d.name === "api.stripe.com")!;
    const candidates = rotationCandidates(defaultCatalogue()).get("api.stripe.com")!.flat();
    await lab.setup(conn, 2, params);
    // The guide's Rotate button: the server rotates through the cluster's CoreDNS, as on a real kind cluster.
    if (!lab.rotate) throw new Error("the lab runner cannot rotate");
    const restartedBefore = (
      await sim([
        "-n",
        "kube-system",
        "get",
        "deployment",
        "coredns",
        "-o",
        "jsonpath={.spec.template.metadata.annotations.kubectl\\.kubernetes\\.io/restartedAt}",
      ])
    ).stdout;
    const rotated = await lab.rotate(conn, "api.stripe.com");
    expect(rotated.previous).toEqual(stripe.ips);
    expect(candidates).toEqual(expect.arrayContaining(rotated.ips));
    expect(readLabBlock(await corefile())!.rotations).toEqual([
      { domain: "api.stripe.com", generation: 1, ips: rotated.ips },
    ]);
    const generation = await sim([
      "-n",
      "kube-system",
      "get",
      "deployment",
      "coredns",
      "-o",
      "jsonpath={.metadata.generation} {.status.observedGeneration} {.status.updatedReplicas} {.spec.template.metadata.annotations.kubectl\\.kubernetes\\.io/restartedAt}",
    ]);
    const [gen, observed, updated, restartedAt] = generation.stdout.split(" ");
    expect(observed).toBe(gen);
    expect(Number(updated)).toBeGreaterThan(0);
    expect(restartedAt).not.toBe(restartedBefore);
    // The pods resolve the new addresses (the guide's next command).
    const lookup = await sim(["exec", "-n", "shop", "deploy/checkout", "--", "nslookup", "api.stripe.com"]);
    for (const ip of rotated.ips) expect(lookup.stdout).toContain(`Address: ${ip}`);
    for (const ip of stripe.ips) expect(lookup.stdout).not.toContain(ip);

    // The known mistake: network sets pinned to the inventory-day addresses. The check rotates again, and fails.
    const stage = renderStage(model, 2, params);
    const pinned = stage.wrong.find((w) => w.name === "pinned-addresses")!;
    await applyManifests(client, pinned.manifests);
    await waitReady(client, pinned.manifests, 60_000);
    const wrong = await lab.grade(conn, 2, params, {});
    const check = wrong.checks.find((c) => c.id === "stripe-after-rotation")!;
    expect(check.passed).toBe(false);
    const block = readLabBlock(await corefile())!;
    expect(block.rotations[0]!.generation).toBe(2);
    expect(check.seen).toContain(`after api.stripe.com rotated to ${block.rotations[0]!.ips.join(", ")}`);
    expect(wrong.checks.filter((c) => !c.passed).map((c) => c.id)).toEqual(["stripe-after-rotation"]);

    // The reference solution (the provider's published ranges) survives the next rotation.
    if (!lab.solve) throw new Error("the lab runner has no reference solutions");
    await lab.solve(conn, 2, params);
    const right = await lab.grade(conn, 2, params, {});
    expect(right.checks.filter((c) => !c.passed)).toEqual([]);
    expect(readLabBlock(await corefile())!.rotations[0]!.generation).toBe(3);
  });

  it("deletes the cluster and its files", async () => {
    await provider.release("ada");
    const tail = (await calls()).slice(-4);
    expect(tail).toEqual([
      "kind delete cluster --name egresslab-ada",
      "kind get clusters",
      // The last egresslab cluster is gone: so is the lab's internet.
      "docker rm -f egresslab-internet-web",
      "docker rm -f egresslab-internet-dns",
    ]);
    expect(await provider.list()).toEqual([]);
    await expect(readFile(path.join(dir, "data", "kind", "egresslab-ada.kubeconfig"))).rejects.toThrow();
  });
});
