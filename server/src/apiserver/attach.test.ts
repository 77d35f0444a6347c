import { describe, expect, it } from "vitest";
import { statusAfterExit } from "./attach.ts";
import type { KubeObject } from "../store/types.ts";

const pod = (restartPolicy: string): KubeObject => ({
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name: "p" },
  spec: { restartPolicy, containers: [{ name: "c" }] },
  status: {
    phase: "Running",
    conditions: [{ type: "Ready", status: "True" }],
    containerStatuses: [
      { name: "c", ready: true, restartCount: 0, state: { running: { startedAt: "2026-01-01T00:00:00Z" } } },
    ],
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
    const s = statusAfterExit(pod(policy), undefined, code, now) as {
      phase: string;
      containerStatuses: { state: Record<string, Record<string, unknown>>; restartCount: number }[];
      conditions: { status: string }[];
    };
    expect(s.phase).toBe(phase);
    const cs = s.containerStatuses[0]!;
    expect(cs.restartCount).toBe(restarts);
    expect(Object.keys(cs.state)).toEqual(Object.keys(state));
    if ("terminated" in state) {
      expect(cs.state.terminated).toMatchObject(state.terminated);
      expect(cs.state.terminated!.finishedAt).toBe("2026-01-01T00:01:00Z");
      expect(s.conditions[0]!.status).toBe("False");
    }
  });
});
