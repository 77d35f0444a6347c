/* eslint-disable @typescript-eslint/no-explicit-any -- assertions read deep into Kubernetes JSON */
import { describe, expect, it } from "vitest";
import { VirtualClock } from "../../shared/clock.ts";
import { ApiError, type KubeObject } from "../../store/types.ts";
import { createSimCluster, type SimCluster } from "../cluster.ts";
import { inCidr, parseCidr } from "../../shared/ipv4.ts";

async function cluster(edition: "enterprise" | "oss" = "enterprise"): Promise<SimCluster> {
  return createSimCluster({
    id: "ctl",
    edition,
    seed: 42,
    clock: new VirtualClock(Date.UTC(2026, 0, 1)),
    dataplane: false,
  });
}

const t = (c: SimCluster, n: string, g?: string) => c.api.findType(n, g)!;
const deployment = (name: string, replicas: number, image = "nginx:1.27", extraPorts: unknown[] = []) => ({
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: { name },
  spec: {
    replicas,
    selector: { matchLabels: { app: name } },
    template: {
      metadata: { labels: { app: name } },
      spec: {
        containers: [{ name: "web", image, ports: [{ name: "http", containerPort: 8080 }, ...extraPorts] }],
      },
    },
  },
});
const podsOf = (c: SimCluster, ns: string, app: string) =>
  c.api.list(t(c, "pods"), { namespace: ns, labelSelector: `app=${app}` }).items;
const status = (o: KubeObject) => o.status as Record<string, any>;

describe("deployment controller", () => {
  it("runs a deployment as ready pods with IPs from their node's Calico block", async () => {
    const c = await cluster();
    c.api.create(t(c, "deploy"), "default", deployment("web", 3));
    const rs = c.api.list(t(c, "rs"), { namespace: "default", labelSelector: "app=web" }).items;
    expect(rs).toHaveLength(1);
    const hash = rs[0]!.metadata.labels!["pod-template-hash"]!;
    expect(rs[0]!.metadata.name).toBe(`web-${hash}`);
    const pods = podsOf(c, "default", "web");
    expect(pods).toHaveLength(3);
    for (const p of pods) {
      expect(p.metadata.name).toMatch(new RegExp(`^web-${hash}-[bcdfghjklmnpqrstvwxz2456789]{5}$`));
      expect(status(p).phase).toBe("Running");
      expect(status(p).conditions.find((x: any) => x.type === "Ready").status).toBe("True");
      const node = c.store.get("core/nodes", undefined, (p.spec as any).nodeName)!;
      expect(node.metadata.name).not.toBe("egresslab-control-plane");
      const tunnel = node.metadata.annotations!["projectcalico.org/IPv4VXLANTunnelAddr"]!;
      const block = `${tunnel}/26`;
      expect(parseCidr(block)!.base).toBe(parseCidr(`${tunnel}/32`)!.base);
      expect(inCidr(status(p).podIP, block)).toBe(true);
      expect(status(p).podIP).not.toBe(tunnel);
      expect(status(p).hostIP).toMatch(/^172\.18\.0\.[34]$/);
      expect(status(p).containerStatuses[0]).toMatchObject({
        name: "web",
        ready: true,
        image: "docker.io/library/nginx:1.27",
        restartCount: 0,
      });
    }
    expect(new Set(pods.map((p) => status(p).podIP)).size).toBe(3);
    expect(new Set(pods.map((p) => (p.spec as any).nodeName))).toEqual(
      new Set(["egresslab-worker", "egresslab-worker2"]),
    );
    const d = c.api.get(t(c, "deploy"), "default", "web");
    expect(status(d)).toMatchObject({
      observedGeneration: 1,
      replicas: 3,
      updatedReplicas: 3,
      readyReplicas: 3,
      availableReplicas: 3,
    });
    expect(status(d).conditions.map((x: any) => `${x.type}=${x.status}/${x.reason}`)).toEqual([
      "Available=True/MinimumReplicasAvailable",
      "Progressing=True/NewReplicaSetAvailable",
    ]);
    const reasons = c.api.list(t(c, "events", ""), { namespace: "default" }).items.map((e) => `${e.reason}`);
    expect(reasons).toEqual(
      expect.arrayContaining([
        "ScalingReplicaSet",
        "SuccessfulCreate",
        "Scheduled",
        "Pulled",
        "Created",
        "Started",
      ]),
    );
    await c.close();
  });

  it("scales up and down, and rolls a new template out to a new ReplicaSet", async () => {
    const c = await cluster();
    const created = c.api.create(t(c, "deploy"), "default", deployment("api", 2)).object;
    c.api.update(
      t(c, "deploy"),
      "default",
      "api",
      { apiVersion: "autoscaling/v1", kind: "Scale", metadata: { name: "api" }, spec: { replicas: 4 } },
      { subresource: "scale" },
    );
    expect(podsOf(c, "default", "api")).toHaveLength(4);
    const cur = c.api.get(t(c, "deploy"), "default", "api");
    c.api.update(t(c, "deploy"), "default", "api", {
      ...cur,
      spec: { ...(cur.spec as object), replicas: 1 },
    });
    expect(podsOf(c, "default", "api")).toHaveLength(1);
    const scaled = c.api
      .list(t(c, "events", ""), { namespace: "default", fieldSelector: "reason=ScalingReplicaSet" })
      .items.map((e) => e.message);
    expect(scaled).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^Scaled up replica set api-\w+ from 2 to 4$/),
        expect.stringMatching(/^Scaled down replica set api-\w+ from 4 to 1$/),
      ]),
    );
    const before = c.api.get(t(c, "deploy"), "default", "api");
    const next = deployment("api", 1, "nginx:1.28");
    c.api.update(t(c, "deploy"), "default", "api", { ...next, metadata: { ...before.metadata } });
    const sets = c.api.list(t(c, "rs"), { namespace: "default", labelSelector: "app=api" }).items;
    expect(sets).toHaveLength(2);
    const byRev = Object.fromEntries(
      sets.map((rs) => [
        rs.metadata.annotations!["deployment.kubernetes.io/revision"],
        (rs.spec as any).replicas,
      ]),
    );
    expect(byRev).toEqual({ "1": 0, "2": 1 });
    const pods = podsOf(c, "default", "api");
    expect(pods.map((p) => (p.spec as any).containers[0].image)).toEqual(["nginx:1.28"]);
    const d = c.api.get(t(c, "deploy"), "default", "api");
    expect(d.metadata.generation).toBeGreaterThan(created.metadata.generation!);
    expect(status(d).observedGeneration).toBe(d.metadata.generation);
    expect(d.metadata.annotations!["deployment.kubernetes.io/revision"]).toBe("2");
    // `kubectl rollout undo` writes the old ReplicaSet's template back (with `creationTimestamp: null`): same hash.
    const old = sets.find((rs) => rs.metadata.annotations!["deployment.kubernetes.io/revision"] === "1")!;
    const template = structuredClone((old.spec as any).template);
    delete template.metadata.labels["pod-template-hash"];
    template.metadata.creationTimestamp = null;
    c.api.update(t(c, "deploy"), "default", "api", { ...d, spec: { ...(d.spec as object), template } });
    const undone = c.api.list(t(c, "rs"), { namespace: "default", labelSelector: "app=api" }).items;
    expect(undone).toHaveLength(2);
    expect(
      undone.find((rs) => rs.metadata.name === old.metadata.name)!.metadata.annotations![
        "deployment.kubernetes.io/revision"
      ],
    ).toBe("3");
    await c.close();
  });

  it("does not roll out a new template while paused, and does on resume", async () => {
    const c = await cluster();
    c.api.create(t(c, "deploy"), "default", deployment("p", 2));
    const paused = c.api.get(t(c, "deploy"), "default", "p");
    c.api.update(t(c, "deploy"), "default", "p", {
      ...paused,
      spec: { ...(paused.spec as object), paused: true },
    });
    const next = c.api.get(t(c, "deploy"), "default", "p");
    const spec = next.spec as any;
    spec.template.spec.containers[0].image = "nginx:1.28";
    spec.replicas = 3;
    c.api.update(t(c, "deploy"), "default", "p", next);
    expect(podsOf(c, "default", "p").map((p) => (p.spec as any).containers[0].image)).toEqual([
      "nginx:1.27",
      "nginx:1.27",
      "nginx:1.27",
    ]);
    expect(status(c.api.get(t(c, "deploy"), "default", "p")).conditions[1]).toMatchObject({
      reason: "DeploymentPaused",
    });
    const resumed = c.api.get(t(c, "deploy"), "default", "p");
    c.api.update(t(c, "deploy"), "default", "p", {
      ...resumed,
      spec: { ...(resumed.spec as object), paused: false },
    });
    expect(podsOf(c, "default", "p").map((p) => (p.spec as any).containers[0].image)).toEqual([
      "nginx:1.28",
      "nginx:1.28",
      "nginx:1.28",
    ]);
    await c.close();
  });

  it("recreates a deleted pod and removes everything with the deployment", async () => {
    const c = await cluster();
    c.api.create(t(c, "deploy"), "default", deployment("w", 2));
    const victim = podsOf(c, "default", "w")[0]!;
    c.api.delete(t(c, "pods"), "default", victim.metadata.name);
    const after = podsOf(c, "default", "w");
    expect(after).toHaveLength(2);
    expect(after.map((p) => p.metadata.name)).not.toContain(victim.metadata.name);
    const killing = c.api.list(t(c, "events", ""), {
      namespace: "default",
      fieldSelector: `involvedObject.name=${victim.metadata.name},reason=Killing`,
    }).items;
    expect(killing.map((e) => e.message)).toEqual(["Stopping container web"]);
    c.api.delete(t(c, "deploy"), "default", "w");
    expect(podsOf(c, "default", "w")).toEqual([]);
    expect(c.api.list(t(c, "rs"), { namespace: "default", labelSelector: "app=w" }).items).toEqual([]);
    await c.close();
  });
});

describe("daemonsets", () => {
  it("run one pod per node and replace them when the template changes", async () => {
    const c = await cluster();
    const ds = c.api.get(t(c, "ds"), "kube-system", "kube-proxy");
    const before = c.api.list(t(c, "pods"), {
      namespace: "kube-system",
      labelSelector: "k8s-app=kube-proxy",
    }).items;
    expect(before.map((p) => (p.spec as any).nodeName).sort()).toEqual([
      "egresslab-control-plane",
      "egresslab-worker",
      "egresslab-worker2",
    ]);
    const spec = ds.spec as any;
    spec.template.spec.containers[0].image = "registry.k8s.io/kube-proxy:v1.32.3";
    c.api.update(t(c, "ds"), "kube-system", "kube-proxy", ds);
    const after = c.api.list(t(c, "pods"), {
      namespace: "kube-system",
      labelSelector: "k8s-app=kube-proxy",
    }).items;
    expect(after).toHaveLength(3);
    expect(after.map((p) => (p.spec as any).containers[0].image)).toEqual(
      Array(3).fill("registry.k8s.io/kube-proxy:v1.32.3"),
    );
    expect(
      after.map((p) => p.metadata.name).filter((n) => before.some((b) => b.metadata.name === n)),
    ).toEqual([]);
    expect(status(c.api.get(t(c, "ds"), "kube-system", "kube-proxy"))).toMatchObject({
      desiredNumberScheduled: 3,
      numberReady: 3,
      updatedNumberScheduled: 3,
    });
    await c.close();
  });
});

describe("namespaces", () => {
  it("get a default ServiceAccount and kube-root-ca.crt, and deletion removes their contents", async () => {
    const c = await cluster();
    c.api.create(t(c, "ns"), undefined, { apiVersion: "v1", kind: "Namespace", metadata: { name: "shop" } });
    expect(c.api.get(t(c, "sa"), "shop", "default").metadata.namespace).toBe("shop");
    expect(Object.keys(c.api.get(t(c, "cm"), "shop", "kube-root-ca.crt").data as object)).toEqual(["ca.crt"]);
    c.api.create(t(c, "deploy"), "shop", deployment("cart", 2));
    c.api.create(t(c, "svc"), "shop", {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "cart" },
      spec: { selector: { app: "cart" }, ports: [{ port: 80, targetPort: "http" }] },
    });
    const ns = c.api.delete(t(c, "ns"), undefined, "shop");
    expect((ns.status as any).phase).toBe("Terminating");
    for (const k of ["pods", "deploy", "rs", "svc", "ep", "sa", "cm"])
      expect(c.api.list(t(c, k), { namespace: "shop" }).items).toEqual([]);
    await new Promise((r) => setImmediate(r));
    expect(() => c.api.get(t(c, "ns"), undefined, "shop")).toThrow(ApiError);
    await c.close();
  });
});

describe("services", () => {
  it("allocate ClusterIPs and list ready pods with named target ports as endpoints", async () => {
    const c = await cluster();
    c.api.create(t(c, "deploy"), "default", deployment("web", 2));
    const svc = c.api.create(t(c, "svc"), "default", {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "web" },
      spec: { selector: { app: "web" }, ports: [{ name: "http", port: 80, targetPort: "http" }] },
    }).object;
    expect(inCidr((svc.spec as any).clusterIP, "10.96.0.0/12")).toBe(true);
    expect((svc.spec as any).clusterIPs).toEqual([(svc.spec as any).clusterIP]);
    const ep = c.api.get(t(c, "ep"), "default", "web") as any;
    const ips = podsOf(c, "default", "web")
      .map((p) => status(p).podIP)
      .sort();
    expect(ep.subsets[0].addresses.map((a: any) => a.ip).sort()).toEqual(ips);
    expect(ep.subsets[0].ports).toEqual([{ name: "http", port: 8080, protocol: "TCP" }]);
    const slices = c.api.list(t(c, "endpointslices"), {
      namespace: "default",
      labelSelector: "kubernetes.io/service-name=web",
    }).items as any[];
    expect(slices).toHaveLength(1);
    expect(slices[0].endpoints.map((e: any) => e.addresses[0]).sort()).toEqual(ips);
    expect(slices[0].ports).toEqual([{ name: "http", port: 8080, protocol: "TCP" }]);
    const taken = (() => {
      try {
        c.api.create(t(c, "svc"), "default", {
          apiVersion: "v1",
          kind: "Service",
          metadata: { name: "dns2" },
          spec: { clusterIP: "10.96.0.10", ports: [{ port: 53 }] },
        });
      } catch (e) {
        return e as ApiError;
      }
    })();
    expect(taken?.message).toBe(
      'Service "dns2" is invalid: spec.clusterIPs: Invalid value: []string{"10.96.0.10"}: failed to allocate IP 10.96.0.10: provided IP is already allocated',
    );
    c.api.delete(t(c, "svc"), "default", "web");
    expect(() => c.api.get(t(c, "ep"), "default", "web")).toThrow(ApiError);
    await c.close();
  });
});

describe("readiness gates", () => {
  it("keep a running pod out of Ready and out of its Services' endpoints until the gate's condition is set", async () => {
    const c = await cluster();
    c.api.create(t(c, "deploy"), "default", deployment("web", 1));
    c.api.create(t(c, "svc"), "default", {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "web" },
      spec: { selector: { app: "web" }, ports: [{ port: 80, targetPort: 8080 }] },
    });
    c.api.create(t(c, "pods"), "default", {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "gated", labels: { app: "web" } },
      spec: {
        readinessGates: [{ conditionType: "egresslab.io/probe-only" }],
        containers: [{ name: "web", image: "nginx:1.27" }],
      },
    });
    const gated = c.api.get(t(c, "pods"), "default", "gated");
    expect(status(gated).phase).toBe("Running");
    expect(status(gated).conditions.find((x: any) => x.type === "Ready")).toMatchObject({
      status: "False",
      reason: "ReadinessGatesNotReady",
      message: 'corresponding condition of pod readiness gate "egresslab.io/probe-only" does not exist.',
    });
    expect(status(gated).conditions.find((x: any) => x.type === "ContainersReady")?.status).toBe("True");
    const ep = c.api.get(t(c, "ep"), "default", "web") as any;
    const ready = podsOf(c, "default", "web").filter((p) => p.metadata.name !== "gated");
    expect(ep.subsets[0].addresses.map((a: any) => a.ip)).toEqual(ready.map((p) => status(p).podIP));
    expect(ep.subsets[0].notReadyAddresses.map((a: any) => a.ip)).toEqual([status(gated).podIP]);
    await c.close();
  });
});

describe("egress gateways", () => {
  it("run gateway pods with IPs from the pool they name", async () => {
    const c = await cluster();
    c.api.create(t(c, "ippools"), undefined, {
      apiVersion: "projectcalico.org/v3",
      kind: "IPPool",
      metadata: { name: "egress-ippool-1" },
      spec: { cidr: "10.10.10.0/30", blockSize: 32, nodeSelector: "!all()" },
    });
    c.api.create(t(c, "egressgateways"), "default", {
      apiVersion: "operator.tigera.io/v1",
      kind: "EgressGateway",
      metadata: { name: "egress-gateway" },
      spec: {
        replicas: 2,
        ipPools: [{ cidr: "10.10.10.0/30" }],
        template: { metadata: { labels: { "egress-code": "red" } } },
      },
    });
    const pods = c.api.list(t(c, "pods"), { namespace: "default", labelSelector: "egress-code=red" }).items;
    expect(pods).toHaveLength(2);
    expect(pods.map((p) => status(p).podIP).sort()).toEqual(["10.10.10.0", "10.10.10.1"]);
    expect(pods.every((p) => status(p).phase === "Running")).toBe(true);
    const egw = c.api.get(t(c, "egressgateways"), "default", "egress-gateway");
    expect(status(egw)).toMatchObject({ state: "Ready", conditions: [{ type: "Ready", status: "True" }] });
    c.api.create(t(c, "egressgateways"), "default", {
      apiVersion: "operator.tigera.io/v1",
      kind: "EgressGateway",
      metadata: { name: "plain" },
      spec: { ipPools: [{ name: "egress-ippool-1" }] },
    });
    const plain = c.api.list(t(c, "pods"), {
      namespace: "default",
      labelSelector: "projectcalico.org/egw=plain",
    }).items;
    expect(plain).toHaveLength(1);
    expect(status(plain[0]!).podIP).toBe("10.10.10.2");
    c.api.create(t(c, "deploy"), "default", deployment("app", 1));
    expect(inCidr(status(podsOf(c, "default", "app")[0]!).podIP, "192.168.0.0/16")).toBe(true);
    c.api.delete(t(c, "egressgateways"), "default", "egress-gateway");
    expect(
      c.api.list(t(c, "pods"), { namespace: "default", labelSelector: "egress-code=red" }).items,
    ).toEqual([]);
    await c.close();
  });
});

describe("limits", () => {
  it("stops at the cluster's pod limit and leaves pods beyond node capacity Pending", async () => {
    const c = await cluster();
    c.api.create(t(c, "deploy"), "default", deployment("many", 700));
    const pods = podsOf(c, "default", "many");
    const all = c.api.list(t(c, "pods"), {}).items;
    expect(all).toHaveLength(600);
    const pending = pods.filter((p) => status(p).phase === "Pending");
    expect(pending.length).toBeGreaterThan(300);
    for (const node of ["egresslab-worker", "egresslab-worker2"])
      expect(all.filter((p) => (p.spec as any).nodeName === node)).toHaveLength(110);
    expect(status(pending[0]!).conditions[0].message).toContain("2 Too many pods");
    const failed = c.api.list(t(c, "events", ""), {
      namespace: "default",
      fieldSelector: "reason=FailedCreate",
    }).items;
    expect(failed).toHaveLength(1);
    c.api.delete(t(c, "pods"), "default", pods[0]!.metadata.name);
    const again = c.api.list(t(c, "events", ""), {
      namespace: "default",
      fieldSelector: "reason=FailedCreate",
    }).items;
    expect(again).toHaveLength(1);
    expect(again[0]!.count).toBeGreaterThan(1);
    expect(failed[0]?.message).toMatch(
      /^Error creating: pods "many-\w+-" is forbidden: this simulated cluster runs at most 600 pods$/,
    );
    expect(c.api.list(t(c, "events", ""), {}).items.length).toBeLessThanOrEqual(1100);
    await c.close();
  });
});

describe("scheduling", () => {
  it("honours topology spread constraints: kind nodes have no zone label", async () => {
    const c = await cluster();
    const zoned = deployment("zoned", 2) as any;
    zoned.spec.template.spec.topologySpreadConstraints = [
      {
        maxSkew: 1,
        topologyKey: "topology.kubernetes.io/zone",
        whenUnsatisfiable: "DoNotSchedule",
        labelSelector: { matchLabels: { app: "zoned" } },
      },
    ];
    c.api.create(t(c, "deploy"), "default", zoned);
    const pending = podsOf(c, "default", "zoned");
    expect(pending.map((p) => status(p).phase)).toEqual(["Pending", "Pending"]);
    expect(status(pending[0]!).conditions[0].message).toBe(
      "0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, 2 node(s) didn't match pod topology spread constraints (missing required label). preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.",
    );
    const spread = deployment("spread", 4) as any;
    spread.spec.template.spec.topologySpreadConstraints = [
      {
        maxSkew: 1,
        topologyKey: "kubernetes.io/hostname",
        whenUnsatisfiable: "DoNotSchedule",
        labelSelector: { matchLabels: { app: "spread" } },
      },
    ];
    c.api.create(t(c, "deploy"), "default", spread);
    // nodeTaintsPolicy defaults to Ignore: the tainted control plane is a domain with no pods, so the skew caps
    // each worker at one pod and the rest stay Pending, as on a real kind cluster.
    const nodes = podsOf(c, "default", "spread")
      .map((p) => (p.spec as any).nodeName ?? "-")
      .sort();
    expect(nodes).toEqual(["-", "-", "egresslab-worker", "egresslab-worker2"]);
    await c.close();
  });

  it("leaves a pod bound to a node that does not exist Pending", async () => {
    const c = await cluster();
    c.api.create(t(c, "pods"), "default", {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "lost" },
      spec: { nodeName: "ghost", containers: [{ name: "c", image: "busybox" }] },
    });
    const p = c.api.get(t(c, "pods"), "default", "lost");
    expect(status(p).phase).toBe("Pending");
    expect(status(p).podIP).toBeUndefined();
    await c.close();
  });

  it("reports unschedulable pods with the scheduler's message", async () => {
    const c = await cluster();
    c.api.create(t(c, "pods"), "default", {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "picky" },
      spec: { nodeSelector: { disk: "ssd" }, containers: [{ name: "c", image: "busybox" }] },
    });
    const p = c.api.get(t(c, "pods"), "default", "picky");
    expect(status(p).phase).toBe("Pending");
    expect(status(p).conditions[0]).toMatchObject({
      type: "PodScheduled",
      status: "False",
      reason: "Unschedulable",
    });
    expect(status(p).conditions[0].message).toBe(
      "0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, 2 node(s) didn't match Pod's node affinity/selector. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.",
    );
    await c.close();
  });
});
