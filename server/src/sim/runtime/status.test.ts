/** Pod status transitions as the kubelet (and the scheduler's condition) report them. */
import { describe, expect, it } from "vitest";
import type { KubeObject } from "../../store/types.ts";
import {
  backoffMs,
  normalizeImage,
  startedStatus,
  statusAfterBackoff,
  statusAfterExit,
  unschedulableStatus,
} from "./status.ts";

/* eslint-disable @typescript-eslint/no-explicit-any -- assertions read deep into Kubernetes JSON */

const running = (restartPolicy: string, containers = ["c"]): KubeObject => ({
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name: "p", namespace: "default", uid: "u-1" },
  spec: { restartPolicy, containers: containers.map((name) => ({ name, image: "busybox" })) },
  status: {
    phase: "Running",
    conditions: [
      { type: "Ready", status: "True", lastTransitionTime: "2026-01-01T00:00:00Z" },
      { type: "ContainersReady", status: "True", lastTransitionTime: "2026-01-01T00:00:00Z" },
    ],
    containerStatuses: containers.map((name) => ({
      name,
      containerID: `containerd://${name}`,
      ready: true,
      started: true,
      restartCount: 0,
      state: { running: { startedAt: "2026-01-01T00:00:00Z" } },
    })),
  },
});
const now = Date.UTC(2026, 0, 1, 0, 1);

describe("statusAfterExit", () => {
  it.each([
    ["Never", 0, "Succeeded", { terminated: { exitCode: 0, reason: "Completed" } }, 0],
    ["Never", 3, "Failed", { terminated: { exitCode: 3, reason: "Error" } }, 0],
    ["OnFailure", 0, "Succeeded", { terminated: { exitCode: 0, reason: "Completed" } }, 0],
    ["OnFailure", 1, "Running", { running: {} }, 1],
    ["Always", 0, "Running", { running: {} }, 1],
  ])("restartPolicy %s, exit %i → %s", (policy, code, phase, state, restarts) => {
    const s = statusAfterExit(running(policy), undefined, code, now) as any;
    expect(s.phase).toBe(phase);
    const cs = s.containerStatuses[0];
    expect(cs.restartCount).toBe(restarts);
    expect(Object.keys(cs.state)).toEqual(Object.keys(state));
    if ("terminated" in state) {
      expect(cs.state.terminated).toMatchObject(state.terminated);
      expect(cs.state.terminated.startedAt).toBe("2026-01-01T00:00:00Z");
      expect(cs.state.terminated.finishedAt).toBe("2026-01-01T00:01:00Z");
      expect(cs.state.terminated.containerID).toBe("containerd://c");
      expect(s.conditions[0]).toMatchObject({ type: "Ready", status: "False", reason: "PodCompleted" });
      expect(s.conditions[0].lastTransitionTime).toBe("2026-01-01T00:01:00Z");
    } else {
      // A restart keeps the ended run as lastState.
      expect(cs.lastState.terminated).toMatchObject({ exitCode: code, finishedAt: "2026-01-01T00:01:00Z" });
    }
  });

  it("with back-off: CrashLoopBackOff, not ready, the kubelet's message with the doubled delay", () => {
    let pod = running("Always");
    pod = { ...pod, status: statusAfterExit(pod, "c", 1, now, { backoff: true }) };
    let cs = (pod.status as any).containerStatuses[0];
    expect(cs).toMatchObject({ restartCount: 1, ready: false, started: false });
    expect(cs.state.waiting).toEqual({
      reason: "CrashLoopBackOff",
      message: "back-off 10s restarting failed container=c pod=p_default(u-1)",
    });
    expect(cs.lastState.terminated).toMatchObject({ exitCode: 1, reason: "Error" });
    expect((pod.status as any).phase).toBe("Running");
    expect((pod.status as any).conditions[0]).toMatchObject({
      status: "False",
      reason: "ContainersNotReady",
      message: "containers with unready status: [c]",
    });

    pod = { ...pod, status: statusAfterBackoff(pod, "c", now + 10_000) };
    cs = (pod.status as any).containerStatuses[0];
    expect(cs).toMatchObject({ restartCount: 1, ready: true, started: true });
    expect(cs.state.running.startedAt).toBe("2026-01-01T00:01:10Z");
    expect((pod.status as any).conditions[0]).toEqual({
      type: "Ready",
      status: "True",
      lastTransitionTime: "2026-01-01T00:01:10Z",
    });

    pod = { ...pod, status: statusAfterExit(pod, "c", 0, now + 20_000, { backoff: true }) };
    cs = (pod.status as any).containerStatuses[0];
    expect(cs.restartCount).toBe(2);
    expect(cs.state.waiting.message).toContain("back-off 20s");
    expect(cs.lastState.terminated).toMatchObject({ exitCode: 0, reason: "Completed" });
  });

  it("a pod ends only when all its containers have ended", () => {
    let pod = running("Never", ["a", "b"]);
    pod = { ...pod, status: statusAfterExit(pod, "b", 0, now) };
    expect((pod.status as any).phase).toBe("Running");
    expect((pod.status as any).conditions[0].reason).toBe("ContainersNotReady");
    expect((pod.status as any).conditions[0].message).toBe("containers with unready status: [b]");
    pod = { ...pod, status: statusAfterExit(pod, "a", 2, now) };
    expect((pod.status as any).phase).toBe("Failed");
  });

  it("leaves the pod it was given unchanged", () => {
    const pod = running("Never");
    const before = JSON.stringify(pod);
    statusAfterExit(pod, undefined, 1, now);
    expect(JSON.stringify(pod)).toBe(before);
  });
});

describe("backoffMs", () => {
  it("10s, doubled per restart, at most five minutes", () => {
    expect([1, 2, 3, 4, 5, 6, 7, 20].map(backoffMs)).toEqual([
      10_000, 20_000, 40_000, 80_000, 160_000, 300_000, 300_000, 300_000,
    ]);
  });
});

describe("startedStatus", () => {
  const pod = (spec: Record<string, unknown>): KubeObject => ({
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "web", namespace: "default", uid: "u-2" },
    spec,
  });
  const t = "2026-01-01T00:00:00Z";

  it("Running and Ready, addresses, one running status per container with containerd's ids", () => {
    const s = startedStatus(
      pod({ containers: [{ name: "web", image: "nginx" }] }),
      "172.18.0.2",
      "192.168.1.5",
      t,
    ) as any;
    expect(s).toMatchObject({
      phase: "Running",
      hostIP: "172.18.0.2",
      hostIPs: [{ ip: "172.18.0.2" }],
      podIP: "192.168.1.5",
      podIPs: [{ ip: "192.168.1.5" }],
      startTime: t,
      qosClass: "BestEffort",
    });
    expect(s.conditions.map((c: any) => `${c.type}=${c.status}`)).toEqual([
      "PodReadyToStartContainers=True",
      "Initialized=True",
      "Ready=True",
      "ContainersReady=True",
      "PodScheduled=True",
    ]);
    const cs = s.containerStatuses[0];
    expect(cs).toMatchObject({
      name: "web",
      image: "docker.io/library/nginx:latest",
      ready: true,
      restartCount: 0,
    });
    expect(cs.containerID).toMatch(/^containerd:\/\/[0-9a-f]{64}$/);
    expect(cs.imageID).toMatch(/^docker\.io\/library\/nginx@sha256:[0-9a-f]{64}$/);
    expect(cs.state).toEqual({ running: { startedAt: t } });
  });

  it("a readiness gate nobody has set keeps the pod out of Ready", () => {
    const s = startedStatus(
      pod({
        containers: [{ name: "a", image: "busybox" }],
        readinessGates: [{ conditionType: "example.com/gate" }],
      }),
      "172.18.0.2",
      "192.168.1.6",
      t,
    ) as any;
    expect(s.conditions.find((c: any) => c.type === "Ready")).toMatchObject({
      status: "False",
      reason: "ReadinessGatesNotReady",
      message: 'corresponding condition of pod readiness gate "example.com/gate" does not exist.',
    });
  });

  it.each([
    [{}, "BestEffort"],
    [{ requests: { cpu: "100m" } }, "Burstable"],
    [{ limits: { cpu: "1", memory: "1Gi" } }, "Guaranteed"],
    [{ limits: { cpu: "1", memory: "1Gi" }, requests: { cpu: "500m" } }, "Burstable"],
  ])("resources %j → QoS %s", (resources, qos) => {
    const s = startedStatus(pod({ containers: [{ name: "a", image: "busybox", resources }] }), "h", "i", t);
    expect(s.qosClass).toBe(qos);
  });
});

describe("unschedulableStatus", () => {
  it("Pending with the scheduler's message", () => {
    const s = unschedulableStatus(running("Always"), "0/1 nodes are available: 1 Too many pods.", "T") as any;
    expect(s.phase).toBe("Pending");
    expect(s.conditions).toEqual([
      {
        type: "PodScheduled",
        status: "False",
        lastProbeTime: null,
        lastTransitionTime: "T",
        reason: "Unschedulable",
        message: "0/1 nodes are available: 1 Too many pods.",
      },
    ]);
  });
});

describe("normalizeImage", () => {
  it.each([
    ["nginx", "docker.io/library/nginx:latest"],
    ["nicolaka/netshoot:v0.13", "docker.io/nicolaka/netshoot:v0.13"],
    ["quay.io/calico/node:v3.32.1", "quay.io/calico/node:v3.32.1"],
    ["localhost/app", "localhost/app:latest"],
    ["busybox@sha256:abc", "docker.io/library/busybox@sha256:abc"],
  ])("%s → %s", (image, want) => {
    expect(normalizeImage(image)).toBe(want);
  });
});
