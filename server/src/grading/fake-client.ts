/**
 * An in-memory `ClusterClient` for unit tests of grading: objects in a map, exec answered by a function the test
 * gives (so a test decides what curl "sees" from the objects present), flows served from a list.
 */
import { parseHit } from "../net/whisker.ts";
import { EgresslabError } from "../shared/errors.ts";
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
    // A pod someone creates (the grader's probe pods) starts at once, as if a kubelet ran it.
    if (o.kind === "Pod" && !existing && o.status === undefined) o.status = { phase: "Running" };
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
    const terms = (opts.labelSelector ?? "")
      .split(",")
      .filter(Boolean)
      .map((t) => t.split("="));
    return this.all().filter(
      (o) =>
        o.apiVersion === apiVersion &&
        o.kind === kind &&
        (!opts.namespace || o.metadata.namespace === opts.namespace) &&
        terms.every(([k, v]) => (o.metadata.labels as Record<string, string> | undefined)?.[k!] === v),
    );
  }
  /** A merge patch; a Deployment's changed template is rolled out at once (as if its controller ran). */
  async patch(ref: ObjectRef, patch: Record<string, unknown>): Promise<ClusterObject> {
    this.calls.push(`patch ${ref.kind}/${ref.name}`);
    const existing = this.objects.get(key(ref));
    if (!existing) throw new EgresslabError("unavailable", `patching ${ref.kind} ${ref.name}: not found`);
    const want = (patch.metadata as { resourceVersion?: string } | undefined)?.resourceVersion;
    if (want !== undefined && want !== existing.metadata.resourceVersion)
      throw new EgresslabError("conflict", `${ref.kind} ${ref.name} changed meanwhile`);
    const o = mergePatch(existing, patch) as ClusterObject;
    o.metadata.resourceVersion = String(Number(existing.metadata.resourceVersion ?? 0) + 1);
    if (o.kind === "Deployment") {
      const generation = Number(existing.metadata.generation ?? 1) + 1;
      const replicas = Number((o.spec as { replicas?: number })?.replicas ?? 1);
      o.metadata.generation = generation;
      o.status = {
        observedGeneration: generation,
        replicas,
        updatedReplicas: replicas,
        readyReplicas: replicas,
        availableReplicas: replicas,
      };
    }
    this.objects.set(key(ref), o);
    return o;
  }
  async delete(ref: ObjectRef): Promise<boolean> {
    this.calls.push(`delete ${ref.kind}/${ref.name}`);
    return this.objects.delete(key(ref));
  }
  async exec(namespace: string, pod: string, container: string, command: string[]): Promise<ExecResult> {
    return this.execFn(this.all(), { namespace, pod, container }, command);
  }
  /** What a raw API call answers (default 200 `{}`). */
  answer: (method: string, path: string, body: unknown) => { status: number; body: string } = () => ({
    status: 200,
    body: "{}",
  });
  async request(
    method: "GET" | "POST",
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: string }> {
    this.calls.push(`${method} ${path}`);
    return this.answer(method, path, body);
  }
  /** Whisker's `/whisker-backend/flows`: `flows` (flow-log fields) as Whisker's JSON, `filters.actions` applied. */
  async whisker(path: string): Promise<{ status: number; body: string }> {
    this.calls.push(`whisker GET ${path}`);
    if (!this.flows) throw new Error("no ready pod behind svc/whisker");
    const url = new URL(path, "http://whisker");
    if (url.pathname !== "/whisker-backend/flows") return { status: 404, body: "404 page not found\n" };
    const filters = JSON.parse(url.searchParams.get("filters") ?? "{}") as { actions?: string[] };
    const items = this.flows
      .map(whiskerJsonOf)
      .filter((f) => !filters.actions?.length || filters.actions.includes(String(f.action)));
    return {
      status: 200,
      body: JSON.stringify({ total: { totalPages: 1, totalResults: items.length }, items }),
    };
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

const cap = (v: unknown): string => (typeof v === "string" && v ? v[0]!.toUpperCase() + v.slice(1) : "");
const shown = (n: unknown): unknown => (n === "pub" ? "PUBLIC NETWORK" : n === "pvt" ? "PRIVATE NETWORK" : n);
const seconds = (v: unknown): string | undefined =>
  typeof v === "number" ? new Date(v * 1000).toISOString().replace(/\.\d{3}Z$/, "Z") : undefined;

/** A flow-log record as Whisker shows it (whisker-backend's FlowResponse), the fields the record has. */
export function whiskerJsonOf(r: Record<string, unknown>): Record<string, unknown> {
  const p = (r.policies ?? {}) as { enforced_policies?: string[]; pending_policies?: string[] };
  const hits = (t: string[] | undefined) => (t ?? []).map(parseHit).filter((h) => !!h);
  const out: Record<string, unknown> = {
    ...r,
    start_time: seconds(r.start_time),
    end_time: seconds(r.end_time),
    action: cap(r.action),
    reporter: cap(r.reporter),
    source_name: shown(r.source_name),
    ...(Array.isArray(r.source_labels) ? { source_labels: r.source_labels.join(" | ") } : {}),
    dest_name: shown(r.dest_type === "net" && r.dest_name === undefined ? "pub" : r.dest_name),
    policies: { enforced: hits(p.enforced_policies), pending: hits(p.pending_policies) },
  };
  delete out.dest_type;
  if (r.dest_type !== "net" && r.dest_type !== undefined && !r.dest_namespace)
    out.dest_namespace = r.dest_type === "wep" ? "default" : "";
  return out;
}
