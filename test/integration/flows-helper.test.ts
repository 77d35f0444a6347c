/**
 * The learner's `flows` helper (`~/bin/flows`) against the simulated cluster with the real kubectl, curl and jq: a
 * table of Whisker's flows through `kubectl port-forward -n calico-system svc/whisker`, filtered by namespace, action
 * and pending action; and without jq, a clear message and `--json` still works.
 */
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { environment } from "../../server/src/config/options.ts";
import { flowsScript } from "../../server/src/terminal/flows-helper.ts";
import { startKubectlEnv, type Kubectl, type KubectlEnv } from "../helpers/kubectl.ts";

let env: KubectlEnv;
let k: Kubectl;
let script: string;

const SETUP = `apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop, labels: {app: web}}
spec:
  containers: [{name: nginx, image: nginx:1.27, ports: [{containerPort: 80}]}]
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 80}]
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: shop, labels: {app: client}}
spec:
  containers: [{name: main, image: curlimages/curl:8.11.1, command: [sleep, infinity]}]
---
apiVersion: projectcalico.org/v3
kind: StagedGlobalNetworkPolicy
metadata: {name: default.would-deny}
spec:
  tier: default
  selector: app == "client"
  types: [Egress]
`;

function run(args: string[], pathDirs = environment().PATH ?? "/usr/bin:/bin") {
  return execa("/bin/bash", [script, ...args], {
    env: { PATH: pathDirs, KUBECONFIG: k.kubeconfigPath, HOME: path.join(env.dir, "home") },
    extendEnv: false,
    reject: false,
    timeout: 40_000,
  });
}

beforeAll(async () => {
  env = await startKubectlEnv();
  k = await env.cluster({ id: "flows-helper" });
  script = path.join(env.dir, "flows");
  writeFileSync(script, flowsScript, { mode: 0o755 });
  const applied = await k(["apply", "-f", "-"], { input: SETUP });
  expect(applied.exitCode, applied.stderr).toBe(0);
  const ready = await k([
    "wait",
    "-n",
    "shop",
    "--for=condition=Ready",
    "pod/web",
    "pod/client",
    "--timeout=30s",
  ]);
  expect(ready.exitCode, ready.stderr).toBe(0);
  const curl = await k([
    "exec",
    "-n",
    "shop",
    "client",
    "--",
    "curl",
    "-s",
    "-o",
    "/dev/null",
    "http://web.shop",
  ]);
  expect(curl.exitCode, curl.stderr).toBe(0);
}, 60_000);
afterAll(async () => {
  await env?.close();
});

describe("flows (the learner's helper)", () => {
  it("prints Whisker's flows as a table, filtered by namespace, action and pending action", async () => {
    let r = await run(["-n", "shop"]);
    for (let i = 0; i < 20 && !/shop\/client/.test(r.stdout); i++) {
      await new Promise((res) => setTimeout(res, 500));
      r = await run(["-n", "shop"]);
    }
    expect(r.stderr).toBe("");
    expect(r.exitCode, r.stdout).toBe(0);
    const lines = r.stdout.trim().split("\n");
    expect(lines[0]).toMatch(/^TIME\s+SOURCE\s+DESTINATION\s+PORT\s+ACTION\s+PENDING\s+POLICY$/);
    const row = lines.find((l) => /shop\/client-?\S*\s+shop\/web\S*\s+tcp\/80\s+Allow\s+Deny/.test(l));
    expect(row, r.stdout).toBeDefined();
    const denied = await run(["-n", "shop", "-a", "deny"]);
    expect(denied.exitCode).toBe(0);
    expect(denied.stdout).toMatch(/^no flows/);
    const pending = await run(["-n", "shop", "-p", "deny"]);
    expect(pending.stdout).toContain("shop/client");
    expect(pending.stdout).not.toMatch(/\/kns\.shop|^\S+\s+\S+\s+\S+\s+\S+\s+\S+\s+Allow/m);
    const other = await run(["-n", "ops"]);
    expect(other.stdout).toMatch(/^no flows/);
  }, 120_000);

  it("without jq: says how to get it, and --json still prints Whisker's answer", async () => {
    const bin = path.join(env.dir, "nojq");
    mkdirSync(bin, { recursive: true });
    for (const tool of ["kubectl", "curl", "sed", "head", "seq", "sleep", "mktemp", "rm", "cat", "column"]) {
      const found = await execa("bash", ["-c", `command -v ${tool}`], { reject: false });
      if (found.exitCode === 0) symlinkSync(found.stdout.trim(), path.join(bin, tool));
    }
    const r = await run([], bin);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/needs jq.*apt-get install jq/);
    const j = await run(["--json", "-s", "600"], bin);
    expect(j.exitCode, j.stderr).toBe(0);
    expect(j.stdout).toMatch(/^\{"total":\{"totalPages":/);
  }, 60_000);

  it("refuses what it cannot pass on safely", async () => {
    for (const args of [["-n", "a b"], ["-n", "x&y=1"], ["-s", "1;id"], ["-a", "maybe"], ["--bogus"]]) {
      const r = await run(args);
      expect(r.exitCode, args.join(" ")).toBe(2);
    }
  });
});
