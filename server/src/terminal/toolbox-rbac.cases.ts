/**
 * The toolbox's RBAC cases, shared by the evaluator over clusters/toolbox.yaml (toolbox-rbac.test.ts) and the replay
 * of the same requests against the simulated API server with the toolbox's token (test/integration/rbac-toolbox.test.ts),
 * so that the YAML's evaluator and the simulator must agree. The evaluator is Kubernetes RBAC's matching (rbac/v1
 * helpers: verb, API group, resource/subresource, resource name; a RoleBinding's rules only in its namespace) plus the
 * tier check Calico's API server makes for policies (`get` on the tier and the verb on `tier.<kind>` named `<tier>.*`).
 */
import { readFileSync, readdirSync, existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parse, parseAllDocuments } from "yaml";
import { renderStage, sessionParams, type Lab } from "../labs/index.ts";
import { toolboxManifestFile, toolboxManifestsFor, toolboxNamespace } from "./toolbox.ts";

interface Rule {
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
  verbs: string[];
}
export interface Doc {
  kind: string;
  metadata: { name: string; namespace?: string };
  rules?: Rule[];
  roleRef?: { kind: string; name: string };
  subjects?: { kind: string; name: string; namespace?: string }[];
}
/** One request as the authorizer sees it. `resource` may carry a subresource (`pods/exec`). */
export interface Req {
  verb: string;
  group: string;
  resource: string;
  namespace?: string;
  name?: string;
}

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
export const labDir = path.join(root, "labs", "egress-workshop");
/** The namespaces of the lab's workloads (its `toolbox.execNamespaces`): where NAMESPACE in the guide may be. */
export const WORKLOAD_NAMESPACES = (
  parse(readFileSync(path.join(labDir, "lab.yaml"), "utf8")) as { toolbox: { execNamespaces: string[] } }
).toolbox.execNamespaces;

/** The toolbox's objects as the terminal applies them for this lab. */
export const toolboxManifests = toolboxManifestsFor(
  readFileSync(toolboxManifestFile, "utf8"),
  WORKLOAD_NAMESPACES,
);

export const docs = parseAllDocuments(toolboxManifests)
  .map((d) => d.toJS() as Doc | null)
  .filter((d): d is Doc => !!d);

const subjectIsToolbox = (b: Doc): boolean =>
  (b.subjects ?? []).some(
    (s) => s.kind === "ServiceAccount" && s.name === "toolbox" && s.namespace === toolboxNamespace,
  );

function rulesOf(ref: { kind: string; name: string }, namespace?: string): Rule[] {
  const role = docs.find(
    (d) =>
      d.kind === ref.kind &&
      d.metadata.name === ref.name &&
      (ref.kind === "ClusterRole" || d.metadata.namespace === namespace),
  );
  return role?.rules ?? [];
}

function ruleMatches(r: Rule, q: Req): boolean {
  const [res, sub] = q.resource.split("/");
  return (
    (r.verbs.includes("*") || r.verbs.includes(q.verb)) &&
    (r.apiGroups ?? []).some((g) => g === "*" || g === q.group) &&
    (r.resources ?? []).some(
      (x) => x === "*" || x === q.resource || (sub !== undefined && x === `*/${sub}`),
    ) &&
    res !== undefined &&
    (!r.resourceNames?.length || (q.name !== undefined && r.resourceNames.includes(q.name)))
  );
}

/** Kubernetes RBAC: allowed when a binding of the ServiceAccount, in scope for the request, has a matching rule. */
export function rbacAllows(q: Req): boolean {
  for (const b of docs) {
    if (!b.roleRef || !subjectIsToolbox(b)) continue;
    if (b.kind === "RoleBinding" && q.namespace !== b.metadata.namespace) continue;
    if (b.kind !== "RoleBinding" && b.kind !== "ClusterRoleBinding") continue;
    if (rulesOf(b.roleRef, b.metadata.namespace).some((r) => ruleMatches(r, q))) return true;
  }
  return false;
}

const TIERED = new Set([
  "globalnetworkpolicies",
  "networkpolicies",
  "stagedglobalnetworkpolicies",
  "stagednetworkpolicies",
]);

/** RBAC, and for Calico's tiered policies also the tier check of Calico's API server. */
export function allows(q: Req & { tier?: string }): boolean {
  if (!rbacAllows(q)) return false;
  if (q.group !== "projectcalico.org" || !TIERED.has(q.resource) || q.name === undefined) return true;
  const tier = q.tier ?? "default";
  const pseudo = { ...q, resource: `tier.${q.resource}` };
  return (
    rbacAllows({ verb: "get", group: "projectcalico.org", resource: "tiers", name: tier }) &&
    (rbacAllows({ ...pseudo, name: `${tier}.*` }) || rbacAllows({ ...pseudo, name: q.name }))
  );
}

const get = (group: string, resource: string, namespace?: string, name?: string): Req[] => [
  {
    verb: name ? "get" : "list",
    group,
    resource,
    ...(namespace ? { namespace } : {}),
    ...(name ? { name } : {}),
  },
];
const portForwardWhisker: Req[] = [
  ...get("", "services", "calico-system", "whisker"),
  ...get("", "pods", "calico-system"),
  { verb: "get", group: "", resource: "pods/portforward", namespace: "calico-system" },
  { verb: "create", group: "", resource: "pods/portforward", namespace: "calico-system" },
];
const namespacesOf = (ns: string): string[] => (ns === "NAMESPACE" ? WORKLOAD_NAMESPACES : [ns]);

/** What each guide command asks the API server for (kubectl 1.32: exec and port-forward are WebSocket GETs). */
export const COMMANDS: { match: RegExp; requests: (m: RegExpMatchArray) => Req[] }[] = [
  {
    match: /kubectl get deployments(,services)? -n (\S+)/,
    requests: (m) => [...get("apps", "deployments", m[2]), ...(m[1] ? get("", "services", m[2]) : [])],
  },
  { match: /kubectl port-forward -n calico-system svc\/whisker/, requests: () => portForwardWhisker },
  { match: /^flows\b/, requests: () => portForwardWhisker },
  {
    match: /kubectl exec -n (\S+) deploy\/(\S+) --/,
    requests: (m) =>
      namespacesOf(m[1]!).flatMap((ns) => [
        ...get("apps", "deployments", ns, m[2]),
        ...get("", "pods", ns),
        { verb: "get", group: "", resource: "pods/exec", namespace: ns },
        { verb: "create", group: "", resource: "pods/exec", namespace: ns },
      ]),
  },
  {
    match: /kubectl logs -n (\S+) deploy\/(\S+)/,
    requests: (m) =>
      namespacesOf(m[1]!).flatMap((ns) => [
        ...get("apps", "deployments", ns, m[2]),
        ...get("", "pods", ns),
        { verb: "get", group: "", resource: "pods/log", namespace: ns },
      ]),
  },
  { match: /kubectl get globalnetworksets /, requests: () => get("projectcalico.org", "globalnetworksets") },
  {
    match: /kubectl get globalnetworkset (\S+)/,
    requests: (m) => get("projectcalico.org", "globalnetworksets", undefined, m[1]),
  },
  {
    match: /kubectl patch felixconfiguration (\S+)/,
    requests: (m) => [
      ...get("projectcalico.org", "felixconfigurations", undefined, m[1]),
      { verb: "patch", group: "projectcalico.org", resource: "felixconfigurations", name: m[1]! },
    ],
  },
  {
    match: /kubectl get egressgateways?(\.operator\.tigera\.io)?( -n (\S+))?/,
    requests: (m) => get("operator.tigera.io", "egressgateways", m[3]),
  },
  { match: /kubectl get pods -n (\S+)/, requests: (m) => get("", "pods", m[1]) },
  {
    match: /kubectl annotate namespace (\S+)/,
    requests: (m) => [
      ...get("", "namespaces", undefined, m[1]),
      { verb: "patch", group: "", resource: "namespaces", name: m[1]! },
    ],
  },
  {
    match: /kubectl create configmap (\S+) -n (\S+)/,
    requests: (m) => [{ verb: "create", group: "", resource: "configmaps", namespace: m[2]!, name: m[1]! }],
  },
  // Objects the learner applies are the stages' solutions (checked below, object by object).
  { match: /kubectl apply (--dry-run=server )?-f/, requests: () => [] },
  // The simulator's own extension (a provider rotating its addresses): no such path on a real cluster.
  { match: /kubectl create --raw \/egresslab\//, requests: () => [] },
];

/** Every line of the guides' code blocks (both editions) that runs kubectl or the `flows` helper. */
export function guideCommands(): { file: string; line: string }[] {
  const out: { file: string; line: string }[] = [];
  for (const stage of readdirSync(labDir).filter((d) => /^\d\d-/.test(d)))
    for (const f of [path.join(stage, "README.md"), path.join(stage, "oss", "README.md")]) {
      const file = path.join(labDir, f);
      if (!existsSync(file)) continue;
      let inBlock = false;
      for (const raw of readFileSync(file, "utf8").split("\n")) {
        if (raw.trimStart().startsWith("```")) {
          inBlock = !inBlock;
          continue;
        }
        if (!inBlock) continue;
        for (const part of raw.split(/;|&&|\|/).map((s) => s.trim()))
          if (/^(kubectl |flows\b)/.test(part)) out.push({ file: f, line: part });
      }
    }
  return out;
}

/** The resource of an applied object's kind, and whether Calico's API server checks its tier. */
export const KINDS: Record<string, { group: string; resource: string; namespaced: boolean }> = {
  "projectcalico.org/GlobalNetworkPolicy": {
    group: "projectcalico.org",
    resource: "globalnetworkpolicies",
    namespaced: false,
  },
  "projectcalico.org/NetworkPolicy": {
    group: "projectcalico.org",
    resource: "networkpolicies",
    namespaced: true,
  },
  "projectcalico.org/StagedGlobalNetworkPolicy": {
    group: "projectcalico.org",
    resource: "stagedglobalnetworkpolicies",
    namespaced: false,
  },
  "projectcalico.org/StagedNetworkPolicy": {
    group: "projectcalico.org",
    resource: "stagednetworkpolicies",
    namespaced: true,
  },
  "projectcalico.org/GlobalNetworkSet": {
    group: "projectcalico.org",
    resource: "globalnetworksets",
    namespaced: false,
  },
  "projectcalico.org/NetworkSet": { group: "projectcalico.org", resource: "networksets", namespaced: true },
  "projectcalico.org/FelixConfiguration": {
    group: "projectcalico.org",
    resource: "felixconfigurations",
    namespaced: false,
  },
  "projectcalico.org/IPPool": { group: "projectcalico.org", resource: "ippools", namespaced: false },
  "operator.tigera.io/EgressGateway": {
    group: "operator.tigera.io",
    resource: "egressgateways",
    namespaced: true,
  },
  "networking.k8s.io/NetworkPolicy": {
    group: "networking.k8s.io",
    resource: "networkpolicies",
    namespaced: true,
  },
  "/ConfigMap": { group: "", resource: "configmaps", namespaced: true },
  "/Namespace": { group: "", resource: "namespaces", namespaced: false },
};

export const show = (q: Req): string =>
  `${q.verb} ${q.group || "core"}/${q.resource}${q.name ? ` ${q.name}` : ""}${q.namespace ? ` in ${q.namespace}` : ""}`;

/** A request of applying (or taking back) a stage's object, or why it has none. */
export interface ObjectRequest {
  file: string;
  kind: string;
  req?: Req & { tier?: string };
  problem?: string;
}

/**
 * What applying every object of every stage's solution and known-wrong solution asks for (every edition, six seeds):
 * kubectl apply reads, then creates or patches; a learner deletes a wrong object (never a namespace).
 */
export function objectRequests(lab: Lab): ObjectRequest[] {
  const out: ObjectRequest[] = [];
  for (const edition of lab.requirements.editions)
    for (const seed of [1, 2, 3, 4, 5, 6])
      for (const s of lab.stages) {
        const stage = renderStage(lab, s.index, sessionParams(lab, seed, edition));
        for (const m of [...stage.solution, ...stage.wrong.flatMap((w) => w.manifests)]) {
          const o = m.object;
          const group = o.apiVersion.includes("/") ? o.apiVersion.split("/")[0]! : "";
          const kind = KINDS[`${group}/${o.kind}`];
          if (!kind) {
            out.push({
              file: m.file,
              kind: o.kind,
              problem: `no RBAC mapping for ${o.apiVersion} ${o.kind}`,
            });
            continue;
          }
          const spec = (o as { spec?: { tier?: string } }).spec;
          const base = {
            group: kind.group,
            resource: kind.resource,
            name: o.metadata.name,
            ...(kind.namespaced ? { namespace: o.metadata.namespace ?? "default" } : {}),
            ...(spec?.tier ? { tier: spec.tier } : {}),
          };
          const verbs = o.kind === "Namespace" ? ["get", "patch"] : ["get", "create", "patch", "delete"];
          for (const verb of verbs) out.push({ file: m.file, kind: o.kind, req: { ...base, verb } });
        }
      }
  return out;
}

/** What no guide command needs and the toolbox must be refused: secrets, exec and port-forward elsewhere, pods, workloads, RBAC, tiers. */
export const DENIED: (Req & { tier?: string })[] = [
  ...["kube-system", "calico-system", "default", "shop", toolboxNamespace].flatMap((ns) => [
    { verb: "get", group: "", resource: "secrets", namespace: ns, name: "x" },
    { verb: "list", group: "", resource: "secrets", namespace: ns },
    { verb: "watch", group: "", resource: "secrets", namespace: ns },
  ]),
  ...["kube-system", "calico-system", "tigera-operator", "egress-gateway", toolboxNamespace].flatMap((ns) => [
    { verb: "create", group: "", resource: "pods/exec", namespace: ns },
    { verb: "get", group: "", resource: "pods/exec", namespace: ns },
    { verb: "create", group: "", resource: "pods/attach", namespace: ns },
  ]),
  { verb: "create", group: "", resource: "pods/portforward", namespace: "kube-system" },
  { verb: "create", group: "", resource: "pods/portforward", namespace: "shop" },
  { verb: "get", group: "", resource: "pods/attach", namespace: "shop" },
  { verb: "create", group: "", resource: "pods", namespace: "shop" },
  { verb: "create", group: "", resource: "pods", namespace: "kube-system" },
  { verb: "delete", group: "", resource: "pods", namespace: "calico-system", name: "calico-node-x" },
  { verb: "create", group: "apps", resource: "deployments", namespace: "shop" },
  { verb: "patch", group: "apps", resource: "deployments", namespace: "kube-system", name: "coredns" },
  {
    verb: "patch",
    group: "apps",
    resource: "daemonsets",
    namespace: "calico-system",
    name: "calico-node",
  },
  { verb: "create", group: "batch", resource: "jobs", namespace: "shop" },
  { verb: "get", group: "", resource: "nodes/proxy", name: "egresslab-control-plane" },
  { verb: "get", group: "", resource: "services/proxy", namespace: "calico-system", name: "whisker" },
  { verb: "create", group: "", resource: "services/proxy", namespace: "shop", name: "web" },
  { verb: "get", group: "", resource: "pods/proxy", namespace: "shop", name: "web" },
  {
    verb: "create",
    group: "",
    resource: "serviceaccounts/token",
    namespace: "kube-system",
    name: "default",
  },
  { verb: "patch", group: "", resource: "configmaps", namespace: "kube-system", name: "coredns" },
  { verb: "create", group: "", resource: "configmaps", namespace: "calico-system" },
  { verb: "delete", group: "", resource: "namespaces", name: "shop" },
  { verb: "create", group: "", resource: "namespaces", name: "attacker" },
  { verb: "patch", group: "", resource: "nodes", name: "egresslab-control-plane" },
  { verb: "create", group: "rbac.authorization.k8s.io", resource: "clusterrolebindings" },
  {
    verb: "patch",
    group: "rbac.authorization.k8s.io",
    resource: "clusterroles",
    name: "egresslab-toolbox",
  },
  { verb: "create", group: "rbac.authorization.k8s.io", resource: "rolebindings", namespace: "shop" },
  { verb: "bind", group: "rbac.authorization.k8s.io", resource: "clusterroles", name: "cluster-admin" },
  {
    verb: "impersonate",
    group: "",
    resource: "serviceaccounts",
    namespace: "kube-system",
    name: "default",
  },
  { verb: "create", group: "admissionregistration.k8s.io", resource: "validatingwebhookconfigurations" },
  { verb: "create", group: "certificates.k8s.io", resource: "certificatesigningrequests" },
  // The toolbox's own tier and its policy: a learner cannot cut their terminal off, nor put a tier before it.
  { verb: "create", group: "projectcalico.org", resource: "tiers", name: "first" },
  { verb: "delete", group: "projectcalico.org", resource: "tiers", name: "egresslab-toolbox" },
  { verb: "patch", group: "projectcalico.org", resource: "tiers", name: "egresslab-toolbox" },
  ...["update", "patch", "delete"].map((verb) => ({
    verb,
    group: "projectcalico.org",
    resource: "globalnetworkpolicies",
    name: "egresslab-toolbox.api-and-dns",
    tier: "egresslab-toolbox",
  })),
  {
    verb: "create",
    group: "projectcalico.org",
    resource: "globalnetworkpolicies",
    name: "calico-system.evil",
    tier: "calico-system",
  },
  { verb: "patch", group: "operator.tigera.io", resource: "installations", name: "default" },
  { verb: "delete", group: "operator.tigera.io", resource: "whiskers", name: "default" },
];
