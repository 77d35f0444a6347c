/** The `scale` subresource: the autoscaling/v1 `Scale` view of an object with `spec.replicas`. */
import type { KubeObject } from "../store/types.ts";

interface Selector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: string; values?: string[] }[];
}

/** A label selector as the string form `Scale.status.selector` uses. */
export function selectorString(sel: Selector | undefined): string {
  if (!sel) return "";
  const parts = Object.entries(sel.matchLabels ?? {})
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}=${v}`);
  for (const e of sel.matchExpressions ?? []) {
    const vals = (e.values ?? []).slice().sort().join(",");
    if (e.operator === "In") parts.push(`${e.key} in (${vals})`);
    else if (e.operator === "NotIn") parts.push(`${e.key} notin (${vals})`);
    else if (e.operator === "Exists") parts.push(e.key);
    else if (e.operator === "DoesNotExist") parts.push(`!${e.key}`);
  }
  return parts.join(",");
}

export function toScale(obj: KubeObject): KubeObject {
  const spec = (obj.spec ?? {}) as { replicas?: number; selector?: Selector };
  const status = (obj.status ?? {}) as { replicas?: number };
  const m = obj.metadata;
  return {
    kind: "Scale",
    apiVersion: "autoscaling/v1",
    metadata: {
      name: m.name,
      namespace: m.namespace,
      uid: m.uid,
      resourceVersion: m.resourceVersion,
      creationTimestamp: m.creationTimestamp,
    },
    spec: { replicas: spec.replicas ?? 0 },
    status: { replicas: status.replicas ?? 0, selector: selectorString(spec.selector) },
  };
}

/** The object with its replicas taken from a `Scale`. */
export function fromScale(obj: KubeObject, scale: unknown): KubeObject {
  const replicas = (scale as { spec?: { replicas?: unknown } } | undefined)?.spec?.replicas;
  const next = structuredClone(obj);
  next.spec = { ...((next.spec ?? {}) as Record<string, unknown>), replicas };
  const rv = (scale as { metadata?: { resourceVersion?: string } } | undefined)?.metadata?.resourceVersion;
  if (rv) next.metadata.resourceVersion = rv;
  return next;
}
