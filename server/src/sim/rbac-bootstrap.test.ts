/**
 * The bootstrap RBAC policy as stored objects, as the real API server's `rbac/bootstrap-roles` post-start hook keeps
 * them (`plugin/pkg/auth/authorizer/rbac/bootstrappolicy`, `registry/rbac/rest/storage_rbac.go`): created with a new
 * cluster, created again at start when missing (an older saved cluster, one a learner deleted), left as they are
 * when present, and evaluated from storage only.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { VirtualClock } from "../shared/clock.ts";
import type { KubeObject } from "../store/types.ts";
import { authorize, BOOTSTRAP_BINDINGS, BOOTSTRAP_ROLES, type UserInfo } from "../apiserver/rbac.ts";
import { createSimCluster, type SimCluster } from "./cluster.ts";
import { writeState } from "./persistence.ts";

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const tmp = () => {
  const d = mkdtempSync(path.join(tmpdir(), "egresslab-rbac-boot-"));
  dirs.push(d);
  return d;
};
const G = "rbac.authorization.k8s.io";
const CR = `${G}/clusterroles`;
const CRB = `${G}/clusterrolebindings`;
const clock = () => new VirtualClock(Date.UTC(2026, 0, 1));
const names = (c: SimCluster, key: string) => c.store.list(key).map((o) => o.metadata.name);
const bootstrapNames = (list: readonly KubeObject[]) => list.map((o) => o.metadata.name);
const rvs = (c: SimCluster, key: string) =>
  Object.fromEntries(c.store.list(key).map((o) => [o.metadata.name, o.metadata.resourceVersion]));
const sa: UserInfo = {
  username: "system:serviceaccount:default:app",
  groups: ["system:serviceaccounts", "system:serviceaccounts:default", "system:authenticated"],
};
const discovery = (c: SimCluster) =>
  authorize(c.store, { user: sa, verb: "get", resourceRequest: false, path: "/apis" });

describe("the bootstrap RBAC policy", () => {
  it("is stored in a new cluster, labelled and annotated as upstream's", async () => {
    const c = await createSimCluster({ id: "boot", clock: clock(), dataplane: false });
    expect(names(c, CR)).toEqual(expect.arrayContaining(bootstrapNames(BOOTSTRAP_ROLES)));
    expect(names(c, CRB)).toEqual(expect.arrayContaining(bootstrapNames(BOOTSTRAP_BINDINGS)));
    const admin = c.store.get(CR, undefined, "cluster-admin")!;
    expect(admin.metadata.labels).toEqual({ "kubernetes.io/bootstrapping": "rbac-defaults" });
    expect(admin.metadata.annotations).toEqual({ "rbac.authorization.kubernetes.io/autoupdate": "true" });
    expect(admin.metadata.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(admin.metadata.creationTimestamp).toBe("2026-01-01T00:00:00Z");
    expect(admin.rules).toEqual([
      { verbs: ["*"], apiGroups: ["*"], resources: ["*"] },
      { verbs: ["*"], nonResourceURLs: ["*"] },
    ]);
    expect(c.store.get(CRB, undefined, "cluster-admin")).toMatchObject({
      roleRef: { apiGroup: G, kind: "ClusterRole", name: "cluster-admin" },
      subjects: [{ apiGroup: G, kind: "Group", name: "system:masters" }],
    });
    await c.close();
  });

  it("is evaluated from storage only: deleting a binding takes its grant away, editing a role changes it", async () => {
    const c = await createSimCluster({ id: "boot-eval", clock: clock(), dataplane: false });
    expect(discovery(c)).toMatchObject({ allowed: true });
    const role = c.api.findType("clusterroles", G)!;
    const binding = c.api.findType("clusterrolebindings", G)!;
    const got = c.api.get(role, undefined, "system:discovery");
    c.api.update(role, undefined, "system:discovery", {
      ...got,
      rules: [{ verbs: ["get"], nonResourceURLs: ["/version"] }],
    });
    expect(discovery(c)).toMatchObject({ allowed: false });
    c.api.delete(binding, undefined, "system:discovery");
    c.api.delete(role, undefined, "system:discovery");
    expect(discovery(c)).toEqual({ allowed: false, reason: "" });
    await c.close();
  });

  it("comes back at start when a learner deleted one; the others keep their resourceVersions", async () => {
    const dataDir = tmp();
    const a = await createSimCluster({ id: "boot-del", dataDir, clock: clock(), dataplane: false });
    a.api.delete(a.api.findType("clusterrolebindings", G)!, undefined, "system:discovery");
    expect(discovery(a)).toMatchObject({ allowed: false });
    const roles = rvs(a, CR);
    const bindings = rvs(a, CRB);
    await a.close();
    const b = await createSimCluster({ id: "boot-del", dataDir, clock: clock(), dataplane: false });
    expect(rvs(b, CR)).toEqual(roles);
    const back = b.store.get(CRB, undefined, "system:discovery")!;
    expect(back.subjects).toEqual([{ apiGroup: G, kind: "Group", name: "system:authenticated" }]);
    expect(Number(back.metadata.resourceVersion)).toBeGreaterThan(
      Math.max(...Object.values(bindings).map(Number)),
    );
    expect({ ...rvs(b, CRB), "system:discovery": undefined }).toEqual({
      ...bindings,
      "system:discovery": undefined,
    });
    expect(discovery(b)).toMatchObject({ allowed: true });
    await b.close();
    // What the start created was saved: the next start finds it as it was.
    const c = await createSimCluster({ id: "boot-del", dataDir, clock: clock(), dataplane: false });
    expect(c.store.get(CRB, undefined, "system:discovery")).toEqual(back);
    await c.close();
  });

  it("is added to a saved cluster from before it was stored, and nothing else changes", async () => {
    const dataDir = tmp();
    const old = await createSimCluster({ id: "boot-old", clock: clock(), dataplane: false });
    const s = old.store.snapshot();
    await old.close();
    const objects = { ...s.objects };
    delete objects[CR];
    delete objects[CRB];
    writeState(dataDir, {
      version: 1,
      id: "boot-old",
      profile: "bare",
      edition: "enterprise",
      seed: 1,
      resourceVersion: s.resourceVersion,
      objects,
    });
    const c = await createSimCluster({ id: "boot-old", dataDir, clock: clock(), dataplane: false });
    expect(names(c, CR).sort()).toEqual(bootstrapNames(BOOTSTRAP_ROLES).sort());
    expect(names(c, CRB).sort()).toEqual(bootstrapNames(BOOTSTRAP_BINDINGS).sort());
    for (const o of [...c.store.list(CR), ...c.store.list(CRB)])
      expect(Number(o.metadata.resourceVersion)).toBeGreaterThan(s.resourceVersion);
    const byName = (list: readonly KubeObject[]) =>
      [...list].sort((x, y) => (x.metadata.name < y.metadata.name ? -1 : 1));
    expect(byName(c.store.list("core/pods"))).toEqual(byName(objects["core/pods"]!));
    await c.close();
  });

  it("has admin ⊇ edit ⊇ view, aggregated from the system:aggregate-to-* roles, for a RoleBinding to use", async () => {
    const c = await createSimCluster({ id: "boot-agg", clock: clock(), dataplane: false });
    expect(c.store.get(CR, undefined, "view")).toMatchObject({
      metadata: { labels: { "rbac.authorization.k8s.io/aggregate-to-edit": "true" } },
      aggregationRule: {
        clusterRoleSelectors: [{ matchLabels: { "rbac.authorization.k8s.io/aggregate-to-view": "true" } }],
      },
    });
    const rb = c.api.findType("rolebindings", G)!;
    const can = (verb: string, group: string, resource: string, subresource?: string) =>
      authorize(c.store, {
        user: sa,
        verb,
        resourceRequest: true,
        apiGroup: group,
        resource,
        namespace: "default",
        ...(subresource ? { subresource } : {}),
      }).allowed;
    const bind = (roleName: string) =>
      c.api.create(rb, "default", {
        apiVersion: `${G}/v1`,
        kind: "RoleBinding",
        metadata: { name: roleName },
        roleRef: { apiGroup: G, kind: "ClusterRole", name: roleName },
        subjects: [{ kind: "ServiceAccount", name: "app", namespace: "default" }],
      });
    const table = () => [
      can("list", "", "pods"),
      can("get", "", "pods", "log"),
      can("get", "", "secrets"),
      can("create", "apps", "deployments"),
      can("create", "", "pods", "exec"),
      can("create", "rbac.authorization.k8s.io", "rolebindings"),
      can("delete", "", "nodes"),
    ];
    expect(table()).toEqual([false, false, false, false, false, false, false]);
    bind("view");
    expect(table()).toEqual([true, true, false, false, false, false, false]);
    bind("edit");
    expect(table()).toEqual([true, true, true, true, true, false, false]);
    bind("admin");
    expect(table()).toEqual([true, true, true, true, true, true, false]);
    await c.close();
  });

  it("ends an aggregation cycle a learner makes (two roles that aggregate each other)", async () => {
    const c = await createSimCluster({ id: "boot-cycle", clock: clock(), dataplane: false });
    const cr = c.api.findType("clusterroles", G)!;
    const loop = (name: string, other: string, rules?: unknown[]) =>
      c.api.create(cr, undefined, {
        apiVersion: `${G}/v1`,
        kind: "ClusterRole",
        metadata: { name, labels: { [`agg-${name}`]: "true" } },
        ...(rules
          ? { rules }
          : { aggregationRule: { clusterRoleSelectors: [{ matchLabels: { [`agg-${other}`]: "true" } }] } }),
      });
    loop("a", "b");
    loop("b", "a");
    c.api.update(cr, undefined, "b", {
      ...c.api.get(cr, undefined, "b"),
      aggregationRule: {
        clusterRoleSelectors: [{ matchLabels: { "agg-a": "true" } }, { matchLabels: { "agg-leaf": "true" } }],
      },
    });
    loop("leaf", "", [{ apiGroups: [""], resources: ["pods"], verbs: ["get"] }]);
    c.api.create(c.api.findType("clusterrolebindings", G)!, undefined, {
      apiVersion: `${G}/v1`,
      kind: "ClusterRoleBinding",
      metadata: { name: "a" },
      roleRef: { apiGroup: G, kind: "ClusterRole", name: "a" },
      subjects: [{ kind: "ServiceAccount", name: "app", namespace: "default" }],
    });
    const get = (verb: string) =>
      authorize(c.store, {
        user: sa,
        verb,
        resourceRequest: true,
        apiGroup: "",
        resource: "pods",
        namespace: "x",
      });
    expect(get("get").allowed).toBe(true);
    expect(get("delete")).toEqual({ allowed: false, reason: "" });
    await c.close();
  });

  it("has names only as RBAC validates them (path segments): a colon is fine, a slash is not", async () => {
    const c = await createSimCluster({ id: "boot-names", clock: clock(), dataplane: false });
    const role = c.api.findType("clusterroles", G)!;
    const body = (name: string) => ({ apiVersion: `${G}/v1`, kind: "ClusterRole", metadata: { name } });
    expect(c.api.create(role, undefined, body("system:toolbox")).object.metadata.name).toBe("system:toolbox");
    expect(() => c.api.create(role, undefined, body("a/b"))).toThrow(
      'ClusterRole.rbac.authorization.k8s.io "a/b" is invalid: metadata.name: Invalid value: "a/b": may not contain \'/\'',
    );
    expect(() => c.api.create(role, undefined, body(".."))).toThrow(/may not be '\.\.'/);
    await c.close();
  });

  it("is in a copy of a cluster as it is in the original", async () => {
    const a = await createSimCluster({ id: "boot-src", clock: clock(), dataplane: false });
    const copy = await createSimCluster({
      id: "boot-copy",
      image: a.image(),
      clock: clock(),
      dataplane: false,
    });
    const strip = (o: KubeObject) => ({ ...o, metadata: { ...o.metadata, uid: undefined } });
    expect(copy.store.list(CR).map(strip)).toEqual(a.store.list(CR).map(strip));
    expect(copy.store.list(CRB).map(strip)).toEqual(a.store.list(CRB).map(strip));
    expect(copy.store.snapshot().resourceVersion).toBe(a.store.snapshot().resourceVersion);
    await Promise.all([a.close(), copy.close()]);
  });
});
