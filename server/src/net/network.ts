/**
 * The packet path of the simulated cluster: Service DNAT, routing (pods, nodes, egress gateways, the internet),
 * policy at the source's egress and the destination's ingress, SNAT, and a flow record for every attempt.
 */
import type { Clock } from "../shared/clock.ts";
import type { KubeObject, ObjectStore } from "../store/types.ts";
import { egressRoute, gatewayOf } from "./egress.ts";
import type { EndpointType, FlowEvent, FlowLog } from "./flows.ts";
import type { Internet } from "./internet.ts";
import { isIp, isPrivate } from "../shared/ipv4.ts";
import { fnv32a } from "../shared/hash.ts";
import { KUBERNETES_VERSION } from "../apiserver/version.ts";
import type { ContainerLogs } from "../sim/runtime/logs.ts";
import { podListens } from "../sim/runtime/ports.ts";
import type { PodListeners } from "../sim/runtime/listeners.ts";
import type { PolicyDecider, SideVerdict, Verdict } from "./policy.ts";
import type { ConnectOutcome, ConnectRequest, HttpResponse, Peer, Protocol } from "./podnet.ts";
import { podIp, podReady, podSpec, svcSpec, targetPortOn, type Topology } from "./topology.ts";

export interface NetworkDeps {
  store: ObjectStore;
  topo: Topology;
  internet: Internet;
  policy: PolicyDecider;
  flows: FlowLog;
  logs: ContainerLogs;
  clock: Clock;
  seed: number;
  /** What answers on pods' ports (the pod runtime's). */
  listeners: PodListeners;
}

/** Where a connection ended up after DNAT and routing. */
export interface Delivery {
  outcome: ConnectOutcome;
  /** The backend pod when the destination was a pod (directly or through a Service). */
  dstPod?: KubeObject;
  /** The address after DNAT. */
  dstIp: string;
  dstPort: number;
  verdict?: Verdict;
}

interface EndpointInfo {
  name: string;
  namespace: string;
  type: EndpointType;
  labels: string[];
}

function aggregatedName(pod: KubeObject): string {
  return pod.metadata.generateName ? `${pod.metadata.generateName}*` : pod.metadata.name;
}

function labelList(l: Record<string, string> | undefined): string[] {
  return Object.entries(l ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .sort();
}

export class Network {
  private counter = 0;
  /** Per source pod: address → names it resolved to it, for `dest_domains`. */
  private readonly learned = new Map<string, Map<string, Set<string>>>();
  /** Per gateway pod: the result of its last failure-detection probes and until when it holds. */
  private readonly health = new Map<string, { until: number; ok: boolean }>();
  /** Resolves a name from a pod (set once cluster DNS exists), for HTTP probes given by name. */
  resolveFrom?: (pod: KubeObject, name: string) => string[];

  constructor(readonly d: NetworkDeps) {}

  /**
   * Whether a gateway passes its EgressGateway's `egressGatewayFailureDetection` probes: one ICMP target must answer,
   * and one HTTP URL (when given). Probes are real traffic from the gateway pod (policy applies, flows are recorded),
   * repeated every `intervalSeconds` of cluster time. A gateway that fails is taken out of use.
   */
  readonly gatewayHealthy = (gw: KubeObject): boolean => {
    const fd = (
      (gatewayOf(this.d.store, gw)?.spec ?? {}) as {
        egressGatewayFailureDetection?: {
          icmpProbe?: { ips?: string[]; intervalSeconds?: number };
          httpProbe?: { urls?: string[]; intervalSeconds?: number };
        };
      }
    ).egressGatewayFailureDetection;
    const ips = fd?.icmpProbe?.ips ?? [];
    const urls = fd?.httpProbe?.urls ?? [];
    if (ips.length === 0 && urls.length === 0) return true;
    const key = `${gw.metadata.namespace}/${gw.metadata.name}`;
    const now = this.d.clock.now();
    const cached = this.health.get(key);
    if (cached && cached.until > now) return cached.ok;
    const failed: string[] = [];
    if (ips.length && !ips.some((ip) => this.ping(gw, ip)))
      failed.push(`ICMP probe to ${ips.join(", ")} failed`);
    if (urls.length && !urls.some((u) => this.httpProbe(gw, u)))
      failed.push(`HTTP probe to ${urls.join(", ")} failed`);
    const ok = failed.length === 0;
    const interval =
      Math.min(fd?.icmpProbe?.intervalSeconds ?? 5, fd?.httpProbe?.intervalSeconds ?? 10) * 1000;
    this.health.set(key, { until: now + Math.max(1000, interval), ok });
    if (!ok && (cached?.ok ?? true))
      this.d.logs.write(
        gw.metadata.namespace ?? "",
        gw.metadata.name,
        now,
        `Health check failed: ${failed.join("; ")}; egress gateway is not ready`,
      );
    if (ok && cached && !cached.ok)
      this.d.logs.write(
        gw.metadata.namespace ?? "",
        gw.metadata.name,
        now,
        "Health checks pass; egress gateway is ready",
      );
    return ok;
  };

  private httpProbe(gw: KubeObject, url: string): boolean {
    const m = /^(https?):\/\/([^/:]+)(?::(\d+))?/.exec(url);
    if (!m) return false;
    const host = m[2]!.toLowerCase();
    const ip = isIp(host) ? host : this.resolveFrom?.(gw, host)[0];
    if (!ip) return false;
    const port = m[3] ? Number(m[3]) : m[1] === "https" ? 443 : 80;
    return (
      this.connect(gw, { dstIp: ip, dstPort: port, protocol: "TCP", domain: host }).outcome.kind ===
      "established"
    );
  }

  podEndpoint(pod: KubeObject): EndpointInfo {
    return {
      name: aggregatedName(pod),
      namespace: pod.metadata.namespace ?? "",
      type: "wep",
      labels: labelList(pod.metadata.labels),
    };
  }

  /** A destination outside the pods: a network set containing it (as Calico names it), else `pub`/`pvt`. */
  private netEndpoint(ip: string): EndpointInfo {
    const set = this.d.policy.networkSetsForIp?.(ip)[0];
    if (set)
      return { name: set.name, namespace: set.namespace ?? "-", type: "ns", labels: labelList(set.labels) };
    return { name: isPrivate(ip) ? "pvt" : "pub", namespace: "-", type: "net", labels: [] };
  }

  /** Remembers that a pod resolved `name` to these addresses (what Enterprise flow logs show as `dest_domains`). */
  rememberDomain(pod: KubeObject, name: string, ips: string[]): void {
    const k = `${pod.metadata.namespace}/${pod.metadata.name}`;
    let m = this.learned.get(k);
    if (!m) {
      m = new Map();
      this.learned.set(k, m);
    }
    for (const ip of ips) {
      let s = m.get(ip);
      if (!s) m.set(ip, (s = new Set()));
      s.add(name);
      if (s.size > 8) s.delete(s.values().next().value!);
    }
    if (m.size > 256) m.delete(m.keys().next().value!);
  }

  forgetPod(ns: string, name: string): void {
    this.learned.delete(`${ns}/${name}`);
  }

  private domainsFor(pod: KubeObject, ip: string, hint?: string): string[] {
    const s = new Set<string>();
    if (hint && !isIp(hint)) s.add(hint.toLowerCase().replace(/\.$/, ""));
    for (const n of this.learned.get(`${pod.metadata.namespace}/${pod.metadata.name}`)?.get(ip) ?? [])
      s.add(n);
    return [...s];
  }

  private flow(
    reporter: "src" | "dst",
    side: SideVerdict,
    src: EndpointInfo,
    dst: EndpointInfo,
    port: number,
    protocol: Protocol,
    extra: { svc?: KubeObject; svcPort?: number; domains: string[]; allowedEnd: boolean; bytesOut: number },
  ): void {
    const denied = side.action === "deny";
    const e: FlowEvent = {
      time: this.d.clock.now(),
      source_name: src.name,
      source_namespace: src.namespace,
      source_type: src.type,
      source_labels: src.labels,
      dest_name: dst.name,
      dest_namespace: dst.namespace,
      dest_type: dst.type,
      dest_labels: dst.labels,
      dest_port: port,
      dest_service_name: extra.svc?.metadata.name ?? "",
      dest_service_namespace: extra.svc?.metadata.namespace ?? "",
      dest_service_port: extra.svcPort ?? 0,
      dest_domains: extra.domains,
      proto: protocol === "TCP" ? "tcp" : protocol === "UDP" ? "udp" : "icmp",
      reporter,
      action: denied ? "deny" : "allow",
      policies: { enforced_policies: [...side.policies], pending_policies: [...side.pendingPolicies] },
      packets_out: denied || !extra.allowedEnd ? (protocol === "TCP" ? 3 : 1) : protocol === "TCP" ? 6 : 1,
      packets_in: denied || !extra.allowedEnd ? 0 : protocol === "TCP" ? 5 : 1,
      bytes_out: denied || !extra.allowedEnd ? 60 : 300 + extra.bytesOut,
      bytes_in: denied || !extra.allowedEnd ? 0 : 1200,
    };
    this.d.flows.record(e);
  }

  /**
   * Opens a connection from `pod`: DNAT, routing, policy (client egress, destination ingress, gateway egress),
   * delivery. Every attempt is recorded in the flow log.
   */
  connect(pod: KubeObject, req: ConnectRequest): Delivery {
    const now = this.d.clock.now();
    const srcIp = podIp(pod) ?? "";
    const topo = this.d.topo;
    let dstIp = req.dstIp;
    let dstPort = req.dstPort;
    const protocol = req.protocol;

    // Loopback and the pod's own address never leave the pod.
    if (dstIp.startsWith("127.") || dstIp === srcIp) {
      if (podListens(pod, dstPort, protocol))
        return {
          outcome: {
            kind: "established",
            peer: this.d.listeners.peer(pod, dstPort, dstIp === srcIp ? srcIp : "127.0.0.1"),
            sourceIp: "127.0.0.1",
          },
          dstIp,
          dstPort,
        };
      return { outcome: { kind: "refused" }, dstIp, dstPort };
    }

    // Service DNAT (kube-proxy).
    const svc = topo.serviceByIp(dstIp);
    let svcPort: number | undefined;
    if (svc) {
      const sp = (svcSpec(svc).ports ?? []).find(
        (p) => p.port === dstPort && (p.protocol ?? "TCP") === protocol,
      );
      if (!sp) return { outcome: { kind: "dropped" }, dstIp, dstPort };
      const backends = topo.backends(svc);
      // A Service without a selector goes where its Endpoints say (`kubernetes`: the API server on its node).
      const manual = topo
        .manualEndpoints(svc)
        .filter(
          (e) =>
            e.protocol === protocol &&
            (typeof sp.targetPort === "string" && !/^\d+$/.test(sp.targetPort)
              ? e.name === sp.targetPort
              : e.name === undefined || e.name === sp.name || e.port === Number(sp.targetPort ?? sp.port)),
        );
      if (backends.length === 0 && manual.length) {
        const e = manual[fnv32a(`${this.d.seed}/${srcIp}/${this.counter++}`) % manual.length]!;
        svcPort = sp.port;
        dstIp = e.ip;
        dstPort = e.port;
      } else if (backends.length === 0) return { outcome: { kind: "refused" }, dstIp, dstPort };
      else {
        backends.sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1));
        const be = backends[fnv32a(`${this.d.seed}/${srcIp}/${this.counter++}`) % backends.length]!;
        const tp = targetPortOn(sp, be);
        if (tp === undefined) return { outcome: { kind: "refused" }, dstIp, dstPort };
        svcPort = sp.port;
        dstIp = podIp(be)!;
        dstPort = tp;
      }
    }

    const dstPod = topo.podByIp(dstIp);
    const dstNode = dstPod ? undefined : topo.nodeByIp(dstIp);
    const external = !dstPod && !dstNode && !topo.inCluster(dstIp);
    const srcEp = this.podEndpoint(pod);
    const dstEp = dstPod ? this.podEndpoint(dstPod) : this.netEndpoint(dstIp);
    const domains = external ? this.domainsFor(pod, dstIp, req.domain) : [];
    const bytesOut = req.bytesOut ?? 0;

    const verdict = this.d.policy.evaluate({ srcIp, dstIp, protocol, dstPort, now });
    const route = external
      ? egressRoute(this.d.store, pod, dstIp, this.gatewayHealthy)
      : { kind: "direct" as const };
    const reachesDst = verdict.egress.action !== "deny" && route.kind !== "blocked";
    this.flow("src", verdict.egress, srcEp, dstEp, dstPort, protocol, {
      svc,
      svcPort,
      domains,
      allowedEnd: verdict.allowed && route.kind !== "blocked",
      bytesOut,
    });
    if (dstPod && reachesDst)
      this.flow("dst", verdict.ingress, srcEp, dstEp, dstPort, protocol, {
        svc,
        svcPort,
        domains,
        allowedEnd: verdict.allowed,
        bytesOut,
      });
    const base = { dstPod, dstIp, dstPort, verdict };
    if (!verdict.allowed) return { ...base, outcome: { kind: "dropped" } };
    if (route.kind === "blocked") return { ...base, outcome: { kind: "unreachable" } };

    if (dstPod) {
      if (!podReady(dstPod)) return { ...base, outcome: { kind: "dropped" } };
      if (!podListens(dstPod, dstPort, protocol)) return { ...base, outcome: { kind: "refused" } };
      return {
        ...base,
        outcome: {
          kind: "established",
          peer: this.d.listeners.peer(dstPod, dstPort, srcIp),
          sourceIp: srcIp,
        },
      };
    }
    if (dstNode && protocol === "TCP" && topo.isApiServer(dstIp, dstPort))
      return { ...base, outcome: { kind: "established", peer: apiServerPeer(dstIp), sourceIp: srcIp } };
    if (!external) return { ...base, outcome: dstNode ? { kind: "refused" } : { kind: "dropped" } };

    // Leaving the cluster: through a gateway (policy again at the gateway's egress), then SNAT.
    let sourceIp = topo.natOutgoing(srcIp) ? (topo.nodeIp(podSpec(pod).nodeName) ?? srcIp) : srcIp;
    if (route.kind === "gateway") {
      const gw = route.gateway;
      const gwIp = podIp(gw)!;
      const v2 = this.d.policy.evaluate({ srcIp: gwIp, dstIp, protocol, dstPort, now });
      this.flow("src", v2.egress, this.podEndpoint(gw), dstEp, dstPort, protocol, {
        domains,
        allowedEnd: v2.allowed,
        bytesOut,
      });
      if (!v2.allowed) return { ...base, verdict: v2, outcome: { kind: "dropped" } };
      sourceIp = topo.natOutgoing(gwIp) ? (topo.nodeIp(podSpec(gw).nodeName) ?? gwIp) : gwIp;
    }
    if (dstPort === 53 && this.d.internet.isResolver(dstIp))
      return { ...base, outcome: { kind: "established", peer: dnsPeer(dstIp), sourceIp } };
    const peer = protocol === "TCP" ? this.d.internet.peer(dstIp, dstPort, sourceIp, now) : undefined;
    if (!peer) return { ...base, outcome: { kind: "dropped" } };
    return { ...base, outcome: { kind: "established", peer, sourceIp } };
  }

  /** One ICMP echo from a pod; true when the reply comes back. */
  ping(pod: KubeObject, dstIp: string, domain?: string): boolean {
    const now = this.d.clock.now();
    const srcIp = podIp(pod) ?? "";
    if (dstIp.startsWith("127.") || dstIp === srcIp) return true;
    const topo = this.d.topo;
    if (topo.serviceByIp(dstIp)) return false; // ClusterIPs do not answer ICMP
    const dstPod = topo.podByIp(dstIp);
    const external = !dstPod && !topo.nodeByIp(dstIp) && !topo.inCluster(dstIp);
    const verdict = this.d.policy.evaluate({
      srcIp,
      dstIp,
      protocol: "ICMP",
      icmp: { type: 8, code: 0 },
      now,
    });
    const route = external
      ? egressRoute(this.d.store, pod, dstIp, this.gatewayHealthy)
      : { kind: "direct" as const };
    const srcEp = this.podEndpoint(pod);
    const dstEp = dstPod ? this.podEndpoint(dstPod) : this.netEndpoint(dstIp);
    const domains = external ? this.domainsFor(pod, dstIp, domain) : [];
    this.flow("src", verdict.egress, srcEp, dstEp, 0, "ICMP", {
      domains,
      allowedEnd: verdict.allowed,
      bytesOut: 64,
    });
    if (dstPod && verdict.egress.action !== "deny")
      this.flow("dst", verdict.ingress, srcEp, dstEp, 0, "ICMP", {
        domains,
        allowedEnd: verdict.allowed,
        bytesOut: 64,
      });
    if (!verdict.allowed || route.kind === "blocked") return false;
    if (dstPod) return podReady(dstPod);
    if (!external) return Boolean(topo.nodeByIp(dstIp));
    if (route.kind === "gateway") {
      const gwIp = podIp(route.gateway)!;
      const v2 = this.d.policy.evaluate({
        srcIp: gwIp,
        dstIp,
        protocol: "ICMP",
        icmp: { type: 8, code: 0 },
        now,
      });
      this.flow("src", v2.egress, this.podEndpoint(route.gateway), dstEp, 0, "ICMP", {
        domains,
        allowedEnd: v2.allowed,
        bytesOut: 64,
      });
      if (!v2.allowed) return false;
    }
    return (
      this.d.internet.isResolver(dstIp) ||
      Boolean(this.d.internet.peer(dstIp, 443, srcIp, now) ?? this.d.internet.peer(dstIp, 80, srcIp, now))
    );
  }
}

function dnsPeer(ip: string): Peer {
  return {
    description: ip,
    speaksHttp: false,
    certificateValidFor: () => false,
    http: () => ({ status: 400, reason: "Bad Request", headers: {}, body: "" }),
  };
}

/**
 * The API server as a pod reaches it through the `kubernetes` Service: TLS with the cluster's own CA (which no image
 * trusts by default), and, to a client without credentials, what kubeadm's RBAC gives `system:anonymous`: the version
 * and health endpoints, 403 for the rest.
 */
function apiServerPeer(ip: string): Peer {
  const json = (status: number, reason: string, body: unknown): HttpResponse => ({
    status,
    reason,
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body, null, 2),
  });
  return {
    description: `kube-apiserver (${ip})`,
    speaksHttp: true,
    certificateValidFor: () => false,
    http: (req) => {
      const path = req.path.split("?")[0] ?? "/";
      if (req.method === "GET" && path === "/version") return json(200, "OK", KUBERNETES_VERSION);
      if (req.method === "GET" && ["/healthz", "/livez", "/readyz"].includes(path))
        return { status: 200, reason: "OK", headers: { "content-type": "text/plain" }, body: "ok" };
      return json(403, "Forbidden", {
        kind: "Status",
        apiVersion: "v1",
        metadata: {},
        status: "Failure",
        message: `forbidden: User "system:anonymous" cannot ${req.method.toLowerCase()} path "${path}"`,
        reason: "Forbidden",
        details: {},
        code: 403,
      });
    },
  };
}
