/**
 * When an attached session ends, the container's main process has ended: the pod's status says so as the kubelet
 * would (restartPolicy Never → Succeeded/Failed with the exit code; OnFailure → Succeeded or a restart; Always → a
 * restart). `kubectl run --rm -it` waits for exactly this before it deletes the pod and returns the exit code.
 */
import type { ClusterApi, KubeObject, ResourceType } from "../store/types.ts";

interface ContainerStatus {
  name?: string;
  ready?: boolean;
  started?: boolean;
  restartCount?: number;
  state?: Record<string, unknown>;
  lastState?: Record<string, unknown>;
  [k: string]: unknown;
}

const rfc3339 = (ms: number): string =>
  new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(".000Z", "Z");

/** The pod's status after its main process (in `container`) exited with `code`. */
export function statusAfterExit(
  pod: KubeObject,
  container: string | undefined,
  code: number,
  now: number,
): Record<string, unknown> {
  const spec = (pod.spec ?? {}) as { restartPolicy?: string; containers?: { name?: string }[] };
  const status = structuredClone((pod.status ?? {}) as Record<string, unknown>);
  const policy = spec.restartPolicy ?? "Always";
  const name = container ?? spec.containers?.[0]?.name;
  const statuses = (status.containerStatuses as ContainerStatus[] | undefined) ?? [];
  const cs = statuses.find((s) => s.name === name) ?? statuses[0];
  const running = cs?.state?.running as { startedAt?: string } | undefined;
  const terminated = {
    exitCode: code,
    reason: code === 0 ? "Completed" : "Error",
    startedAt: running?.startedAt ?? rfc3339(now),
    finishedAt: rfc3339(now),
    ...(cs && typeof cs.containerID === "string" ? { containerID: cs.containerID } : {}),
  };
  const restart = policy === "Always" || (policy === "OnFailure" && code !== 0);
  if (cs) {
    if (restart) {
      cs.lastState = { terminated };
      cs.state = { running: { startedAt: rfc3339(now) } };
      cs.restartCount = (cs.restartCount ?? 0) + 1;
    } else {
      cs.state = { terminated };
      cs.ready = false;
      cs.started = false;
    }
  }
  if (!restart) {
    status.phase = code === 0 ? "Succeeded" : "Failed";
    const conditions =
      (status.conditions as
        { type?: string; status?: string; reason?: string; lastTransitionTime?: string }[] | undefined) ?? [];
    for (const c of conditions) {
      if (c.type === "Ready" || c.type === "ContainersReady") {
        c.status = "False";
        c.reason = "PodCompleted";
        c.lastTransitionTime = rfc3339(now);
      }
    }
  }
  return status;
}

/** Writes that status through the cluster API; a pod that is already gone is left alone. */
export function recordMainProcessExit(
  api: ClusterApi,
  podType: ResourceType,
  namespace: string,
  name: string,
  container: string | undefined,
  code: number,
  now: number,
): void {
  let pod: KubeObject;
  try {
    pod = api.get(podType, namespace, name);
  } catch {
    return;
  }
  const next = { ...pod, status: statusAfterExit(pod, container, code, now) };
  api.update(podType, namespace, name, next, { subresource: "status", fieldManager: "kubelet" });
}
