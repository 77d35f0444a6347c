/**
 * Records core/v1 Events the way the real components write them (`<object>.<hex nanoseconds>`, source, counts).
 */
import { timestamp } from "../../shared/object.ts";
import type { SimClusterApi } from "../../store/cluster-api.ts";
import type { Clock } from "../../shared/clock.ts";
import type { Registry } from "../../store/registry/index.ts";
import type { MemoryStore } from "../../store/object-store.ts";
import type { KubeObject } from "../../store/types.ts";

export interface EventSource {
  component: string;
  host?: string;
}

export interface EventRecorder {
  /** While false, nothing is recorded (a profile's boot-time history is not replayed as events). */
  enabled: boolean;
  /** Records an event about `obj`; never throws (events are best effort, as in Kubernetes). */
  record(
    obj: KubeObject,
    type: "Normal" | "Warning",
    reason: string,
    message: string,
    source: EventSource,
    fieldPath?: string,
  ): void;
}

export const MAX_EVENTS = 1000;

export function createEventRecorder(
  api: SimClusterApi,
  store: MemoryStore,
  registry: Registry,
  clock: Clock,
): EventRecorder {
  let seq = 0n;
  /** Identical events (object, reason, message, source) are counted on one Event, as the event correlator does. */
  const recent = new Map<string, { ns: string; name: string }>();
  let recorded = 0;
  /** Keeps the newest MAX_EVENTS events (a real cluster expires them after an hour). */
  const trim = () => {
    const all = store.list("core/events");
    if (all.length <= MAX_EVENTS) return;
    const oldest = [...all]
      .sort((a, b) => Number(a.metadata.resourceVersion) - Number(b.metadata.resourceVersion))
      .slice(0, all.length - MAX_EVENTS);
    for (const e of oldest) api.removeObject("core/events", e);
  };
  const events = registry.byKey("core/events");
  return {
    enabled: true,
    record(obj, type, reason, message, source, fieldPath) {
      if (!events || !this.enabled) return;
      const ms = clock.now();
      const ts = timestamp(ms);
      const nanos = BigInt(ms) * 1_000_000n + seq++;
      const ns = obj.metadata.namespace || "default";
      const key = [
        obj.metadata.uid,
        type,
        reason,
        message,
        source.component,
        source.host ?? "",
        fieldPath ?? "",
      ].join("\0");
      const seen = recent.get(key);
      if (seen && store.get("core/events", seen.ns, seen.name)) {
        api.patchInternal("core/events", seen.ns, seen.name, (e) => {
          e.count = (typeof e.count === "number" ? e.count : 1) + 1;
          e.lastTimestamp = ts;
        });
        return;
      }
      try {
        api.createStored(
          events,
          ns,
          {
            apiVersion: "v1",
            kind: "Event",
            metadata: { name: `${obj.metadata.name}.${nanos.toString(16)}`, namespace: ns },
            involvedObject: {
              apiVersion: obj.apiVersion,
              kind: obj.kind,
              name: obj.metadata.name,
              ...(obj.metadata.namespace ? { namespace: obj.metadata.namespace } : {}),
              uid: obj.metadata.uid,
              resourceVersion: obj.metadata.resourceVersion,
              ...(fieldPath ? { fieldPath } : {}),
            },
            reason,
            message,
            source: { component: source.component, ...(source.host ? { host: source.host } : {}) },
            firstTimestamp: ts,
            lastTimestamp: ts,
            count: 1,
            type,
            eventTime: null,
            reportingComponent: source.component,
            reportingInstance: source.host ?? "",
          },
          { trusted: true },
        );
        recent.set(key, { ns, name: `${obj.metadata.name}.${nanos.toString(16)}` });
        if (recent.size > MAX_EVENTS) recent.delete(recent.keys().next().value!);
      } catch {
        // Events are best effort: a terminating namespace refuses them.
      }
      if (++recorded % 100 === 0) trim();
    },
  };
}
