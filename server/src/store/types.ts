/**
 * The contract between the simulated API server's HTTP layer (`apiserver/`), the resource registry and the object store
 * (`store/`), and the consumers that watch objects (the dataplane, the policy engine sync).
 */

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

export interface ObjectMeta {
  name: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
  finalizers?: string[];
  managedFields?: unknown[];
}

/** Any Kubernetes-shaped object as stored and served (JSON). */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  spec?: unknown;
  status?: unknown;
  [field: string]: unknown;
}

export type WatchEventType = "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK";

export interface WatchEvent {
  type: WatchEventType;
  object: KubeObject;
}

/** A JSON Schema (OpenAPI v3 flavour, with the `x-kubernetes-*` extensions where they matter). */
export type JsonSchema = Record<string, unknown>;

/** A column of `kubectl get` output (a Table response). */
export interface TableColumn {
  name: string;
  type: "string" | "integer" | "number" | "boolean" | "date";
  format?: string;
  description?: string;
  /** 0 = shown by default; 1 = only with `-o wide`. */
  priority: number;
  /** The cell for one object. */
  value(obj: KubeObject): unknown;
}

/** One kind the API serves: everything discovery, OpenAPI, Table output, validation and storage need. */
export interface ResourceType {
  /** API group, `""` for the core group. */
  group: string;
  version: string;
  kind: string;
  listKind: string;
  /** Lower-case plural, as in the URL. */
  plural: string;
  singular: string;
  namespaced: boolean;
  shortNames: string[];
  categories: string[];
  verbs: string[];
  /** Subresources served, e.g. `status`, `scale`, `exec`, `log`. */
  subresources: string[];
  /** The OpenAPI v3 schema of the whole object (used for strict field validation, OpenAPI and `kubectl explain`). */
  schema: JsonSchema;
  /** Columns for Table output; the NAME column is added by the server and must not be listed here. */
  columns: TableColumn[];
  /** Only served on clusters of this edition (e.g. EgressGateway on `enterprise`); absent = every edition. */
  edition?: "enterprise";
}

/** `group/plural`, with `core` for the core group: `core/pods`, `projectcalico.org/globalnetworkpolicies`. */
export type ResourceKey = string;

export function resourceKey(t: Pick<ResourceType, "group" | "plural">): ResourceKey {
  return `${t.group || "core"}/${t.plural}`;
}

export interface ListOptions {
  namespace?: string;
  /** A Kubernetes label selector string (`app=web,tier!=db,env in (a,b)`). */
  labelSelector?: string;
  /** A Kubernetes field selector string (`metadata.name=x`, `spec.nodeName=n`, `status.phase=Running`). */
  fieldSelector?: string;
}

export interface WriteOptions {
  /** `Strict` (kubectl's default), `Warn` or `Ignore`. */
  fieldValidation?: "Strict" | "Warn" | "Ignore";
  dryRun?: boolean;
  /** The field manager name, for managedFields and server-side apply. */
  fieldManager?: string;
}

/** Warnings to send back as `Warning` headers (e.g. unknown fields under `fieldValidation=Warn`). */
export interface WriteResult {
  object: KubeObject;
  warnings: string[];
}

/** A Kubernetes `Status` failure, thrown by the cluster API and rendered by the HTTP layer as is. */
export class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: {
      name?: string;
      group?: string;
      kind?: string;
      causes?: { reason?: string; message: string; field?: string }[];
      retryAfterSeconds?: number;
    },
  ) {
    super(message);
    this.name = "ApiError";
  }
  /** The `Status` object for the wire. */
  toStatus(): Record<string, unknown> {
    return {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: this.message,
      reason: this.reason,
      ...(this.details ? { details: this.details } : {}),
      code: this.code,
    };
  }
}

/**
 * The semantic API of one cluster: what the HTTP layer calls after parsing a request. It validates (schema, strict
 * fields, Calico rules, edition), defaults, runs controllers' admission, stores and notifies watchers.
 */
export interface ClusterApi {
  /** Every kind this cluster serves (already filtered by edition). */
  types(): ResourceType[];
  /** Finds a type by plural, singular, short name or kind (case-insensitive), optionally within a group. */
  findType(nameOrKind: string, group?: string): ResourceType | undefined;
  get(type: ResourceType, namespace: string | undefined, name: string): KubeObject;
  list(type: ResourceType, opts: ListOptions): { items: KubeObject[]; resourceVersion: string };
  create(type: ResourceType, namespace: string | undefined, obj: unknown, opts?: WriteOptions): WriteResult;
  /** Replaces an object; a `metadata.resourceVersion` that is not current is a 409 Conflict. */
  update(
    type: ResourceType,
    namespace: string | undefined,
    name: string,
    obj: unknown,
    opts?: WriteOptions & { subresource?: "status" | "scale" },
  ): WriteResult;
  delete(
    type: ResourceType,
    namespace: string | undefined,
    name: string,
    opts?: { dryRun?: boolean; propagationPolicy?: string },
  ): KubeObject;
  /**
   * Starts a watch from `resourceVersion` (exclusive; absent = now). Returns a function that stops it. 410 if too old.
   * `onExpired` is called (and the watch is over) when a state it was shown is undone (its commit failed).
   */
  watch(
    type: ResourceType,
    opts: ListOptions & { resourceVersion?: string },
    onEvent: (e: WatchEvent) => void,
    onExpired?: (err: ApiError) => void,
  ): () => void;
}

/** A change seen by an in-process subscriber of the store: which resource, and the watch event. */
export interface StoreChange extends WatchEvent {
  key: ResourceKey;
}

/**
 * The in-process view of a cluster's objects, for controllers, the policy-engine sync and the dataplane. Reads return
 * stored objects (do not mutate them); writes go through `ClusterApi` so validation and watches stay consistent.
 */
export interface ObjectStore {
  get(key: ResourceKey, namespace: string | undefined, name: string): KubeObject | undefined;
  list(key: ResourceKey, namespace?: string): KubeObject[];
  /** Calls `cb` for every change after it is stored, synchronously and in order. Returns an unsubscribe function. */
  subscribe(cb: (change: StoreChange) => void): () => void;
}
