/**
 * `events.k8s.io/v1` Events are a view of the core Events (one storage, two API shapes), as in Kubernetes.
 */
import type { KubeObject } from "./types.ts";

type Rec = Record<string, unknown>;

/** core/v1 Event → events.k8s.io/v1 Event. */
export function toEventsV1(e: KubeObject): KubeObject {
  const src = (e.source ?? {}) as Rec;
  const out: KubeObject = {
    apiVersion: "events.k8s.io/v1",
    kind: "Event",
    metadata: e.metadata,
    eventTime: e.eventTime ?? null,
    reason: e.reason,
    regarding: e.involvedObject,
    note: e.message,
    type: e.type,
    reportingController: e.reportingComponent || src.component || "",
    reportingInstance: e.reportingInstance || src.host || "",
    action: e.action,
  };
  if (e.related) out.related = e.related;
  if (typeof e.count === "number" && e.count > 1) out.deprecatedCount = e.count;
  if (e.firstTimestamp) out.deprecatedFirstTimestamp = e.firstTimestamp;
  if (e.lastTimestamp) out.deprecatedLastTimestamp = e.lastTimestamp;
  if (src.component) out.deprecatedSource = src;
  for (const k of Object.keys(out)) if (out[k] === undefined) delete out[k];
  return out;
}

/** events.k8s.io/v1 Event → core/v1 Event. */
export function fromEventsV1(e: KubeObject): KubeObject {
  const out: KubeObject = {
    apiVersion: "v1",
    kind: "Event",
    metadata: e.metadata,
    involvedObject: e.regarding ?? {},
    reason: e.reason,
    message: e.note,
    type: e.type,
    eventTime: e.eventTime,
    reportingComponent: e.reportingController ?? "",
    reportingInstance: e.reportingInstance ?? "",
    action: e.action,
    related: e.related,
    count: e.deprecatedCount,
    firstTimestamp: e.deprecatedFirstTimestamp,
    lastTimestamp: e.deprecatedLastTimestamp,
    source: e.deprecatedSource ?? {},
  };
  for (const k of Object.keys(out)) if (out[k] === undefined) delete out[k];
  return out;
}
