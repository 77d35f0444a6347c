/**
 * The cluster's network as the store describes it: pods, services and their backends, nodes and IP pools, indexed by
 * address. Indexes are rebuilt lazily after a relevant change.
 */
import type { KubeObject, ObjectStore } from "../store/types.ts";
import { cidrContains, parseCidr, type Cidr } from "../shared/ipv4.ts";

export const SERVICE_CIDR = "10.96.0.0/12";
export const POD_CIDR = "192.168.0.0/16";
export const NODE_CIDR = "172.18.0.0/16";
export const KUBE_DNS_IP = "10.96.0.10";

export interface ContainerPort {
  containerPort: number;
  protocol: string;
  name?: string;
}

interface PodSpecLike {
  nodeName?: string;
  hostNetwork?: boolean;
  hostname?: string;
  subdomain?: string;
  serviceAccountName?: string;
  containers?: {
    name: string;
    image?: string;
    ports?: ContainerPort[];
    env?: { name: string; value?: string }[];
  }[];
}
interface PodStatusLike {
  phase?: string;
  podIP?: string;
  hostIP?: string;
  conditions?: { type: string; status: string }[];
}
export interface ServicePort {
  name?: string;
  port: number;
  targetPort?: number | string;
  protocol?: string;
}
interface ServiceSpecLike {
  clusterIP?: string;
  type?: string;
  selector?: Record<string, string>;
  ports?: ServicePort[];
  externalName?: string;
}

export const podSpec = (p: KubeObject): PodSpecLike => (p.spec ?? {}) as PodSpecLike;
export const podStatus = (p: KubeObject): PodStatusLike => (p.status ?? {}) as PodStatusLike;
export const svcSpec = (s: KubeObject): ServiceSpecLike => (s.spec ?? {}) as ServiceSpecLike;

export function podIp(p: KubeObject): string | undefined {
  return podStatus(p).podIP || undefined;
}

/** Running (and Ready when the pod reports readiness). */
export function podReady(p: KubeObject): boolean {
  const st = podStatus(p);
  if (st.phase !== "Running" || p.metadata.deletionTimestamp) return false;
  const ready = st.conditions?.find((c) => c.type === "Ready");
  return ready ? ready.status === "True" : true;
}

function labelsMatch(
  sel: Record<string, string> | undefined,
  labels: Record<string, string> | undefined,
): boolean {
  if (!sel || Object.keys(sel).length === 0) return false;
  return Object.entries(sel).every(([k, v]) => labels?.[k] === v);
}

const RELEVANT = new Set([
  "core/pods",
  "core/services",
  "core/nodes",
  "core/namespaces",
  "projectcalico.org/ippools",
]);

export class Topology {
  private dirty = true;
  private pods = new Map<string, KubeObject>();
  private svcByIp = new Map<string, KubeObject>();
  private nodes = new Map<string, KubeObject>();
  private nodeIps = new Map<string, string>();
  private pools: { obj: KubeObject; cidr: Cidr }[] = [];
  private readonly serviceCidr = parseCidr(SERVICE_CIDR)!;
  private readonly podCidr = parseCidr(POD_CIDR)!;

  constructor(private readonly store: ObjectStore) {}

  /** Marks indexes stale if the change concerns them. */
  changed(key: string): void {
    if (RELEVANT.has(key)) this.dirty = true;
  }

  private build(): void {
    if (!this.dirty) return;
    this.dirty = false;
    this.pods = new Map();
    for (const p of this.store.list("core/pods")) {
      const ip = podIp(p);
      if (ip && !podSpec(p).hostNetwork && !p.metadata.deletionTimestamp) this.pods.set(ip, p);
    }
    this.svcByIp = new Map();
    for (const s of this.store.list("core/services")) {
      const ip = svcSpec(s).clusterIP;
      if (ip && ip !== "None") this.svcByIp.set(ip, s);
    }
    this.nodes = new Map();
    this.nodeIps = new Map();
    for (const n of this.store.list("core/nodes")) {
      const addrs = ((n.status ?? {}) as { addresses?: { type: string; address: string }[] }).addresses ?? [];
      const ip = addrs.find((a) => a.type === "InternalIP")?.address;
      if (ip) {
        this.nodes.set(ip, n);
        this.nodeIps.set(n.metadata.name, ip);
      }
    }
    this.pools = [];
    for (const p of this.store.list("projectcalico.org/ippools")) {
      const cidr = parseCidr(String((p.spec as { cidr?: string } | undefined)?.cidr ?? ""));
      if (cidr) this.pools.push({ obj: p, cidr });
    }
    this.pools.sort((a, b) => b.cidr.bits - a.cidr.bits);
  }

  podByIp(ip: string): KubeObject | undefined {
    this.build();
    return this.pods.get(ip);
  }
  pod(namespace: string, name: string): KubeObject | undefined {
    return this.store.get("core/pods", namespace, name);
  }
  serviceByIp(ip: string): KubeObject | undefined {
    this.build();
    return this.svcByIp.get(ip);
  }
  service(namespace: string, name: string): KubeObject | undefined {
    return this.store.get("core/services", namespace, name);
  }
  services(): KubeObject[] {
    return this.store.list("core/services");
  }
  namespace(name: string): KubeObject | undefined {
    return this.store.get("core/namespaces", undefined, name);
  }
  podsIn(namespace?: string): KubeObject[] {
    return this.store.list("core/pods", namespace);
  }
  nodeByIp(ip: string): KubeObject | undefined {
    this.build();
    return this.nodes.get(ip);
  }
  nodeIp(nodeName: string | undefined): string | undefined {
    this.build();
    return nodeName ? this.nodeIps.get(nodeName) : undefined;
  }
  /** The most specific IP pool containing an address. */
  poolFor(ip: string): KubeObject | undefined {
    this.build();
    return this.pools.find((p) => cidrContains(p.cidr, ip))?.obj;
  }
  /** Whether the pool an address came from SNATs traffic leaving the cluster (kind's default pool does). */
  natOutgoing(ip: string): boolean {
    const pool = this.poolFor(ip);
    if (!pool) return cidrContains(this.podCidr, ip);
    const v = (pool.spec as { natOutgoing?: unknown } | undefined)?.natOutgoing;
    return v === true || v === "Enabled";
  }
  /**
   * Addresses that belong to the cluster: the service range, pod ranges (every IP pool) and the nodes. The rest of
   * the node network (e.g. its gateway, the node's upstream resolver) is outside.
   */
  inCluster(ip: string): boolean {
    this.build();
    return (
      cidrContains(this.serviceCidr, ip) ||
      cidrContains(this.podCidr, ip) ||
      this.nodes.has(ip) ||
      this.pools.some((p) => cidrContains(p.cidr, ip))
    );
  }
  /**
   * The addresses a Service without a selector forwards to: its Endpoints object's, as written by whoever manages it
   * (for `default/kubernetes`, the API server's address on the control-plane node). Empty for a Service with a
   * selector (its backends are pods).
   */
  manualEndpoints(svc: KubeObject): { ip: string; port: number; name?: string; protocol: string }[] {
    const sel = svcSpec(svc).selector;
    if (sel && Object.keys(sel).length) return [];
    const eps = this.store.get("core/endpoints", svc.metadata.namespace, svc.metadata.name);
    type Subset = {
      addresses?: { ip?: unknown }[];
      ports?: { name?: unknown; port?: unknown; protocol?: unknown }[];
    };
    const out: { ip: string; port: number; name?: string; protocol: string }[] = [];
    for (const s of ((eps as { subsets?: Subset[] } | undefined)?.subsets ?? []) as Subset[])
      for (const a of s.addresses ?? [])
        for (const p of s.ports ?? [])
          if (typeof a.ip === "string" && typeof p.port === "number")
            out.push({
              ip: a.ip,
              port: p.port,
              ...(typeof p.name === "string" ? { name: p.name } : {}),
              protocol: typeof p.protocol === "string" ? p.protocol : "TCP",
            });
    return out;
  }

  /** Whether `ip:port` is where the API server listens (an address of the `default/kubernetes` Endpoints). */
  isApiServer(ip: string, port: number): boolean {
    const svc = this.service("default", "kubernetes");
    return !!svc && this.manualEndpoints(svc).some((e) => e.ip === ip && e.port === port);
  }

  /** Ready pods backing a Service (its endpoints). */
  backends(svc: KubeObject): KubeObject[] {
    const sel = svcSpec(svc).selector;
    return this.store
      .list("core/pods", svc.metadata.namespace)
      .filter((p) => labelsMatch(sel, p.metadata.labels) && podReady(p) && podIp(p));
  }
}

/** Resolves a Service port's targetPort on a backend pod (a name is looked up among its container ports). */
export function targetPortOn(sp: ServicePort, pod: KubeObject): number | undefined {
  const tp = sp.targetPort ?? sp.port;
  if (typeof tp === "number") return tp;
  if (/^\d+$/.test(tp)) return Number(tp);
  for (const c of podSpec(pod).containers ?? [])
    for (const p of c.ports ?? [])
      if (p.name === tp && (p.protocol ?? "TCP") === (sp.protocol ?? "TCP")) return p.containerPort;
  return undefined;
}
