/**
 * A small kind-like cluster for tests and benchmarks of the dataplane: objects are written straight into a
 * `MemoryStore` (pods already scheduled, with IPs), the policy engine is the real one, and time is a `VirtualClock`.
 */
import { PolicyEngine } from "../calico/index.ts";
import { VirtualClock } from "../shared/clock.ts";
import { noopLogger } from "../shared/logger.ts";
import type { ExecIO } from "../sim/types.ts";
import { MemoryStore } from "../store/object-store.ts";
import type { ClusterApi, KubeObject } from "../store/types.ts";
import type { Catalogue } from "./catalogue.ts";
import { createDataplane, type Dataplane } from "./dataplane.ts";
import type { PolicyDecider } from "./policy.ts";

const KEYS: Record<string, string> = {
  Namespace: "core/namespaces",
  Node: "core/nodes",
  Pod: "core/pods",
  Service: "core/services",
  Endpoints: "core/endpoints",
  ServiceAccount: "core/serviceaccounts",
  ConfigMap: "core/configmaps",
  Deployment: "apps/deployments",
  NetworkPolicy: "networking.k8s.io/networkpolicies",
  IPPool: "projectcalico.org/ippools",
  FelixConfiguration: "projectcalico.org/felixconfigurations",
  EgressGatewayPolicy: "projectcalico.org/egressgatewaypolicies",
  EgressGateway: "operator.tigera.io/egressgateways",
  GlobalNetworkPolicy: "projectcalico.org/globalnetworkpolicies",
  GlobalNetworkSet: "projectcalico.org/globalnetworksets",
  NetworkSet: "projectcalico.org/networksets",
  Tier: "projectcalico.org/tiers",
  StagedGlobalNetworkPolicy: "projectcalico.org/stagedglobalnetworkpolicies",
  StagedNetworkPolicy: "projectcalico.org/stagednetworkpolicies",
};

/** The store key of a kind (Calico `NetworkPolicy` when `apiVersion` is projectcalico.org/v3). */
export function keyOf(obj: KubeObject): string {
  if (obj.kind === "NetworkPolicy" && obj.apiVersion.startsWith("projectcalico.org"))
    return "projectcalico.org/networkpolicies";
  const k = KEYS[obj.kind];
  if (!k) throw new Error(`testkit: unknown kind ${obj.kind}`);
  return k;
}

export interface PodSpecInput {
  namespace?: string;
  name: string;
  ip: string;
  image?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  node?: string;
  ports?: { containerPort: number; protocol?: string; name?: string }[];
  generateName?: string;
  ownerKind?: string;
  dnsPolicy?: string;
}

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface TestCluster {
  store: MemoryStore;
  clock: VirtualClock;
  dataplane: Dataplane;
  policy: PolicyDecider;
  /** Creates or replaces an object (and tells the policy engine). */
  apply(obj: KubeObject): void;
  /** Deletes an object (and tells the policy engine). */
  remove(obj: KubeObject): void;
  /** Adds a running, ready pod with the given address. */
  addPod(p: PodSpecInput): KubeObject;
  /** Runs a command (`sh -c` for a string) in a pod, advancing the virtual clock until it finishes. */
  exec(
    ns: string,
    pod: string,
    command: string | string[],
    opts?: { tty?: boolean; stdin?: string },
  ): Promise<ExecResult & { elapsedMs: number }>;
  /** Moves the clock forward in steps so background work runs on time. */
  advance(ms: number, stepMs?: number): Promise<void>;
  /** Stops the dataplane's background work. */
  close(): void;
}

const NODES: [string, string][] = [
  ["kind-control-plane", "172.18.0.2"],
  ["kind-worker", "172.18.0.3"],
  ["kind-worker2", "172.18.0.4"],
];

export function podObject(p: PodSpecInput): KubeObject {
  const ns = p.namespace ?? "default";
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name: p.name,
      namespace: ns,
      uid: `uid-${ns}-${p.name}`,
      creationTimestamp: "2026-01-01T00:00:00Z",
      labels: p.labels ?? {},
      ...(p.annotations ? { annotations: p.annotations } : {}),
      ...(p.generateName ? { generateName: p.generateName } : {}),
      ...(p.ownerKind
        ? { ownerReferences: [{ apiVersion: "v1", kind: p.ownerKind, name: p.name, uid: "owner" }] }
        : {}),
    },
    spec: {
      nodeName: p.node ?? "kind-worker",
      serviceAccountName: "default",
      ...(p.dnsPolicy ? { dnsPolicy: p.dnsPolicy } : {}),
      containers: [{ name: "main", image: p.image ?? "nicolaka/netshoot", ports: p.ports ?? [] }],
    },
    status: {
      phase: "Running",
      podIP: p.ip,
      hostIP: NODES.find(([n]) => n === (p.node ?? "kind-worker"))?.[1] ?? "172.18.0.3",
      startTime: "2026-01-01T00:00:00Z",
      conditions: [{ type: "Ready", status: "True" }],
      containerStatuses: [
        {
          name: "main",
          containerID: `containerd://${ns}-${p.name}-main`,
          ready: true,
          restartCount: 0,
          started: true,
          state: { running: { startedAt: "2026-01-01T00:00:00Z" } },
          lastState: {},
        },
      ],
    },
  };
}

export function serviceObject(
  ns: string,
  name: string,
  ip: string,
  selector: Record<string, string>,
  ports: { name?: string; port: number; targetPort?: number | string; protocol?: string }[],
): KubeObject {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name, namespace: ns, creationTimestamp: "2025-12-31T00:00:00Z" },
    spec: {
      clusterIP: ip,
      clusterIPs: [ip],
      type: "ClusterIP",
      selector,
      ports: ports.map((p) => ({ protocol: "TCP", ...p })),
    },
  };
}

/** A kind-like cluster: three nodes, the default IP pool (natOutgoing), CoreDNS behind kube-dns, `default/kubernetes`. */
export function createTestCluster(
  opts: {
    policy?: PolicyDecider;
    edition?: "enterprise" | "oss";
    catalogue?: Catalogue;
    seed?: number;
    flowCapacity?: number;
    traffic?: boolean;
  } = {},
): TestCluster {
  const store = new MemoryStore();
  const clock = new VirtualClock();
  const policy = opts.policy ?? new PolicyEngine({ edition: opts.edition ?? "enterprise" });
  const apply = (obj: KubeObject): void => {
    const key = keyOf(obj);
    const exists = store.get(key, obj.metadata.namespace, obj.metadata.name);
    obj.metadata.resourceVersion = store.nextVersion();
    store.commit(key, exists ? "MODIFIED" : "ADDED", obj);
    policy.upsert(obj);
  };
  const remove = (obj: KubeObject): void => {
    const key = keyOf(obj);
    const cur = store.get(key, obj.metadata.namespace, obj.metadata.name);
    if (!cur) return;
    store.commit(key, "DELETED", cur);
    policy.remove(cur);
  };
  for (const ns of ["default", "kube-system", "calico-system", "local-path-storage"])
    apply({
      apiVersion: "v1",
      kind: "Namespace",
      metadata: { name: ns, labels: { "kubernetes.io/metadata.name": ns } },
    });
  for (const [name, ip] of NODES)
    apply({
      apiVersion: "v1",
      kind: "Node",
      metadata: { name, labels: { "kubernetes.io/hostname": name } },
      status: {
        addresses: [
          { type: "InternalIP", address: ip },
          { type: "Hostname", address: name },
        ],
      },
    });
  apply({
    apiVersion: "projectcalico.org/v3",
    kind: "IPPool",
    metadata: { name: "default-ipv4-ippool" },
    spec: { cidr: "192.168.0.0/16", blockSize: 26, natOutgoing: true, nodeSelector: "all()" },
  });
  apply(
    serviceObject("default", "kubernetes", "10.96.0.1", {}, [{ name: "https", port: 443, targetPort: 6443 }]),
  );
  const dnsPorts = [
    { name: "dns", containerPort: 53, protocol: "UDP" },
    { name: "dns-tcp", containerPort: 53, protocol: "TCP" },
    { name: "metrics", containerPort: 9153, protocol: "TCP" },
  ];
  for (const [i, name] of ["coredns-7db6d8ff4d-4xk2p", "coredns-7db6d8ff4d-9zq7m"].entries())
    apply(
      podObject({
        namespace: "kube-system",
        name,
        ip: `192.168.${i === 0 ? 82 : 110}.${2 + i}`,
        node: "kind-control-plane",
        image: "registry.k8s.io/coredns/coredns:v1.11.3",
        labels: { "k8s-app": "kube-dns", "pod-template-hash": "7db6d8ff4d" },
        ports: dnsPorts,
        generateName: "coredns-7db6d8ff4d-",
      }),
    );
  apply(
    serviceObject("kube-system", "kube-dns", "10.96.0.10", { "k8s-app": "kube-dns" }, [
      { name: "dns", port: 53, targetPort: 53, protocol: "UDP" },
      { name: "dns-tcp", port: 53, targetPort: 53, protocol: "TCP" },
      { name: "metrics", port: 9153, targetPort: 9153, protocol: "TCP" },
    ]),
  );
  const api = { types: () => [] } as unknown as ClusterApi;
  const dataplane = createDataplane({
    clusterId: "test",
    store,
    api,
    clock,
    seed: opts.seed ?? 42,
    edition: opts.edition ?? "enterprise",
    profile: "test",
    logger: noopLogger,
    policy,
    ...(opts.catalogue ? { catalogue: opts.catalogue } : {}),
    ...(opts.flowCapacity ? { flowCapacity: opts.flowCapacity } : {}),
    backgroundTraffic: opts.traffic ?? true,
  });

  const settle = async <T>(p: Promise<T>): Promise<T> => {
    let done = false;
    p.then(
      () => (done = true),
      () => (done = true),
    );
    for (let i = 0; i < 100_000 && !done; i++) {
      await new Promise<void>((r) => setImmediate(r));
      if (!done) await clock.advance(250);
    }
    return p;
  };

  return {
    store,
    clock,
    dataplane,
    policy,
    apply,
    remove,
    addPod(p) {
      const o = podObject(p);
      apply(o);
      return o;
    },
    async exec(ns, pod, command, o = {}) {
      let stdout = "";
      let stderr = "";
      const stdinCbs: ((d: Buffer) => void)[] = [];
      const endCbs: (() => void)[] = [];
      const ctl = new AbortController();
      const io: ExecIO = {
        stdout: (d) => void (stdout += d.toString()),
        stderr: (d) => void (stderr += d.toString()),
        onStdin: (cb) => void stdinCbs.push(cb),
        onStdinEnd: (cb) => void endCbs.push(cb),
        onResize: () => {},
        signal: ctl.signal,
      };
      const argv = typeof command === "string" ? ["sh", "-c", command] : command;
      const start = clock.now();
      const p = dataplane.runtime.exec(
        { namespace: ns, pod, command: argv, tty: o.tty ?? false, stdin: o.stdin !== undefined },
        io,
      );
      if (o.stdin !== undefined) {
        const data = o.stdin;
        setImmediate(() => {
          for (const cb of stdinCbs) cb(Buffer.from(data));
          for (const cb of endCbs) cb();
        });
      }
      const code = await settle(p);
      return { code, stdout, stderr, elapsedMs: clock.now() - start };
    },
    async advance(ms, stepMs = 1000) {
      for (let t = 0; t < ms; t += stepMs) {
        await clock.advance(Math.min(stepMs, ms - t));
        await new Promise<void>((r) => setImmediate(r));
      }
    },
    close() {
      dataplane.close();
    },
  };
}
