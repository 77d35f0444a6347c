/**
 * A pod's status as the kubelet reports it, as pure transitions: a pod that could not be scheduled, a started pod
 * (Running and Ready, conditions, container statuses), a container whose main process exited (restartPolicy Never →
 * Succeeded/Failed with the exit code; OnFailure → Succeeded or a restart; Always → a restart, after a
 * CrashLoopBackOff when asked) and a container that starts again after its back-off. `pod-status.ts` writes them.
 */
import { createRandom } from "../../store/random.ts";
import { fnv32a } from "../../shared/hash.ts";
import { asArray, asObject, timestamp, type JsonObject } from "../../shared/object.ts";
import type { KubeObject } from "../../store/types.ts";

interface ContainerStatus {
  name?: string;
  ready?: boolean;
  started?: boolean;
  restartCount?: number;
  state?: Record<string, unknown>;
  lastState?: Record<string, unknown>;
  [k: string]: unknown;
}

interface Condition {
  type?: string;
  status?: string;
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
}

type Rec = JsonObject;
const rec = asObject;
const arr = asArray;

/** The kubelet's restart back-off: 10s, doubled per restart, at most 5 minutes. */
const BACKOFF_MS = 10_000;
const MAX_BACKOFF_MS = 300_000;

/** How long the kubelet waits before starting a container that has restarted `restartCount` times. */
export function backoffMs(restartCount: number): number {
  return Math.min(MAX_BACKOFF_MS, BACKOFF_MS * 2 ** Math.max(0, restartCount - 1));
}

/** `docker.io/library/nginx:latest` from `nginx`, as containerd reports images. */
export function normalizeImage(image: string): string {
  let ref = image;
  const firstSlash = ref.indexOf("/");
  const first = firstSlash >= 0 ? ref.slice(0, firstSlash) : "";
  if (firstSlash < 0) ref = `docker.io/library/${ref}`;
  else if (!first.includes(".") && !first.includes(":") && first !== "localhost") ref = `docker.io/${ref}`;
  const last = ref.slice(ref.lastIndexOf("/") + 1);
  if (!last.includes(":") && !last.includes("@")) ref += ":latest";
  return ref;
}

/** 64 hex digits derived from `s` (container, sandbox and image ids). */
export function hex64(s: string): string {
  const r = createRandom(fnv32a(s));
  return Array.from({ length: 8 }, () =>
    Math.floor(r.next() * 2 ** 32)
      .toString(16)
      .padStart(8, "0"),
  ).join("");
}

function qosClass(spec: Rec): string {
  const res = arr(spec.containers).map((c) => rec(rec(c).resources));
  if (res.every((r) => !Object.keys(rec(r.requests)).length && !Object.keys(rec(r.limits)).length))
    return "BestEffort";
  const guaranteed = res.every((r) => {
    const l = rec(r.limits);
    const q = rec(r.requests);
    return (
      l.cpu !== undefined &&
      l.memory !== undefined &&
      (q.cpu === undefined || q.cpu === l.cpu) &&
      (q.memory === undefined || q.memory === l.memory)
    );
  });
  return guaranteed ? "Guaranteed" : "Burstable";
}

/** The status of a pod the scheduler could not place: Pending, PodScheduled False with the scheduler's message. */
export function unschedulableStatus(pod: KubeObject, message: string, now: string): Rec {
  return {
    ...rec(pod.status),
    phase: "Pending",
    conditions: [
      {
        type: "PodScheduled",
        status: "False",
        lastProbeTime: null,
        lastTransitionTime: now,
        reason: "Unschedulable",
        message,
      },
    ],
  };
}

/** Whether the scheduler already reported `message` for this pod. */
export function reportedUnschedulable(pod: KubeObject, message: string): boolean {
  return arr(rec(pod.status).conditions).some(
    (c) => rec(c).type === "PodScheduled" && rec(c).message === message,
  );
}

/**
 * The status of a pod whose sandbox has `ip` on a node at `hostIP` and whose containers all started at `now`: Running,
 * Ready unless a readiness gate nobody has set holds it back (as the kubelet's status manager does).
 */
export function startedStatus(pod: KubeObject, hostIP: string, ip: string, now: string): Rec {
  const spec = rec(pod.spec);
  const cond = (type: string): Rec => ({
    type,
    status: "True",
    lastProbeTime: null,
    lastTransitionTime: now,
  });
  const gates = arr(spec.readinessGates)
    .map((g) => String(rec(g).conditionType ?? ""))
    .filter(Boolean);
  const ready =
    gates.length === 0
      ? cond("Ready")
      : {
          type: "Ready",
          status: "False",
          lastProbeTime: null,
          lastTransitionTime: now,
          reason: "ReadinessGatesNotReady",
          message: `corresponding condition of pod readiness gate "${gates[0]}" does not exist.`,
        };
  return {
    phase: "Running",
    conditions: [
      cond("PodReadyToStartContainers"),
      cond("Initialized"),
      ready,
      cond("ContainersReady"),
      cond("PodScheduled"),
    ],
    hostIP,
    hostIPs: [{ ip: hostIP }],
    podIP: ip,
    podIPs: [{ ip }],
    startTime: now,
    containerStatuses: arr(spec.containers)
      .map(rec)
      .map((c) => {
        const image = normalizeImage(String(c.image));
        return {
          containerID: `containerd://${hex64(`${pod.metadata.uid}/${String(c.name)}`)}`,
          image,
          imageID: `${image.replace(/:[^:/@]+$/, "")}@sha256:${hex64(image)}`,
          lastState: {},
          name: c.name,
          ready: true,
          restartCount: 0,
          started: true,
          state: { running: { startedAt: now } },
        };
      }),
    ...initStatuses(pod, now),
    qosClass: qosClass(spec),
  };
}

/** Init containers of a started pod: each ran to completion before the containers started. */
function initStatuses(pod: KubeObject, now: string): Rec {
  const init = arr(rec(pod.spec).initContainers).map(rec);
  if (!init.length) return {};
  return {
    initContainerStatuses: init.map((c) => {
      const image = normalizeImage(String(c.image));
      const containerID = `containerd://${hex64(`${pod.metadata.uid}/${String(c.name)}`)}`;
      return {
        containerID,
        image,
        imageID: `${image.replace(/:[^:/@]+$/, "")}@sha256:${hex64(image)}`,
        lastState: {},
        name: c.name,
        ready: true,
        restartCount: 0,
        started: false,
        state: {
          terminated: { containerID, exitCode: 0, finishedAt: now, reason: "Completed", startedAt: now },
        },
      };
    }),
  };
}

function setReady(status: Rec, ready: boolean, reason: string, now: number): void {
  const conditions = (status.conditions as Condition[] | undefined) ?? [];
  const unready = ((status.containerStatuses as ContainerStatus[] | undefined) ?? [])
    .filter((s) => !s.ready)
    .map((s) => s.name);
  for (const c of conditions) {
    if (c.type !== "Ready" && c.type !== "ContainersReady") continue;
    const next = ready ? "True" : "False";
    if (c.status !== next) c.lastTransitionTime = timestamp(now);
    c.status = next;
    if (ready) {
      delete c.reason;
      delete c.message;
    } else {
      c.reason = reason;
      if (reason === "ContainersNotReady")
        c.message = `containers with unready status: [${unready.join(" ")}]`;
      else delete c.message;
    }
  }
}

/** A restarted container is a new container: its id, while `lastState.terminated` keeps the old one's. */
function attemptId(pod: KubeObject, cs: ContainerStatus): string {
  return `containerd://${hex64(`${pod.metadata.uid}/${String(cs.name)}/${cs.restartCount ?? 0}`)}`;
}

/**
 * The pod's status after its main process (in `container`, default the first) exited with `code`. A restart is
 * immediate unless `backoff` is set: then the container waits in CrashLoopBackOff until `statusAfterBackoff`.
 */
export function statusAfterExit(
  pod: KubeObject,
  container: string | undefined,
  code: number,
  now: number,
  opts: { backoff?: boolean } = {},
): Rec {
  const spec = (pod.spec ?? {}) as { restartPolicy?: string; containers?: { name?: string }[] };
  const status = structuredClone(rec(pod.status));
  const policy = spec.restartPolicy ?? "Always";
  const name = container ?? spec.containers?.[0]?.name;
  const statuses = (status.containerStatuses as ContainerStatus[] | undefined) ?? [];
  const cs = statuses.find((s) => s.name === name) ?? statuses[0];
  const running = cs?.state?.running as { startedAt?: string } | undefined;
  const terminated: Rec = {
    exitCode: code,
    reason: code === 0 ? "Completed" : "Error",
    startedAt: running?.startedAt ?? timestamp(now),
    finishedAt: timestamp(now),
  };
  if (cs && typeof cs.containerID === "string") terminated.containerID = cs.containerID;
  const restart = policy === "Always" || (policy === "OnFailure" && code !== 0);
  if (cs) {
    if (restart) {
      cs.lastState = { terminated };
      cs.restartCount = (cs.restartCount ?? 0) + 1;
      if (opts.backoff) {
        const ns = pod.metadata.namespace ?? "default";
        cs.state = {
          waiting: {
            reason: "CrashLoopBackOff",
            message: `back-off ${backoffMs(cs.restartCount) / 1000}s restarting failed container=${String(cs.name)} pod=${pod.metadata.name}_${ns}(${pod.metadata.uid ?? ""})`,
          },
        };
        cs.ready = false;
        cs.started = false;
      } else {
        cs.state = { running: { startedAt: timestamp(now) } };
        cs.containerID = attemptId(pod, cs);
      }
    } else {
      cs.state = { terminated };
      cs.ready = false;
      cs.started = false;
    }
  }
  const allEnded = statuses.every((s) => s.state?.terminated !== undefined);
  if (!restart && allEnded) {
    const failed = statuses.some((s) => (s.state?.terminated as { exitCode?: number }).exitCode !== 0);
    status.phase = failed ? "Failed" : "Succeeded";
    setReady(status, false, "PodCompleted", now);
  } else if (cs && !cs.ready) setReady(status, false, "ContainersNotReady", now);
  return status;
}

/** The pod's status when a container waiting in CrashLoopBackOff starts again. */
export function statusAfterBackoff(pod: KubeObject, container: string, now: number): Rec {
  const status = structuredClone(rec(pod.status));
  const statuses = (status.containerStatuses as ContainerStatus[] | undefined) ?? [];
  const cs = statuses.find((s) => s.name === container);
  if (!cs?.state?.waiting) return status;
  cs.state = { running: { startedAt: timestamp(now) } };
  cs.containerID = attemptId(pod, cs);
  cs.ready = true;
  cs.started = true;
  if (statuses.every((s) => s.ready)) setReady(status, true, "", now);
  return status;
}
