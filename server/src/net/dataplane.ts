/**
 * The simulated dataplane of one cluster: pod networking, cluster DNS, the virtual internet, egress gateways, the
 * shell inside pods, flow logs and background traffic. `createDataplane` is called once per cluster by the cluster
 * composition (`sim/cluster.ts`).
 */
import type { ClusterApi, KubeObject, ObjectStore } from "../store/types.ts";
import { resourceKey } from "../store/types.ts";
import type { CalicoEdition, DataplaneApi, ExecIO, ExecRequest, PodRuntime } from "../sim/types.ts";
import type { Clock } from "../shared/clock.ts";
import type { Logger } from "../shared/logger.ts";
import { ApiError } from "../store/types.ts";
import { containerEnv } from "../shell/environment.ts";
import { PodFileSystem } from "../shell/files.ts";
import { imageProfile } from "../sim/runtime/images.ts";
import { execSession } from "../shell/session.ts";
import type { ShellEnv } from "../shell/types.ts";
import { startTraffic } from "../traffic/generator.ts";
import type { Catalogue } from "./catalogue.ts";
import { defaultCatalogue } from "./catalogue-file.ts";
import { Dns, hostsFileFor, resolvConfFor } from "./dns.ts";
import { createPolicyEngine } from "./engine.ts";
import { syncEngine } from "./engine-sync.ts";
import { FlowLog, parseFlowQuery } from "./flows.ts";
import { Internet } from "./internet.ts";
import { PodLogs } from "./logs.ts";
import type { DataplaneState } from "./state.ts";
import { Network } from "./network.ts";
import { createPodNet } from "./pod-view.ts";
import type { PodNet } from "./podnet.ts";
import type { PolicyDecider } from "./policy.ts";
import { podIp, podSpec, podStatus, svcSpec, targetPortOn, Topology } from "./topology.ts";
import { connectListener, noListenerMessage, peerListener } from "../sim/runtime/port-forward.ts";
import { whiskerListener, type WhiskerApi } from "./whisker-http.ts";

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
  /** A state from `Dataplane.snapshot()` (after a restart): rotations, schedule position and flow records. */
  restore?: DataplaneState;
  /**
   * Called after a rotation, so the owner can save it. New flow records do not call it: every idle cluster records
   * flows all the time, and the flow log is saved when the cluster closes (as Goldmane keeps flows in memory only).
   */
  onChange?: () => void;
}

export interface Dataplane {
  runtime: PodRuntime;
  api: DataplaneApi;
  /** The network as seen from inside a pod (resolve, connect, ping), without a shell; undefined if no such pod. */
  podNet(namespace: string, name: string): PodNet | undefined;
  /** The state that survives a restart (pass it back as `DataplaneContext.restore`); JSON-serialisable. */
  snapshot(): DataplaneState;
  /** Stops timers and subscriptions. */
  close(): void;
}

function writeStartup(logs: PodLogs, pod: KubeObject, now: number): void {
  const ns = pod.metadata.namespace ?? "default";
  if (logs.has(ns, pod.metadata.name) || podStatus(pod).phase !== "Running") return;
  const started = Date.parse((pod.status as { startTime?: string } | undefined)?.startTime ?? "") || now;
  for (const l of imageProfile(podSpec(pod).containers?.[0]?.image ?? "").startup(podStatus(pod).podIP ?? ""))
    logs.write(ns, pod.metadata.name, started, l);
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
  const logs = new PodLogs();
  const whisker: WhiskerApi = {
    records: () => flows.snapshot(),
    watch: (cb) => flows.watch({ limit: 1 }, cb),
    nowMs: () => ctx.clock.now(),
    domains: ctx.edition === "enterprise",
  };
  const net = new Network({
    whisker,
    store: ctx.store,
    topo,
    internet,
    policy,
    flows,
    logs,
    clock: ctx.clock,
    seed: ctx.seed,
  });
  const dns = new Dns(net);
  net.resolveFrom = (pod, name) => {
    const r = dns.resolve(pod, name, resolvConfFor(pod, catalogue.upstream)).result;
    return r.kind === "answer" ? r.ips : [];
  };
  const files = new Map<string, PodFileSystem>();
  /** The commands running in each pod (by uid), ended when their pod goes, as the kubelet kills its containers. */
  const execs = new Map<string, Set<AbortController>>();

  const keys = ctx.api.types().map(resourceKey);
  const unsyncEngine = ctx.policy ? () => {} : syncEngine(ctx.store, policy, keys);
  for (const p of ctx.store.list("core/pods")) writeStartup(logs, p, ctx.clock.now());
  const unsubscribe = ctx.store.subscribe((c) => {
    topo.changed(c.key);
    if (c.key !== "core/pods") return;
    const ns = c.object.metadata.namespace ?? "default";
    if (c.type === "DELETED") {
      for (const ac of execs.get(c.object.metadata.uid ?? "") ?? []) ac.abort(new Error("pod deleted"));
      logs.forget(ns, c.object.metadata.name);
      files.delete(`${ns}/${c.object.metadata.name}`);
      net.forgetPod(ns, c.object.metadata.name);
    } else writeStartup(logs, c.object, ctx.clock.now());
  });

  const podOr404 = (ns: string, name: string): KubeObject => {
    const p = ctx.store.get("core/pods", ns, name);
    if (!p) throw new ApiError(404, "NotFound", `pods "${name}" not found`, { name, kind: "pods" });
    return p;
  };
  const checkContainer = (pod: KubeObject, container: string | undefined): void => {
    const names = (podSpec(pod).containers ?? []).map((c) => c.name);
    if (container !== undefined && !names.includes(container))
      throw new ApiError(
        400,
        "BadRequest",
        `container ${container} is not valid for pod ${pod.metadata.name}`,
      );
  };

  const filesFor = (pod: KubeObject): PodFileSystem => {
    const ns = pod.metadata.namespace ?? "default";
    const k = `${ns}/${pod.metadata.name}`;
    let f = files.get(k);
    if (!f) {
      const image = podSpec(pod).containers?.[0]?.image ?? "";
      const sa = (pod.spec as { serviceAccountName?: string } | undefined)?.serviceAccountName ?? "default";
      const fixed = (): Record<string, string> => {
        const current = ctx.store.get("core/pods", ns, pod.metadata.name) ?? pod;
        const rc = resolvConfFor(current, catalogue.upstream);
        const hostname = (podSpec(current).hostname ?? current.metadata.name) + "\n";
        return {
          "/etc/resolv.conf":
            (rc.search.length ? `search ${rc.search.join(" ")}\n` : "") +
            rc.nameservers.map((n) => `nameserver ${n}\n`).join("") +
            (rc.ndots !== 1 ? `options ndots:${rc.ndots}\n` : ""),
          "/etc/hosts": hostsFileFor(current),
          "/etc/hostname": hostname,
          "/etc/os-release": `PRETTY_NAME="${imageProfile(image).os}"\n`,
          "/var/run/secrets/kubernetes.io/serviceaccount/namespace": ns,
          "/var/run/secrets/kubernetes.io/serviceaccount/token": `eyJhbGciOiJSUzI1NiJ9.${Buffer.from(JSON.stringify({ sub: `system:serviceaccount:${ns}:${sa}` })).toString("base64url")}.c2ln`,
          "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt":
            "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n",
          "/proc/1/cmdline": image,
        };
      };
      f = new PodFileSystem(fixed);
      files.set(k, f);
    }
    return f;
  };

  /** A shell environment for one exec (or one background request) in a pod. */
  const shellEnv = (pod: KubeObject, signal: AbortSignal, tty: boolean): ShellEnv => {
    const vars = containerEnv(
      pod,
      ctx.store.list("core/services", pod.metadata.namespace),
      ctx.store.get("core/services", "default", "kubernetes"),
    );
    const image = imageProfile(podSpec(pod).containers?.[0]?.image ?? "");
    const env = new Map(Object.entries(vars));
    env.set("PWD", "/");
    return {
      vars: env,
      exported: new Set(env.keys()),
      lastStatus: 0,
      clock: ctx.clock,
      signal,
      net: createPodNet(net, dns, pod),
      files: filesFor(pod),
      tools: new Set(image.tools),
      image,
      tty,
    };
  };

  const runtime: PodRuntime = {
    async exec(req: ExecRequest, io: ExecIO) {
      const pod = podOr404(req.namespace, req.pod);
      checkContainer(pod, req.container);
      if (podStatus(pod).phase !== "Running" || !podStatus(pod).podIP)
        throw new ApiError(
          400,
          "BadRequest",
          `unable to upgrade connection: container not found ("${req.container ?? podSpec(pod).containers?.[0]?.name ?? ""}")`,
        );
      const uid = pod.metadata.uid ?? "";
      const killed = new AbortController();
      const running = execs.get(uid) ?? new Set();
      execs.set(uid, running.add(killed));
      const signal = AbortSignal.any([io.signal, killed.signal]);
      try {
        const code = await execSession(req, { ...io, signal }, shellEnv(pod, signal, req.tty));
        // SIGKILL, as for a process whose container was stopped.
        return killed.signal.aborted && !io.signal.aborted ? 137 : code;
      } finally {
        running.delete(killed);
        if (!running.size) execs.delete(uid);
      }
    },
    logs(ns, name, opts) {
      const pod = podOr404(ns, name);
      checkContainer(pod, opts.container);
      if (opts.previous)
        throw new ApiError(
          400,
          "BadRequest",
          `previous terminated container "${opts.container ?? podSpec(pod).containers?.[0]?.name ?? ""}" in pod "${name}" not found`,
        );
      writeStartup(logs, pod, ctx.clock.now());
      return logs.read(ns, name, opts, ctx.clock.now());
    },
    followLogs(ns, name, opts, cb, onEnd) {
      const pod = podOr404(ns, name);
      checkContainer(pod, opts.container);
      return logs.follow(ns, name, opts, cb, onEnd);
    },
    portForward(ns, name) {
      const pod = podOr404(ns, name);
      if (podStatus(pod).phase !== "Running" || !podStatus(pod).podIP)
        throw new ApiError(
          400,
          "BadRequest",
          `unable to upgrade connection: pod ${name} is not running (phase ${podStatus(pod).phase ?? "Pending"})`,
        );
      return async (port) => {
        const current = ctx.store.get("core/pods", ns, name);
        if (!current || !podStatus(current).podIP) throw new Error(noListenerMessage(pod, port));
        const special = whiskerListener(current, port, whisker);
        if (special) return connectListener(special);
        const d = net.connect(current, { dstIp: "127.0.0.1", dstPort: port, protocol: "TCP" });
        if (d.outcome.kind !== "established") throw new Error(noListenerMessage(current, port));
        return connectListener(peerListener(d.outcome.peer, port));
      };
    },
  };

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
    runtime,
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
    snapshot: () => ({ version: 1, internet: internet.snapshot(ctx.clock.now()), flows: flows.snapshot() }),
    close() {
      stopTraffic();
      unsubscribe();
      unsyncEngine();
    },
  };
}
