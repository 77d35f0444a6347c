/**
 * Which log a `GET …/pods/{name}/log` reads, decided as a real cluster decides it, with its messages: the API server
 * picks the container (`pkg/registry/core/pod/strategy.go` `validateContainer`), then the kubelet picks the attempt
 * from the container's status (`pkg/kubelet/kubelet_pods.go` `validateContainerLogStatus`); the kubelet's errors
 * reach the client as 400 BadRequest with its text.
 */
import { asArray, asObject, getString, type JsonObject } from "../../shared/object.ts";
import { ApiError, type KubeObject } from "../../store/types.ts";

const names = (list: unknown): string[] =>
  asArray(list)
    .map((c) => getString(c, "name"))
    .filter((n): n is string => n !== undefined);

const badRequest = (message: string): ApiError => new ApiError(400, "BadRequest", message);

/**
 * The container whose log is asked for: the one named, which must be one of the pod's (init and ephemeral ones too),
 * or the only one. Throws the API server's 400.
 */
export function logContainer(pod: KubeObject, container: string | undefined): string {
  const spec = asObject(pod.spec);
  const main = names(spec.containers);
  // podutil.VisitContainers' order: init containers, containers, ephemeral containers.
  const all = [...names(spec.initContainers), ...main, ...names(spec.ephemeralContainers)];
  const name = pod.metadata.name;
  if (!container) {
    if (main.length === 1) return main[0]!;
    if (main.length === 0) throw badRequest(`a container name must be specified for pod ${name}`);
    throw badRequest(`a container name must be specified for pod ${name}, choose one of: [${all.join(" ")}]`);
  }
  if (!all.includes(container)) throw badRequest(`container ${container} is not valid for pod ${name}`);
  return container;
}

/** The attempt of a container a log request reads, and whether it is still running (so a follow goes on). */
export interface LogAttempt {
  attempt: number;
  running: boolean;
}

/**
 * The attempt the kubelet reads for `container`: with `previous`, the last terminated one; otherwise the running
 * one, else the one that ended last. Attempts are numbered by the restart count they started at, so the last
 * terminated one is always `restartCount - 1`. Throws the kubelet's message (400) when there is nothing to read.
 */
export function logAttempt(pod: KubeObject, container: string, previous: boolean): LogAttempt {
  const status = asObject(pod.status);
  const name = pod.metadata.name;
  const statuses = [
    ...asArray(status.containerStatuses),
    ...asArray(status.initContainerStatuses),
    ...asArray(status.ephemeralContainerStatuses),
  ];
  const cs = statuses.find((s) => getString(s, "name") === container) as JsonObject | undefined;
  if (!cs) throw badRequest(`container "${container}" in pod "${name}" is not available`);
  const restarts = typeof cs.restartCount === "number" ? cs.restartCount : 0;
  const state = asObject(cs.state);
  const lastTerminated = asObject(cs.lastState).terminated !== undefined;
  const lastId = getString(asObject(cs.lastState).terminated, "containerID") ?? "";
  if (previous) {
    if (!lastTerminated || !lastId)
      throw badRequest(`previous terminated container "${container}" in pod "${name}" not found`);
    return { attempt: restarts - 1, running: false };
  }
  if (state.running !== undefined) return { attempt: restarts, running: true };
  if (state.terminated !== undefined) {
    if (getString(state.terminated, "containerID")) return { attempt: restarts, running: false };
    if (lastTerminated && lastId) return { attempt: restarts - 1, running: false };
    throw badRequest(`container "${container}" in pod "${name}" is terminated`);
  }
  if (lastTerminated) {
    if (!lastId) throw badRequest(`container "${container}" in pod "${name}" is terminated`);
    return { attempt: restarts - 1, running: false };
  }
  if (state.waiting !== undefined) {
    const reason = getString(state.waiting, "reason") ?? "";
    const why =
      reason === "ErrImagePull"
        ? "image can't be pulled"
        : reason === "ImagePullBackOff"
          ? "trying and failing to pull image"
          : reason;
    throw badRequest(`container "${container}" in pod "${name}" is waiting to start: ${why}`);
  }
  throw badRequest(`container "${container}" in pod "${name}" is waiting to start - no logs yet`);
}
