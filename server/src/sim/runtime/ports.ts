/**
 * What listens on a pod's ports, and what answers there: the ports its containers declare, plus those their images'
 * entrypoints listen on anyway (the image table). The containers of a pod share one network namespace, so a port of
 * any container is a port of the pod.
 */
import { podSpec } from "../../net/topology.ts";
import type { KubeObject } from "../../store/types.ts";
import { imageProfile, type ImageProfile, type PortService } from "./images.ts";

/** Well-known ports of servers that do not speak HTTP (ssh, DNS, databases, caches, CoreDNS's metrics). */
const NON_HTTP_PORTS = new Set([22, 53, 3306, 5432, 6379, 9153, 11211, 27017]);

const profiles = (pod: KubeObject): ImageProfile[] =>
  (podSpec(pod).containers ?? []).map((c) => imageProfile(c.image ?? ""));

/** The profile of the pod's first container (what `kubectl exec` without `-c` enters). */
export function podImage(pod: KubeObject): ImageProfile {
  return imageProfile(podSpec(pod).containers?.[0]?.image ?? "");
}

/** Whether the pod is a cluster DNS server: labelled as kube-dns, or running CoreDNS's image. */
export function isDnsServer(pod: KubeObject): boolean {
  return (
    pod.metadata.labels?.["k8s-app"] === "kube-dns" ||
    podImage(pod).ports.some((p) => p.port === 53 && p.protocol === "UDP")
  );
}

/** Whether something in the pod listens on `port`/`protocol` (ICMP never: nothing listens for it). */
export function podListens(pod: KubeObject, port: number, protocol: string): boolean {
  for (const c of podSpec(pod).containers ?? [])
    for (const p of c.ports ?? [])
      if (p.containerPort === port && (p.protocol ?? "TCP") === protocol) return true;
  if (profiles(pod).some((i) => i.ports.some((p) => p.port === port && p.protocol === protocol))) return true;
  return port === 53 && isDnsServer(pod);
}

/** What answers a TCP connection to the pod's `port` (given that something listens there). */
export function portService(pod: KubeObject, port: number): PortService {
  for (const i of profiles(pod)) {
    const p = i.ports.find((x) => x.port === port && x.protocol === "TCP");
    if (p) return p.serves;
  }
  return NON_HTTP_PORTS.has(port) ? "silent" : podImage(pod).http;
}

/**
 * The container whose process listens on the pod's TCP `port`: the first whose image serves it, else the first that
 * declares it (undefined when none does). Its log is where that server writes (nginx's access log).
 */
export function portContainer(pod: KubeObject, port: number): string | undefined {
  const containers = podSpec(pod).containers ?? [];
  const byImage = containers.find((c) =>
    imageProfile(c.image ?? "").ports.some((p) => p.port === port && p.protocol === "TCP"),
  );
  const declared = containers.find((c) =>
    (c.ports ?? []).some((p) => p.containerPort === port && (p.protocol ?? "TCP") === "TCP"),
  );
  return (byImage ?? declared)?.name;
}
