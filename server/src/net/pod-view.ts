/** The `PodNet` of one pod: its identity, resolv.conf and hosts, over the cluster's `Network` and `Dns`. */
import type { KubeObject } from "../store/types.ts";
import { hostsFileFor, resolvConfFor, type Dns } from "./dns.ts";
import type { Network } from "./network.ts";
import type { PodIdentity, PodNet } from "./podnet.ts";
import { podIp, podSpec } from "./topology.ts";

export function podIdentity(pod: KubeObject): PodIdentity {
  const spec = podSpec(pod);
  return {
    namespace: pod.metadata.namespace ?? "default",
    name: pod.metadata.name,
    ip: podIp(pod) ?? "",
    nodeName: spec.nodeName ?? "",
    hostname: spec.hostname ?? pod.metadata.name,
    image: spec.containers?.[0]?.image ?? "",
    labels: { ...(pod.metadata.labels ?? {}) },
  };
}

export function createPodNet(net: Network, dns: Dns, pod: KubeObject): PodNet {
  const identity = podIdentity(pod);
  const rc = resolvConfFor(pod, net.d.internet.catalogue.upstream);
  const hosts = new Map<string, string>();
  for (const line of hostsFileFor(pod).split("\n")) {
    const [ip, ...names] = line.split(/\s+/);
    if (!ip || ip.startsWith("#") || ip.includes(":")) continue;
    for (const n of names) if (n && !hosts.has(n)) hosts.set(n, ip);
  }
  return {
    pod: identity,
    resolvConf: rc,
    hosts,
    resolve(name, opts = {}) {
      const h = hosts.get(name);
      if (h && !opts.server)
        return {
          result: { kind: "answer", name, cnames: [], ips: [h], ttl: 0, server: "", tcp: false },
          elapsedMs: 0,
        };
      return dns.resolve(pod, name, rc, opts);
    },
    connect: (req) => net.connect(pod, req).outcome,
    ping: (ip, domain) => net.ping(pod, ip, domain),
  };
}
