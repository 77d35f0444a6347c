import { describe, expect, it } from "vitest";
import type { ClusterObject } from "./cluster.ts";
import { isProbeFlow, probePodOf, workloadBase } from "./probe-pod.ts";

const deploymentPod: ClusterObject = {
  apiVersion: "v1",
  kind: "Pod",
  metadata: {
    name: "catalog-7d9f8b6c5-x2k4q",
    generateName: "catalog-7d9f8b6c5-",
    namespace: "shop",
    labels: { app: "catalog", tier: "web", "pod-template-hash": "7d9f8b6c5" },
    annotations: {
      "egress.projectcalico.org/selector": "egress-code == 'red'",
      "cni.projectcalico.org/podIP": "192.168.1.4/32",
    },
    ownerReferences: [{ kind: "ReplicaSet", name: "catalog-7d9f8b6c5", controller: true }],
  },
  spec: {
    serviceAccountName: "catalog",
    dnsPolicy: "ClusterFirst",
    securityContext: { runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } },
    containers: [
      {
        name: "app",
        image: "nicolaka/netshoot:v0.13",
        command: ["sh", "-c", "serve"],
        ports: [{ containerPort: 8080 }],
        securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } },
      },
    ],
  },
  status: { phase: "Running" },
};

describe("probePodOf", () => {
  it("speaks for the workload to policy, but is no replica of it and no Service endpoint", () => {
    const p = probePodOf(deploymentPod, "app");
    expect(p.metadata).toMatchObject({
      namespace: "shop",
      labels: {
        app: "catalog",
        tier: "web",
        "egresslab.io/probe": "true",
        "egresslab.io/probe-for": "catalog",
      },
      annotations: { "egress.projectcalico.org/selector": "egress-code == 'red'" },
    });
    expect(p.metadata.name).toMatch(/^egresslab-probe-catalog-[0-9a-f]{8}$/);
    expect(p.metadata.labels).not.toHaveProperty("pod-template-hash");
    expect(p.metadata.annotations).not.toHaveProperty("cni.projectcalico.org/podIP");
    expect(p.metadata).not.toHaveProperty("ownerReferences");
    // What Pod Security admission reads comes along, so a restricted namespace admits the probe as the workload.
    expect(p.spec).toEqual({
      serviceAccountName: "catalog",
      dnsPolicy: "ClusterFirst",
      securityContext: { runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } },
      automountServiceAccountToken: false,
      terminationGracePeriodSeconds: 0,
      readinessGates: [{ conditionType: "egresslab.io/probe-only" }],
      containers: [
        {
          name: "app",
          image: "nicolaka/netshoot:v0.13",
          command: ["sleep", "infinity"],
          securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } },
        },
      ],
    });
  });

  it("is named after what policy sees: another label set gives another pod, the same one the same", () => {
    const a = probePodOf(deploymentPod, "app").metadata.name;
    const relabelled = structuredClone(deploymentPod);
    (relabelled.metadata.labels as Record<string, string>).quarantine = "true";
    expect(probePodOf(relabelled, "app").metadata.name).not.toBe(a);
    const otherReplica = structuredClone(deploymentPod);
    otherReplica.metadata.name = "catalog-7d9f8b6c5-zzzzz";
    expect(probePodOf(otherReplica, "app").metadata.name).toBe(a);
  });

  it.each([
    { pod: deploymentPod, want: "catalog" },
    { pod: { ...deploymentPod, metadata: { name: "client", namespace: "shop" } }, want: "client" },
    {
      pod: { ...deploymentPod, metadata: { name: "web-0", generateName: "web-", namespace: "shop" } },
      want: "web",
    },
  ])("names the workload $want", ({ pod, want }) => {
    expect(workloadBase(pod)).toBe(want);
  });

  it("keeps a long workload name within a pod name's 63 characters", () => {
    const long = { ...deploymentPod, metadata: { name: "x".repeat(80), namespace: "shop" } };
    expect(probePodOf(long, "app").metadata.name.length).toBeLessThanOrEqual(63);
  });
});

describe("isProbeFlow", () => {
  it.each([
    { flow: { source_labels: "app=catalog | egresslab.io/probe=true" }, want: true },
    { flow: { source_labels: ["app=catalog", "egresslab.io/probe=true"] }, want: true },
    { flow: { source_name: "egresslab-probe-catalog-1a2b3c4d" }, want: true },
    { flow: { source_labels: "app=catalog", source_name: "catalog-*" }, want: false },
    { flow: { source_labels: "egresslab.io/probe=false", source_name: "probe-*" }, want: false },
    { flow: {}, want: false },
  ])("$flow → $want", ({ flow, want }) => {
    expect(isProbeFlow(flow)).toBe(want);
  });
});
