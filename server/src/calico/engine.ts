/**
 * The policy engine: holds the objects policy depends on, keeps Felix-style indexes up to date incrementally, and
 * decides connection attempts with traces (specification §A, §D, §F).
 *
 * Indexes, in the spirit of Felix's calculation graph:
 * - policies are indexed by a label (and values) their selector requires, endpoints by label and value, so an update
 *   only tests the candidates it can affect;
 * - policy ↔ endpoint selection is kept both ways; each endpoint caches its sorted tiers of applicable policies per
 *   direction, invalidated by the label, policy and tier changes that can affect it;
 * - IPs map to endpoints, network-set CIDRs are indexed by prefix length, DNS answers both ways.
 */
import type { KubeObject } from "../store/types.ts";
import { ValidationError } from "../shared/errors.ts";
import { compileCalicoPolicy, compileClusterNetworkPolicy, compileK8sPolicy } from "./convert.ts";
import { DnsCache, parseDuration, parseTrustedServer, type TrustedServer } from "./dns.ts";
import {
  namespaceProfileLabels,
  networkSetEntity,
  podEntity,
  serviceAccountProfileLabels,
  stringLabels,
  type ProfileLabels,
} from "./entities.ts";
import { evaluateSide, explainSide, formatTrace, type SideResult, type TierGroup } from "./evaluate.ts";
import type { PacketView, PeerView } from "./match.ts";
import {
  protocolNumber,
  type CompiledPolicy,
  type Direction,
  type Entity,
  type PolicyHit,
  type TierInfo,
} from "./model.ts";
import { formatIp, ipKey, parseIp, type Ip } from "./nets.ts";
import { NetIndex } from "./netindex.ts";
import { SelectionIndex, addTo, removeFrom } from "./selection.ts";
import { isObject, asArray } from "../shared/object.ts";

export type { PolicyHit } from "./model.ts";

/** One side of a decision. */
export interface SideVerdict {
  /** `none`: that side is not a Calico endpoint. */
  action: "allow" | "deny" | "none";
  /** Enforced trace, `index|tier|kind:namespace/name|action|ruleIndex`. */
  policies: string[];
  /** Trace with staged policies treated as enforced. */
  pendingPolicies: string[];
  pendingAction: "allow" | "deny" | "none";
  endpoint?: { namespace: string; name: string };
  /** The deciding hit (tier, kind, namespace, name, action, ruleIndex), absent for "none". */
  decidedBy?: PolicyHit;
  /** One sentence a learner understands. */
  explanation: string;
}

export interface Verdict {
  allowed: boolean;
  egress: SideVerdict;
  ingress: SideVerdict;
}

export interface ConnectionAttempt {
  srcIp: string;
  dstIp: string;
  protocol: "TCP" | "UDP" | "ICMP" | "SCTP" | number;
  dstPort?: number;
  /** Optional source port (rules with `source.ports` match only when it is known). */
  srcPort?: number;
  icmp?: { type: number; code?: number };
  now: number;
}

export interface DnsAnswer {
  name: string;
  ips: string[];
  ttlSeconds: number;
  now: number;
  server: { ip: string; port: number };
}

export interface EngineOptions {
  edition?: "enterprise" | "oss";
}

const BUILTIN_TIERS: Record<string, TierInfo> = {
  "kube-admin": { name: "kube-admin", order: 1_000, defaultAction: "Pass", valid: true },
  default: { name: "default", order: 1_000_000, defaultAction: "Deny", valid: true },
  "kube-baseline": { name: "kube-baseline", order: 10_000_000, defaultAction: "Pass", valid: true },
};

const POLICY_KINDS = new Set([
  "NetworkPolicy",
  "GlobalNetworkPolicy",
  "StagedNetworkPolicy",
  "StagedGlobalNetworkPolicy",
  "StagedKubernetesNetworkPolicy",
]);

type Backend = { ip: string; port: number; protocol: number };

/** Felix's `TierLess`: valid first, ordered before unordered, lower order, then name. */
function tierLess(a: TierInfo, b: TierInfo): number {
  if (a.valid !== b.valid) return a.valid ? -1 : 1;
  if (a.order !== b.order) return a.order < b.order ? -1 : 1;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** Policy order within a tier: order ascending (unset last), then `<name>/<namespace>/<kind>` (3.32+). */
function policyLess(a: CompiledPolicy, b: CompiledPolicy): number {
  if (a.order !== b.order) return a.order < b.order ? -1 : 1;
  return a.tieBreak < b.tieBreak ? -1 : a.tieBreak > b.tieBreak ? 1 : 0;
}

/** The side of a connection that is not a Calico workload endpoint. */
function notAnEndpoint(ip: string, d: Direction): SideVerdict {
  return {
    action: "none",
    policies: [],
    pendingPolicies: [],
    pendingAction: "none",
    explanation: `${ip} is not a Calico workload endpoint (outside the cluster or host-networked), so no ${d} policy applies to it.`,
  };
}

export class PolicyEngine {
  private readonly edition: "enterprise" | "oss";
  private readonly namespaceLabels = new Map<string, Record<string, string>>();
  private readonly saLabels = new Map<string, Record<string, string>>();
  private readonly pods = new Map<string, KubeObject>();
  private readonly netsetObjs = new Map<string, KubeObject>();
  private readonly services = new Map<string, KubeObject>();
  private readonly endpointsObjs = new Map<string, KubeObject>();
  private readonly tiers = new Map<string, TierInfo>();
  private readonly policies = new Map<string, CompiledPolicy>();
  private trusted: TrustedServer[] = [{ kind: "service", namespace: "kube-system", name: "kube-dns" }];
  private extraTtlSeconds = 0;

  private readonly entities = new Map<string, Entity>();
  private readonly ipToPod = new Map<string, string>();
  private readonly netIndex = new NetIndex();
  private readonly selection = new SelectionIndex();
  private readonly domainSets = new Set<string>();
  private readonly podsByNamespace = new Map<string, Set<string>>();
  private readonly groupsCache = new Map<string, { ingress: TierGroup[]; egress: TierGroup[] }>();
  private stagedCount = 0;
  private readonly backendCache = new Map<string, Backend[]>();
  private readonly dns = new DnsCache();
  private readonly profiles: ProfileLabels;
  /** Parsed IPs by their text, and network sets by canonical IP (cleared when network sets change). */
  private readonly ipCache = new Map<string, { ip: Ip; key: string }>();
  private readonly domainSetCache = new Map<string, Entity[]>();
  private readonly backendLookup = (ns: string, name: string): Backend[] => this.serviceBackends(ns, name);

  constructor(opts: EngineOptions = {}) {
    this.edition = opts.edition ?? "enterprise";
    this.profiles = {
      namespace: (ns) => namespaceProfileLabels(ns, this.namespaceLabels.get(ns)),
      serviceAccount: (ns, sa) => serviceAccountProfileLabels(sa, this.saLabels.get(`${ns}/${sa}`)),
    };
  }

  /**
   * Adds or replaces an API object the engine cares about: Namespace, ServiceAccount, Pod, Service, Endpoints, Tier,
   * NetworkPolicy (both groups), GlobalNetworkPolicy, the Staged kinds, NetworkSet, GlobalNetworkSet,
   * FelixConfiguration. Other kinds are ignored; an invalid object is skipped and changes nothing.
   */
  upsert(obj: KubeObject): void {
    if (!isObject(obj) || !isObject(obj.metadata) || typeof obj.metadata.name !== "string") return;
    try {
      this.apply(obj, false);
    } catch {
      // Invalid objects are rejected by validation before storage; one that slips through changes nothing.
    }
  }

  /** Forgets an object (only kind, apiVersion, name and namespace are used). */
  remove(obj: { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } }): void {
    if (!isObject(obj) || !isObject(obj.metadata)) return;
    try {
      this.apply(obj as KubeObject, true);
    } catch {
      // Nothing to undo.
    }
  }

  private apply(obj: KubeObject, removing: boolean): void {
    const group = obj.apiVersion.includes("/") ? obj.apiVersion.slice(0, obj.apiVersion.indexOf("/")) : "";
    const ns = obj.metadata.namespace ?? "default";
    const name = obj.metadata.name;
    const calico = group === "projectcalico.org" || group === "crd.projectcalico.org";
    if (group === "") {
      switch (obj.kind) {
        case "Namespace":
          if (removing) this.namespaceLabels.delete(name);
          else this.namespaceLabels.set(name, stringLabels(obj.metadata.labels));
          return this.refreshNamespace(name);
        case "ServiceAccount":
          if (removing) this.saLabels.delete(`${ns}/${name}`);
          else this.saLabels.set(`${ns}/${name}`, stringLabels(obj.metadata.labels));
          return this.refreshNamespace(ns, name);
        case "Pod":
          if (removing) this.pods.delete(`${ns}/${name}`);
          else this.pods.set(`${ns}/${name}`, obj);
          this.backendCache.clear();
          return this.refreshPod(`${ns}/${name}`);
        case "Service":
          if (removing) this.services.delete(`${ns}/${name}`);
          else this.services.set(`${ns}/${name}`, obj);
          this.backendCache.clear();
          return;
        case "Endpoints":
          if (removing) this.endpointsObjs.delete(`${ns}/${name}`);
          else this.endpointsObjs.set(`${ns}/${name}`, obj);
          this.backendCache.clear();
          return;
      }
      return;
    }
    if (group === "policy.networking.k8s.io" && obj.kind === "ClusterNetworkPolicy") {
      const key = `KubernetesClusterNetworkPolicy//${name}`;
      return removing ? this.removePolicy(key) : this.setPolicy(compileClusterNetworkPolicy(obj));
    }
    if (group === "networking.k8s.io" && obj.kind === "NetworkPolicy") {
      const key = `KubernetesNetworkPolicy/${ns}/${name}`;
      return removing ? this.removePolicy(key) : this.setPolicy(compileK8sPolicy(obj));
    }
    if (!calico) return;
    switch (obj.kind) {
      case "Tier": {
        if (removing) this.tiers.delete(name);
        else {
          const spec = isObject(obj.spec) ? obj.spec : {};
          this.tiers.set(name, {
            name,
            order: typeof spec.order === "number" ? spec.order : (BUILTIN_TIERS[name]?.order ?? Infinity),
            defaultAction: spec.defaultAction === "Pass" ? "Pass" : "Deny",
            valid: true,
          });
        }
        this.groupsCache.clear();
        return;
      }
      case "NetworkSet":
      case "GlobalNetworkSet": {
        const key = `${obj.kind === "GlobalNetworkSet" ? "globalnetworkset" : "networkset"}/${obj.kind === "GlobalNetworkSet" ? "" : ns}/${name}`;
        if (removing) this.netsetObjs.delete(key);
        else this.netsetObjs.set(key, obj);
        return this.refreshNetset(key);
      }
      case "FelixConfiguration": {
        if (name !== "default") return;
        const spec = isObject(obj.spec) && !removing ? obj.spec : {};
        const servers = Array.isArray(spec.dnsTrustedServers)
          ? spec.dnsTrustedServers.filter((s): s is string => typeof s === "string")
          : ["k8s-service:kube-dns"];
        this.trusted = servers.map(parseTrustedServer).filter((s): s is TrustedServer => s !== undefined);
        this.extraTtlSeconds = parseDuration(spec.dnsExtraTTL);
        return;
      }
    }
    if (POLICY_KINDS.has(obj.kind)) {
      const global = obj.kind.endsWith("GlobalNetworkPolicy");
      const key = `${obj.kind}/${global ? "" : ns}/${name}`;
      if (removing) return this.removePolicy(key);
      if (obj.kind === "StagedKubernetesNetworkPolicy") return this.setPolicy(compileK8sPolicy(obj));
      return this.setPolicy(compileCalicoPolicy({ ...obj, metadata: { ...obj.metadata, namespace: ns } }));
    }
  }

  // ----- entities -----

  private refreshNamespace(ns: string, onlySa?: string): void {
    for (const key of [...(this.podsByNamespace.get(ns) ?? [])]) {
      const e = this.entities.get(key);
      if (onlySa === undefined || e?.serviceAccount === onlySa) this.refreshPod(key.slice("pod/".length));
    }
    if (onlySa === undefined)
      for (const key of this.netsetObjs.keys())
        if (key.startsWith(`networkset/${ns}/`)) this.refreshNetset(key);
  }

  private refreshPod(nsName: string): void {
    const key = `pod/${nsName}`;
    const old = this.entities.get(key);
    const obj = this.pods.get(nsName);
    const next = obj ? podEntity(obj, this.profiles) : undefined;
    if (old) {
      for (const ip of old.ips) if (this.ipToPod.get(ip) === key) this.ipToPod.delete(ip);
      removeFrom(this.podsByNamespace, old.namespace!, key);
      this.entities.delete(key);
    }
    if (next) {
      this.entities.set(key, next);
      for (const ip of next.ips) this.ipToPod.set(ip, key);
      addTo(this.podsByNamespace, next.namespace!, key);
    }
    this.selection.setEndpoint(key, next?.labels);
    this.groupsCache.delete(key);
  }

  private refreshNetset(key: string): void {
    this.domainSetCache.clear();
    const old = this.entities.get(key);
    if (old) {
      this.netIndex.remove(key, old.nets);
      this.domainSets.delete(key);
      this.entities.delete(key);
    }
    const obj = this.netsetObjs.get(key);
    if (!obj) return;
    const e = networkSetEntity(obj, this.profiles, this.edition === "enterprise");
    this.entities.set(key, e);
    this.netIndex.add(key, e.nets);
    if (e.domains.length) this.domainSets.add(key);
  }

  // ----- policies and selection -----

  private setPolicy(p: CompiledPolicy): void {
    this.removePolicy(p.key);
    this.policies.set(p.key, p);
    if (p.staged) this.stagedCount++;
    for (const ek of this.selection.setPolicy(p.key, p.selector)) this.groupsCache.delete(ek);
  }

  private removePolicy(key: string): void {
    const p = this.policies.get(key);
    if (!p) return;
    this.policies.delete(key);
    if (p.staged) this.stagedCount--;
    for (const ek of this.selection.setPolicy(key, undefined)) this.groupsCache.delete(ek);
  }

  private tierInfo(name: string): TierInfo {
    return (
      this.tiers.get(name) ??
      BUILTIN_TIERS[name] ?? { name, order: Infinity, defaultAction: "Deny", valid: false }
    );
  }

  /** The endpoint's applicable policies for a direction, grouped by tier and sorted (cached). */
  private groupsFor(key: string, direction: Direction): TierGroup[] {
    let cached = this.groupsCache.get(key);
    if (!cached) {
      const build = (d: Direction): TierGroup[] => {
        const byTier = new Map<string, CompiledPolicy[]>();
        for (const pk of this.selection.policiesOf(key)) {
          const p = this.policies.get(pk);
          if (!p || !p.applies[d]) continue;
          const list = byTier.get(p.tier) ?? [];
          list.push(p);
          byTier.set(p.tier, list);
        }
        return [...byTier]
          .map(([t, policies]) => {
            const sorted = policies.sort(policyLess);
            return { tier: this.tierInfo(t), policies: sorted, enforced: sorted.filter((p) => !p.staged) };
          })
          .sort((a, b) => tierLess(a.tier, b.tier));
      };
      cached = { ingress: build("ingress"), egress: build("egress") };
      this.groupsCache.set(key, cached);
    }
    return cached[direction];
  }

  // ----- services and DNS -----

  /** A Service's backends: post-DNAT pod IPs with target ports (from Endpoints, else the selector). */
  serviceBackends(namespace: string, name: string): Backend[] {
    const key = `${namespace}/${name}`;
    const cached = this.backendCache.get(key);
    if (cached) return cached;
    const out: Backend[] = [];
    const svc = this.services.get(key);
    const eps = this.endpointsObjs.get(key);
    if (svc && eps) {
      for (const subset of asArray(eps.subsets).filter(isObject)) {
        const ports = asArray(subset.ports).filter(isObject);
        for (const a of asArray(subset.addresses).filter(isObject)) {
          const ip = typeof a.ip === "string" ? ipKey(a.ip) : undefined;
          if (!ip) continue;
          for (const p of ports)
            if (typeof p.port === "number")
              out.push({ ip, port: p.port, protocol: protocolNumber(p.protocol ?? "TCP") ?? 6 });
        }
      }
    } else if (svc) {
      const spec = isObject(svc.spec) ? svc.spec : {};
      const selector = stringLabels(spec.selector);
      if (Object.keys(selector).length) {
        for (const pk of this.podsByNamespace.get(namespace) ?? []) {
          const e = this.entities.get(pk);
          if (!e || !Object.entries(selector).every(([k, v]) => e.ownLabels[k] === v)) continue;
          for (const sp of asArray(spec.ports).filter(isObject)) {
            const protocol = protocolNumber(sp.protocol ?? "TCP") ?? 6;
            let port: number | undefined;
            if (typeof sp.targetPort === "number") port = sp.targetPort;
            else if (typeof sp.targetPort === "string" && !/^\d+$/.test(sp.targetPort))
              port = e.ports.find((cp) => cp.name === sp.targetPort && cp.protocol === protocol)?.port;
            else if (typeof sp.targetPort === "string") port = Number(sp.targetPort);
            else if (typeof sp.port === "number") port = sp.port;
            if (port === undefined) continue;
            for (const ip of e.ips) out.push({ ip, port, protocol });
          }
        }
      }
    }
    this.backendCache.set(key, out);
    return out;
  }

  private isTrusted(server: { ip: string; port: number }): boolean {
    const ip = ipKey(server.ip);
    if (!ip) return false;
    for (const t of this.trusted) {
      if (t.kind === "ip") {
        if (t.ip === ip && t.port === server.port) return true;
        continue;
      }
      const svc = this.services.get(`${t.namespace}/${t.name}`);
      if (!svc) continue;
      const spec = isObject(svc.spec) ? svc.spec : {};
      const firstPort = asArray(spec.ports).filter(isObject)[0];
      const svcPort = t.port ?? (typeof firstPort?.port === "number" ? firstPort.port : 53);
      const clusterIps = [spec.clusterIP, ...asArray(spec.clusterIPs)]
        .filter((x): x is string => typeof x === "string")
        .map(ipKey);
      if (clusterIps.includes(ip) && server.port === svcPort) return true;
      if (
        this.serviceBackends(t.namespace, t.name).some(
          (b) => b.ip === ip && (b.port === server.port || server.port === svcPort),
        )
      )
        return true;
    }
    return false;
  }

  /**
   * Records a DNS answer; learns name→IPs only when `server` is trusted (default `k8s-service:kube-dns`: the kube-dns
   * Service's cluster IP and its endpoint pod IPs). Returns whether it learned. Calico Open Source learns nothing.
   */
  learnDns(a: DnsAnswer): boolean {
    if (this.edition !== "enterprise" || !isObject(a) || typeof a.name !== "string" || !Array.isArray(a.ips))
      return false;
    if (!isObject(a.server) || !this.isTrusted(a.server)) return false;
    const ttl = Math.max(0, Number(a.ttlSeconds) || 0) + this.extraTtlSeconds;
    this.dns.learn(a.name, a.ips, a.now + ttl * 1000);
    return true;
  }

  /** Records an answer known to come from a trusted server (e.g. `policy check --dns`). False on Open Source. */
  recordTrustedAnswer(a: { name: string; ips: string[]; ttlSeconds: number; now: number }): boolean {
    if (this.edition !== "enterprise") return false;
    this.dns.learn(a.name, a.ips, a.now + (Math.max(0, a.ttlSeconds) + this.extraTtlSeconds) * 1000);
    return true;
  }

  /** Names an IP currently stands for (for flow logs' `dest_domains`). */
  domainsForIp(ip: string, now: number): string[] {
    return this.dns.namesFor(ip, now);
  }

  /** The pod whose workload endpoint has this IP, if any. */
  endpointForIp(ip: string): { namespace: string; name: string; labels: Record<string, string> } | undefined {
    const k = ipKey(ip);
    const e = k ? this.entities.get(this.ipToPod.get(k) ?? "") : undefined;
    return e ? { namespace: e.namespace!, name: e.name, labels: { ...e.ownLabels } } : undefined;
  }

  /** Network sets (namespace/name or name) whose nets contain this IP. */
  networkSetsForIp(ip: string): { namespace?: string; name: string; labels: Record<string, string> }[] {
    const parsed = parseIp(ip);
    return parsed
      ? this.setsContaining(parsed).map((e) => ({
          ...(e.namespace !== undefined ? { namespace: e.namespace } : {}),
          name: e.name,
          labels: { ...e.ownLabels },
        }))
      : [];
  }

  // ----- decisions -----

  private ipInfo(text: string): { ip: Ip; key: string } | undefined {
    let info = this.ipCache.get(text);
    if (!info) {
      const ip = parseIp(text);
      if (!ip) return undefined;
      info = { ip, key: formatIp(ip) };
      if (this.ipCache.size >= 100_000) this.ipCache.clear();
      this.ipCache.set(text, info);
    }
    return info;
  }

  private setsContaining(ip: Ip, key = formatIp(ip)): Entity[] {
    const out: Entity[] = [];
    for (const k of this.netIndex.containing(ip, key)) {
      const e = this.entities.get(k);
      if (e) out.push(e);
    }
    return out;
  }

  private peerView(
    info: { ip: Ip; key: string },
    endpoint: Entity | undefined,
    port: number | undefined,
    now: number,
    withDomains: boolean,
  ): PeerView {
    const ip = info.ip;
    const names = withDomains && this.edition === "enterprise" ? this.dns.namesForKey(info.key, now) : [];
    const domainSets: Entity[] = [];
    for (const n of names)
      for (const e of this.domainSetsFor(n)) if (!domainSets.includes(e)) domainSets.push(e);
    const view: PeerView = {
      ip,
      ipText: info.key,
      sets: this.setsContaining(ip, info.key),
      domainSets,
      names,
    };
    if (endpoint) view.endpoint = endpoint;
    if (port !== undefined) view.port = port;
    return view;
  }

  /** Network sets whose `allowedEgressDomains` match a name (cached until network sets change). */
  private domainSetsFor(name: string): Entity[] {
    let out = this.domainSetCache.get(name);
    if (!out) {
      out = [];
      for (const key of this.domainSets) {
        const e = this.entities.get(key);
        if (e && e.domains.some((d) => d.matches(name))) out.push(e);
      }
      if (this.domainSetCache.size >= 100_000) this.domainSetCache.clear();
      this.domainSetCache.set(name, out);
    }
    return out;
  }

  /** Whether the pending view can differ: a staged policy is among the groups. */
  private touchesStaged(groups: readonly TierGroup[]): boolean {
    for (const g of groups) for (const p of g.policies) if (p.staged) return true;
    return false;
  }

  private side(e: Entity, direction: Direction, pkt: PacketView): SideVerdict {
    const groups = this.groupsFor(e.key, direction);
    const enforced = evaluateSide(e, direction, groups, pkt, this.backendLookup, false);
    const pending: SideResult =
      this.stagedCount > 0 && this.touchesStaged(groups)
        ? evaluateSide(e, direction, groups, pkt, this.backendLookup, true)
        : enforced;
    const policies = formatTrace(enforced.hits);
    const ctx = {
      protocol: pkt.protocol,
      ...(pkt.destination.port !== undefined ? { dstPort: pkt.destination.port } : {}),
    };
    let explanation: string | undefined;
    return {
      action: enforced.action,
      policies,
      pendingPolicies: pending === enforced ? [...policies] : formatTrace(pending.hits),
      pendingAction: pending.action,
      endpoint: { namespace: e.namespace!, name: e.name },
      decidedBy: enforced.hits[enforced.hits.length - 1]!,
      // Built when read: most decisions (background traffic) never show it.
      get explanation(): string {
        return (explanation ??= explainSide(`pod ${e.namespace}/${e.name}`, direction, enforced, ctx));
      },
    };
  }

  /** Decides one connection attempt (post-DNAT destination): the source's egress and the destination's ingress. */
  evaluate(c: ConnectionAttempt): Verdict {
    const srcInfo = typeof c.srcIp === "string" ? this.ipInfo(c.srcIp) : undefined;
    const dstInfo = typeof c.dstIp === "string" ? this.ipInfo(c.dstIp) : undefined;
    const src = srcInfo?.ip;
    const dst = dstInfo?.ip;
    const protocol = protocolNumber(c.protocol);
    if (!srcInfo || !dstInfo || protocol === undefined)
      throw new ValidationError([
        ...(src ? [] : [{ where: "srcIp", message: `not an IP address: ${JSON.stringify(c.srcIp)}` }]),
        ...(dst ? [] : [{ where: "dstIp", message: `not an IP address: ${JSON.stringify(c.dstIp)}` }]),
        ...(protocol !== undefined
          ? []
          : [{ where: "protocol", message: `unknown protocol ${String(c.protocol)}` }]),
      ]);
    const srcEp = this.entities.get(this.ipToPod.get(srcInfo.key) ?? "");
    const dstEp = this.entities.get(this.ipToPod.get(dstInfo.key) ?? "");
    if (srcEp && srcEp === dstEp) {
      const self = (d: string): SideVerdict => ({
        action: "none",
        policies: [],
        pendingPolicies: [],
        pendingAction: "none",
        endpoint: { namespace: srcEp.namespace!, name: srcEp.name },
        explanation: `Traffic from pod ${srcEp.namespace}/${srcEp.name} to itself never leaves the pod, so no ${d} policy applies.`,
      });
      return { allowed: true, egress: self("egress"), ingress: self("ingress") };
    }
    const pkt: PacketView = {
      protocol,
      source: this.peerView(srcInfo, srcEp, c.srcPort, c.now, false),
      destination: this.peerView(dstInfo, dstEp, c.dstPort, c.now, srcEp !== undefined),
    };
    if (c.icmp) pkt.icmp = c.icmp;
    const egress = srcEp ? this.side(srcEp, "egress", pkt) : notAnEndpoint(c.srcIp, "egress");
    const ingress = dstEp ? this.side(dstEp, "ingress", pkt) : notAnEndpoint(c.dstIp, "ingress");
    return { allowed: egress.action !== "deny" && ingress.action !== "deny", egress, ingress };
  }

  /**
   * The policies that apply to a pod, per direction, in evaluation order (tier by tier), as `calicoq endpoint` lists
   * them; staged policies are included and flagged. Undefined when the pod is not a Calico endpoint.
   */
  applicablePolicies(
    namespace: string,
    name: string,
  ):
    | Record<
        Direction,
        { tier: string; kind: PolicyHit["kind"]; namespace?: string; name: string; staged: boolean }[]
      >
    | undefined {
    const key = `pod/${namespace}/${name}`;
    if (!this.entities.has(key)) return undefined;
    const list = (d: Direction) =>
      this.groupsFor(key, d).flatMap((g) =>
        g.policies.map((p) => ({
          tier: g.tier.name,
          kind: p.kind,
          ...(p.namespace !== undefined ? { namespace: p.namespace } : {}),
          name: p.name,
          staged: p.staged,
        })),
      );
    return { ingress: list("ingress"), egress: list("egress") };
  }

  /** Counts, for diagnostics and benchmarks. */
  stats(): { policies: number; endpoints: number; networkSets: number; cachedEndpoints: number } {
    let endpoints = 0;
    for (const e of this.entities.values()) if (e.type === "pod") endpoints++;
    return {
      policies: this.policies.size,
      endpoints,
      networkSets: this.entities.size - endpoints,
      cachedEndpoints: this.groupsCache.size,
    };
  }
}
