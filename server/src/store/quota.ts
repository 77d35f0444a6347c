/**
 * A cluster's storage budget. A real cluster's objects are bounded by etcd's space quota and ResourceQuotas; a
 * simulated one lives in the server's memory and journal, shared with every other attendee, so an attendee's creates
 * and updates are refused (403, like an exceeded ResourceQuota) once their cluster would hold more than `objects`
 * objects or `bytes` of serialized objects. Sizes are counted from the first check on, then kept current from the
 * store's change events (controllers' writes and undone transactions included).
 */
import type { MemoryStore } from "./object-store.ts";
import { ApiError, type KubeObject, type ResourceKey } from "./types.ts";

export interface QuotaLimits {
  objects: number;
  bytes: number;
}

export const defaultQuota: QuotaLimits = { objects: 10_000, bytes: 64 * 1024 * 1024 };

const idOf = (key: ResourceKey, o: KubeObject) => `${key}\0${o.metadata.namespace ?? ""}/${o.metadata.name}`;
const sizeOf = (o: KubeObject) => JSON.stringify(o).length;

export class StorageQuota {
  private sizes: Map<string, number> | undefined;
  private total = 0;

  constructor(
    private readonly store: MemoryStore,
    readonly limits: QuotaLimits = defaultQuota,
  ) {}

  /** Throws 403 when storing `next` (replacing `previous`, if any) would take the cluster past its limits. */
  admit(key: ResourceKey, previous: KubeObject | undefined, next: KubeObject): void {
    const sizes = this.ensure();
    if (!previous && sizes.size >= this.limits.objects)
      throw new ApiError(
        403,
        "Forbidden",
        `exceeded quota: this cluster may hold at most ${this.limits.objects} objects; delete some first`,
      );
    const grows = sizeOf(next) - (previous ? (sizes.get(idOf(key, previous)) ?? sizeOf(previous)) : 0);
    if (grows > 0 && this.total + grows > this.limits.bytes)
      throw new ApiError(
        403,
        "Forbidden",
        `exceeded quota: this cluster's objects may use at most ${mib(this.limits.bytes)} (used ${mib(this.total)}, this change adds ${mib(grows)}); delete some first`,
      );
  }

  /** Objects and bytes counted so far (for tests and the bench). */
  usage(): { objects: number; bytes: number } {
    return { objects: this.ensure().size, bytes: this.total };
  }

  private ensure(): Map<string, number> {
    if (this.sizes) return this.sizes;
    const sizes = new Map<string, number>();
    for (const [key, items] of Object.entries(this.store.snapshot().objects))
      for (const o of items) {
        const s = sizeOf(o);
        sizes.set(idOf(key, o), s);
        this.total += s;
      }
    this.store.subscribe((c) => {
      const id = idOf(c.key, c.object);
      const old = sizes.get(id) ?? 0;
      if (c.type === "DELETED") {
        sizes.delete(id);
        this.total -= old;
      } else {
        const s = sizeOf(c.object);
        sizes.set(id, s);
        this.total += s - old;
      }
    });
    this.sizes = sizes;
    return sizes;
  }
}

const mib = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MiB`;
