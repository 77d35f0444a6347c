/**
 * What controllers share: the cluster API, the store, the clock, seeded randomness, an event recorder, and small
 * helpers for reading objects.
 */
import { timestamp } from "../../shared/object.ts";
import type { Clock } from "../../shared/clock.ts";
import type { Logger } from "../../shared/logger.ts";
import type { SimClusterApi } from "../../store/cluster-api.ts";
import type { MemoryStore } from "../../store/object-store.ts";
import type { Random } from "../../store/random.ts";
import type { Registry } from "../../store/registry/index.ts";
import {
  ApiError,
  type KubeObject,
  type OwnerReference,
  type ResourceKey,
  type ResourceType,
  type StoreChange,
} from "../../store/types.ts";
import type { EventRecorder } from "./events.ts";

export interface ControllerContext {
  api: SimClusterApi;
  store: MemoryStore;
  registry: Registry;
  clock: Clock;
  random: Random;
  seed: number;
  events: EventRecorder;
  logger: Logger;
  /** The cluster's id (what its ServiceAccount tokens are signed for); without it no tokens are issued. */
  clusterId?: string;
  /** The API server's CA certificate (PEM), written into ServiceAccount token Secrets. */
  apiCa?: string;
}

/** A level-triggered controller, run synchronously after writes that touch what it watches. */
export interface Controller {
  readonly name: string;
  /** The resource keys whose changes make this controller run. */
  readonly watches: readonly ResourceKey[];
  /** Moves the cluster towards the desired state. `changes` are the watched changes since the last run. */
  sync(changes: StoreChange[]): void;
}

/** The most pods one simulated cluster runs; controllers stop creating pods beyond it (a FailedCreate event says so). */
export const MAX_PODS = 600;

export type Rec = Record<string, unknown>;
export const rec = (v: unknown): Rec => (v && typeof v === "object" && !Array.isArray(v) ? (v as Rec) : {});
export const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

export function typeOf(ctx: ControllerContext, key: ResourceKey): ResourceType {
  const t = ctx.registry.byKey(key);
  if (!t) throw new Error(`resource ${key} is not served`);
  return t;
}

/** True when `err` is an ApiError with this HTTP code. */
export function isApiError(err: unknown, code?: number): err is ApiError {
  return err instanceof ApiError && (code === undefined || err.code === code);
}

/** The object that controls `o` (its controller owner reference), if it is of `kind`. */
export function controllerOf(o: KubeObject, kind: string): string | undefined {
  return o.metadata.ownerReferences?.find((r) => r.controller && r.kind === kind)?.uid;
}

/** The controller owner reference an object made by a controller carries to `owner` (an `apiVersion` `kind`). */
export function controllerRef(owner: KubeObject, apiVersion: string, kind: string): OwnerReference {
  return {
    apiVersion,
    kind,
    name: owner.metadata.name,
    uid: owner.metadata.uid!,
    controller: true,
    blockOwnerDeletion: true,
  };
}

export function isTerminating(o: KubeObject): boolean {
  return !!o.metadata.deletionTimestamp;
}

export function namespaceActive(ctx: ControllerContext, ns: string | undefined): boolean {
  if (!ns) return true;
  const n = ctx.store.get("core/namespaces", undefined, ns);
  return !!n && rec(n.status).phase !== "Terminating";
}

export function nowTimestamp(ctx: ControllerContext): string {
  return timestamp(ctx.clock.now());
}
