import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, mkdirSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { bashrc } from "./home.ts";
import { flowsScript } from "./flows-helper.ts";
import {
  Toolboxes,
  bashProfile,
  homeSyncScript,
  splitToolboxManifests,
  toolboxManifestFile,
  toolboxManifestsFor,
} from "./toolbox.ts";
import { CommandError, type Cmder } from "../providers/cmd.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe("toolbox manifests", () => {
  it("split the RBAC objects from the pod and its namespace and ServiceAccount", () => {
    const { rbac, rest } = splitToolboxManifests(readFileSync(toolboxManifestFile, "utf8"));
    const kinds = (t: string) => parseAllDocuments(t).map((d) => (d.toJS() as { kind: string }).kind);
    expect([...new Set(kinds(rbac))]).toEqual(["ClusterRole", "ClusterRoleBinding", "RoleBinding", "Role"]);
    expect(kinds(rest)).toEqual([
      "Namespace",
      "Namespace",
      "Namespace",
      "ServiceAccount",
      "Tier",
      "GlobalNetworkPolicy",
      "Pod",
    ]);
  });

  it("bind the role to the pod's ServiceAccount, which cannot write RBAC or secrets", () => {
    interface Doc {
      kind: string;
      metadata: { name: string; namespace?: string };
      spec: { serviceAccountName: string; securityContext: { runAsNonRoot: boolean } };
      subjects: unknown[];
      roleRef: { name: string };
      rules: { apiGroups: string[]; resources: string[]; verbs: string[] }[];
    }
    const docs = parseAllDocuments(readFileSync(toolboxManifestFile, "utf8")).map((d) => d.toJS() as Doc);
    const pod = docs.find((d) => d.kind === "Pod")!;
    const binding = docs.find((d) => d.kind === "ClusterRoleBinding")!;
    const role = docs.find((d) => d.kind === "ClusterRole")!;
    expect(binding.subjects).toEqual([
      { kind: "ServiceAccount", name: pod.spec.serviceAccountName, namespace: pod.metadata.namespace },
    ]);
    expect(binding.roleRef.name).toBe(role.metadata.name);
    const writes = role.rules.filter((r) => r.verbs.some((v) => !["get", "list", "watch"].includes(v)));
    for (const r of writes) {
      expect(r.apiGroups).not.toContain("rbac.authorization.k8s.io");
      expect(r.apiGroups).not.toContain("*");
      expect(r.resources).not.toContain("secrets");
      expect(r.resources).not.toContain("nodes");
    }
    expect(pod.spec.securityContext.runAsNonRoot).toBe(true);
  });
});

describe("homeSyncScript", () => {
  const run = (home: string, script: string) =>
    execFileSync("/bin/sh", ["-s"], { input: script, cwd: home, encoding: "utf8" });

  it("writes the lab's files where none exist, keeps the learner's edits, and replaces the server's own files", () => {
    const home = mkdtempSync(path.join(os.tmpdir(), "egresslab-toolbox-"));
    dirs.push(home);
    mkdirSync(path.join(home, "stage-1"));
    writeFileSync(path.join(home, "stage-1", "mine.yaml"), "edited by the learner\n");
    writeFileSync(path.join(home, ".bashrc"), "old rc\n");
    const spec = {
      dirs: ["stage-0", "stage-1"],
      files: [
        { path: "stage-1/mine.yaml", content: "the lab's version\n" },
        { path: "stage-1/it's $(touch pwned) `x`.yaml", content: "ünïcode and 'quotes'\n" },
        { path: "stage-2/deep/new.yaml", content: "kind: GlobalNetworkPolicy\n" },
      ],
    };
    expect(run(home, homeSyncScript(spec, home)).trim()).toBe("synced");
    expect(readFileSync(path.join(home, "stage-1", "mine.yaml"), "utf8")).toBe("edited by the learner\n");
    expect(readFileSync(path.join(home, "stage-1", "it's $(touch pwned) `x`.yaml"), "utf8")).toBe(
      "ünïcode and 'quotes'\n",
    );
    expect(readFileSync(path.join(home, "stage-2", "deep", "new.yaml"), "utf8")).toBe(
      "kind: GlobalNetworkPolicy\n",
    );
    expect(statSync(path.join(home, "stage-0")).isDirectory()).toBe(true);
    expect(readFileSync(path.join(home, ".bashrc"), "utf8")).toBe(bashrc);
    expect(readFileSync(path.join(home, "bin", "flows"), "utf8")).toBe(flowsScript);
    expect(readFileSync(path.join(home, ".bash_profile"), "utf8")).toBe(bashProfile);
    expect(statSync(path.join(home, "bin", "flows")).mode & 0o777).toBe(0o755);
    expect(() => statSync(path.join(home, "pwned"))).toThrow();
  });

  it("refuses a lab path that leaves HOME", () => {
    expect(() => homeSyncScript({ dirs: [], files: [{ path: "../../etc/passwd", content: "x" }] })).toThrow(
      /must stay inside the learner's home/,
    );
    expect(() => homeSyncScript({ dirs: ["/etc"], files: [] })).toThrow(/must stay inside/);
  });
});

describe("Toolboxes", () => {
  it("launches kubectl exec into the toolbox pod, never a host shell, with the server's kubeconfig", () => {
    const t = new Toolboxes({ cmder: {} as Cmder, manifests: "" });
    const l = t.launch("/data/learners/a/home/.kube/config", "/usr/bin:/bin", "/data/learners/a/kubectl");
    expect(l.file).toBe("kubectl");
    expect(l.args).toEqual([
      "--kubeconfig",
      "/data/learners/a/home/.kube/config",
      "exec",
      "-it",
      "-n",
      "egresslab-toolbox",
      "toolbox",
      "-c",
      "toolbox",
      "--",
      "bash",
      "-il",
    ]);
    expect(l.env).toEqual({
      PATH: "/usr/bin:/bin",
      HOME: "/data/learners/a/kubectl",
      KUBECACHEDIR: "/data/learners/a/kubectl/cache",
      TERM: "xterm-256color",
      LANG: "C.UTF-8",
    });
  });

  it("records the stage directory the login shell goes to, quoted, and refuses one outside HOME", async () => {
    const home = mkdtempSync(path.join(os.tmpdir(), "egresslab-toolbox-"));
    dirs.push(home);
    const cmder: Cmder = {
      which: () => "/usr/bin/kubectl",
      run(command, args) {
        // What runs in the pod, run here with HOME as the pod's.
        const inPod = args.slice(args.indexOf("--") + 1);
        execFileSync(inPod[0]!, inPod.slice(1), { env: { HOME: home, PATH: "/usr/bin:/bin" } });
        return Promise.resolve({ command, args, exitCode: 0, stdout: "", stderr: "" });
      },
    };
    const t = new Toolboxes({ cmder, manifests: "" });
    await t.setStartDir("/k", "stage-1/it's here");
    expect(readFileSync(path.join(home, ".egresslab-stage"), "utf8")).toBe("stage-1/it's here\n");
    mkdirSync(path.join(home, "stage-1", "it's here"), { recursive: true });
    writeFileSync(path.join(home, ".bashrc"), "");
    writeFileSync(path.join(home, ".bash_profile"), bashProfile);
    const pwd = execFileSync("/bin/bash", ["-lc", "pwd"], {
      env: { HOME: home, PATH: "/usr/bin:/bin" },
      encoding: "utf8",
    });
    expect(pwd.trim()).toBe(path.join(home, "stage-1", "it's here"));
    await expect(t.setStartDir("/k", "../../etc")).rejects.toThrow(/must stay inside/);
  });

  it("skips the role where the cluster serves no RBAC API, and names the failing step", async () => {
    const calls: string[] = [];
    const cmder: Cmder = {
      which: () => "/usr/bin/kubectl",
      run(command, args, opts) {
        calls.push(`${args.slice(2).join(" ")}${opts?.input ? ` <${opts.input.split("\n")[0]}` : ""}`);
        if (args[2] === "api-versions")
          return Promise.resolve({ command, args, exitCode: 0, stdout: "v1\napps/v1\n", stderr: "" });
        return Promise.resolve({ command, args, exitCode: 0, stdout: "", stderr: "" });
      },
    };
    const steps: string[] = [];
    await new Toolboxes({ cmder }).prepare("/k", { dirs: ["stage-0"], files: [] }, (s) => steps.push(s));
    expect(calls).toEqual([
      "apply --server-side --force-conflicts --field-manager=egresslab-toolbox -f - <apiVersion: v1",
      "api-versions",
      "wait --for=condition=Ready pod/toolbox -n egresslab-toolbox --timeout=300s",
      "exec -i -n egresslab-toolbox toolbox -c toolbox -- sh -s <set -e",
    ]);
    expect(steps).toEqual([
      "creating the toolbox pod (kubectl, curl, jq) in your cluster",
      "waiting for the toolbox pod to be Ready",
      "copying the lab's files into the toolbox",
    ]);
  });

  it("grants the role where the cluster serves RBAC, and names the step that failed", async () => {
    const calls: string[] = [];
    const cmder: Cmder = {
      which: () => "/usr/bin/kubectl",
      run(command, args, opts) {
        calls.push(`${args.slice(2).join(" ")}${opts?.input ? ` <${opts.input.split("\n")[0]}` : ""}`);
        if (args[2] === "api-versions")
          return Promise.resolve({
            command,
            args,
            exitCode: 0,
            stdout: "rbac.authorization.k8s.io/v1\nv1\n",
            stderr: "",
          });
        if (args[2] === "wait")
          return Promise.reject(
            new CommandError({
              command,
              args,
              exitCode: 1,
              stdout: "",
              stderr: "error: timed out waiting for the condition on pods/toolbox\n",
              failure: "exit",
            }),
          );
        return Promise.resolve({ command, args, exitCode: 0, stdout: "", stderr: "" });
      },
    };
    await expect(new Toolboxes({ cmder }).prepare("/k", { dirs: [], files: [] })).rejects.toThrow(
      "waiting for the toolbox pod failed: error: timed out waiting for the condition on pods/toolbox",
    );
    expect(calls.slice(0, 3)).toEqual([
      "apply --server-side --force-conflicts --field-manager=egresslab-toolbox -f - <apiVersion: v1",
      "api-versions",
      "apply --server-side --force-conflicts --field-manager=egresslab-toolbox -f - <apiVersion: rbac.authorization.k8s.io/v1",
    ]);
    expect(calls).toHaveLength(4);
  });
});

describe("the toolbox's objects for a lab", () => {
  it("binds exec in the lab's namespaces only, replacing the egress workshop's", () => {
    const text = readFileSync(toolboxManifestFile, "utf8");
    const objs = (t: string) =>
      parseAllDocuments(t)
        .map((d) => d.toJS() as { kind: string; metadata: { name: string; namespace?: string } } | null)
        .filter((o): o is { kind: string; metadata: { name: string; namespace?: string } } => !!o);
    const execIn = (t: string) =>
      objs(t)
        .filter((o) => o.kind === "RoleBinding" && o.metadata.name === "egresslab-toolbox-exec")
        .map((o) => o.metadata.namespace);
    expect(execIn(text)).toEqual(["shop", "ops"]);
    expect(toolboxManifestsFor(text)).toBe(text);
    const other = toolboxManifestsFor(text, ["alpha", "beta"]);
    expect(execIn(other)).toEqual(["alpha", "beta"]);
    const namespaces = objs(other)
      .filter((o) => o.kind === "Namespace")
      .map((o) => o.metadata.name);
    expect(namespaces.sort()).toEqual(["alpha", "beta", "egresslab-toolbox"]);
    // Everything else is kept: the ClusterRoles, the other Roles and bindings, the tier, the pod.
    const rest = (t: string) =>
      objs(t)
        .filter(
          (o) =>
            !(
              o.kind === "Namespace" ||
              (o.kind === "RoleBinding" && o.metadata.name === "egresslab-toolbox-exec")
            ),
        )
        .map((o) => `${o.kind}/${o.metadata.namespace ?? ""}/${o.metadata.name}`);
    expect(rest(other)).toEqual(rest(text).filter((x) => !x.startsWith("Namespace/")));
  });
});
