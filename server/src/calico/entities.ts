/**
 * Pods and network sets as selectors see them (specification §A.5): own labels, Calico's namespace / orchestrator /
 * service-account labels, and labels inherited from the `kns.` and `ksa.` profiles (`pcns.*`, `pcsa.*`).
 */
import {
  LABEL_NAME,
  LABEL_NAMESPACE,
  LABEL_ORCHESTRATOR,
  LABEL_SERVICE_ACCOUNT,
  protocolNumber,
  type Entity,
} from "./model.ts";
import { ipKey, parseCidr, type Cidr } from "./nets.ts";
import { compileDomain } from "./domains.ts";
import { isObject, asArray, setOwn, type JsonObject } from "../shared/object.ts";

export function stringLabels(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!isObject(v)) return out;
  for (const [k, val] of Object.entries(v)) if (typeof val === "string") setOwn(out, k, val);
  return out;
}

/** The labels a namespace profile `kns.<ns>` gives its endpoints. */
export function namespaceProfileLabels(
  ns: string,
  labels: Record<string, string> | undefined,
): Record<string, string> {
  const out: Record<string, string> = {};
  const all = { "kubernetes.io/metadata.name": ns, ...(labels ?? {}) };
  for (const [k, v] of Object.entries(all)) out[`pcns.${k}`] = v;
  out[`pcns.${LABEL_NAME}`] = ns;
  return out;
}

/** The labels a service-account profile `ksa.<ns>.<sa>` gives its endpoints. */
export function serviceAccountProfileLabels(
  sa: string,
  labels: Record<string, string> | undefined,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(labels ?? {})) out[`pcsa.${k}`] = v;
  out[`pcsa.${LABEL_NAME}`] = sa;
  return out;
}

export interface ProfileLabels {
  namespace(ns: string): Record<string, string>;
  serviceAccount(ns: string, sa: string): Record<string, string>;
}

/** A pod's workload endpoint, or undefined for host-networked and finished pods. */
export function podEntity(
  pod: { metadata: object; spec?: unknown; status?: unknown },
  profiles: ProfileLabels,
): Entity | undefined {
  const meta = pod.metadata as JsonObject;
  const spec = isObject(pod.spec) ? pod.spec : {};
  const status = isObject(pod.status) ? pod.status : {};
  if (spec.hostNetwork === true) return undefined;
  if (status.phase === "Succeeded" || status.phase === "Failed") return undefined;
  const ns = typeof meta.namespace === "string" ? meta.namespace : "default";
  const name = String(meta.name);
  const sa =
    typeof spec.serviceAccountName === "string" && spec.serviceAccountName
      ? spec.serviceAccountName
      : typeof spec.serviceAccount === "string" && spec.serviceAccount
        ? spec.serviceAccount
        : "default";
  const own: Record<string, string> = {
    ...stringLabels(meta.labels),
    [LABEL_NAMESPACE]: ns,
    [LABEL_ORCHESTRATOR]: "k8s",
  };
  if (sa.length < 63) own[LABEL_SERVICE_ACCOUNT] = sa;
  const ips = new Set<string>();
  for (const p of asArray(status.podIPs)) if (isObject(p) && typeof p.ip === "string") ips.add(p.ip);
  if (typeof status.podIP === "string" && status.podIP) ips.add(status.podIP);
  const ports: Entity["ports"] = [];
  for (const c of [...asArray(spec.containers), ...asArray(spec.initContainers)]) {
    if (!isObject(c)) continue;
    for (const p of asArray(c.ports)) {
      if (!isObject(p) || typeof p.containerPort !== "number") continue;
      const port: Entity["ports"][number] = {
        protocol: protocolNumber(p.protocol ?? "TCP") ?? 6,
        port: p.containerPort,
      };
      if (typeof p.name === "string") port.name = p.name;
      ports.push(port);
    }
  }
  return {
    key: `pod/${ns}/${name}`,
    type: "pod",
    namespace: ns,
    name,
    labels: { ...profiles.serviceAccount(ns, sa), ...profiles.namespace(ns), ...own },
    ownLabels: own,
    ips: [...ips].map((ip) => ipKey(ip)).filter((ip): ip is string => ip !== undefined),
    nets: [],
    domains: [],
    ports,
    serviceAccount: sa,
  };
}

/** A NetworkSet or GlobalNetworkSet; domains only count on Enterprise. */
export function networkSetEntity(
  obj: { kind: string; metadata: object; spec?: unknown },
  profiles: ProfileLabels,
  enterprise: boolean,
): Entity {
  const spec = isObject(obj.spec) ? obj.spec : {};
  const meta = obj.metadata as JsonObject;
  const global = obj.kind === "GlobalNetworkSet";
  const ns = global ? undefined : typeof meta.namespace === "string" ? meta.namespace : "default";
  const name = String(meta.name);
  const own = stringLabels(meta.labels);
  if (ns !== undefined) own[LABEL_NAMESPACE] = ns;
  const nets = asArray(spec.nets)
    .map((n) => (typeof n === "string" ? parseCidr(n) : undefined))
    .filter((c): c is Cidr => c !== undefined);
  const domains = enterprise
    ? asArray(spec.allowedEgressDomains)
        .filter((d): d is string => typeof d === "string")
        .map(compileDomain)
    : [];
  const e: Entity = {
    key: `${global ? "globalnetworkset" : "networkset"}/${ns ?? ""}/${name}`,
    type: global ? "globalnetworkset" : "networkset",
    name,
    labels: ns !== undefined ? { ...profiles.namespace(ns), ...own } : own,
    ownLabels: own,
    ips: [],
    nets,
    domains,
    ports: [],
  };
  if (ns !== undefined) e.namespace = ns;
  return e;
}
