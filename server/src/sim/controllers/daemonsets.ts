/**
 * The DaemonSet controller: one pod per eligible node (node selector and NoSchedule taints), and its status.
 */
import { podTemplateHash } from "../../store/random.ts";
import { cloneJson } from "../../store/equal.ts";
import type { KubeObject } from "../../store/types.ts";
import {
  arr,
  controllerRef,
  isTerminating,
  namespaceActive,
  rec,
  typeOf,
  type Controller,
  type ControllerContext,
} from "./context.ts";
import { podIsReady, toleratesTaints } from "./pods.ts";
import { ownedPods } from "./replicasets.ts";

export function nodeMatchesSelector(node: KubeObject, selector: unknown): boolean {
  const labels = node.metadata.labels ?? {};
  return Object.entries(rec(selector)).every(([k, v]) => labels[k] === v);
}

export function daemonSetController(ctx: ControllerContext): Controller {
  return {
    name: "daemonset",
    watches: ["apps/daemonsets", "core/pods", "core/nodes"],
    sync() {
      const podType = typeOf(ctx, "core/pods");
      const nodes = ctx.store.list("core/nodes");
      for (const ds of ctx.store.list("apps/daemonsets")) {
        if (isTerminating(ds)) continue;
        const template = rec(rec(ds.spec).template);
        const tspec = rec(template.spec);
        const tmeta = rec(template.metadata);
        const eligible = nodes.filter(
          (n) =>
            nodeMatchesSelector(n, tspec.nodeSelector) &&
            toleratesTaints(arr(tspec.tolerations), arr(rec(n.spec).taints), ["NoSchedule", "NoExecute"]),
        );
        let pods = ownedPods(ctx, ds, "DaemonSet");
        const source = { component: "daemonset-controller" };
        for (const n of eligible) {
          if (pods.some((p) => rec(p.spec).nodeName === n.metadata.name)) continue;
          if (!namespaceActive(ctx, ds.metadata.namespace)) break;
          const spec = cloneJson(tspec);
          spec.nodeName = n.metadata.name;
          spec.affinity = {
            nodeAffinity: {
              requiredDuringSchedulingIgnoredDuringExecution: {
                nodeSelectorTerms: [
                  { matchFields: [{ key: "metadata.name", operator: "In", values: [n.metadata.name] }] },
                ],
              },
            },
          };
          const tolerations = arr(spec.tolerations).map(rec);
          for (const [key, effect] of [
            ["node.kubernetes.io/not-ready", "NoExecute"],
            ["node.kubernetes.io/unreachable", "NoExecute"],
            ["node.kubernetes.io/disk-pressure", "NoSchedule"],
            ["node.kubernetes.io/memory-pressure", "NoSchedule"],
            ["node.kubernetes.io/pid-pressure", "NoSchedule"],
            ["node.kubernetes.io/unschedulable", "NoSchedule"],
          ] as const)
            if (!tolerations.some((t) => t.key === key))
              tolerations.push({ key, operator: "Exists", effect });
          if (
            spec.hostNetwork &&
            !tolerations.some((t) => t.key === "node.kubernetes.io/network-unavailable")
          )
            tolerations.push({
              key: "node.kubernetes.io/network-unavailable",
              operator: "Exists",
              effect: "NoSchedule",
            });
          spec.tolerations = tolerations;
          const res = ctx.api.createStored(
            podType,
            ds.metadata.namespace,
            {
              apiVersion: "v1",
              kind: "Pod",
              metadata: {
                generateName: `${ds.metadata.name}-`,
                labels: {
                  ...(rec(tmeta.labels) as Record<string, string>),
                  "controller-revision-hash": podTemplateHash(template),
                  "pod-template-generation": String(ds.metadata.generation ?? 1),
                },
                ...(tmeta.annotations
                  ? { annotations: { ...(rec(tmeta.annotations) as Record<string, string>) } }
                  : {}),
                ownerReferences: [controllerRef(ds, "apps/v1", "DaemonSet")],
              },
              spec,
            },
            { trusted: true },
          );
          ctx.events.record(
            ds,
            "Normal",
            "SuccessfulCreate",
            `Created pod: ${res.object.metadata.name}`,
            source,
          );
        }
        pods = ownedPods(ctx, ds, "DaemonSet");
        const hash = podTemplateHash(template);
        for (const p of pods) {
          const current = p.metadata.labels?.["controller-revision-hash"] === hash;
          if (current && eligible.some((n) => n.metadata.name === rec(p.spec).nodeName)) continue;
          ctx.api.delete(podType, p.metadata.namespace, p.metadata.name);
          ctx.events.record(ds, "Normal", "SuccessfulDelete", `Deleted pod: ${p.metadata.name}`, source);
        }
        pods = ownedPods(ctx, ds, "DaemonSet");
        const ready = pods.filter(podIsReady).length;
        ctx.api.patchInternal("apps/daemonsets", ds.metadata.namespace, ds.metadata.name, (o) => {
          o.status = {
            currentNumberScheduled: pods.length,
            desiredNumberScheduled: eligible.length,
            numberAvailable: ready,
            numberMisscheduled: 0,
            numberReady: ready,
            observedGeneration: o.metadata.generation ?? 1,
            updatedNumberScheduled: pods.filter(
              (p) => p.metadata.labels?.["controller-revision-hash"] === hash,
            ).length,
            ...(eligible.length - ready > 0 ? { numberUnavailable: eligible.length - ready } : {}),
          };
        });
      }
    },
  };
}
