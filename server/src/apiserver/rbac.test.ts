/**
 * RBAC's evaluation and the 403 texts, against upstream: `plugin/pkg/auth/authorizer/rbac/rbac_test.go` and
 * `pkg/apis/rbac/v1/evaluation_helpers.go` (matching), `pkg/registry/rbac/validation/rule.go` (binding descriptions,
 * default namespace of a ServiceAccount subject), `bootstrappolicy/policy.go` (discovery roles),
 * `apiserver/pkg/endpoints/handlers/responsewriters/errors.go` (forbidden messages), and Calico's
 * `apiserver/pkg/registry/projectcalico/authorizer/authorizer.go` (tier check and its message).
 */
import { describe, expect, it } from "vitest";
import type { KubeObject, ObjectStore } from "../store/types.ts";
import { ApiError } from "../store/types.ts";
import {
  authorize,
  BOOTSTRAP_BINDINGS,
  BOOTSTRAP_ROLES,
  rulesFor,
  type Attributes,
  type UserInfo,
} from "./rbac.ts";
import { checkAuthorized, checkTier, requestAttributes } from "./authz.ts";
import { parseRoute } from "./route.ts";

const G = "rbac.authorization.k8s.io";

/** A store of `objects` and, unless told otherwise, the bootstrap policy a cluster is created with. */
function storeOf(own: KubeObject[], bootstrap = true): ObjectStore {
  const objects = bootstrap ? [...own, ...BOOTSTRAP_ROLES, ...BOOTSTRAP_BINDINGS] : own;
  const keyOf = (o: KubeObject): string => {
    const group = o.apiVersion.includes("/") ? o.apiVersion.split("/")[0]! : "core";
    const plural = { Role: "roles", ClusterRole: "clusterroles", RoleBinding: "rolebindings" }[o.kind];
    return `${group}/${plural ?? "clusterrolebindings"}`;
  };
  return {
    get: (key, ns, name) =>
      objects.find(
        (o) => keyOf(o) === key && o.metadata.name === name && (o.metadata.namespace ?? undefined) === ns,
      ),
    list: (key, ns) =>
      objects.filter((o) => keyOf(o) === key && (ns === undefined || o.metadata.namespace === ns)),
    subscribe: () => () => {},
  };
}

const obj = (kind: string, name: string, rest: Record<string, unknown>, namespace?: string): KubeObject => ({
  apiVersion: `${G}/v1`,
  kind,
  metadata: { name, ...(namespace ? { namespace } : {}) },
  ...rest,
});
const sa = (ns: string, name: string): UserInfo => ({
  username: `system:serviceaccount:${ns}:${name}`,
  groups: ["system:serviceaccounts", `system:serviceaccounts:${ns}`, "system:authenticated"],
});
const ref = (kind: string, name: string) => ({ roleRef: { apiGroup: G, kind, name } });

const store = storeOf([
  obj("ClusterRole", "reader", {
    rules: [
      { apiGroups: [""], resources: ["pods", "pods/log"], verbs: ["get", "list", "watch"] },
      { apiGroups: ["apps"], resources: ["*/scale"], verbs: ["update"] },
      {
        apiGroups: [""],
        resources: ["configmaps"],
        resourceNames: ["audit"],
        verbs: ["get", "list", "update"],
      },
      { nonResourceURLs: ["/metrics", "/logs/*"], verbs: ["get"] },
    ],
  }),
  obj("ClusterRole", "exec", { rules: [{ apiGroups: [""], resources: ["pods/exec"], verbs: ["create"] }] }),
  obj("ClusterRole", "agg", {
    aggregationRule: {
      clusterRoleSelectors: [{ matchLabels: { "rbac.example.com/aggregate-to-agg": "true" } }],
    },
    rules: [],
  }),
  {
    ...obj("ClusterRole", "agg-part", {
      rules: [{ apiGroups: ["batch"], resources: ["jobs"], verbs: ["create"] }],
    }),
    metadata: { name: "agg-part", labels: { "rbac.example.com/aggregate-to-agg": "true" } },
  },
  obj("ClusterRoleBinding", "reader", {
    ...ref("ClusterRole", "reader"),
    subjects: [{ kind: "ServiceAccount", name: "tb", namespace: "tools" }],
  }),
  obj("ClusterRoleBinding", "agg", {
    ...ref("ClusterRole", "agg"),
    subjects: [{ kind: "Group", name: "builders" }],
  }),
  obj("ClusterRoleBinding", "ghost", {
    ...ref("ClusterRole", "missing"),
    subjects: [{ kind: "User", name: "ann" }],
  }),
  // A ServiceAccount subject without a namespace is the binding's namespace's.
  obj(
    "RoleBinding",
    "exec",
    { ...ref("ClusterRole", "exec"), subjects: [{ kind: "ServiceAccount", name: "tb" }] },
    "tools",
  ),
  obj(
    "RoleBinding",
    "exec",
    { ...ref("ClusterRole", "exec"), subjects: [{ kind: "ServiceAccount", name: "tb", namespace: "tools" }] },
    "shop",
  ),
  obj("Role", "local", { rules: [{ apiGroups: [""], resources: ["secrets"], verbs: ["get"] }] }, "shop"),
  obj("RoleBinding", "local", { ...ref("Role", "local"), subjects: [{ kind: "User", name: "bob" }] }, "shop"),
  obj("RoleBinding", "broken", { ...ref("Role", "nope"), subjects: [{ kind: "User", name: "bob" }] }, "ops"),
]);

const tb = sa("tools", "tb");
const res = (
  user: UserInfo,
  verb: string,
  group: string,
  resource: string,
  x: Partial<Attributes> = {},
): Attributes => ({
  user,
  verb,
  resourceRequest: true,
  apiGroup: group,
  resource,
  ...x,
});

describe("RBAC", () => {
  it.each([
    [
      "get pods anywhere (ClusterRoleBinding)",
      res(tb, "get", "", "pods", { namespace: "x", name: "p" }),
      true,
    ],
    ["watch pods at the cluster scope", res(tb, "watch", "", "pods"), true],
    [
      "pods/log is its own resource",
      res(tb, "get", "", "pods", { subresource: "log", namespace: "x" }),
      true,
    ],
    ["pods/exec is not pods", res(tb, "create", "", "pods", { subresource: "exec", namespace: "x" }), false],
    [
      "*/scale matches any resource's scale",
      res(tb, "update", "apps", "deployments", { subresource: "scale" }),
      true,
    ],
    ["*/scale is not the resource itself", res(tb, "update", "apps", "deployments"), false],
    ["another group", res(tb, "get", "apps", "pods"), false],
    [
      "resourceNames: the named object",
      res(tb, "get", "", "configmaps", { namespace: "d", name: "audit" }),
      true,
    ],
    [
      "resourceNames: another object",
      res(tb, "get", "", "configmaps", { namespace: "d", name: "other" }),
      false,
    ],
    ["resourceNames never match a list", res(tb, "list", "", "configmaps", { namespace: "d" }), false],
    [
      "RoleBinding: SA subject defaults to the binding's namespace",
      res(tb, "create", "", "pods", { subresource: "exec", namespace: "tools" }),
      true,
    ],
    ["RoleBinding in shop", res(tb, "create", "", "pods", { subresource: "exec", namespace: "shop" }), true],
    [
      "no RoleBinding in ops",
      res(tb, "create", "", "pods", { subresource: "exec", namespace: "ops" }),
      false,
    ],
    [
      "a RoleBinding never grants at the cluster scope",
      res(tb, "create", "", "pods", { subresource: "exec" }),
      false,
    ],
    ["another ServiceAccount of the same name", res(sa("other", "tb"), "get", "", "pods"), false],
    [
      "aggregated ClusterRole",
      res({ username: "c", groups: ["builders"] }, "create", "batch", "jobs", { namespace: "x" }),
      true,
    ],
    [
      "Role in its namespace",
      res({ username: "bob", groups: [] }, "get", "", "secrets", { namespace: "shop", name: "s" }),
      true,
    ],
    [
      "Role not elsewhere",
      res({ username: "bob", groups: [] }, "get", "", "secrets", { namespace: "ops", name: "s" }),
      false,
    ],
    ["non-resource URL", { user: tb, verb: "get", resourceRequest: false, path: "/metrics" }, true],
    [
      "non-resource URL prefix",
      { user: tb, verb: "get", resourceRequest: false, path: "/logs/kube.log" },
      true,
    ],
    [
      "non-resource URL: not a prefix without *",
      { user: tb, verb: "get", resourceRequest: false, path: "/metrics/x" },
      false,
    ],
    [
      "discovery for the authenticated",
      { user: tb, verb: "get", resourceRequest: false, path: "/apis/apps/v1" },
      true,
    ],
    [
      "no discovery for anonymous",
      {
        user: { username: "system:anonymous", groups: ["system:unauthenticated"] },
        verb: "get",
        resourceRequest: false,
        path: "/api",
      },
      false,
    ],
    [
      "version for anonymous",
      {
        user: { username: "system:anonymous", groups: ["system:unauthenticated"] },
        verb: "get",
        resourceRequest: false,
        path: "/version",
      },
      true,
    ],
    [
      "self access reviews for the authenticated",
      res(tb, "create", "authorization.k8s.io", "selfsubjectaccessreviews"),
      true,
    ],
    [
      "cluster-admin for system:masters",
      res({ username: "m", groups: ["system:masters"] }, "delete", "", "nodes", { name: "n" }),
      true,
    ],
  ])("%s", (_name, attrs, allowed) => {
    expect(authorize(store, attrs).allowed).toBe(allowed);
  });

  it("says which binding allowed, and which role it could not find", () => {
    expect(authorize(store, res(tb, "get", "", "pods", { namespace: "x" })).reason).toBe(
      'RBAC: allowed by ClusterRoleBinding "reader" of ClusterRole "reader" to ServiceAccount "tb/tools"',
    );
    expect(
      authorize(store, res(tb, "create", "", "pods", { subresource: "exec", namespace: "tools" })).reason,
    ).toBe('RBAC: allowed by RoleBinding "exec/tools" of ClusterRole "exec" to ServiceAccount "tb/tools"');
    expect(authorize(store, res({ username: "ann", groups: [] }, "get", "", "pods")).reason).toBe(
      'RBAC: clusterroles.rbac.authorization.k8s.io "missing" not found',
    );
    expect(
      authorize(store, res({ username: "bob", groups: [] }, "get", "", "pods", { namespace: "ops" })).reason,
    ).toBe('RBAC: roles.rbac.authorization.k8s.io "nope" not found');
  });

  it("lists the rules of a namespace for SelfSubjectRulesReview", () => {
    const { rules, errors } = rulesFor(store, tb, "shop");
    expect(rules.some((r) => r.resources?.includes("pods/exec"))).toBe(true);
    expect(rules.some((r) => r.nonResourceURLs?.includes("/api"))).toBe(true);
    expect(errors).toEqual([]);
    expect(rulesFor(store, tb, "ops").rules.some((r) => r.resources?.includes("pods/exec"))).toBe(false);
  });
});

const thrown = (f: () => void): ApiError => {
  try {
    f();
  } catch (err) {
    if (err instanceof ApiError) return err;
    throw err;
  }
  throw new Error("nothing was thrown");
};

describe("the 403 texts", () => {
  const attrs = (method: string, path: string, query = "") =>
    requestAttributes(tb, method, parseRoute(path), path, new URLSearchParams(query));

  it.each([
    [
      "GET",
      "/api/v1/namespaces/default/secrets",
      "",
      'secrets is forbidden: User "system:serviceaccount:tools:tb" cannot list resource "secrets" in API group "" in the namespace "default"',
    ],
    [
      "GET",
      "/api/v1/namespaces/default/secrets",
      "watch=true",
      'secrets is forbidden: User "system:serviceaccount:tools:tb" cannot watch resource "secrets" in API group "" in the namespace "default"',
    ],
    [
      "GET",
      "/api/v1/namespaces/kube-system/secrets/x",
      "",
      'secrets "x" is forbidden: User "system:serviceaccount:tools:tb" cannot get resource "secrets" in API group "" in the namespace "kube-system"',
    ],
    [
      "GET",
      "/api/v1/namespaces/kube-system/pods/p/exec",
      "command=sh",
      'pods "p" is forbidden: User "system:serviceaccount:tools:tb" cannot get resource "pods/exec" in API group "" in the namespace "kube-system"',
    ],
    [
      "DELETE",
      "/apis/apps/v1/namespaces/shop/deployments",
      "",
      'deployments.apps is forbidden: User "system:serviceaccount:tools:tb" cannot deletecollection resource "deployments" in API group "apps" in the namespace "shop"',
    ],
    [
      "POST",
      "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
      "",
      'clusterrolebindings.rbac.authorization.k8s.io is forbidden: User "system:serviceaccount:tools:tb" cannot create resource "clusterrolebindings" in API group "rbac.authorization.k8s.io" at the cluster scope',
    ],
    [
      "DELETE",
      "/api/v1/namespaces/shop",
      "",
      'namespaces "shop" is forbidden: User "system:serviceaccount:tools:tb" cannot delete resource "namespaces" in API group "" in the namespace "shop"',
    ],
    [
      "GET",
      "/api/v1/namespaces/x/configmaps",
      "fieldSelector=metadata.name%3Dother",
      'configmaps "other" is forbidden: User "system:serviceaccount:tools:tb" cannot list resource "configmaps" in API group "" in the namespace "x"',
    ],
    [
      "GET",
      "/egresslab/v1/flows",
      "",
      'forbidden: User "system:serviceaccount:tools:tb" cannot get path "/egresslab/v1/flows"',
    ],
  ])("%s %s?%s", (method, path, query, message) => {
    const err = thrown(() => checkAuthorized(store, attrs(method, path, query)));
    expect(err.code).toBe(403);
    expect(err.message).toBe(message);
  });

  it("a list named by a field selector is allowed by resourceNames", () => {
    expect(() =>
      checkAuthorized(
        store,
        attrs("GET", "/api/v1/namespaces/x/configmaps", "fieldSelector=metadata.name=audit"),
      ),
    ).not.toThrow();
  });

  it("Calico's tier check: get on the tier and the verb on tier.<resource> named <tier>.*", () => {
    const calico = storeOf([
      obj("ClusterRole", "policy", {
        rules: [
          {
            apiGroups: ["projectcalico.org"],
            resources: ["globalnetworkpolicies", "tiers"],
            verbs: ["get", "create"],
          },
          {
            apiGroups: ["projectcalico.org"],
            resources: ["tier.globalnetworkpolicies"],
            resourceNames: ["default.*"],
            verbs: ["create"],
          },
        ],
      }),
      obj("ClusterRoleBinding", "policy", {
        ...ref("ClusterRole", "policy"),
        subjects: [{ kind: "User", name: "u" }],
      }),
      obj("ClusterRole", "no-tier", {
        rules: [
          {
            apiGroups: ["projectcalico.org"],
            resources: ["globalnetworkpolicies", "tier.globalnetworkpolicies"],
            verbs: ["create"],
          },
        ],
      }),
      obj("ClusterRoleBinding", "no-tier", {
        ...ref("ClusterRole", "no-tier"),
        subjects: [{ kind: "User", name: "v" }],
      }),
    ]);
    const a = (username: string): Attributes =>
      res({ username, groups: [] }, "create", "projectcalico.org", "globalnetworkpolicies");
    expect(() => checkTier(calico, a("u"), "deny-all", "default")).not.toThrow();
    const other = thrown(() => checkTier(calico, a("u"), "security.x", "security"));
    expect(other.code).toBe(403);
    expect(other.message).toBe(
      'globalnetworkpolicies.projectcalico.org "security.x" is forbidden: User "u" cannot create globalnetworkpolicies.projectcalico.org in tier "security"',
    );
    expect(thrown(() => checkTier(calico, a("v"), "x", "default")).message).toBe(
      'globalnetworkpolicies.projectcalico.org "x" is forbidden: User "v" cannot create globalnetworkpolicies.projectcalico.org in tier "default" (user cannot get tier)',
    );
    const ns = thrown(() =>
      checkTier(
        calico,
        { ...a("u"), resource: "networkpolicies", namespace: "shop" },
        "security.y",
        "security",
      ),
    );
    expect(ns.message).toBe(
      'networkpolicies.projectcalico.org "security.y" is forbidden: User "u" cannot create networkpolicies.projectcalico.org in tier "security" and namespace "shop"',
    );
  });
});
