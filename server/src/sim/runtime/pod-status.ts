/**
 * The only writes of a pod's status in the simulated cluster (besides a client's own `pods/status` requests): the
 * scheduler's "unschedulable" condition, and the kubelet's start (with the Calico CNI's address annotations), exit
 * and restart of containers. The transitions themselves are in `status.ts`.
 */
import type { KubeObject } from "../../store/types.ts";
import {
  hex64,
  reportedUnschedulable,
  startedStatus,
  statusAfterBackoff,
  statusAfterExit,
  unschedulableStatus,
} from "./status.ts";

/** The store write the kubelet uses (`SimClusterApi.patchInternal`): no admission, a new resourceVersion. */
export interface PodWriter {
  patchInternal(
    key: "core/pods",
    namespace: string | undefined,
    name: string,
    mutate: (o: KubeObject) => void,
  ): KubeObject | undefined;
}

/** Marks the pod unschedulable with the scheduler's message; false when it already says so. */
export function recordUnschedulable(api: PodWriter, pod: KubeObject, message: string, now: string): boolean {
  if (reportedUnschedulable(pod, message)) return false;
  api.patchInternal("core/pods", pod.metadata.namespace, pod.metadata.name, (o) => {
    o.status = unschedulableStatus(o, message, now);
  });
  return true;
}

/**
 * Starts the pod's sandbox and containers: its address `ip` (the node's, `hostIP`, for hostNetwork pods; Calico's
 * CNI annotates the others), Running and Ready. Returns the stored pod, undefined if it is gone.
 */
export function recordStarted(
  api: PodWriter,
  pod: KubeObject,
  where: { hostIP: string; ip: string; hostNetwork: boolean },
  now: string,
): KubeObject | undefined {
  return api.patchInternal("core/pods", pod.metadata.namespace, pod.metadata.name, (o) => {
    if (!where.hostNetwork)
      o.metadata.annotations = {
        ...o.metadata.annotations,
        "cni.projectcalico.org/containerID": hex64(`${o.metadata.uid}/sandbox`),
        "cni.projectcalico.org/podIP": `${where.ip}/32`,
        "cni.projectcalico.org/podIPs": `${where.ip}/32`,
      };
    o.status = startedStatus(o, where.hostIP, where.ip, now);
  });
}

/** Applies `next` to the pod's status if it is still the same pod (`pod`'s uid) and not being deleted. */
function patchSamePod(api: PodWriter, pod: KubeObject, next: (current: KubeObject) => object): void {
  api.patchInternal("core/pods", pod.metadata.namespace, pod.metadata.name, (cur) => {
    if (cur.metadata.uid === pod.metadata.uid && !cur.metadata.deletionTimestamp) cur.status = next(cur);
  });
}

/** The container's main process exited with `code` (see `statusAfterExit`). */
export function recordExit(
  api: PodWriter,
  pod: KubeObject,
  container: string | undefined,
  code: number,
  now: number,
  opts: { backoff?: boolean } = {},
): void {
  patchSamePod(api, pod, (cur) => statusAfterExit(cur, container, code, now, opts));
}

/** The container waiting in CrashLoopBackOff starts again. */
export function recordRestart(api: PodWriter, pod: KubeObject, container: string, now: number): void {
  patchSamePod(api, pod, (cur) => statusAfterBackoff(cur, container, now));
}
