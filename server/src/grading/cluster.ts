/**
 * What grading needs from a cluster: objects, exec in pods, and raw API paths. Implemented over a kubeconfig with
 * `@kubernetes/client-node` (`kube-client.ts`), so the same checks run on the simulator and on kind unchanged.
 */

/** A Kubernetes object as grading handles it (JSON). */
export interface ClusterObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; resourceVersion?: string; [k: string]: unknown };
  [k: string]: unknown;
}

export interface ObjectRef {
  apiVersion: string;
  kind: string;
  name: string;
  namespace?: string;
}

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface ClusterClient {
  /**
   * Creates the object or, when it exists, updates it: a merge patch for shared objects that carry other settings
   * (Namespaces, FelixConfiguration), a replace for the rest, or a replace always with `replace: true`.
   */
  apply(obj: ClusterObject, opts?: { replace?: boolean }): Promise<void>;
  /** Reads one object; `undefined` when it does not exist. */
  get(ref: ObjectRef): Promise<ClusterObject | undefined>;
  /** Lists objects of a kind; an empty list when the cluster does not serve the kind. */
  list(
    apiVersion: string,
    kind: string,
    opts?: { namespace?: string; labelSelector?: string },
  ): Promise<ClusterObject[]>;
  /**
   * Changes fields of one object with a JSON merge patch (RFC 7386) and resolves with the object as stored; a
   * `metadata.resourceVersion` in the patch makes it fail with a conflict when the object changed meanwhile.
   */
  patch(ref: ObjectRef, patch: Record<string, unknown>): Promise<ClusterObject>;
  /** Deletes one object; resolves false when it did not exist. */
  delete(ref: ObjectRef): Promise<boolean>;
  /** Runs a command (no shell) in a pod's container and resolves with its exit code and output; never hangs past `timeoutMs`. */
  exec(
    namespace: string,
    pod: string,
    container: string,
    command: string[],
    timeoutMs: number,
  ): Promise<ExecResult>;
  /**
   * `GET path` on Calico Whisker (`calico-system/svc/whisker:8081`, e.g. `/whisker-backend/flows?…`) through
   * port-forward, as `kubectl port-forward -n calico-system svc/whisker 8081:8081` reaches it; rejects when the
   * cluster has no ready Whisker.
   */
  whisker(path: string): Promise<{ status: number; body: string }>;
  /** Calls a path on the API server with the connection's credentials. */
  request(method: "GET" | "POST", path: string, body?: unknown): Promise<{ status: number; body: string }>;
}

/** The reference of an object. */
export function refOf(obj: ClusterObject): ObjectRef {
  return {
    apiVersion: obj.apiVersion,
    kind: obj.kind,
    name: obj.metadata.name,
    ...(obj.metadata.namespace ? { namespace: obj.metadata.namespace } : {}),
  };
}

/** `Kind ns/name` or `Kind name`, for messages. */
export function describeRef(ref: ObjectRef): string {
  return `${ref.kind} ${ref.namespace ? `${ref.namespace}/` : ""}${ref.name}`;
}

/** Kinds whose existing objects are merged into rather than replaced (they hold settings a lab does not own). */
export const mergedKinds: ReadonlySet<string> = new Set(["Namespace", "FelixConfiguration"]);
