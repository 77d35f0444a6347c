/**
 * From API objects to the compiled model, as libcalico-go's update processors and the Kubernetes NetworkPolicy
 * converter do it (specification §A.3, A.6, A.7, A.8, A.10). Selector strings are built exactly as upstream builds
 * them, then parsed.
 */
import { parseSelector, prefixLabels, tryParseSelector, type ParsedSelector } from "./selector.ts";
import { parseCidr, type Cidr } from "./nets.ts";
import { compileDomain } from "./domains.ts";
import {
  LABEL_NAMESPACE,
  LABEL_ORCHESTRATOR,
  LABEL_SERVICE_ACCOUNT,
  protocolNumber,
  type CompiledPolicy,
  type CompiledRule,
  type EntityMatch,
  type PolicyKindShort,
  type PortMatch,
  type RuleAction,
} from "./model.ts";
import { isObject, asArray, type JsonObject } from "../shared/object.ts";

const str = (v: unknown): string => (typeof v === "string" ? v : "");

/** Appends `add` with every label prefixed (`prefixAndAppendSelector`); an unparsable `add` is dropped. */
function prefixAndAppend(sel: string, add: string, prefix: string): string {
  const parsed = tryParseSelector(add);
  if (!parsed) return sel;
  const prefixed = prefixLabels(parsed, prefix).toString();
  return sel === "" ? prefixed : `(${sel}) && ${prefixed}`;
}

/** The effective endpoint selector of a Calico policy (`networkpolicyprocessor.go`, `globalnetworkpolicyprocessor.go`). */
export function policySelectorString(
  kind: "NetworkPolicy" | "GlobalNetworkPolicy",
  namespace: string | undefined,
  spec: { selector?: string; namespaceSelector?: string; serviceAccountSelector?: string },
): string {
  let sel = spec.selector ?? "";
  if (kind === "NetworkPolicy") {
    const nsClause = `${LABEL_NAMESPACE} == '${namespace ?? ""}'`;
    sel = sel === "" ? nsClause : `(${sel}) && ${nsClause}`;
    if (spec.serviceAccountSelector) sel = prefixAndAppend(sel, spec.serviceAccountSelector, "pcsa.");
    return sel;
  }
  if (spec.namespaceSelector) {
    sel = prefixAndAppend(sel, spec.namespaceSelector, "pcns.");
    sel = sel.replaceAll("all()", `has(${LABEL_NAMESPACE})`);
  }
  if (spec.serviceAccountSelector) {
    sel = prefixAndAppend(sel, spec.serviceAccountSelector, "pcsa.");
    sel = sel.replaceAll("all()", `has(${LABEL_SERVICE_ACCOUNT})`);
  }
  return sel;
}

function quoteSetMember(s: string): string {
  return s.includes('"') ? `'${s}'` : `"${s}"`;
}

/** The positive selector of an EntityRule after namespace and service-account scoping (`rules.go`). */
export function entitySelectorString(
  er: {
    selector?: string;
    notSelector?: string;
    namespaceSelector?: string;
    serviceAccounts?: { names?: string[]; selector?: string };
  },
  policyNamespace: string | undefined,
): string {
  let sa = "";
  if (er.serviceAccounts) {
    const parts: string[] = [];
    if (er.serviceAccounts.selector) {
      const p = tryParseSelector(er.serviceAccounts.selector);
      if (p)
        parts.push(prefixLabels(p, "pcsa.").toString().replaceAll("all()", `has(${LABEL_SERVICE_ACCOUNT})`));
    }
    const names = [...new Set(er.serviceAccounts.names ?? [])].sort();
    if (names.length) parts.push(`${LABEL_SERVICE_ACCOUNT} in {${names.map(quoteSetMember).join(", ")}}`);
    sa = parts.length === 2 ? `(${parts[0]}) && (${parts[1]})` : (parts[0] ?? "");
  }
  const sel = er.selector ?? "";
  const saSel = sa && sel ? `(${sa}) && (${sel})` : sa || sel;
  let nsSel = "";
  if (er.namespaceSelector) {
    const p = tryParseSelector(er.namespaceSelector);
    if (p) {
      const s = p.toString();
      nsSel =
        s === "all()"
          ? `has(${LABEL_NAMESPACE})`
          : s === "global()"
            ? `!has(${LABEL_NAMESPACE})`
            : prefixLabels(p, "pcns.").toString();
    }
  } else if (policyNamespace && (sel || er.notSelector || er.serviceAccounts)) {
    nsSel = `${LABEL_NAMESPACE} == '${policyNamespace}'`;
  }
  if (nsSel && saSel) return `(${nsSel}) && (${saSel})`;
  return nsSel || saSel;
}

function parsePorts(v: unknown): PortMatch[] | undefined {
  const out: PortMatch[] = [];
  for (const p of asArray(v)) {
    if (typeof p === "number") out.push({ min: p, max: p });
    else if (typeof p === "string") {
      const m = /^(\d+)(?::(\d+))?$/.exec(p);
      if (m) out.push({ min: Number(m[1]), max: Number(m[2] ?? m[1]) });
      else out.push({ name: p });
    }
  }
  return out.length ? out : undefined;
}

function parseNets(v: unknown): Cidr[] | undefined {
  const out = asArray(v)
    .map((n) => (typeof n === "string" ? parseCidr(n) : undefined))
    .filter((c): c is Cidr => c !== undefined);
  return out.length ? out : undefined;
}

function compileEntity(v: unknown, policyNamespace: string | undefined): EntityMatch {
  if (!isObject(v)) return {};
  const sa = isObject(v.serviceAccounts)
    ? {
        names: asArray(v.serviceAccounts.names).filter((n): n is string => typeof n === "string"),
        selector: str(v.serviceAccounts.selector),
      }
    : undefined;
  const hasSa = sa !== undefined && (sa.names.length > 0 || sa.selector !== "");
  const positive = entitySelectorString(
    {
      selector: str(v.selector),
      notSelector: str(v.notSelector),
      namespaceSelector: str(v.namespaceSelector),
      ...(hasSa ? { serviceAccounts: sa } : {}),
    },
    policyNamespace,
  );
  const m: EntityMatch = {};
  if (positive) m.selector = parseSelector(positive);
  if (str(v.notSelector)) m.notSelector = parseSelector(str(v.notSelector));
  const nets = parseNets(v.nets);
  if (nets) m.nets = nets;
  const notNets = parseNets(v.notNets);
  if (notNets) m.notNets = notNets;
  const ports = parsePorts(v.ports);
  if (ports) m.ports = ports;
  const notPorts = parsePorts(v.notPorts);
  if (notPorts) m.notPorts = notPorts;
  if (isObject(v.services) && str(v.services.name))
    m.services = {
      name: str(v.services.name),
      namespace: str(v.services.namespace) || (policyNamespace ?? ""),
    };
  const domains = asArray(v.domains).filter((d): d is string => typeof d === "string");
  if (domains.length) m.domains = domains.map(compileDomain);
  return m;
}

function icmpFields(v: unknown): { type?: number; code?: number } | undefined {
  if (!isObject(v)) return undefined;
  const out: { type?: number; code?: number } = {};
  if (typeof v.type === "number") out.type = v.type;
  if (typeof v.code === "number") out.code = v.code;
  return out;
}

function compileRule(v: unknown, index: number, policyNamespace: string | undefined): CompiledRule {
  const r = isObject(v) ? v : {};
  const rule: CompiledRule = {
    action: (["Allow", "Deny", "Pass", "Log"].includes(str(r.action)) ? r.action : "Deny") as RuleAction,
    index,
    source: compileEntity(r.source, policyNamespace),
    destination: compileEntity(r.destination, policyNamespace),
  };
  if (r.ipVersion === 4 || r.ipVersion === 6) rule.ipVersion = r.ipVersion;
  const p = protocolNumber(r.protocol);
  if (p !== undefined) rule.protocol = p;
  const np = protocolNumber(r.notProtocol);
  if (np !== undefined) rule.notProtocol = np;
  const icmp = icmpFields(r.icmp);
  if (icmp) rule.icmp = icmp;
  const notICMP = icmpFields(r.notICMP);
  if (notICMP) rule.notICMP = notICMP;
  return rule;
}

/** `types` defaulting (A.7): API defaulting when absent from the object. */
function effectiveTypes(spec: JsonObject): { ingress: boolean; egress: boolean } {
  const types = asArray(spec.types);
  if (types.length) return { ingress: types.includes("Ingress"), egress: types.includes("Egress") };
  const hasIn = asArray(spec.ingress).length > 0;
  const hasEg = asArray(spec.egress).length > 0;
  if (hasEg && !hasIn) return { ingress: false, egress: true };
  if (hasEg && hasIn) return { ingress: true, egress: true };
  return { ingress: true, egress: false };
}

const SHORT: Record<string, PolicyKindShort> = {
  NetworkPolicy: "np",
  GlobalNetworkPolicy: "gnp",
  StagedNetworkPolicy: "snp",
  StagedGlobalNetworkPolicy: "sgnp",
  StagedKubernetesNetworkPolicy: "sknp",
  KubernetesNetworkPolicy: "knp",
};

/** Compiles a projectcalico.org/v3 (Staged)(Global)NetworkPolicy. Throws on unparsable selectors. */
export function compileCalicoPolicy(obj: {
  kind: string;
  metadata: { name: string; namespace?: string };
  spec?: unknown;
}): CompiledPolicy {
  const spec = isObject(obj.spec) ? obj.spec : {};
  const staged = obj.kind.startsWith("Staged");
  const global = obj.kind.endsWith("GlobalNetworkPolicy");
  const namespace = global ? undefined : obj.metadata.namespace;
  const tier = str(spec.tier) || "default";
  const order = typeof spec.order === "number" ? spec.order : Infinity;
  const selector = parseSelector(
    policySelectorString(global ? "GlobalNetworkPolicy" : "NetworkPolicy", namespace, {
      selector: str(spec.selector),
      namespaceSelector: str(spec.namespaceSelector),
      serviceAccountSelector: str(spec.serviceAccountSelector),
    }),
  );
  const name = obj.metadata.name;
  const policy: CompiledPolicy = {
    key: `${obj.kind}/${namespace ?? ""}/${name}`,
    kind: SHORT[obj.kind]!,
    apiKind: obj.kind,
    staged,
    name,
    tier,
    order,
    selector,
    applies: effectiveTypes(spec),
    ingress: asArray(spec.ingress).map((r, i) => compileRule(r, i, namespace)),
    egress: asArray(spec.egress).map((r, i) => compileRule(r, i, namespace)),
    tieBreak: `${name}/${namespace ?? ""}/${obj.kind}`,
  };
  if (namespace !== undefined) policy.namespace = namespace;
  // A staged `Delete` is not sent to Felix at all (A.9), and `Ignore` keeps a staged policy out of the pending view.
  if (staged && (spec.stagedAction === "Delete" || spec.stagedAction === "Ignore"))
    policy.applies = { ingress: false, egress: false };
  // preDNAT and doNotTrack policies are programmed for host endpoints only; pods never see them.
  if (global && (spec.preDNAT === true || spec.doNotTrack === true))
    policy.applies = { ingress: false, egress: false };
  return policy;
}

/** Kubernetes label selector → Calico selector string (`k8sSelectorToCalico`). */
export function k8sSelectorToCalico(s: unknown, type: "pod" | "namespace"): string {
  const parts: string[] = type === "pod" ? [`${LABEL_ORCHESTRATOR} == 'k8s'`] : [];
  if (!isObject(s)) return parts.join(" && ");
  const ml = isObject(s.matchLabels) ? s.matchLabels : {};
  const me = asArray(s.matchExpressions).filter(isObject);
  if (type === "namespace" && Object.keys(ml).length === 0 && me.length === 0) return "all()";
  for (const k of Object.keys(ml).sort()) parts.push(`${k} == '${String(ml[k])}'`);
  for (const e of me) {
    const values = asArray(e.values).map(String);
    switch (e.operator) {
      case "In":
        parts.push(`${str(e.key)} in { '${values.join("', '")}' }`);
        break;
      case "NotIn":
        parts.push(`${str(e.key)} not in { '${values.join("', '")}' }`);
        break;
      case "Exists":
        parts.push(`has(${str(e.key)})`);
        break;
      case "DoesNotExist":
        parts.push(`! has(${str(e.key)})`);
        break;
    }
  }
  return parts.join(" && ");
}

/** Merges numeric ports into ranges (`SimplifyPorts`) and keeps named ports. */
function simplifyPorts(ports: (number | string | [number, number])[]): (number | string)[] {
  const named = ports.filter((p): p is string => typeof p === "string");
  const ranges = ports
    .filter((p): p is number | [number, number] => typeof p !== "string")
    .map((p): [number, number] => (typeof p === "number" ? [p, p] : p))
    .sort((a, b) => a[0] - b[0]);
  const merged: [number, number][] = [];
  for (const [a, b] of ranges) {
    const last = merged[merged.length - 1];
    if (last && a <= last[1] + 1) last[1] = Math.max(last[1], b);
    else merged.push([a, b]);
  }
  return [...merged.map(([a, b]) => (a === b ? a : `${a}:${b}`)), ...named];
}

/** K8s rule → Calico rules: one Allow rule per (protocol, peer) pair (`k8sRuleToCalico`). */
function k8sRuleToCalico(rule: JsonObject, direction: "ingress" | "egress"): JsonObject[] {
  const peers = asArray(direction === "ingress" ? rule.from : rule.to).filter(isObject);
  const ports = asArray(rule.ports).filter(isObject);
  const byProto = new Map<string, (number | string | [number, number])[]>();
  const protoOnly = new Set<string>();
  for (const p of ports) {
    const proto = str(p.protocol) || "TCP";
    const list = byProto.get(proto) ?? [];
    if (p.port === undefined || p.port === null) protoOnly.add(proto);
    else if (typeof p.port === "number" && typeof p.endPort === "number") list.push([p.port, p.endPort]);
    else if (typeof p.port === "number" || typeof p.port === "string") list.push(p.port);
    byProto.set(proto, list);
  }
  const protoPorts: { protocol?: string; ports?: (number | string)[] }[] = ports.length
    ? [...byProto].map(([protocol, list]) =>
        protoOnly.has(protocol) || !list.length ? { protocol } : { protocol, ports: simplifyPorts(list) },
      )
    : [{}];
  const peerEntities: JsonObject[] = peers.length
    ? peers.map((peer) => {
        if (isObject(peer.ipBlock)) {
          const e: JsonObject = { nets: [str(peer.ipBlock.cidr)] };
          const except = asArray(peer.ipBlock.except);
          if (except.length) e.notNets = except;
          return e;
        }
        const e: JsonObject = { selector: k8sSelectorToCalico(peer.podSelector, "pod") };
        if (peer.namespaceSelector !== undefined && peer.namespaceSelector !== null)
          e.namespaceSelector = k8sSelectorToCalico(peer.namespaceSelector, "namespace");
        return e;
      })
    : [{}];
  const out: JsonObject[] = [];
  for (const pp of protoPorts) {
    for (const peer of peerEntities) {
      const r: JsonObject = { action: "Allow" };
      if (pp.protocol) r.protocol = pp.protocol;
      const local: JsonObject = pp.ports ? { ports: pp.ports } : {};
      if (direction === "ingress") {
        r.source = peer;
        r.destination = local;
      } else {
        r.destination = { ...peer, ...local };
        r.source = {};
      }
      out.push(r);
    }
  }
  return out;
}

/** The endpoint selector of a converted Kubernetes NetworkPolicy. */
export function k8sPolicySelectorString(namespace: string, podSelector: unknown): string {
  return `(${k8sSelectorToCalico(podSelector, "pod")}) && ${LABEL_NAMESPACE} == '${namespace}'`;
}

/** Compiles a networking.k8s.io/v1 NetworkPolicy or a StagedKubernetesNetworkPolicy (A.10): default tier, order 1000. */
export function compileK8sPolicy(obj: {
  kind: string;
  metadata: { name: string; namespace?: string };
  spec?: unknown;
}): CompiledPolicy {
  const spec = isObject(obj.spec) ? obj.spec : {};
  const staged = obj.kind === "StagedKubernetesNetworkPolicy";
  const namespace = obj.metadata.namespace ?? "default";
  const types = asArray(spec.policyTypes);
  const applies = types.length
    ? { ingress: types.includes("Ingress"), egress: types.includes("Egress") }
    : { ingress: true, egress: asArray(spec.egress).length > 0 };
  const selector = parseSelector(k8sPolicySelectorString(namespace, spec.podSelector));
  const compileAll = (dir: "ingress" | "egress"): CompiledRule[] =>
    asArray(spec[dir])
      .filter(isObject)
      .flatMap((r) => k8sRuleToCalico(r, dir))
      .map((r, i) => compileRule(r, i, namespace));
  const apiKind = staged ? "StagedKubernetesNetworkPolicy" : "KubernetesNetworkPolicy";
  const name = obj.metadata.name;
  const policy: CompiledPolicy = {
    key: `${apiKind}/${namespace}/${name}`,
    kind: staged ? "sknp" : "knp",
    apiKind,
    staged,
    namespace,
    name,
    tier: "default",
    order: 1000,
    selector,
    applies,
    ingress: compileAll("ingress"),
    egress: compileAll("egress"),
    tieBreak: `${name}/${namespace}/${apiKind}`,
  };
  if (staged && (spec.stagedAction === "Delete" || spec.stagedAction === "Ignore"))
    policy.applies = { ingress: false, egress: false };
  return policy;
}

/** The selector of a policy, for tests and explanations. */
export function selectorOf(p: CompiledPolicy): ParsedSelector {
  return p.selector;
}

/** A ClusterNetworkPolicy port: a number or a range (`k8sCNPPortToCalico`). */
function cnpPort(p: unknown): number | [number, number] | undefined {
  if (!isObject(p)) return undefined;
  if (typeof p.number === "number" && p.number !== 0) return p.number;
  if (isObject(p.range) && typeof p.range.start === "number" && typeof p.range.end === "number")
    return [p.range.start, p.range.end];
  return undefined;
}

/** protocol → ports (undefined = all ports); `""` = any protocol (`unpackCNPProtocols`). Throws on named ports. */
function cnpProtocols(list: unknown): Map<string, (number | [number, number])[] | undefined> {
  const protos = asArray(list).filter(isObject);
  const out = new Map<string, (number | [number, number])[] | undefined>();
  for (const p of protos.length ? protos : [{}]) {
    const which = (["TCP", "UDP", "SCTP"] as const).find((k) => isObject(p[k.toLowerCase()]));
    if (!which) {
      if (typeof p.destinationNamedPort === "string" && p.destinationNamedPort)
        throw new Error("named ports are not supported yet");
      return new Map([["", undefined]]);
    }
    const port = cnpPort((p[which.toLowerCase()] as JsonObject).destinationPort);
    if (port === undefined) out.set(which, undefined);
    else if (!out.has(which) || out.get(which) !== undefined)
      out.set(which, [...(out.get(which) ?? []), port]);
  }
  return new Map([...out].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

const CNP_ACTIONS: Record<string, RuleAction> = { Accept: "Allow", Deny: "Deny", Pass: "Pass" };

/** One CNP rule → Calico rules, or a fail-closed Deny / nothing when it cannot be converted (A.3). */
function cnpRule(rule: JsonObject, direction: "ingress" | "egress"): JsonObject[] {
  const convert = (): JsonObject[] => {
    const action = CNP_ACTIONS[str(rule.action)];
    if (!action) throw new Error(`unsupported cluster network policy action ${str(rule.action)}`);
    const peers = asArray(direction === "ingress" ? rule.from : rule.to).filter(isObject);
    const out: JsonObject[] = [];
    for (const [protocol, ports] of cnpProtocols(rule.protocols)) {
      for (const peer of peers) {
        const e: JsonObject = {};
        let found = false;
        if (isObject(peer.namespaces)) {
          e.namespaceSelector = k8sSelectorToCalico(peer.namespaces, "namespace");
          found = true;
        }
        if (isObject(peer.pods)) {
          e.selector = k8sSelectorToCalico(peer.pods.podSelector ?? {}, "pod");
          e.namespaceSelector = k8sSelectorToCalico(peer.pods.namespaceSelector ?? {}, "namespace");
          found = true;
        }
        if (direction === "egress" && asArray(peer.networks).length) {
          e.nets = asArray(peer.networks).map((n) => {
            const c = typeof n === "string" ? parseCidr(n, { requireMask: true }) : undefined;
            if (!c) throw new Error(`invalid CIDR in rule: ${String(n)}`);
            return c.text;
          });
          found = true;
        }
        if (!found) throw new Error("none of the supported peer fields is set");
        const r: JsonObject = { action };
        if (protocol) r.protocol = protocol;
        const local: JsonObject = ports ? { ports: simplifyPorts(ports) } : {};
        if (direction === "ingress") {
          r.source = e;
          r.destination = local;
        } else r.destination = { ...e, ...local };
        out.push(r);
      }
    }
    return out;
  };
  try {
    return convert();
  } catch {
    return rule.action === "Deny" || rule.action === "Pass" ? [{ action: "Deny" }] : [];
  }
}

/**
 * Compiles a policy.networking.k8s.io ClusterNetworkPolicy (3.32+): a GlobalNetworkPolicy in tier `kube-admin`
 * (spec.tier Admin) or `kube-baseline` (Baseline) at order `spec.priority`; Accept → Allow; a rule that cannot be
 * converted fails closed (Deny) when its action was Deny or Pass, and is dropped when it was Accept.
 */
export function compileClusterNetworkPolicy(obj: {
  metadata: { name: string };
  spec?: unknown;
}): CompiledPolicy {
  const spec = isObject(obj.spec) ? obj.spec : {};
  const subject = isObject(spec.subject) ? spec.subject : {};
  let nsSel: string;
  let podSel: string;
  if (isObject(subject.namespaces)) {
    nsSel = k8sSelectorToCalico(subject.namespaces, "namespace");
    podSel = k8sSelectorToCalico(undefined, "pod");
  } else {
    const pods = isObject(subject.pods) ? subject.pods : {};
    nsSel = k8sSelectorToCalico(pods.namespaceSelector ?? {}, "namespace");
    podSel = k8sSelectorToCalico(pods.podSelector ?? {}, "pod");
  }
  const ingress = asArray(spec.ingress)
    .filter(isObject)
    .flatMap((r) => cnpRule(r, "ingress"));
  const egress = asArray(spec.egress)
    .filter(isObject)
    .flatMap((r) => cnpRule(r, "egress"));
  const name = obj.metadata.name;
  const apiKind = "KubernetesClusterNetworkPolicy";
  return {
    key: `${apiKind}//${name}`,
    kind: "kcnp",
    apiKind,
    staged: false,
    name,
    tier: spec.tier === "Admin" ? "kube-admin" : spec.tier === "Baseline" ? "kube-baseline" : "default",
    order: typeof spec.priority === "number" ? spec.priority : 0,
    selector: parseSelector(
      policySelectorString("GlobalNetworkPolicy", undefined, { selector: podSel, namespaceSelector: nsSel }),
    ),
    applies: { ingress: ingress.length > 0, egress: egress.length > 0 },
    ingress: ingress.map((r, i) => compileRule(r, i, undefined)),
    egress: egress.map((r, i) => compileRule(r, i, undefined)),
    tieBreak: `${name}//${apiKind}`,
  };
}
