/**
 * Cluster DNS: the pod's stub resolver (resolv.conf search list and ndots), queries as connections subject to policy
 * (pod → kube-dns Service → CoreDNS pod on 53, UDP first then TCP for large answers), CoreDNS's `kubernetes` zone
 * and its forwarding upstream (itself a connection from the CoreDNS pod). Answers feed the policy engine.
 */
import type { KubeObject } from "../store/types.ts";
import { isIp } from "../shared/ipv4.ts";
import type { ClusterHosts } from "./cluster-hosts.ts";
import type { Network } from "./network.ts";
import { isDnsServer } from "../sim/runtime/ports.ts";
import type { DnsLookup, ResolvConf } from "./podnet.ts";
import { KUBE_DNS_IP, podIp, podSpec, svcSpec } from "./topology.ts";

export const CLUSTER_DOMAIN = "cluster.local";
/** The TTL CoreDNS's kubernetes plugin gives cluster names (kubeadm/kind Corefile `ttl 30`), and its cache cap. */
export const CLUSTER_TTL = 30;
/** How long CoreDNS waits for its upstream before answering SERVFAIL. */
export const UPSTREAM_TIMEOUT_MS = 2000;
const UDP_LIMIT = 512;

/** The resolv.conf of a pod, from its `dnsPolicy` and `dnsConfig` as the kubelet writes it. */
export function resolvConfFor(pod: KubeObject, upstream: string): ResolvConf {
  const spec = (pod.spec ?? {}) as {
    dnsPolicy?: string;
    dnsConfig?: { nameservers?: string[]; searches?: string[]; options?: { name: string; value?: string }[] };
  };
  const ns = pod.metadata.namespace ?? "default";
  const base: ResolvConf =
    spec.dnsPolicy === "Default"
      ? { nameservers: [upstream], search: [], ndots: 1, timeoutMs: 5000, attempts: 2 }
      : spec.dnsPolicy === "None"
        ? { nameservers: [], search: [], ndots: 1, timeoutMs: 5000, attempts: 2 }
        : {
            nameservers: [KUBE_DNS_IP],
            search: [`${ns}.svc.${CLUSTER_DOMAIN}`, `svc.${CLUSTER_DOMAIN}`, CLUSTER_DOMAIN],
            ndots: 5,
            timeoutMs: 5000,
            attempts: 2,
          };
  const c = spec.dnsConfig;
  if (c) {
    base.nameservers = [...base.nameservers, ...(c.nameservers ?? [])].slice(0, 3);
    base.search = [...base.search, ...(c.searches ?? [])];
    for (const o of c.options ?? []) {
      const v = Number(o.value);
      if (o.name === "ndots" && Number.isInteger(v)) base.ndots = v;
      if (o.name === "timeout" && Number.isInteger(v)) base.timeoutMs = v * 1000;
      if (o.name === "attempts" && Number.isInteger(v)) base.attempts = v;
    }
  }
  return base;
}

/** The names a stub resolver tries, in order. */
export function searchCandidates(name: string, rc: ResolvConf): string[] {
  if (name.endsWith(".")) return [name.slice(0, -1)];
  const dots = name.split(".").length - 1;
  const searched = rc.search.map((s) => `${name}.${s}`);
  return dots >= rc.ndots ? [name, ...searched] : [...searched, name];
}

type Answer =
  | { kind: "answer"; cnames: string[]; ips: string[]; ttl: number }
  | { kind: "nxdomain" }
  | { kind: "servfail"; elapsedMs: number };

function answerSize(qname: string, n: number): number {
  return 12 + qname.length + 6 + n * 16;
}

export class Dns {
  /** `hosts`: what the Corefile's lab-internet block answers itself (a rotated domain); none by default. */
  constructor(
    private readonly net: Network,
    private readonly hosts?: Pick<ClusterHosts, "answer">,
  ) {}

  private get d() {
    return this.net.d;
  }

  /** What a CoreDNS pod answers for a name: the cluster zone, else its upstream (a connection of its own). */
  private coreDnsAnswer(coredns: KubeObject, qname: string): Answer {
    const n = qname.toLowerCase().replace(/\.$/, "");
    if (n === CLUSTER_DOMAIN || n.endsWith("." + CLUSTER_DOMAIN)) {
      const parts = n.slice(0, -(CLUSTER_DOMAIN.length + 1)).split(".");
      if (parts.length === 3 && parts[2] === "svc") {
        const svc = this.d.topo.service(parts[1]!, parts[0]!);
        if (!svc) return { kind: "nxdomain" };
        const spec = svcSpec(svc);
        if (spec.type === "ExternalName" && spec.externalName) {
          const up = this.upstream(coredns, spec.externalName);
          return up.kind === "answer" ? { ...up, cnames: [spec.externalName, ...up.cnames] } : up;
        }
        if (spec.clusterIP && spec.clusterIP !== "None")
          return { kind: "answer", cnames: [], ips: [spec.clusterIP], ttl: CLUSTER_TTL };
        const ips = this.d.topo.backends(svc).map((p) => podIp(p)!);
        return ips.length ? { kind: "answer", cnames: [], ips, ttl: CLUSTER_TTL } : { kind: "nxdomain" };
      }
      if (parts.length === 3 && parts[2] === "pod") {
        const ip = parts[0]!.replace(/-/g, ".");
        return isIp(ip) ? { kind: "answer", cnames: [], ips: [ip], ttl: CLUSTER_TTL } : { kind: "nxdomain" };
      }
      return { kind: "nxdomain" };
    }
    // The `hosts` stanza runs before `forward` and answers from CoreDNS itself; its `cache 30` caps the TTL.
    const local = this.hosts?.answer(n);
    if (local) return { kind: "answer", cnames: [], ips: local.ips, ttl: Math.min(local.ttl, CLUSTER_TTL) };
    return this.upstream(coredns, n);
  }

  /** CoreDNS forwards to the node's resolver: a UDP connection from the CoreDNS pod, subject to its egress policy. */
  private upstream(coredns: KubeObject, name: string): Answer {
    const up = this.d.internet.catalogue.upstream;
    const c = this.net.connect(coredns, { dstIp: up, dstPort: 53, protocol: "UDP" });
    if (c.outcome.kind !== "established") {
      this.d.logs.write(
        coredns.metadata.namespace ?? "kube-system",
        coredns.metadata.name,
        this.d.clock.now(),
        `[ERROR] plugin/errors: 2 ${name}. A: read udp ${podIp(coredns)}:${40000 + (name.length % 20000)}->${up}:53: i/o timeout`,
      );
      return { kind: "servfail", elapsedMs: UPSTREAM_TIMEOUT_MS };
    }
    const a = this.d.internet.lookup(name, this.d.clock.now());
    if (a.kind === "nxdomain") return { kind: "nxdomain" };
    return { kind: "answer", cnames: a.cnames, ips: a.ips, ttl: Math.min(a.ttl, CLUSTER_TTL) };
  }

  /** One question to one server, as a stub resolver sends it: UDP, then TCP when the answer is truncated. */
  query(
    pod: KubeObject,
    server: string,
    qname: string,
    rc: ResolvConf,
  ): { result: DnsLookup; elapsedMs: number } {
    const waitAll = rc.timeoutMs * rc.attempts;
    const udp = this.net.connect(pod, {
      dstIp: server,
      dstPort: 53,
      protocol: "UDP",
      bytesOut: qname.length + 30,
    });
    if (udp.outcome.kind === "dropped") return { result: { kind: "timeout", server }, elapsedMs: waitAll };
    if (udp.outcome.kind !== "established") return { result: { kind: "refused", server }, elapsedMs: 0 };
    let ans: Answer;
    const viaPod = udp.dstPod;
    if (viaPod) {
      if (!isDnsServer(viaPod)) return { result: { kind: "refused", server }, elapsedMs: 0 };
      ans = this.coreDnsAnswer(viaPod, qname);
    } else {
      const a = this.d.internet.lookup(qname, this.d.clock.now());
      ans =
        a.kind === "answer"
          ? { kind: "answer", cnames: a.cnames, ips: a.ips, ttl: a.ttl }
          : { kind: "nxdomain" };
    }
    if (ans.kind === "servfail") {
      return {
        result: { kind: "servfail", name: qname, server },
        elapsedMs: Math.min(ans.elapsedMs, rc.timeoutMs),
      };
    }
    if (ans.kind === "nxdomain") return { result: { kind: "nxdomain", name: qname, server }, elapsedMs: 0 };
    let tcp = false;
    if (answerSize(qname, ans.ips.length) > UDP_LIMIT) {
      tcp = true;
      const t = this.net.connect(pod, {
        dstIp: server,
        dstPort: 53,
        protocol: "TCP",
        bytesOut: qname.length + 30,
      });
      if (t.outcome.kind === "dropped")
        return { result: { kind: "timeout", server }, elapsedMs: rc.timeoutMs };
      if (t.outcome.kind !== "established") return { result: { kind: "refused", server }, elapsedMs: 0 };
    }
    const now = this.d.clock.now();
    for (const name of [qname, ...ans.cnames]) {
      this.d.policy.learnDns({
        name,
        ips: ans.ips,
        ttlSeconds: ans.ttl,
        now,
        server: { ip: server, port: 53 },
      });
      this.net.rememberDomain(pod, name, ans.ips);
    }
    return {
      result: { kind: "answer", name: qname, cnames: ans.cnames, ips: ans.ips, ttl: ans.ttl, server, tcp },
      elapsedMs: 0,
    };
  }

  /** Resolves a name from a pod as its stub resolver would (search list, then give up after the first timeout). */
  resolve(
    pod: KubeObject,
    name: string,
    rc: ResolvConf,
    opts: { server?: string; useSearch?: boolean } = {},
  ): { result: DnsLookup; elapsedMs: number } {
    const server = opts.server ?? rc.nameservers[0];
    if (!server) return { result: { kind: "refused", server: "127.0.0.1" }, elapsedMs: 0 };
    const candidates = opts.useSearch === false ? [name.replace(/\.$/, "")] : searchCandidates(name, rc);
    let elapsed = 0;
    let last: DnsLookup = { kind: "nxdomain", name, server };
    for (const c of candidates) {
      const q = this.query(pod, server, c, rc);
      elapsed += q.elapsedMs;
      if (q.result.kind === "answer") return { result: q.result, elapsedMs: elapsed };
      if (q.result.kind === "timeout" || q.result.kind === "refused")
        return { result: q.result, elapsedMs: elapsed };
      if (q.result.kind === "servfail") last = { ...q.result, name };
    }
    return { result: last, elapsedMs: elapsed };
  }
}

/** The `/etc/hosts` of a pod as the kubelet writes it. */
export function hostsFileFor(pod: KubeObject): string {
  const ip = podIp(pod) ?? "";
  const spec = podSpec(pod);
  const host = spec.hostname ?? pod.metadata.name;
  const fqdn = spec.subdomain
    ? `${host}.${spec.subdomain}.${pod.metadata.namespace}.svc.${CLUSTER_DOMAIN}\t`
    : "";
  return [
    "# Kubernetes-managed hosts file.",
    "127.0.0.1\tlocalhost",
    "::1\tlocalhost ip6-localhost ip6-loopback",
    "fe00::0\tip6-localnet",
    "fe00::0\tip6-mcastprefix",
    "fe00::1\tip6-allnodes",
    "fe00::2\tip6-allrouters",
    `${ip}\t${fqdn}${host}`,
    "",
  ].join("\n");
}
