/**
 * Kubernetes RBAC over a cluster's stored Roles, ClusterRoles and bindings, as `plugin/pkg/auth/authorizer/rbac`
 * evaluates them: ClusterRoleBindings first, then the RoleBindings of the request's namespace; the first rule that
 * matches allows (`rbac/v1` evaluation helpers: verb, API group, resource, or `*` then the subresource, resource name,
 * non-resource URL with a trailing `*`), and otherwise the answer is no opinion, with the bindings whose role could not
 * be found as the reason. ClusterRoles with an `aggregationRule` are the union of the ClusterRoles their selectors match.
 *
 * The bootstrap policy a real cluster stores (`bootstrappolicy/policy.go`): `cluster-admin` for `system:masters`,
 * discovery and self-review for every authenticated user, the version and health endpoints for everyone. As the real
 * server's `rbac/bootstrap-roles` post-start hook does, `reconcileBootstrapPolicy` creates the ones missing when a
 * cluster is made or started again; from then on they are objects like any other, and evaluated only from storage.
 */
import type { ClusterApi, KubeObject, ObjectStore } from "../store/types.ts";
import { fromLabelSelectorObject, matchesLabels } from "../store/selectors.ts";

export interface UserInfo {
  username: string;
  uid?: string;
  groups: string[];
  extra?: Record<string, string[]>;
}

/** What the authorizer is asked (`authorizer.Attributes`). */
export interface Attributes {
  user: UserInfo;
  verb: string;
  resourceRequest: boolean;
  /** For a non-resource request. */
  path?: string;
  apiGroup?: string;
  apiVersion?: string;
  resource?: string;
  subresource?: string;
  namespace?: string;
  name?: string;
}

export interface PolicyRule {
  verbs: string[];
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
  nonResourceURLs?: string[];
}

export interface Decision {
  allowed: boolean;
  /** `RBAC: allowed by …` when allowed; the errors met (roles not found) otherwise, or "". */
  reason: string;
}

/** The metadata upstream gives every bootstrap object (`addClusterRoleLabel`, `reconciliation`'s autoupdate). */
const bootstrapMeta = (name: string): KubeObject["metadata"] => ({
  name,
  labels: { "kubernetes.io/bootstrapping": "rbac-defaults" },
  annotations: { "rbac.authorization.kubernetes.io/autoupdate": "true" },
});
const role = (name: string, rules: PolicyRule[]): KubeObject => ({
  apiVersion: "rbac.authorization.k8s.io/v1",
  kind: "ClusterRole",
  metadata: bootstrapMeta(name),
  rules,
});
const binding = (name: string, roleName: string, groups: string[]): KubeObject => ({
  apiVersion: "rbac.authorization.k8s.io/v1",
  kind: "ClusterRoleBinding",
  metadata: bootstrapMeta(name),
  roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: roleName },
  subjects: groups.map((g) => ({ apiGroup: "rbac.authorization.k8s.io", kind: "Group", name: g })),
});

/** The bootstrap ClusterRoles of the system this simulator keeps (upstream's, for the parts a workshop meets). */
const SYSTEM_ROLES: readonly KubeObject[] = [
  role("cluster-admin", [
    { verbs: ["*"], apiGroups: ["*"], resources: ["*"] },
    { verbs: ["*"], nonResourceURLs: ["*"] },
  ]),
  role("system:discovery", [
    {
      verbs: ["get"],
      nonResourceURLs: [
        "/api",
        "/api/*",
        "/apis",
        "/apis/*",
        "/healthz",
        "/livez",
        "/openapi",
        "/openapi/*",
        "/readyz",
        "/version",
        "/version/",
      ],
    },
  ]),
  role("system:basic-user", [
    {
      verbs: ["create"],
      apiGroups: ["authorization.k8s.io"],
      resources: ["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
    },
    { verbs: ["create"], apiGroups: ["authentication.k8s.io"], resources: ["selfsubjectreviews"] },
  ]),
  role("system:public-info-viewer", [
    { verbs: ["get"], nonResourceURLs: ["/healthz", "/livez", "/readyz", "/version", "/version/"] },
  ]),
];

const AGG = "rbac.authorization.k8s.io/aggregate-to-";
/** A user-facing role whose rules are those of the ClusterRoles labelled `aggregate-to-<to>` (`aggregationRule`). */
const aggregated = (name: string, labels: Record<string, string>): KubeObject => {
  const o = role(name, []);
  o.metadata.labels = { ...o.metadata.labels, ...labels };
  o.aggregationRule = { clusterRoleSelectors: [{ matchLabels: { [`${AGG}${name}`]: "true" } }] };
  return o;
};
const into = (o: KubeObject, to: string): KubeObject => {
  o.metadata.labels = { ...o.metadata.labels, [`${AGG}${to}`]: "true" };
  return o;
};
const READ = ["get", "list", "watch"];
const WRITE = ["create", "delete", "deletecollection", "patch", "update"];
const rule = (apiGroups: string[], resources: string[], verbs: string[]): PolicyRule => ({
  apiGroups,
  resources,
  verbs,
});

/**
 * `admin`, `edit` and `view` and the roles they aggregate (upstream's `testdata/cluster-roles.yaml`): admin ⊇ edit ⊇
 * view, since `edit` is labelled to aggregate into `admin` and `view` into `edit`.
 */
const USER_FACING: readonly KubeObject[] = [
  aggregated("admin", {}),
  aggregated("edit", { [`${AGG}admin`]: "true" }),
  aggregated("view", { [`${AGG}edit`]: "true" }),
  into(
    role("system:aggregate-to-admin", [
      rule(["authorization.k8s.io"], ["localsubjectaccessreviews"], ["create"]),
      rule(["rbac.authorization.k8s.io"], ["rolebindings", "roles"], [...WRITE, ...READ].sort()),
    ]),
    "admin",
  ),
  into(
    role("system:aggregate-to-edit", [
      rule(
        [""],
        ["pods/attach", "pods/exec", "pods/portforward", "pods/proxy", "secrets", "services/proxy"],
        READ,
      ),
      rule([""], ["serviceaccounts"], ["impersonate"]),
      rule([""], ["pods", "pods/attach", "pods/exec", "pods/portforward", "pods/proxy"], WRITE),
      rule([""], ["pods/eviction"], ["create"]),
      rule(
        [""],
        [
          "configmaps",
          "events",
          "persistentvolumeclaims",
          "replicationcontrollers",
          "replicationcontrollers/scale",
          "secrets",
          "serviceaccounts",
          "services",
          "services/proxy",
        ],
        WRITE,
      ),
      rule([""], ["serviceaccounts/token"], ["create"]),
      rule(
        ["apps"],
        [
          "daemonsets",
          "deployments",
          "deployments/rollback",
          "deployments/scale",
          "replicasets",
          "replicasets/scale",
          "statefulsets",
          "statefulsets/scale",
        ],
        WRITE,
      ),
      rule(["autoscaling"], ["horizontalpodautoscalers"], WRITE),
      rule(["batch"], ["cronjobs", "jobs"], WRITE),
      rule(
        ["extensions"],
        [
          "daemonsets",
          "deployments",
          "deployments/rollback",
          "deployments/scale",
          "ingresses",
          "networkpolicies",
          "replicasets",
          "replicasets/scale",
          "replicationcontrollers/scale",
        ],
        WRITE,
      ),
      rule(["policy"], ["poddisruptionbudgets"], WRITE),
      rule(["networking.k8s.io"], ["ingresses", "networkpolicies"], WRITE),
      rule(["coordination.k8s.io"], ["leases"], [...WRITE, ...READ].sort()),
    ]),
    "edit",
  ),
  into(
    role("system:aggregate-to-view", [
      rule(
        [""],
        [
          "configmaps",
          "endpoints",
          "persistentvolumeclaims",
          "persistentvolumeclaims/status",
          "pods",
          "replicationcontrollers",
          "replicationcontrollers/scale",
          "serviceaccounts",
          "services",
          "services/status",
        ],
        READ,
      ),
      rule(
        [""],
        [
          "bindings",
          "events",
          "limitranges",
          "namespaces/status",
          "pods/log",
          "pods/status",
          "replicationcontrollers/status",
          "resourcequotas",
          "resourcequotas/status",
        ],
        READ,
      ),
      rule([""], ["namespaces"], READ),
      rule(["discovery.k8s.io"], ["endpointslices"], READ),
      rule(
        ["apps"],
        [
          "controllerrevisions",
          "daemonsets",
          "daemonsets/status",
          "deployments",
          "deployments/scale",
          "deployments/status",
          "replicasets",
          "replicasets/scale",
          "replicasets/status",
          "statefulsets",
          "statefulsets/scale",
          "statefulsets/status",
        ],
        READ,
      ),
      rule(["autoscaling"], ["horizontalpodautoscalers", "horizontalpodautoscalers/status"], READ),
      rule(["batch"], ["cronjobs", "cronjobs/status", "jobs", "jobs/status"], READ),
      rule(
        ["extensions"],
        [
          "daemonsets",
          "daemonsets/status",
          "deployments",
          "deployments/scale",
          "deployments/status",
          "ingresses",
          "ingresses/status",
          "networkpolicies",
          "replicasets",
          "replicasets/scale",
          "replicasets/status",
          "replicationcontrollers/scale",
        ],
        READ,
      ),
      rule(["policy"], ["poddisruptionbudgets", "poddisruptionbudgets/status"], READ),
      rule(["networking.k8s.io"], ["ingresses", "ingresses/status", "networkpolicies"], READ),
    ]),
    "view",
  ),
];

export const BOOTSTRAP_ROLES: readonly KubeObject[] = [...SYSTEM_ROLES, ...USER_FACING];

export const BOOTSTRAP_BINDINGS: readonly KubeObject[] = [
  binding("cluster-admin", "cluster-admin", ["system:masters"]),
  binding("system:discovery", "system:discovery", ["system:authenticated"]),
  binding("system:basic-user", "system:basic-user", ["system:authenticated"]),
  binding("system:public-info-viewer", "system:public-info-viewer", [
    "system:authenticated",
    "system:unauthenticated",
  ]),
];

const CRB = "rbac.authorization.k8s.io/clusterrolebindings";
const CR = "rbac.authorization.k8s.io/clusterroles";
const RB = "rbac.authorization.k8s.io/rolebindings";
const R = "rbac.authorization.k8s.io/roles";

type Rec = Record<string, unknown>;
const rec = (v: unknown): Rec => (v && typeof v === "object" && !Array.isArray(v) ? (v as Rec) : {});
const strs = (v: unknown): string[] | undefined =>
  Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : undefined;

function rulesOf(o: KubeObject): PolicyRule[] {
  const out: PolicyRule[] = [];
  for (const r of Array.isArray(o.rules) ? o.rules : []) {
    const x = rec(r);
    const rule: PolicyRule = { verbs: strs(x.verbs) ?? [] };
    for (const k of ["apiGroups", "resources", "resourceNames", "nonResourceURLs"] as const) {
      const v = strs(x[k]);
      if (v) rule[k] = v;
    }
    out.push(rule);
  }
  return out;
}

function clusterRole(store: ObjectStore, name: string): KubeObject | undefined {
  return store.get(CR, undefined, name);
}

/**
 * Creates the bootstrap ClusterRoles and ClusterRoleBindings that `store` lacks, as the real server's reconciliation
 * does at every start (`EnsureRBACPolicy`): a deleted one comes back. One already stored is left as it is, whatever
 * its `autoupdate` annotation, so its resourceVersion stays (upstream would only add rules it lacks; these roles'
 * rules are those the simulator has always had). Returns how many objects it created.
 */
export function reconcileBootstrapPolicy(
  api: Pick<ClusterApi, "findType" | "create">,
  store: ObjectStore,
): number {
  let created = 0;
  for (const [plural, objects] of [
    ["clusterroles", BOOTSTRAP_ROLES],
    ["clusterrolebindings", BOOTSTRAP_BINDINGS],
  ] as const) {
    const type = api.findType(plural, "rbac.authorization.k8s.io");
    if (!type) continue;
    const key = plural === "clusterroles" ? CR : CRB;
    for (const o of objects) {
      if (store.get(key, undefined, o.metadata.name)) continue;
      api.create(type, undefined, structuredClone(o));
      created++;
    }
  }
  return created;
}

/**
 * A ClusterRole's rules: its own, or with an `aggregationRule` those of every ClusterRole its selectors match — for a
 * matched role that aggregates too, the rules it aggregates (the aggregation controller's fixed point: `admin` gets
 * `edit`'s and so `view`'s).
 */
function clusterRoleRules(store: ObjectStore, o: KubeObject, seen = new Set<string>()): PolicyRule[] {
  const agg = rec(o.aggregationRule);
  const selectors = Array.isArray(agg.clusterRoleSelectors) ? agg.clusterRoleSelectors : undefined;
  if (!selectors) return rulesOf(o);
  seen.add(o.metadata.name);
  const parsedSelectors = selectors.map((s) => fromLabelSelectorObject(s));
  const out: PolicyRule[] = [];
  for (const other of store.list(CR)) {
    if (seen.has(other.metadata.name)) continue;
    if (!parsedSelectors.some((s) => matchesLabels(s, other.metadata.labels))) continue;
    out.push(...clusterRoleRules(store, other, seen));
  }
  return out;
}

const notFound = (kind: string, name: string): string =>
  `${kind === "Role" ? "roles" : "clusterroles"}.rbac.authorization.k8s.io "${name}" not found`;

/** The rules a binding grants, or the error its missing role gives. */
function bindingRules(store: ObjectStore, b: KubeObject): { rules: PolicyRule[] } | { error: string } {
  const ref = rec(b.roleRef);
  const kind = String(ref.kind ?? "");
  const name = String(ref.name ?? "");
  if (kind === "Role") {
    const r = store.get(R, b.metadata.namespace, name);
    return r ? { rules: rulesOf(r) } : { error: notFound(kind, name) };
  }
  if (kind === "ClusterRole") {
    const r = clusterRole(store, name);
    return r ? { rules: clusterRoleRules(store, r) } : { error: notFound(kind, name) };
  }
  return { error: `unsupported role reference kind: "${kind}"` };
}

function subjectApplies(u: UserInfo, s: Rec, namespace: string): boolean {
  const name = typeof s.name === "string" ? s.name : "";
  switch (s.kind) {
    case "User":
      return u.username === name;
    case "Group":
      return u.groups.includes(name);
    case "ServiceAccount": {
      const ns = typeof s.namespace === "string" && s.namespace ? s.namespace : namespace;
      return ns !== "" && u.username === `system:serviceaccount:${ns}:${name}`;
    }
    default:
      return false;
  }
}

function describeSubject(s: Rec, bindingNamespace: string): string {
  const name = String(s.name ?? "");
  if (s.kind === "ServiceAccount") {
    const ns = typeof s.namespace === "string" && s.namespace ? s.namespace : bindingNamespace;
    return `ServiceAccount "${name}/${ns}"`;
  }
  return `${String(s.kind)} "${name}"`;
}

const has = (list: string[] | undefined, v: string): boolean =>
  !!list && (list.includes("*") || list.includes(v));

function resourceMatches(rule: PolicyRule, combined: string, subresource: string | undefined): boolean {
  for (const r of rule.resources ?? []) {
    if (r === "*" || r === combined) return true;
    if (subresource && r === `*/${subresource}`) return true;
  }
  return false;
}

function urlMatches(rule: PolicyRule, path: string): boolean {
  for (const u of rule.nonResourceURLs ?? []) {
    if (u === "*" || u === path) return true;
    if (u.endsWith("*") && path.startsWith(u.slice(0, -1))) return true;
  }
  return false;
}

/** `RuleAllows`: whether one rule grants the request. */
export function ruleAllows(a: Attributes, rule: PolicyRule): boolean {
  if (!has(rule.verbs, a.verb)) return false;
  if (!a.resourceRequest) return urlMatches(rule, a.path ?? "");
  const combined = a.subresource ? `${a.resource ?? ""}/${a.subresource}` : (a.resource ?? "");
  return (
    has(rule.apiGroups, a.apiGroup ?? "") &&
    resourceMatches(rule, combined, a.subresource) &&
    (!rule.resourceNames?.length || rule.resourceNames.includes(a.name ?? ""))
  );
}

/**
 * Visits the rules that apply to `user` in `namespace` (every ClusterRoleBinding's, then the namespace's
 * RoleBindings'), with a description of where each comes from; stops when `visit` returns false.
 */
export function visitRules(
  store: ObjectStore,
  user: UserInfo,
  namespace: string | undefined,
  visit: (source: string | undefined, rule: PolicyRule | undefined, error: string | undefined) => boolean,
): void {
  for (const b of store.list(CRB)) {
    const subject = (Array.isArray(b.subjects) ? b.subjects : [])
      .map(rec)
      .find((s) => subjectApplies(user, s, ""));
    if (!subject) continue;
    const got = bindingRules(store, b);
    if ("error" in got) {
      if (!visit(undefined, undefined, got.error)) return;
      continue;
    }
    const ref = rec(b.roleRef);
    const source = `ClusterRoleBinding "${b.metadata.name}" of ${String(ref.kind)} "${String(ref.name)}" to ${describeSubject(subject, "")}`;
    for (const rule of got.rules) if (!visit(source, rule, undefined)) return;
  }
  if (!namespace) return;
  for (const b of store.list(RB, namespace)) {
    const subject = (Array.isArray(b.subjects) ? b.subjects : [])
      .map(rec)
      .find((s) => subjectApplies(user, s, namespace));
    if (!subject) continue;
    const got = bindingRules(store, b);
    if ("error" in got) {
      if (!visit(undefined, undefined, got.error)) return;
      continue;
    }
    const ref = rec(b.roleRef);
    const source = `RoleBinding "${b.metadata.name}/${namespace}" of ${String(ref.kind)} "${String(ref.name)}" to ${describeSubject(subject, namespace)}`;
    for (const rule of got.rules) if (!visit(source, rule, undefined)) return;
  }
}

/** The RBAC authorizer's decision on one request. */
export function authorize(store: ObjectStore, a: Attributes): Decision {
  let allowedBy: string | undefined;
  const errors: string[] = [];
  visitRules(store, a.user, a.resourceRequest ? a.namespace : undefined, (source, rule, error) => {
    if (error !== undefined) {
      if (!errors.includes(error)) errors.push(error);
      return true;
    }
    if (rule && ruleAllows(a, rule)) {
      allowedBy = source;
      return false;
    }
    return true;
  });
  if (allowedBy !== undefined) return { allowed: true, reason: `RBAC: allowed by ${allowedBy}` };
  if (!errors.length) return { allowed: false, reason: "" };
  return { allowed: false, reason: `RBAC: ${errors.length === 1 ? errors[0]! : `[${errors.join(", ")}]`}` };
}

/** Every rule that applies to `user` in `namespace`, for SelfSubjectRulesReview, and the errors met. */
export function rulesFor(
  store: ObjectStore,
  user: UserInfo,
  namespace: string,
): { rules: PolicyRule[]; errors: string[] } {
  const rules: PolicyRule[] = [];
  const errors: string[] = [];
  visitRules(store, user, namespace, (_source, rule, error) => {
    if (error !== undefined) errors.push(error);
    else if (rule) rules.push(rule);
    return true;
  });
  return { rules, errors };
}
