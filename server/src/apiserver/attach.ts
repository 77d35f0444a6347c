/**
 * When an attached session ends, the container's main process has ended: the pod's status says so as the kubelet
 * would (restartPolicy Never → Succeeded/Failed with the exit code; OnFailure → Succeeded or a restart; Always → a
 * restart). `kubectl run --rm -it` waits for exactly this before it deletes the pod and returns the exit code.
 */
import { statusAfterExit } from "../sim/main-process.ts";
import type { ClusterApi, KubeObject, ResourceType } from "../store/types.ts";

export { statusAfterExit };

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
