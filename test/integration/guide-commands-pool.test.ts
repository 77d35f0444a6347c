/**
 * Every command in the egress workshop's guide, and every check, works unchanged on a kubeconfig pool cluster of the
 * same edition (issue 12's "Done when", second half). The pool holds two clusters, one per edition, each a simulated
 * cluster standing in as the real API: a fresh operator install of Calico (`bare`) with the lab's internet in its
 * CoreDNS, as `egresslab clusters create --provider kind` makes pool clusters, nothing of the lab until the stages'
 * setup brings it. The kubeconfig provider leases them; the toolbox's objects are
 * created in each as the terminal does (`Toolboxes.prepare`: clusters/toolbox.yaml); the learner's shell is the
 * toolbox's (test/helpers/guide-learner.ts `toolboxLearner`): its HOME written by the toolbox's sync script, a login
 * bash, the real kubectl on the host, authenticated as the toolbox's ServiceAccount so that its RBAC applies to every
 * command. Grading goes through the pool's kubeconfig, as the server's does.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parse, stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defaultCatalogue } from "../../server/src/net/catalogue-file.ts";
import { createCmder } from "../../server/src/providers/cmd.ts";
import { forwardClusterDns } from "../../server/src/providers/kind/internet-docker.ts";
import {
  createKubeconfigProvider,
  type KubeconfigProvider,
} from "../../server/src/providers/kubeconfig/provider.ts";
import {
  renderGuide,
  renderStage,
  sessionParams,
  type Edition,
  type Lab,
} from "../../server/src/labs/index.ts";
import { Toolboxes, toolboxNamespace } from "../../server/src/terminal/toolbox.ts";
import { splitCommands, transcript, walkStage, type StageWalk } from "../helpers/guide-walk.ts";
import {
  learnerWrites,
  notForTheTerminal,
  loadWorkshop,
  stageDirs,
  toolboxLearner,
  type Learner,
} from "../helpers/guide-learner.ts";
import { startKubectlEnv, type Kubectl, type KubectlEnv } from "../helpers/kubectl.ts";

let env: KubectlEnv;
let dir: string;
let provider: KubeconfigProvider;
let lab: Lab;
const standIns: Partial<Record<Edition, Kubectl>> = {};
const learners: Learner[] = [];

/** A path only the simulator serves: no real cluster has it, so a guide command or check using it cannot work there. */
const simulatorOnly = /\/egresslab\/v1\//;

/** Where the lab's guides, checks and setup commands use a path only the simulator serves, for both editions. */
function simulatorOnlyUses(lab: Lab): string[] {
  const found: string[] = [];
  for (const edition of ["enterprise", "oss"] as const) {
    const params = sessionParams(lab, 1, edition);
    for (const s of lab.stages) {
      for (const a of renderGuide(lab, s.index, params).actions)
        for (const c of a.kind === "run" ? splitCommands(a.text) : [a.text])
          if (simulatorOnly.test(c)) found.push(`${edition} ${s.id} guide: ${c.trim()}`);
      const stage = renderStage(lab, s.index, params);
      for (const c of stage.checks)
        if (simulatorOnly.test(JSON.stringify(c))) found.push(`${edition} ${s.id} check ${c.id}`);
      for (const c of stage.commands)
        if (simulatorOnly.test(JSON.stringify(c)))
          found.push(`${edition} ${s.id} setup ${JSON.stringify(c)}`);
    }
  }
  return found;
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), "egresslab-guide-pool-"));
  lab = await loadWorkshop();
  env = await startKubectlEnv();
  const files: string[] = [];
  for (const edition of ["enterprise", "oss"] as const) {
    const k = await env.cluster({ id: `pool-${edition}`, edition, profile: "bare" });
    standIns[edition] = k;
    // A pool cluster made by `egresslab clusters create --provider kind`: the lab's internet block in its CoreDNS,
    // through which a rotation goes (grading/rotation.ts), as on kind.
    await forwardClusterDns(
      { cmder: createCmder({ env: { HOME: dir } }), catalogue: defaultCatalogue(), onProgress: () => {} },
      k.kubeconfigPath,
      "172.18.0.251",
    );
    // The pool says each cluster's edition in the kubeconfig's egresslab extension.
    const doc = parse(k.kubeconfig) as Record<string, unknown>;
    doc.extensions = [{ name: "egresslab", extension: { calicoEdition: edition } }];
    const file = path.join(dir, `${edition}.yaml`);
    writeFileSync(file, stringify(doc), { mode: 0o600 });
    files.push(file);
  }
  provider = await createKubeconfigProvider({ files, dataDir: path.join(dir, "data") });
});

afterAll(async () => {
  for (const l of learners) l.close();
  await provider?.close();
  await env?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/**
 * The kubeconfig the toolbox's shell uses in place of the pod's in-cluster configuration: the pool's cluster with the
 * toolbox ServiceAccount's token (`kubectl create token toolbox -n egresslab-toolbox`), so every guide command meets
 * the toolbox's RBAC (clusters/toolbox.yaml) as it does in the pod.
 */
async function toolboxKubeconfig(k: Kubectl, poolKubeconfig: string): Promise<string> {
  const token = await k(["create", "token", "toolbox", "-n", toolboxNamespace]);
  expect(token.exitCode, token.stderr).toBe(0);
  const doc = parse(poolKubeconfig) as { users: { name: string; user: Record<string, unknown> }[] };
  for (const u of doc.users) u.user = { token: token.stdout.trim() };
  return stringify(doc);
}

describe("the egress workshop's guide on a kubeconfig pool cluster", () => {
  it.concurrent.each([
    ["enterprise", 3],
    ["oss", 4],
  ] as [Edition, number][])(
    "%s: every guide command works in the toolbox's shell and every check passes, stage after stage (seed %i)",
    async (edition, seed) => {
      const conn = await provider.acquire({ id: `guide-${edition}`, profile: lab.profile, edition, seed });
      expect(conn).toMatchObject({ provider: "kubeconfig", edition });
      const poolFile = path.join(dir, `${edition}.lease.kubeconfig`);
      writeFileSync(poolFile, conn.kubeconfig, { mode: 0o600 });
      // What the terminal does on a real cluster before the first shell: the toolbox's objects, then its HOME.
      await new Toolboxes({ cmder: createCmder({ env: { HOME: dir } }), readySeconds: 60 }).prepare(
        poolFile,
        {
          dirs: stageDirs(lab),
          files: [],
        },
      );
      const learner = await toolboxLearner(
        lab,
        edition,
        seed,
        conn,
        await toolboxKubeconfig(standIns[edition]!, conn.kubeconfig),
      );
      learners.push(learner);
      // The shell is the toolbox's ServiceAccount, not the pool's administrator: Secrets are out of its reach.
      const secrets = await learner.shell.run("kubectl get secrets -n default");
      expect(secrets.output).toMatch(
        /Error from server \(Forbidden\): .*"system:serviceaccount:egresslab-toolbox:toolbox" cannot list resource "secrets"/,
      );
      const walks: StageWalk[] = [];
      for (const s of lab.stages) walks.push(await walkStage(learner, s.index));
      expect(
        walks.flatMap((w) => w.problems),
        transcript(walks),
      ).toEqual([]);
      expect(walks.map((w) => w.stage)).toEqual(lab.stages.map((s) => s.id));
      expect(Object.fromEntries(walks.map((w) => [w.stage, w.written]))).toEqual(learnerWrites[edition]);
      // The guide's rotate action (stage 2) rotated Stripe, to addresses of its own.
      expect(walks.flatMap((w) => w.rotated)).toEqual([
        expect.stringMatching(/^api\.stripe\.com: \S+ → \S+$/),
      ]);
      // On this cluster a rotation goes through the lab's internet block in CoreDNS, as on kind.
      const corefile = await standIns[edition]!([
        "-n",
        "kube-system",
        "get",
        "configmap",
        "coredns",
        "-o",
        "jsonpath={.data.Corefile}",
      ]);
      expect(corefile.stdout).toMatch(/api\.stripe\.com rotated, generation \d+/);
      // Copy blocks not run: only those meant for another machine than the terminal.
      expect(walks.flatMap((w) => w.copied)).toEqual(notForTheTerminal[edition]);
    },
    600_000,
  );

  it("uses no path only the simulator serves in a guide command, a check or a setup command", () => {
    expect(simulatorOnlyUses(lab)).toEqual([]);
  });
});
