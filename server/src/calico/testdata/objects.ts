/** Test helpers: small constructors for the API objects the engine consumes. */
import type { KubeObject } from "../../store/types.ts";

type Spec = Record<string, unknown>;

export const ns = (name: string, labels: Record<string, string> = {}): KubeObject => ({
  apiVersion: "v1",
  kind: "Namespace",
  metadata: { name, labels: { "kubernetes.io/metadata.name": name, ...labels } },
});

export const sa = (namespace: string, name: string, labels: Record<string, string> = {}): KubeObject => ({
  apiVersion: "v1",
  kind: "ServiceAccount",
  metadata: { name, namespace, labels },
});

export const pod = (
  namespace: string,
  name: string,
  labels: Record<string, string>,
  ip: string,
  opts: {
    sa?: string;
    ports?: { name?: string; containerPort: number; protocol?: string }[];
    hostNetwork?: boolean;
  } = {},
): KubeObject => ({
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name, namespace, labels },
  spec: {
    ...(opts.sa ? { serviceAccountName: opts.sa } : {}),
    ...(opts.hostNetwork ? { hostNetwork: true } : {}),
    containers: [{ name: "c", ports: opts.ports ?? [] }],
  },
  status: { phase: "Running", podIP: ip, podIPs: [{ ip }] },
});

export const svc = (
  namespace: string,
  name: string,
  selector: Record<string, string>,
  ports: Spec[],
  clusterIP = "10.96.0.10",
): KubeObject => ({
  apiVersion: "v1",
  kind: "Service",
  metadata: { name, namespace },
  spec: { selector, ports, clusterIP },
});

export const tier = (name: string, order?: number, defaultAction?: "Deny" | "Pass"): KubeObject => ({
  apiVersion: "projectcalico.org/v3",
  kind: "Tier",
  metadata: { name },
  spec: { ...(order !== undefined ? { order } : {}), ...(defaultAction ? { defaultAction } : {}) },
});

export const gnp = (name: string, spec: Spec, kind = "GlobalNetworkPolicy"): KubeObject => ({
  apiVersion: "projectcalico.org/v3",
  kind,
  metadata: { name },
  spec,
});

export const np = (namespace: string, name: string, spec: Spec, kind = "NetworkPolicy"): KubeObject => ({
  apiVersion: "projectcalico.org/v3",
  kind,
  metadata: { name, namespace },
  spec,
});

export const knp = (namespace: string, name: string, spec: Spec, kind = "NetworkPolicy"): KubeObject => ({
  apiVersion: kind === "NetworkPolicy" ? "networking.k8s.io/v1" : "projectcalico.org/v3",
  kind,
  metadata: { name, namespace },
  spec,
});

export const gns = (name: string, labels: Record<string, string>, spec: Spec): KubeObject => ({
  apiVersion: "projectcalico.org/v3",
  kind: "GlobalNetworkSet",
  metadata: { name, labels },
  spec,
});

export const netset = (
  namespace: string,
  name: string,
  labels: Record<string, string>,
  spec: Spec,
): KubeObject => ({
  apiVersion: "projectcalico.org/v3",
  kind: "NetworkSet",
  metadata: { name, namespace, labels },
  spec,
});
