/**
 * The scheduler and the kubelets: pods without a node are bound to the least loaded eligible node (node selector,
 * node affinity on `metadata.name`, taints; ties broken by the cluster's seed); bound pods get an IP (the node's for
 * hostNetwork pods, Calico IPAM otherwise) and start (the status the pod runtime writes, `sim/runtime/pod-status.ts`),
 * with the Scheduled/Pulling/Pulled/Created/Started events; deleted running pods get Killing events.
 */
import { fnv32a } from "../../shared/hash.ts";
import type { KubeObject, StoreChange } from "../../store/types.ts";
import {
  arr,
  isTerminating,
  nowTimestamp,
  rec,
  type Controller,
  type ControllerContext,
  type Rec,
} from "./context.ts";
import { nodeMatchesSelector } from "./daemonsets.ts";
import { fromLabelSelectorObject, matchesLabels } from "../../store/selectors.ts";
import { allocatePodIP, usedIPs } from "./ipam.ts";
import { recordStarted, recordUnschedulable } from "../runtime/pod-status.ts";

export function podIsReady(p: KubeObject): boolean {
  return arr(rec(p.status).conditions).some((c) => rec(c).type === "Ready" && rec(c).status === "True");
}

/** Whether `tolerations` tolerate every taint of the given effects. */
export function toleratesTaints(tolerations: unknown[], taints: unknown[], effects: string[]): boolean {
  return taints.map(rec).every((t) => {
    if (!effects.includes(String(t.effect))) return true;
    return tolerations.map(rec).some((tol) => {
      if (tol.effect && tol.effect !== t.effect) return false;
      if (tol.operator === "Exists") return !tol.key || tol.key === t.key;
      return tol.key === t.key && (tol.value ?? "") === (t.value ?? "");
    });
  });
}

export function nodeIP(node: KubeObject | undefined): string | undefined {
  const a = arr(rec(node?.status).addresses)
    .map(rec)
    .find((x) => x.type === "InternalIP");
  return a ? String(a.address) : undefined;
}

function affinityNodes(spec: Rec): string[] | undefined {
  const terms = arr(
    rec(rec(rec(spec.affinity).nodeAffinity).requiredDuringSchedulingIgnoredDuringExecution)
      .nodeSelectorTerms,
  );
  for (const t of terms) {
    for (const f of arr(rec(t).matchFields).map(rec))
      if (f.key === "metadata.name" && f.operator === "In") return arr(f.values).map(String);
  }
  return undefined;
}

export function podController(ctx: ControllerContext): Controller {
  /** Pods per node and per (node, owner), counted once per sync and kept current as pods are bound. */
  interface Load {
    nodes: KubeObject[];
    perNode: Map<string, number>;
    perOwner: Map<string, number>;
  }
  const countLoad = (): Load => {
    const perNode = new Map<string, number>();
    const perOwner = new Map<string, number>();
    for (const p of ctx.store.list("core/pods")) {
      const n = String(rec(p.spec).nodeName ?? "");
      if (!n) continue;
      perNode.set(n, (perNode.get(n) ?? 0) + 1);
      for (const r of p.metadata.ownerReferences ?? [])
        perOwner.set(`${n}\0${r.uid}`, (perOwner.get(`${n}\0${r.uid}`) ?? 0) + 1);
    }
    return { nodes: ctx.store.list("core/nodes"), perNode, perOwner };
  };

  const schedule = (pod: KubeObject, l: Load): void => {
    const spec = rec(pod.spec);
    const nodes = l.nodes;
    const allowed = affinityNodes(spec);
    const podCount = l.perNode;
    const full = (n: KubeObject) =>
      (podCount.get(n.metadata.name) ?? 0) >= Number(rec(rec(n.status).allocatable).pods ?? 110);
    // The scheduler's filters, in its order; a node reports the first one it fails.
    const spread = arr(spec.topologySpreadConstraints)
      .map(rec)
      .filter((c) => c.whenUnsatisfiable !== "ScheduleAnyway" && typeof c.topologyKey === "string");
    const spreadFailure = (n: KubeObject): string | undefined => {
      for (const c of spread) {
        const key = String(c.topologyKey);
        const domain = n.metadata.labels?.[key];
        if (domain === undefined)
          return "node(s) didn't match pod topology spread constraints (missing required label)";
        const sel = fromLabelSelectorObject(c.labelSelector);
        const counts = new Map<string, number>();
        // nodeAffinityPolicy Honor (domains are the nodes the pod may run on), nodeTaintsPolicy Ignore.
        const inScope = (x: KubeObject) =>
          nodeMatchesSelector(x, spec.nodeSelector) && (!allowed || allowed.includes(x.metadata.name));
        for (const other of nodes.filter(inScope)) {
          const d = other.metadata.labels?.[key];
          if (d !== undefined && !counts.has(d)) counts.set(d, 0);
        }
        for (const p of ctx.store.list("core/pods", pod.metadata.namespace)) {
          const on = nodes.find((x) => x.metadata.name === rec(p.spec).nodeName);
          const d = on?.metadata.labels?.[key];
          if (d !== undefined && matchesLabels(sel, p.metadata.labels))
            counts.set(d, (counts.get(d) ?? 0) + 1);
        }
        const min = Math.min(...counts.values());
        if ((counts.get(domain) ?? 0) + 1 - min > Number(c.maxSkew ?? 1))
          return "node(s) didn't match pod topology spread constraints";
      }
      return undefined;
    };
    const failure = (n: KubeObject): string | undefined => {
      if (rec(n.spec).unschedulable) return "node(s) were unschedulable";
      const taint = arr(rec(n.spec).taints)
        .map(rec)
        .find((t) => !toleratesTaints(arr(spec.tolerations), [t], ["NoSchedule", "NoExecute"]));
      if (taint) return `node(s) had untolerated taint {${String(taint.key)}: ${String(taint.value ?? "")}}`;
      if (!nodeMatchesSelector(n, spec.nodeSelector) || (allowed && !allowed.includes(n.metadata.name)))
        return "node(s) didn't match Pod's node affinity/selector";
      if (full(n)) return "Too many pods";
      return spread.length ? spreadFailure(n) : undefined;
    };
    const failures = new Map<KubeObject, string | undefined>(nodes.map((n) => [n, failure(n)]));
    const eligible = nodes.filter((n) => failures.get(n) === undefined);
    const now = nowTimestamp(ctx);
    if (!eligible.length) {
      const counts = new Map<string, number>();
      for (const f of failures.values()) if (f) counts.set(f, (counts.get(f) ?? 0) + 1);
      const reasons = [...counts].map(([f, k]) => `${k} ${f}`);
      const msg = `0/${nodes.length} nodes are available: ${reasons.sort().join(", ")}. preemption: 0/${nodes.length} nodes are available: ${nodes.length} Preemption is not helpful for scheduling.`;
      if (!recordUnschedulable(ctx.api, pod, msg, now)) return;
      ctx.events.record(pod, "Warning", "FailedScheduling", msg, { component: "default-scheduler" });
      return;
    }
    // Spread pods of the same owner first (the default topology spread), then the least loaded node.
    const owner = pod.metadata.ownerReferences?.find((r) => r.controller)?.uid;
    const load = (n: KubeObject) =>
      (podCount.get(n.metadata.name) ?? 0) +
      (owner ? (l.perOwner.get(`${n.metadata.name}\0${owner}`) ?? 0) * 1000 : 0);
    const min = Math.min(...eligible.map(load));
    const best = eligible.filter((n) => load(n) === min);
    const chosen = best[fnv32a(`${ctx.seed}/${pod.metadata.namespace}/${pod.metadata.name}`) % best.length]!;
    const bound = ctx.api.patchInternal("core/pods", pod.metadata.namespace, pod.metadata.name, (o) => {
      (o.spec as Rec).nodeName = chosen.metadata.name;
    });
    podCount.set(chosen.metadata.name, (podCount.get(chosen.metadata.name) ?? 0) + 1);
    for (const r of pod.metadata.ownerReferences ?? []) {
      const k = `${chosen.metadata.name}\0${r.uid}`;
      l.perOwner.set(k, (l.perOwner.get(k) ?? 0) + 1);
    }
    if (bound)
      ctx.events.record(
        bound,
        "Normal",
        "Scheduled",
        `Successfully assigned ${pod.metadata.namespace}/${pod.metadata.name} to ${chosen.metadata.name}`,
        { component: "default-scheduler" },
      );
  };

  const start = (pod: KubeObject, used: Set<string>): void => {
    const spec = rec(pod.spec);
    const nodeName = String(spec.nodeName);
    const node = ctx.store.get("core/nodes", undefined, nodeName);
    // A pod bound to a node that does not exist has no kubelet to start it: it stays Pending.
    if (!node) return;
    const hostIP = nodeIP(node) ?? "";
    const ip = spec.hostNetwork ? hostIP : allocatePodIP(ctx, pod, nodeName, used);
    const now = nowTimestamp(ctx);
    const kubelet = { component: "kubelet", host: nodeName };
    if (!ip) {
      ctx.events.record(
        pod,
        "Warning",
        "FailedCreatePodSandBox",
        'Failed to create pod sandbox: plugin type="calico" failed (add): failed to request IPv4 addresses: no IP addresses available in the IP pool(s)',
        kubelet,
      );
      return;
    }
    if (!spec.hostNetwork) used.add(ip);
    const containers = arr(spec.containers).map(rec);
    const started = recordStarted(ctx.api, pod, { hostIP, ip, hostNetwork: Boolean(spec.hostNetwork) }, now);
    if (!started) return;
    containers.forEach((c, i) => {
      const fieldPath = `spec.containers{${String(c.name)}}`;
      const image = String(c.image);
      if (c.imagePullPolicy === "Always") {
        const secs = (0.5 + (fnv32a(`${ctx.seed}/${started.metadata.uid}/${i}`) % 3000) / 1000).toFixed(3);
        ctx.events.record(started, "Normal", "Pulling", `Pulling image "${image}"`, kubelet, fieldPath);
        ctx.events.record(
          started,
          "Normal",
          "Pulled",
          `Successfully pulled image "${image}" in ${secs}s (${secs}s including waiting). Image size: ${10_000_000 + (fnv32a(image) % 90_000_000)} bytes.`,
          kubelet,
          fieldPath,
        );
      } else {
        ctx.events.record(
          started,
          "Normal",
          "Pulled",
          `Container image "${image}" already present on machine`,
          kubelet,
          fieldPath,
        );
      }
      ctx.events.record(
        started,
        "Normal",
        "Created",
        `Created container: ${String(c.name)}`,
        kubelet,
        fieldPath,
      );
      ctx.events.record(
        started,
        "Normal",
        "Started",
        `Started container ${String(c.name)}`,
        kubelet,
        fieldPath,
      );
    });
  };

  return {
    name: "pods",
    watches: ["core/pods", "core/nodes"],
    sync(changes: StoreChange[]) {
      for (const ch of changes) {
        if (ch.key !== "core/pods" || ch.type !== "DELETED") continue;
        const p = ch.object;
        if (rec(p.status).phase !== "Running" || !p.metadata.namespace) continue;
        const nsObj = ctx.store.get("core/namespaces", undefined, p.metadata.namespace);
        if (!nsObj || rec(nsObj.status).phase === "Terminating") continue;
        for (const c of arr(rec(p.spec).containers).map(rec))
          ctx.events.record(
            p,
            "Normal",
            "Killing",
            `Stopping container ${String(c.name)}`,
            { component: "kubelet", host: String(rec(p.spec).nodeName ?? "") },
            `spec.containers{${String(c.name)}}`,
          );
      }
      let load: Load | undefined;
      let used: Set<string> | undefined;
      for (const pod of ctx.store.list("core/pods")) {
        if (isTerminating(pod)) continue;
        const spec = rec(pod.spec);
        if (!spec.nodeName) schedule(pod, (load ??= countLoad()));
        const latest = ctx.store.get("core/pods", pod.metadata.namespace, pod.metadata.name);
        if (
          latest &&
          rec(latest.spec).nodeName &&
          rec(latest.status).phase === "Pending" &&
          !rec(latest.status).podIP
        )
          start(latest, (used ??= usedIPs(ctx)));
      }
    },
  };
}
