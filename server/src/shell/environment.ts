/** The environment of a container as the kubelet sets it: PATH, HOSTNAME, the container's env, Service links. */
import type { KubeObject } from "../store/types.ts";

interface SvcPort {
  name?: string;
  port: number;
  protocol?: string;
}

function serviceVars(svc: KubeObject): Record<string, string> {
  const spec = (svc.spec ?? {}) as { clusterIP?: string; ports?: SvcPort[] };
  const ip = spec.clusterIP;
  const ports = spec.ports ?? [];
  if (!ip || ip === "None" || ports.length === 0) return {};
  const n = svc.metadata.name.toUpperCase().replace(/-/g, "_");
  const first = ports[0]!;
  const out: Record<string, string> = {
    [`${n}_SERVICE_HOST`]: ip,
    [`${n}_SERVICE_PORT`]: String(first.port),
    [`${n}_PORT`]: `${(first.protocol ?? "TCP").toLowerCase()}://${ip}:${first.port}`,
  };
  for (const p of ports) {
    const proto = p.protocol ?? "TCP";
    const base = `${n}_PORT_${p.port}_${proto}`;
    if (p.name) out[`${n}_SERVICE_PORT_${p.name.toUpperCase().replace(/-/g, "_")}`] = String(p.port);
    out[base] = `${proto.toLowerCase()}://${ip}:${p.port}`;
    out[`${base}_PROTO`] = proto.toLowerCase();
    out[`${base}_PORT`] = String(p.port);
    out[`${base}_ADDR`] = ip;
  }
  return out;
}

/**
 * The environment of the pod's first container. Service links cover the Services of the pod's namespace that existed
 * when the pod was created, and the `kubernetes` Service of `default`.
 */
export function containerEnv(
  pod: KubeObject,
  services: KubeObject[],
  kubernetesSvc: KubeObject | undefined,
): Record<string, string> {
  const spec = (pod.spec ?? {}) as {
    enableServiceLinks?: boolean;
    hostname?: string;
    containers?: { env?: { name: string; value?: string }[] }[];
  };
  const created = pod.metadata.creationTimestamp ?? "";
  const env: Record<string, string> = {
    PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    HOSTNAME: spec.hostname ?? pod.metadata.name,
    HOME: "/root",
  };
  if (spec.enableServiceLinks !== false)
    for (const s of services)
      if (!created || !s.metadata.creationTimestamp || s.metadata.creationTimestamp <= created)
        Object.assign(env, serviceVars(s));
  if (kubernetesSvc) Object.assign(env, serviceVars(kubernetesSvc));
  for (const e of spec.containers?.[0]?.env ?? []) if (e.value !== undefined) env[e.name] = e.value;
  return env;
}
