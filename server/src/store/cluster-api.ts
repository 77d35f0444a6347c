/**
 * `ClusterApi` for one simulated cluster: the semantics of the Kubernetes API server behind the HTTP layer — decode,
 * default, validate, admission hooks (IP allocation), optimistic concurrency, generation, namespaces that must exist
 * and may be terminating, dry runs, garbage collection on delete, selectors, and watches from a resourceVersion.
 */
import type { Clock } from "../shared/clock.ts";
import type { Logger } from "../shared/logger.ts";
import { noopLogger } from "../shared/logger.ts";
import type { CalicoEdition } from "../sim/types.ts";
import { decodeBody, defaultAndValidate, type CalicoValidator } from "./admission.ts";
import { fromEventsV1, toEventsV1 } from "./events-v1.ts";
import type { MemoryStore } from "./object-store.ts";
import { cloneJson, sameObject, jsonEqual } from "./equal.ts";
import type { Random } from "./random.ts";
import { timestamp } from "../shared/object.ts";
import {
  prepareMetaForCreate,
  prepareMetaForUpdate,
  strategyFor,
  validateMetaUpdate,
} from "./strategy/index.ts";
import type { Registry } from "./registry/index.ts";
import { matchesFields, matchesLabels, parseFieldSelector, parseLabelSelector } from "./selectors.ts";
import {
  ApiError,
  resourceKey,
  type ClusterApi,
  type KubeObject,
  type ListOptions,
  type ResourceKey,
  type ResourceType,
  type WatchEvent,
  type WriteOptions,
  type WriteResult,
} from "./types.ts";
import {
  alreadyExists,
  badRequest,
  conflict,
  forbidden,
  invalid,
  notFound,
  type FieldError,
} from "./validation/errors.ts";
import { StorageQuota, type QuotaLimits } from "./quota.ts";

/** What an admission hook sees: it may mutate `object` and return field errors to reject the write. */
export interface AdmissionContext {
  key: ResourceKey;
  operation: "CREATE" | "UPDATE";
  object: KubeObject;
  old?: KubeObject;
  dryRun: boolean;
}
export type AdmissionHook = (ctx: AdmissionContext) => FieldError[] | void;

export interface SimApiOptions {
  store: MemoryStore;
  registry: Registry;
  edition: CalicoEdition;
  clock: Clock;
  random: Random;
  logger?: Logger;
  validateCalico?: CalicoValidator;
  /** The cluster's storage budget for attendees' writes (default: `defaultQuota`). */
  quota?: QuotaLimits;
}

const UNDELETABLE_NAMESPACES = new Set(["default", "kube-system", "kube-public", "kube-node-lease"]);
const EVENTS_V1 = "events.k8s.io/events";

const specPart = (o: KubeObject): Record<string, unknown> => {
  const { metadata: _m, status: _s, ...rest } = o;
  void _m;
  void _s;
  return rest;
};

export class SimClusterApi implements ClusterApi {
  private readonly hooks: AdmissionHook[] = [];
  private readonly finalizing = new Set<string>();
  private readonly settlers: (() => void)[] = [];
  private depth = 0;
  private settling = false;
  private readonly logger: Logger;
  private readonly quota: StorageQuota;

  constructor(private readonly o: SimApiOptions) {
    this.logger = o.logger ?? noopLogger;
    this.quota = new StorageQuota(o.store, o.quota);
  }

  /** Registers an admission hook (mutating and validating), run on create and update after validation. */
  addAdmission(hook: AdmissionHook): void {
    this.hooks.push(hook);
  }

  /** Registers work to run after each outermost write (controllers converge there, synchronously). */
  onSettle(fn: () => void): void {
    this.settlers.push(fn);
  }

  types(): ResourceType[] {
    return this.o.registry.types;
  }

  findType(nameOrKind: string, group?: string): ResourceType | undefined {
    return this.o.registry.find(nameOrKind, group);
  }

  private storageKey(type: ResourceType): ResourceKey {
    const k = resourceKey(type);
    return k === EVENTS_V1 ? "core/events" : k;
  }

  private view(type: ResourceType, o: KubeObject): KubeObject {
    return resourceKey(type) === EVENTS_V1 ? toEventsV1(o) : o;
  }

  private ns(type: ResourceType, namespace: string | undefined): string | undefined {
    if (!type.namespaced) return undefined;
    if (!namespace) throw badRequest("an empty namespace may not be set during creation");
    return namespace;
  }

  /** One write, made durable as a whole (with what the controllers do after it) before it returns. */
  private write<T>(fn: () => T): T {
    return this.o.store.atomically(() => this.settled(fn));
  }

  private settled<T>(fn: () => T): T {
    this.depth++;
    try {
      return fn();
    } finally {
      this.depth--;
      if (this.depth === 0 && !this.settling) {
        this.settling = true;
        try {
          for (const s of this.settlers) s();
        } catch (err) {
          this.logger.error("controller failed", { error: err instanceof Error ? err.message : String(err) });
        } finally {
          this.settling = false;
        }
      }
    }
  }

  get(type: ResourceType, namespace: string | undefined, name: string): KubeObject {
    const o = this.o.store.get(this.storageKey(type), type.namespaced ? namespace : undefined, name);
    if (!o) throw notFound(type, name);
    return cloneJson(this.view(type, o));
  }

  list(type: ResourceType, opts: ListOptions): { items: KubeObject[]; resourceVersion: string } {
    const filter = this.filter(type, opts);
    const items = this.o.store
      .list(this.storageKey(type), type.namespaced ? opts.namespace || undefined : undefined)
      .filter(filter)
      .map((o) => cloneJson(this.view(type, o)));
    return { items, resourceVersion: String(this.o.store.resourceVersion) };
  }

  private filter(type: ResourceType, opts: ListOptions): (o: KubeObject) => boolean {
    const labels = parseLabelSelector(opts.labelSelector);
    let fields;
    try {
      fields = parseFieldSelector(opts.fieldSelector, this.storageKey(type), type.kind, type.version);
    } catch (err) {
      if (err instanceof ApiError)
        throw badRequest(
          `Unable to find {"${type.group}" "${type.version}" "${type.plural}"} that match label selector "${opts.labelSelector ?? ""}", field selector "${opts.fieldSelector ?? ""}": ${err.message}`,
        );
      throw err;
    }
    const ns = type.namespaced ? opts.namespace || undefined : undefined;
    return (o) =>
      (ns === undefined || o.metadata.namespace === ns) &&
      matchesLabels(labels, o.metadata.labels) &&
      matchesFields(fields, o);
  }

  watch(
    type: ResourceType,
    opts: ListOptions & { resourceVersion?: string },
    onEvent: (e: WatchEvent) => void,
    onExpired?: (err: ApiError) => void,
  ): () => void {
    const matches = this.filter(type, opts);
    const filter = { key: this.storageKey(type), matches, ...(onExpired ? { expired: onExpired } : {}) };
    return this.o.store.watch(filter, opts.resourceVersion, (e) =>
      onEvent({ type: e.type, object: cloneJson(this.view(type, e.object)) }),
    );
  }

  private requireNamespace(
    type: ResourceType,
    ns: string | undefined,
    name: string,
    creating: boolean,
  ): void {
    if (!type.namespaced || ns === undefined) return;
    const nsObj = this.o.store.get("core/namespaces", undefined, ns);
    if (!nsObj)
      throw new ApiError(404, "NotFound", `namespaces "${ns}" not found`, { name: ns, kind: "namespaces" });
    if (creating && (nsObj.status as { phase?: string } | undefined)?.phase === "Terminating")
      throw forbidden(
        type,
        name,
        `unable to create new content in namespace ${ns} because it is being terminated`,
      );
  }

  private admit(ctx: AdmissionContext, type: ResourceType): void {
    const errs: FieldError[] = [];
    for (const h of this.hooks) errs.push(...(h(ctx) ?? []));
    if (errs.length) throw invalid(type, ctx.object.metadata.name, errs);
  }

  create(type: ResourceType, namespace: string | undefined, body: unknown, opts?: WriteOptions): WriteResult {
    const res = this.createStored(type, namespace, body, opts);
    return { object: cloneJson(res.object), warnings: res.warnings };
  }

  /**
   * `create` for the cluster's own components: the result is the stored object itself (not a copy), which the caller
   * must not modify.
   */
  createStored(
    type: ResourceType,
    namespace: string | undefined,
    body: unknown,
    opts?: WriteOptions & {
      /** The body is known to be valid (a profile already loaded once, a controller's own object): skip validation. */
      trusted?: boolean;
    },
  ): WriteResult {
    return this.write(() => {
      const { obj, warnings } = decodeBody(type, body, opts, !!opts?.trusted);
      const ns = this.ns(type, namespace);
      const isV1Event = resourceKey(type) === EVENTS_V1;
      const bodyNs = obj.metadata.namespace;
      if (type.namespaced && bodyNs && bodyNs !== ns)
        throw badRequest(
          "the namespace of the provided object does not match the namespace sent on the request",
        );
      if (type.namespaced) obj.metadata.namespace = ns;
      else delete obj.metadata.namespace;
      if (!obj.metadata.name && obj.metadata.generateName) {
        let name = "";
        for (let i = 0; i < 8; i++) {
          name = `${obj.metadata.generateName}${this.o.random.string(5)}`;
          if (!this.o.store.get(this.storageKey(type), ns, name)) break;
        }
        obj.metadata.name = name;
      }
      const strategy = strategyFor(type);
      strategy.prepareForCreate?.(obj);
      defaultAndValidate(type, obj, {
        random: this.o.random,
        edition: this.o.edition,
        validateCalico: this.o.validateCalico,
        trusted: !!opts?.trusted,
        ...(strategy.validate ? { validate: strategy.validate } : {}),
      });
      const name = obj.metadata.name;
      this.requireNamespace(type, ns, name, true);
      if (this.o.store.get(this.storageKey(type), ns, name)) throw alreadyExists(type, name);
      this.checkTier(type, obj);
      this.admit({ key: resourceKey(type), operation: "CREATE", object: obj, dryRun: !!opts?.dryRun }, type);
      prepareMetaForCreate(obj, {
        uid: this.o.random.uuid(),
        creationTimestamp: timestamp(this.o.clock.now()),
      });
      if (strategy.tracksGeneration) obj.metadata.generation = 1;
      else delete obj.metadata.generation;
      const stored = isV1Event ? fromEventsV1(obj) : obj;
      if (!opts?.trusted) this.quota.admit(this.storageKey(type), undefined, stored);
      if (opts?.dryRun) return { object: this.view(type, stored), warnings };
      stored.metadata.resourceVersion = this.o.store.nextVersion();
      this.o.store.commit(this.storageKey(type), "ADDED", stored);
      return { object: this.view(type, stored), warnings };
    });
  }

  /** The tier of a Calico policy must exist (`spec.tier`, default `default`). */
  private checkTier(type: ResourceType, obj: KubeObject): void {
    if (
      type.group !== "projectcalico.org" ||
      !/networkpolicies$/.test(type.plural) ||
      type.plural.includes("kubernetes")
    )
      return;
    const tier = String((obj.spec as { tier?: string } | undefined)?.tier || "default");
    if (!this.o.store.get("projectcalico.org/tiers", undefined, tier))
      throw new ApiError(404, "NotFound", `tiers.projectcalico.org "${tier}" not found`, {
        name: tier,
        group: "projectcalico.org",
        kind: "tiers",
      });
  }

  update(
    type: ResourceType,
    namespace: string | undefined,
    name: string,
    body: unknown,
    opts?: WriteOptions & { subresource?: "status" | "scale" },
  ): WriteResult {
    return this.write(() => {
      const ns = type.namespaced ? namespace : undefined;
      const key = this.storageKey(type);
      const existing = this.o.store.get(key, ns, name);
      if (!existing) throw notFound(type, name);
      if (opts?.subresource === "scale") return this.updateScale(type, existing, body, opts);
      const { obj, warnings } = decodeBody(type, body, opts);
      if (obj.metadata.name && obj.metadata.name !== name)
        throw badRequest(
          `the name of the object (${obj.metadata.name}) does not match the name on the URL (${name})`,
        );
      if (type.namespaced && obj.metadata.namespace && obj.metadata.namespace !== ns)
        throw badRequest(
          "the namespace of the provided object does not match the namespace sent on the request",
        );
      const rv = obj.metadata.resourceVersion;
      if (rv !== undefined && rv !== "" && rv !== existing.metadata.resourceVersion)
        throw conflict(type, name);
      const current = resourceKey(type) === EVENTS_V1 ? toEventsV1(existing) : existing;
      const strategy = strategyFor(type);
      let next: KubeObject;
      if (opts?.subresource === "status") {
        next = { ...cloneJson(current), status: obj.status };
      } else {
        next = obj;
        next.metadata = { ...obj.metadata, name };
        prepareMetaForUpdate(next, current);
        strategy.prepareForUpdate?.(next, current);
        if (type.namespaced) next.metadata.namespace = ns;
        else delete next.metadata.namespace;
        if (type.subresources.includes("status")) {
          if (current.status === undefined) delete next.status;
          else next.status = cloneJson(current.status);
        }
      }
      defaultAndValidate(type, next, {
        random: this.o.random,
        edition: this.o.edition,
        validateCalico: this.o.validateCalico,
        extra: [...validateMetaUpdate(next, current), ...(strategy.validateUpdate?.(next, current) ?? [])],
        ...(strategy.validate ? { validate: strategy.validate } : {}),
      });
      this.checkTier(type, next);
      this.admit(
        { key: resourceKey(type), operation: "UPDATE", object: next, old: current, dryRun: !!opts?.dryRun },
        type,
      );
      if (strategy.tracksGeneration) {
        const gen = current.metadata.generation ?? 1;
        next.metadata.generation = jsonEqual(specPart(next), specPart(current)) ? gen : gen + 1;
      }
      next.metadata.resourceVersion = current.metadata.resourceVersion;
      const stored = resourceKey(type) === EVENTS_V1 ? fromEventsV1(next) : next;
      if (sameObject(stored, existing)) return { object: cloneJson(this.view(type, existing)), warnings };
      this.quota.admit(key, existing, stored);
      if (opts?.dryRun) return { object: cloneJson(this.view(type, stored)), warnings };
      stored.metadata.resourceVersion = this.o.store.nextVersion();
      this.o.store.commit(key, "MODIFIED", stored);
      if (
        stored.metadata.deletionTimestamp &&
        !stored.metadata.finalizers?.length &&
        key !== "core/namespaces"
      ) {
        // The last finalizer is gone: the deletion completes.
        this.remove(key, stored, "Background");
        const nsObj = ns ? this.o.store.get("core/namespaces", undefined, ns) : undefined;
        if (nsObj && (nsObj.status as { phase?: string } | undefined)?.phase === "Terminating")
          this.terminateNamespace(nsObj);
      }
      return { object: cloneJson(this.view(type, stored)), warnings };
    });
  }

  private updateScale(
    type: ResourceType,
    existing: KubeObject,
    body: unknown,
    opts: WriteOptions,
  ): WriteResult {
    const replicas = (body as { spec?: { replicas?: unknown } } | null)?.spec?.replicas;
    if (typeof replicas !== "number" || !Number.isInteger(replicas))
      throw badRequest(
        `Scale in version "v1" cannot be handled as a Scale: json: cannot unmarshal ${typeof replicas} into Go struct field ScaleSpec.spec.replicas of type int32`,
      );
    if (replicas < 0)
      throw new ApiError(
        422,
        "Invalid",
        `Scale.autoscaling "${existing.metadata.name}" is invalid: spec.replicas: Invalid value: ${replicas}: must be greater than or equal to 0`,
        {
          name: existing.metadata.name,
          group: "autoscaling",
          kind: "Scale",
          causes: [
            {
              reason: "FieldValueInvalid",
              message: `Invalid value: ${replicas}: must be greater than or equal to 0`,
              field: "spec.replicas",
            },
          ],
        },
      );
    const rv = (body as { metadata?: { resourceVersion?: string } }).metadata?.resourceVersion;
    if (rv && rv !== existing.metadata.resourceVersion) throw conflict(type, existing.metadata.name);
    const next = cloneJson(existing);
    (next.spec as { replicas?: number }).replicas = replicas;
    const { subresource: _sub, ...rest } = opts as WriteOptions & { subresource?: string };
    void _sub;
    const res = this.update(type, existing.metadata.namespace, existing.metadata.name, next, rest);
    return { object: toScale(res.object), warnings: res.warnings };
  }

  delete(
    type: ResourceType,
    namespace: string | undefined,
    name: string,
    opts?: { dryRun?: boolean; propagationPolicy?: string },
  ): KubeObject {
    return this.write(() => {
      const ns = type.namespaced ? namespace : undefined;
      const key = this.storageKey(type);
      const existing = this.o.store.get(key, ns, name);
      if (!existing) throw notFound(type, name);
      if (key === "core/namespaces" && UNDELETABLE_NAMESPACES.has(name))
        throw forbidden(type, name, "this namespace may not be deleted");
      if (opts?.dryRun) return cloneJson(this.view(type, existing));
      if (key === "core/namespaces") return cloneJson(this.terminateNamespace(existing));
      this.remove(key, existing, opts?.propagationPolicy ?? "Background");
      const held = this.o.store.get(key, ns, name);
      if (held) return cloneJson(this.view(type, held));
      return cloneJson(this.view(type, existing));
    });
  }

  /**
   * Writes a change the cluster's own components make (binding, status, IP allocation) without the user-facing
   * validation: clones the stored object, lets `mutate` change it, bumps the resourceVersion and notifies. No-op when
   * the object is gone or unchanged. Returns the stored result.
   */
  patchInternal(
    key: ResourceKey,
    namespace: string | undefined,
    name: string,
    mutate: (o: KubeObject) => void,
  ): KubeObject | undefined {
    return this.write(() => {
      const existing = this.o.store.get(key, namespace, name);
      if (!existing) return undefined;
      const next = cloneJson(existing);
      mutate(next);
      if (sameObject(next, existing)) return existing;
      next.metadata.resourceVersion = this.o.store.nextVersion();
      this.o.store.commit(key, "MODIFIED", next);
      return next;
    });
  }

  /** Runs `fn` as one write: controllers settle once, when it returns. */
  batch<T>(fn: () => T): T {
    return this.write(fn);
  }

  /** Removes an object now and garbage-collects its dependents (`Orphan` strips their owner references instead). */
  removeObject(key: ResourceKey, obj: KubeObject, propagation = "Background"): void {
    this.write(() => this.remove(key, obj, propagation));
  }

  private remove(key: ResourceKey, obj: KubeObject, propagation: string): void {
    const live = this.o.store.get(key, obj.metadata.namespace, obj.metadata.name);
    if (!live) return;
    if (live.metadata.finalizers?.length && key !== "core/namespaces") {
      // Finalizers hold the object (marked for deletion) until whoever owns them removes them.
      if (!live.metadata.deletionTimestamp) {
        const marked = cloneJson(live);
        marked.metadata.deletionTimestamp = timestamp(this.o.clock.now());
        (marked.metadata as { deletionGracePeriodSeconds?: number }).deletionGracePeriodSeconds = 0;
        marked.metadata.resourceVersion = this.o.store.nextVersion();
        this.o.store.commit(key, "MODIFIED", marked);
      }
      return;
    }
    obj = live;
    const gone: KubeObject = {
      ...obj,
      metadata: { ...obj.metadata, resourceVersion: this.o.store.nextVersion() },
    };
    this.o.store.commit(key, "DELETED", gone);
    const uid = obj.metadata.uid;
    if (!uid) return;
    for (const { key: k, object: dep } of this.o.store.dependents(uid)) {
      const refs = dep.metadata.ownerReferences ?? [];
      if (propagation === "Orphan") {
        const next = cloneJson(dep);
        next.metadata.ownerReferences = refs.filter((r) => r.uid !== uid);
        if (!next.metadata.ownerReferences.length) delete next.metadata.ownerReferences;
        next.metadata.resourceVersion = this.o.store.nextVersion();
        this.o.store.commit(k, "MODIFIED", next);
      } else {
        this.remove(k, dep, "Background");
      }
    }
  }

  /** Marks a namespace Terminating and removes its contents; the namespace itself goes on the next tick. */
  private terminateNamespace(nsObj: KubeObject): KubeObject {
    const name = nsObj.metadata.name;
    let current = nsObj;
    if ((nsObj.status as { phase?: string } | undefined)?.phase !== "Terminating") {
      current = cloneJson(nsObj);
      current.metadata.deletionTimestamp = timestamp(this.o.clock.now());
      current.status = { ...(current.status as object), phase: "Terminating" };
      current.metadata.resourceVersion = this.o.store.nextVersion();
      this.o.store.commit("core/namespaces", "MODIFIED", current);
    }
    for (const k of this.o.store.keys()) {
      if (k === "core/namespaces") continue;
      for (const o of this.o.store.list(k, name))
        if (o.metadata.namespace === name) this.remove(k, o, "Background");
    }
    if (this.finalizing.has(name)) return current;
    this.finalizing.add(name);
    const finalize = () => {
      this.finalizing.delete(name);
      this.write(() => {
        for (const k of this.o.store.keys()) {
          if (k === "core/namespaces") continue;
          for (const o of this.o.store.list(k, name))
            if (o.metadata.namespace === name) this.remove(k, o, "Background");
        }
        const latest = this.o.store.get("core/namespaces", undefined, name);
        const remaining = this.o.store
          .keys()
          .some((k) => k !== "core/namespaces" && this.o.store.list(k, name).length > 0);
        if (latest && latest.metadata.uid === nsObj.metadata.uid && !remaining)
          this.remove("core/namespaces", latest, "Background");
      });
    };
    setImmediate(() => {
      try {
        finalize();
      } catch (err) {
        // Retried by the next delete of this namespace; a failed save must not stop the process.
        this.logger.error("could not finish deleting a namespace", {
          namespace: name,
          error: err instanceof Error ? err.message : String(err),
        });
      }
    });
    return current;
  }
}

/** The `autoscaling/v1` Scale of a workload. */
export function toScale(o: KubeObject): KubeObject {
  const spec = (o.spec ?? {}) as { replicas?: number; selector?: unknown };
  const status = (o.status ?? {}) as { replicas?: number };
  const sel = spec.selector as { matchLabels?: Record<string, string> } | undefined;
  return {
    apiVersion: "autoscaling/v1",
    kind: "Scale",
    metadata: {
      name: o.metadata.name,
      namespace: o.metadata.namespace,
      uid: o.metadata.uid,
      resourceVersion: o.metadata.resourceVersion,
      creationTimestamp: o.metadata.creationTimestamp,
    },
    spec: { replicas: spec.replicas ?? 0 },
    status: {
      replicas: status.replicas ?? 0,
      selector: Object.entries(sel?.matchLabels ?? {})
        .map(([k, v]) => `${k}=${v}`)
        .join(","),
    },
  };
}
