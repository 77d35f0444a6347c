/**
 * The bootstrap RBAC objects with the real kubectl 1.32, as on any real cluster: `kubectl get clusterroles` lists them,
 * and `describe` shows upstream's labels, annotation, rules and subjects (kubectl's own describers, from the stored
 * objects). A ServiceAccount loses discovery when the binding that grants it is deleted: RBAC reads only storage.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startKubectlEnv, type Kubectl, type KubectlEnv } from "../helpers/kubectl.ts";

let env: KubectlEnv;
let k: Kubectl;

beforeAll(async () => {
  env = await startKubectlEnv();
  k = await env.cluster();
});
afterAll(async () => {
  await env?.close();
});

const ok = async (args: string[]): Promise<string> => {
  const r = await k(args);
  expect(r.stderr).toBe("");
  expect(r.exitCode).toBe(0);
  return r.stdout;
};

describe("the bootstrap RBAC objects with kubectl", () => {
  it("lists them among the cluster's ClusterRoles and ClusterRoleBindings", async () => {
    const roles = (await ok(["get", "clusterroles", "-o", "name"])).split("\n");
    for (const n of ["cluster-admin", "system:discovery", "system:basic-user", "system:public-info-viewer"])
      expect(roles).toContain(`clusterrole.rbac.authorization.k8s.io/${n}`);
    const wide = await ok(["get", "clusterrolebinding", "cluster-admin", "-o", "wide"]);
    expect(wide.split("\n")[1]).toMatch(
      /^cluster-admin\s+ClusterRole\/cluster-admin\s+\S+\s+system:masters\s*$/,
    );
  });

  it("describes clusterrole cluster-admin as a real cluster does", async () => {
    const out = await ok(["describe", "clusterrole", "cluster-admin"]);
    expect(out.split("\n").map((l) => l.trimEnd())).toEqual([
      "Name:         cluster-admin",
      "Labels:       kubernetes.io/bootstrapping=rbac-defaults",
      "Annotations:  rbac.authorization.kubernetes.io/autoupdate: true",
      "PolicyRule:",
      "  Resources  Non-Resource URLs  Resource Names  Verbs",
      "  ---------  -----------------  --------------  -----",
      "  *.*        []                 []              [*]",
      "             [*]                []              [*]",
    ]);
  });

  it("describes clusterrolebinding cluster-admin as a real cluster does", async () => {
    const out = await ok(["describe", "clusterrolebinding", "cluster-admin"]);
    expect(out.split("\n").map((l) => l.trimEnd())).toEqual([
      "Name:         cluster-admin",
      "Labels:       kubernetes.io/bootstrapping=rbac-defaults",
      "Annotations:  rbac.authorization.kubernetes.io/autoupdate: true",
      "Role:",
      "  Kind:  ClusterRole",
      "  Name:  cluster-admin",
      "Subjects:",
      "  Kind   Name            Namespace",
      "  ----   ----            ---------",
      "  Group  system:masters",
    ]);
  });

  it("takes discovery from a ServiceAccount once system:discovery's binding is deleted", async () => {
    await ok(["create", "serviceaccount", "probe"]);
    const token = (await ok(["create", "token", "probe"])).trim();
    const asProbe = ["--token", token, "get", "--raw", "/apis"];
    expect((await k(asProbe)).exitCode).toBe(0);
    await ok(["delete", "clusterrolebinding", "system:discovery"]);
    const denied = await k(asProbe);
    expect(denied.exitCode).toBe(1);
    expect(denied.stderr).toContain("Forbidden");
  });
});
