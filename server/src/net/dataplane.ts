/**
 * The simulated dataplane of one cluster: pod networking, cluster DNS, the virtual internet, egress gateways, flow
 * logs and background traffic, and the container runtime (`sim/runtime/containers.ts`) wired to them. `createDataplane` is called once per cluster by the cluster
 * composition (`sim/cluster.ts`).
 */
import { projectedToken } from "../sim/tokens.ts";
import type { ClusterApi, ObjectStore } from "../store/types.ts";
import { resourceKey } from "../store/types.ts";
import type { CalicoEdition, DataplaneApi, PodRuntime } from "../sim/types.ts";
import type { Clock } from "../shared/clock.ts";
import type { Logger } from "../shared/logger.ts";
import { ApiError } from "../store/types.ts";
import { startTraffic } from "../traffic/generator.ts";
import type { Catalogue } from "./catalogue.ts";
import { defaultCatalogue } from "./catalogue-file.ts";
import { ClusterHosts } from "./cluster-hosts.ts";
import { Dns, resolvConfFor } from "./dns.ts";
import { createPolicyEngine } from "./engine.ts";
import { syncEngine } from "./engine-sync.ts";
import { FlowLog, parseFlowQuery } from "./flows.ts";
import { Internet } from "./internet.ts";
import type { DataplaneState } from "./state.ts";
import { Network } from "./network.ts";
import { createPodNet } from "./pod-view.ts";
import type { PodNet } from "./podnet.ts";
import type { PolicyDecider } from "./policy.ts";
import { podIp, podSpec, podStatus, svcSpec, targetPortOn, Topology } from "./topology.ts";
import { startContainers } from "../sim/runtime/containers.ts";
import { podListeners } from "../sim/runtime/listeners.ts";
import { ContainerLogs } from "../sim/runtime/logs.ts";
import type { WhiskerApi } from "./whisker-http.ts";

export interface DataplaneContext {
  clusterId: string;
  store: ObjectStore;
  api: ClusterApi;
  clock: Clock;
  seed: number;
  edition: CalicoEdition;
  /** The profile the cluster was created from (e.g. `bare`), for profile-specific data such as traffic. */
  profile: string;
  logger: Logger;
  /** The policy decisions; default: a `PolicyEngine` of the cluster's edition fed from the store. */
  policy?: PolicyDecider;
  /** The virtual internet; default: `clusters/internet.yaml`. */
  catalogue?: Catalogue;
  /** Flow records kept per cluster (a ring); default 5000. */
  flowCapacity?: number;
  /** Generate the traffic workloads declare (`egresslab.io/traffic`); default true. */
  backgroundTraffic?: boolean;
  /** A state from `Dataplane.snapshot()` (after a restart): rotations, schedule position, flow records, logs. */
  restore?: DataplaneState;
  /**
   * Called after a rotation and when a container's attempt begins or ends (a restart), so the owner can save them.
   * New flow records and log lines do not call it: every idle cluster records flows and writes logs all the time,
   * and they are saved when the cluster closes (as Goldmane keeps flows in memory only).
   */
  onChange?: () => void;
  /**
   * Called when a command changed a pod's files, before the exec reports its end; resolves once the state (with the
   * files) is saved. Without it, pods' files are saved with the rest of the state (after a rotation, on close).
   */
  saveFiles?: () => Promise<void>;
}

export interface Dataplane {
  runtime: PodRuntime;
  /** Every container's log: the kubelet writes its main processes' output there and begins and ends attempts. */
  logs: ContainerLogs;
  api: DataplaneApi;
  /** The network as seen from inside a pod (resolve, connect, ping), without a shell; undefined if no such pod. */
  podNet(namespace: string, name: string): PodNet | undefined;
  /** The state that survives a restart (pass it back as `DataplaneContext.restore`); JSON-serialisable. */
  snapshot(): DataplaneState;
  /** Stops timers and subscriptions. */
  close(): void;
}

export function createDataplane(ctx: DataplaneContext): Dataplane {
  const log = ctx.logger.child({ cluster: ctx.clusterId, component: "dataplane" });
  const catalogue = ctx.catalogue ?? defaultCatalogue();
  const topo = new Topology(ctx.store);
  const internet = new Internet(catalogue, ctx.seed, ctx.clock.now(), ctx.restore?.internet);
  const policy = ctx.policy ?? createPolicyEngine(ctx.edition);
  const flows = new FlowLog(ctx.flowCapacity ?? 5000);
  if (ctx.restore) flows.restore(ctx.restore.flows);
  const onChange = ctx.onChange ?? (() => {});
  const logs = new ContainerLogs({
    defaultContainer: (ns, name) => {
      const pod = ctx.store.get("core/pods", ns, name);
      return pod ? podSpec(pod).containers?.[0]?.name : undefined;
    },
    onChange: () => onChange(),
    ...(ctx.restore?.logs ? { restore: ctx.restore.logs } : {}),
  });
  const whisker: WhiskerApi = {
    records: () => flows.snapshot(),
    watch: (cb) => flows.watch({ limit: 1 }, cb),
    nowMs: () => ctx.clock.now(),
    domains: ctx.edition === "enterprise",
  };
  const listeners = podListeners({ clock: ctx.clock, logs, whisker });
  const net = new Network({
    listeners,
    store: ctx.store,
    topo,
    internet,
    policy,
    flows,
    logs,
    clock: ctx.clock,
    seed: ctx.seed,
  });
  const hosts = new ClusterHosts(ctx.store);
  internet.namedBy = (ip) => hosts.namesOn(ip);
  const dns = new Dns(net, hosts);
  net.resolveFrom = (pod, name) => {
    const r = dns.resolve(pod, name, resolvConfFor(pod, catalogue.upstream)).result;
    return r.kind === "answer" ? r.ips : [];
  };
  const keys = ctx.api.types().map(resourceKey);
  const unsyncEngine = ctx.policy ? () => {} : syncEngine(ctx.store, policy, keys);
  const unsubscribe = ctx.store.subscribe((c) => {
    topo.changed(c.key);
    if (c.key === "core/pods" && c.type === "DELETED")
      net.forgetPod(c.object.metadata.namespace ?? "default", c.object.metadata.name);
  });
  const containers = startContainers({
    store: ctx.store,
    clock: ctx.clock,
    logs,
    upstream: catalogue.upstream,
    podNet: (pod) => createPodNet(net, dns, pod),
    listeners,
    ...(ctx.restore?.pods ? { restoreFiles: ctx.restore.pods } : {}),
    filesChanged: () => ctx.saveFiles?.() ?? Promise.resolve(),
    serviceAccountToken: (pod) => projectedToken(ctx.api, ctx.store, ctx.clusterId, pod, ctx.clock.now()),
  });

  const stopTraffic =
    ctx.backgroundTraffic === false
      ? () => {}
      : startTraffic({
          store: ctx.store,
          clock: ctx.clock,
          seed: ctx.seed,
          logger: log,
          logs,
          podNet: (pod) => createPodNet(net, dns, pod),
        });

  return {
    runtime: containers.runtime,
    logs,
    podNet(namespace, name) {
      const pod = ctx.store.get("core/pods", namespace, name);
      return pod && podStatus(pod).podIP ? createPodNet(net, dns, pod) : undefined;
    },
    api: {
      queryFlows: (q) => ({ items: flows.query(parseFlowQuery(q)) }),
      watchFlows: (q, cb) => flows.watch(parseFlowQuery(q), cb),
      proxyToService(ns, name, port, req) {
        const svc = ctx.store.get("core/services", ns, name);
        if (!svc)
          throw new ApiError(404, "NotFound", `services "${name}" not found`, { name, kind: "services" });
        const ports = svcSpec(svc).ports ?? [];
        const sp =
          port === "" && ports.length === 1
            ? ports[0]
            : ports.find((p) => p.name === port || String(p.port) === port);
        const unavailable = {
          kind: "unavailable" as const,
          message: `no endpoints available for service "${name}"`,
        };
        if (!sp) return unavailable;
        const backend = topo
          .backends(svc)
          .sort((a, b) => a.metadata.name.localeCompare(b.metadata.name))
          .map((pod) => ({ pod, port: targetPortOn(sp, pod) }))
          .find((b) => b.port !== undefined && podIp(b.pod));
        if (!backend) return unavailable;
        // The API server dials the endpoint from its own host: kube-apiserver runs host-networked on the control plane.
        const apiserver = ctx.store
          .list("core/pods", "kube-system")
          .find((p) => p.metadata.labels?.component === "kube-apiserver" && podStatus(p).phase === "Running");
        const dst = `${podIp(backend.pod)!}:${backend.port!}`;
        if (!apiserver)
          return {
            kind: "unavailable",
            message: `error trying to reach service: dial tcp ${dst}: i/o timeout`,
          };
        const d = net.connect(apiserver, {
          dstIp: podIp(backend.pod)!,
          dstPort: backend.port!,
          protocol: "TCP",
        });
        const o = d.outcome;
        if (o.kind === "established") {
          if (!o.peer.speaksHttp)
            return { kind: "unavailable", message: `error trying to reach service: EOF` };
          return { kind: "answer", response: o.peer.http({ ...req, port: backend.port! }) };
        }
        const why =
          o.kind === "refused"
            ? "connect: connection refused"
            : o.kind === "unreachable"
              ? "connect: no route to host"
              : "i/o timeout";
        return { kind: "unavailable", message: `error trying to reach service: dial tcp ${dst}: ${why}` };
      },
      rotate: (body) => {
        const r = internet.rotate(body, ctx.clock.now());
        log.info("internet: rotated", { domain: r.domain, ips: r.ips });
        onChange();
        return r;
      },
    },
    snapshot: () => {
      const pods = containers.savedFiles();
      return {
        version: 1,
        internet: internet.snapshot(ctx.clock.now()),
        flows: flows.snapshot(),
        logs: logs.snapshot(),
        ...(Object.keys(pods).length ? { pods } : {}),
      };
    },
    close() {
      stopTraffic();
      containers.close();
      unsubscribe();
      unsyncEngine();
    },
  };
}
