/**
 * The ReplicaSet controller: keeps `spec.replicas` pods (`<rs>-<5 chars>`) owned by each ReplicaSet, and its status.
 */
import { cloneJson } from "../../store/equal.ts";
import type { KubeObject } from "../../store/types.ts";
import {
  MAX_PODS,
  controllerOf,
  controllerRef,
  isTerminating,
  namespaceActive,
  rec,
  typeOf,
  type Controller,
  type ControllerContext,
} from "./context.ts";
import { podIsReady } from "./pods.ts";

export function ownedPods(ctx: ControllerContext, owner: KubeObject, kind: string): KubeObject[] {
  return ctx.store
    .list("core/pods", owner.metadata.namespace)
    .filter((p) => controllerOf(p, kind) === owner.metadata.uid && !isTerminating(p));
}

export function replicaSetController(ctx: ControllerContext): Controller {
  return {
    name: "replicaset",
    watches: ["apps/replicasets", "core/pods"],
    sync() {
      const podType = typeOf(ctx, "core/pods");
      for (const rs of ctx.store.list("apps/replicasets")) {
        if (isTerminating(rs)) continue;
        const spec = rec(rs.spec);
        const want = typeof spec.replicas === "number" ? spec.replicas : 1;
        let pods = ownedPods(ctx, rs, "ReplicaSet");
        const source = { component: "replicaset-controller" };
        if (pods.length < want && namespaceActive(ctx, rs.metadata.namespace)) {
          const template = rec(spec.template);
          const tmeta = rec(template.metadata);
          for (let i = pods.length; i < want; i++) {
            if (ctx.store.count("core/pods") >= MAX_PODS) {
              ctx.events.record(
                rs,
                "Warning",
                "FailedCreate",
                `Error creating: pods "${rs.metadata.name}-" is forbidden: this simulated cluster runs at most ${MAX_PODS} pods`,
                source,
              );
              break;
            }
            const res = ctx.api.createStored(
              podType,
              rs.metadata.namespace,
              {
                apiVersion: "v1",
                kind: "Pod",
                metadata: {
                  generateName: `${rs.metadata.name}-`,
                  labels: { ...(rec(tmeta.labels) as Record<string, string>) },
                  ...(tmeta.annotations
                    ? { annotations: { ...(rec(tmeta.annotations) as Record<string, string>) } }
                    : {}),
                  ownerReferences: [controllerRef(rs, "apps/v1", "ReplicaSet")],
                },
                spec: cloneJson(template.spec),
              },
              { trusted: true },
            );
            ctx.events.record(
              rs,
              "Normal",
              "SuccessfulCreate",
              `Created pod: ${res.object.metadata.name}`,
              source,
            );
          }
        } else if (pods.length > want) {
          const extra = [...pods]
            .sort((a, b) =>
              podIsReady(a) === podIsReady(b)
                ? String(b.metadata.creationTimestamp).localeCompare(String(a.metadata.creationTimestamp)) ||
                  b.metadata.name.localeCompare(a.metadata.name)
                : podIsReady(a)
                  ? 1
                  : -1,
            )
            .slice(0, pods.length - want);
          for (const p of extra) {
            ctx.api.delete(podType, p.metadata.namespace, p.metadata.name);
            ctx.events.record(rs, "Normal", "SuccessfulDelete", `Deleted pod: ${p.metadata.name}`, source);
          }
        }
        pods = ownedPods(ctx, rs, "ReplicaSet");
        const ready = pods.filter(podIsReady).length;
        ctx.api.patchInternal("apps/replicasets", rs.metadata.namespace, rs.metadata.name, (o) => {
          const status: Record<string, unknown> = {
            replicas: pods.length,
            fullyLabeledReplicas: pods.length,
            observedGeneration: o.metadata.generation ?? 1,
          };
          if (ready) {
            status.readyReplicas = ready;
            status.availableReplicas = ready;
          }
          o.status = status;
        });
      }
    },
  };
}
