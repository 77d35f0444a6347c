/**
 * An in-memory `ClusterClient` for unit tests of grading: objects in a map, exec answered by a function the test
 * gives (so a test decides what curl "sees" from the objects present), flows served from a list.
 */
import {
  mergedKinds,
  type ClusterClient,
  type ClusterObject,
  type ExecResult,
  type ObjectRef,
} from "./cluster.ts";

/** RFC 7386 JSON merge patch: objects merge, null deletes, anything else replaces. */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (!patch || typeof patch !== "object" || Array.isArray(patch)) return structuredClone(patch);
  const out: Record<string, unknown> =
    target && typeof target === "object" && !Array.isArray(target)
      ? { ...(target as Record<string, unknown>) }
      : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

export type ExecFn = (
  objects: ClusterObject[],
  at: { namespace: string; pod: string; container: string },
  command: string[],
) => ExecResult;

const key = (r: ObjectRef): string => `${r.apiVersion}|${r.kind}|${r.namespace ?? ""}|${r.name}`;

export class FakeClient implements ClusterClient {
  readonly objects = new Map<string, ClusterObject>();
  flows: Record<string, unknown>[] | undefined = [];
  readonly calls: string[] = [];
  constructor(private readonly execFn: ExecFn = () => ({ code: 127, stdout: "", stderr: "not found" })) {}

  all(): ClusterObject[] {
    return [...this.objects.values()];
  }
  async apply(obj: ClusterObject, opts?: { replace?: boolean }): Promise<void> {
    this.calls.push(`apply ${obj.kind}/${obj.metadata.name}`);
    const k = key({
      ...obj,
      name: obj.metadata.name,
      ...(obj.metadata.namespace ? { namespace: obj.metadata.namespace } : {}),
    });
    const existing = this.objects.get(k);
    const o =
      existing && !opts?.replace && mergedKinds.has(obj.kind)
        ? (mergePatch(existing, obj) as ClusterObject)
        : structuredClone(obj);
    if (o.kind === "Deployment")
      o.status = { readyReplicas: Number((o.spec as { replicas?: number })?.replicas ?? 1) };
    this.objects.set(
      key({
        ...o,
        name: o.metadata.name,
        ...(o.metadata.namespace ? { namespace: o.metadata.namespace } : {}),
      }),
      o,
    );
  }
  async get(ref: ObjectRef): Promise<ClusterObject | undefined> {
    return this.objects.get(key(ref));
  }
  async list(
    apiVersion: string,
    kind: string,
    opts: { namespace?: string; labelSelector?: string } = {},
  ): Promise<ClusterObject[]> {
    const [k, v] = (opts.labelSelector ?? "").split("=");
    return this.all().filter(
      (o) =>
        o.apiVersion === apiVersion &&
        o.kind === kind &&
        (!opts.namespace || o.metadata.namespace === opts.namespace) &&
        (!k || (o.metadata.labels as Record<string, string> | undefined)?.[k] === v),
    );
  }
  async delete(ref: ObjectRef): Promise<boolean> {
    this.calls.push(`delete ${ref.kind}/${ref.name}`);
    return this.objects.delete(key(ref));
  }
  async exec(namespace: string, pod: string, container: string, command: string[]): Promise<ExecResult> {
    return this.execFn(this.all(), { namespace, pod, container }, command);
  }
  async request(method: "GET" | "POST", path: string): Promise<{ status: number; body: string }> {
    this.calls.push(`${method} ${path}`);
    if (!path.startsWith("/egresslab/v1/flows")) return { status: 200, body: "{}" };
    if (!this.flows) return { status: 404, body: "404 page not found" };
    return { status: 200, body: JSON.stringify({ items: this.flows }) };
  }
}

/** A running pod object. */
export function pod(namespace: string, name: string, labels: Record<string, string>): ClusterObject {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace, labels },
    spec: { containers: [{ name: "main" }] },
    status: { phase: "Running" },
  };
}
