/**
 * Egress gateway routing with Calico Enterprise semantics (specification §E): which gateway, if any, carries a pod's
 * traffic to a destination outside the cluster.
 */
import { tryParseSelector } from "../calico/selector.ts";
import type { KubeObject, ObjectStore } from "../store/types.ts";
import { cidrContains, parseCidr } from "../shared/ipv4.ts";
import { fnv32a } from "../shared/hash.ts";
import { podReady } from "./topology.ts";

export type EgressRoute =
  | { kind: "direct" }
  | { kind: "gateway"; gateway: KubeObject }
  /** Traffic fails: no ready gateway matches, or the named EgressGatewayPolicy does not exist. */
  | { kind: "blocked"; reason: string };

const A = "egress.projectcalico.org/";

export type EgressSupport = "Disabled" | "EnabledPerNamespace" | "EnabledPerNamespaceOrPerPod";

export function egressSupport(store: ObjectStore): EgressSupport {
  const fc = store.get("projectcalico.org/felixconfigurations", undefined, "default");
  const v = (fc?.spec as { egressIPSupport?: string } | undefined)?.egressIPSupport;
  return v === "EnabledPerNamespace" || v === "EnabledPerNamespaceOrPerPod" ? v : "Disabled";
}

/** The EgressGateway a gateway pod belongs to (its template labels select the pod), if any. */
export function gatewayOf(store: ObjectStore, pod: KubeObject): KubeObject | undefined {
  return store.list("operator.tigera.io/egressgateways", pod.metadata.namespace).find((g) => {
    if (pod.metadata.ownerReferences?.some((o) => o.kind === "EgressGateway" && o.name === g.metadata.name))
      return true;
    const tpl = (g.spec as { template?: { metadata?: { labels?: Record<string, string> } } } | undefined)
      ?.template;
    const labels = tpl?.metadata?.labels ?? { "projectcalico.org/egw": g.metadata.name };
    return Object.entries(labels).every(([k, v]) => pod.metadata.labels?.[k] === v);
  });
}

/** Whether a pod is an egress gateway (made by the EgressGateway controller). */
export function isGatewayPod(store: ObjectStore, pod: KubeObject): boolean {
  return Boolean(
    pod.metadata.ownerReferences?.some((o) => o.kind === "EgressGateway") || gatewayOf(store, pod),
  );
}

/** Decides whether a gateway passes its failure-detection probes (ICMP/HTTP); gateways that fail are not used. */
export type GatewayHealth = (gateway: KubeObject) => boolean;

function nsLabels(ns: KubeObject | undefined, name: string): Record<string, string> {
  return { ...(ns?.metadata.labels ?? {}), "projectcalico.org/name": name };
}

/** Gateways matching a selector pair, for a client in `clientNs` (default: gateways in the client's namespace). */
function gatewaysFor(
  healthy: GatewayHealth,
  store: ObjectStore,
  clientNs: string,
  selector: string | undefined,
  namespaceSelector: string | undefined,
): KubeObject[] | string {
  const sel = tryParseSelector(selector ?? "all()");
  if (!sel) return `invalid egress gateway selector ${JSON.stringify(selector)}`;
  let namespaces: string[];
  if (namespaceSelector !== undefined) {
    const nsSel = tryParseSelector(namespaceSelector);
    if (!nsSel) return `invalid egress gateway namespaceSelector ${JSON.stringify(namespaceSelector)}`;
    namespaces = store
      .list("core/namespaces")
      .filter((n) => nsSel.matches(nsLabels(n, n.metadata.name)))
      .map((n) => n.metadata.name);
  } else namespaces = [clientNs];
  const out: KubeObject[] = [];
  for (const ns of namespaces)
    for (const p of store.list("core/pods", ns))
      if (podReady(p) && isGatewayPod(store, p) && sel.matches(p.metadata.labels ?? {}) && healthy(p))
        out.push(p);
  return out;
}

/** The annotations that govern a pod's egress: the pod's own (per-pod mode, if it has any), else its namespace's. */
function effectiveAnnotations(
  store: ObjectStore,
  pod: KubeObject,
  mode: EgressSupport,
): Record<string, string> {
  const pick = (a: Record<string, string> | undefined): Record<string, string> => {
    const out: Record<string, string> = {};
    for (const k of ["selector", "namespaceSelector", "egressGatewayPolicy"])
      if (a?.[A + k] !== undefined) out[k] = a[A + k]!;
    return out;
  };
  const own = pick(pod.metadata.annotations);
  if (mode === "EnabledPerNamespaceOrPerPod" && Object.keys(own).length > 0) return own;
  return pick(store.get("core/namespaces", undefined, pod.metadata.namespace ?? "")?.metadata.annotations);
}

interface GatewayPolicyRule {
  destination?: { cidr?: string };
  gateway?: { selector?: string; namespaceSelector?: string; maxNextHops?: number };
}

/** The route for traffic from `pod` to a destination outside the cluster. */
export function egressRoute(
  store: ObjectStore,
  pod: KubeObject,
  dstIp: string,
  healthy: GatewayHealth = () => true,
): EgressRoute {
  const mode = egressSupport(store);
  if (mode === "Disabled" || isGatewayPod(store, pod)) return { kind: "direct" };
  const a = effectiveAnnotations(store, pod, mode);
  const clientNs = pod.metadata.namespace ?? "default";
  let candidates: KubeObject[] | string;
  if (a.egressGatewayPolicy !== undefined) {
    const egp = store.get("projectcalico.org/egressgatewaypolicies", undefined, a.egressGatewayPolicy);
    if (!egp)
      return { kind: "blocked", reason: `EgressGatewayPolicy "${a.egressGatewayPolicy}" does not exist` };
    const rules = ((egp.spec as { rules?: GatewayPolicyRule[] } | undefined)?.rules ?? [])
      .map((r) => ({ r, cidr: parseCidr(r.destination?.cidr ?? "0.0.0.0/0") }))
      .filter((x) => x.cidr && cidrContains(x.cidr, dstIp))
      .sort((x, y) => y.cidr!.bits - x.cidr!.bits);
    const rule = rules[0]?.r;
    if (!rule || !rule.gateway) return { kind: "direct" };
    candidates = gatewaysFor(healthy, store, clientNs, rule.gateway.selector, rule.gateway.namespaceSelector);
  } else if (a.selector !== undefined || a.namespaceSelector !== undefined) {
    candidates = gatewaysFor(healthy, store, clientNs, a.selector, a.namespaceSelector);
  } else return { kind: "direct" };
  if (typeof candidates === "string") return { kind: "blocked", reason: candidates };
  if (candidates.length === 0)
    return { kind: "blocked", reason: "no ready egress gateway matches (unreachable default route)" };
  candidates.sort((x, y) => (x.metadata.name < y.metadata.name ? -1 : 1));
  const ip = (pod.status as { podIP?: string } | undefined)?.podIP ?? "";
  return { kind: "gateway", gateway: candidates[fnv32a(`${ip}>${dstIp}`) % candidates.length]! };
}
