/**
 * The tigera-operator's EgressGateway reconciler: each `operator.tigera.io/v1` EgressGateway becomes a Deployment of
 * gateway pods in its namespace (`replicas`, labels from `template.metadata.labels`, default
 * `projectcalico.org/egw: <name>`), whose pods take their IPs from the IPPools it names (`ipPools[].name|cidr`), and the
 * gateway's status reports whether they are ready.
 */
import { cloneJson } from "../../store/equal.ts";
import type { KubeObject } from "../../store/types.ts";
import {
  arr,
  controllerOf,
  controllerRef,
  isTerminating,
  namespaceActive,
  nowTimestamp,
  rec,
  typeOf,
  type Controller,
  type ControllerContext,
} from "./context.ts";

export const EGRESS_GATEWAY_IMAGE = "quay.io/tigera/egress-gateway:v3.22.0";

function poolNames(ctx: ControllerContext, egw: KubeObject): { names: string[]; missing: string[] } {
  const pools = ctx.store.list("projectcalico.org/ippools");
  const names: string[] = [];
  const missing: string[] = [];
  for (const p of arr(rec(egw.spec).ipPools).map(rec)) {
    const pool = pools.find(
      (x) => (p.name && x.metadata.name === p.name) || (p.cidr && rec(x.spec).cidr === p.cidr),
    );
    if (pool) names.push(pool.metadata.name);
    else missing.push(String(p.name ?? p.cidr));
  }
  return { names, missing };
}

export function egressGatewayController(ctx: ControllerContext): Controller {
  return {
    name: "egressgateway",
    watches: ["operator.tigera.io/egressgateways", "apps/deployments", "projectcalico.org/ippools"],
    sync() {
      const deployType = ctx.registry.byKey("apps/deployments") ? typeOf(ctx, "apps/deployments") : undefined;
      if (!deployType) return;
      for (const egw of ctx.store.list("operator.tigera.io/egressgateways")) {
        if (isTerminating(egw) || !namespaceActive(ctx, egw.metadata.namespace)) continue;
        const ns = egw.metadata.namespace!;
        const spec = rec(egw.spec);
        const template = rec(spec.template);
        const tspec = rec(template.spec);
        const labels = { ...((rec(rec(template.metadata).labels) as Record<string, string>) ?? {}) };
        if (!Object.keys(labels).length) labels["projectcalico.org/egw"] = egw.metadata.name;
        const { names, missing } = poolNames(ctx, egw);
        const podSpec: Record<string, unknown> = {
          containers: [
            {
              name: "egress-gateway",
              image: EGRESS_GATEWAY_IMAGE,
              env: [
                { name: "EGRESS_VXLAN_VNI", value: "4097" },
                { name: "EGRESS_VXLAN_PORT", value: "4790" },
                { name: "LOG_SEVERITY", value: String(spec.logSeverity ?? "Info") },
                {
                  name: "HEALTH_TIMEOUT_DS",
                  value: `${String(rec(spec.egressGatewayFailureDetection).healthTimeoutDataStoreSeconds ?? 90)}s`,
                },
                { name: "EGRESS_POD_IP", valueFrom: { fieldRef: { fieldPath: "status.podIP" } } },
              ],
              ports: [{ name: "health", containerPort: 8080, protocol: "TCP" }],
              securityContext: { privileged: true },
            },
          ],
          terminationGracePeriodSeconds: tspec.terminationGracePeriodSeconds ?? 0,
          ...(tspec.nodeSelector ? { nodeSelector: tspec.nodeSelector } : {}),
          ...(tspec.affinity ? { affinity: tspec.affinity } : {}),
          ...(tspec.tolerations ? { tolerations: tspec.tolerations } : {}),
          ...(tspec.topologySpreadConstraints
            ? { topologySpreadConstraints: tspec.topologySpreadConstraints }
            : {}),
          ...(tspec.priorityClassName ? { priorityClassName: tspec.priorityClassName } : {}),
        };
        const desired = {
          replicas: typeof spec.replicas === "number" ? spec.replicas : 1,
          selector: { matchLabels: labels },
          template: {
            metadata: {
              labels,
              annotations: {
                ...((rec(rec(template.metadata).annotations) as Record<string, string>) ?? {}),
                "cni.projectcalico.org/ipv4pools": JSON.stringify(names),
              },
            },
            spec: podSpec,
          },
        };
        const existing = ctx.store.get("apps/deployments", ns, egw.metadata.name);
        if (missing.length) {
          ctx.api.patchInternal("operator.tigera.io/egressgateways", ns, egw.metadata.name, (o) => {
            o.status = {
              state: "Degraded",
              conditions: [
                {
                  type: "Degraded",
                  status: "True",
                  reason: "ResourceNotFound",
                  message: `IPPool(s) not found: ${missing.join(", ")}`,
                  lastTransitionTime: nowTimestamp(ctx),
                  observedGeneration: o.metadata.generation ?? 1,
                },
              ],
            };
          });
          continue;
        }
        if (!existing) {
          ctx.api.createStored(deployType, ns, {
            apiVersion: "apps/v1",
            kind: "Deployment",
            metadata: {
              name: egw.metadata.name,
              labels,
              ownerReferences: [controllerRef(egw, "operator.tigera.io/v1", "EgressGateway")],
            },
            spec: desired,
          });
        } else if (controllerOf(existing, "EgressGateway") === egw.metadata.uid) {
          const cur = rec(existing.spec);
          if (
            cur.replicas !== desired.replicas ||
            JSON.stringify(rec(rec(cur.template).metadata).labels) !== JSON.stringify(labels) ||
            rec(rec(rec(cur.template).metadata).annotations)["cni.projectcalico.org/ipv4pools"] !==
              JSON.stringify(names)
          ) {
            const next = cloneJson(existing);
            next.spec = { ...cur, ...desired, selector: cur.selector };
            try {
              ctx.api.update(deployType, ns, existing.metadata.name, next);
            } catch (err) {
              ctx.logger.warn("egress gateway deployment update rejected", {
                gateway: egw.metadata.name,
                error: err instanceof Error ? err.message : String(err),
              });
            }
          }
        }
        const d = ctx.store.get("apps/deployments", ns, egw.metadata.name);
        const ready = Number(rec(d?.status).readyReplicas ?? 0);
        const want = desired.replicas;
        ctx.api.patchInternal("operator.tigera.io/egressgateways", ns, egw.metadata.name, (o) => {
          const ok = ready >= want;
          const prev = arr(rec(o.status).conditions)
            .map(rec)
            .find((c) => c.type === "Ready");
          const since =
            prev && prev.status === (ok ? "True" : "False") ? prev.lastTransitionTime : nowTimestamp(ctx);
          o.status = {
            state: ok ? "Ready" : "Progressing",
            conditions: [
              {
                type: "Ready",
                status: ok ? "True" : "False",
                reason: ok ? "AllObjectsAvailable" : "ResourceNotReady",
                message: ok ? "All objects are available" : `${ready}/${want} egress gateway pods are ready`,
                lastTransitionTime: since,
                observedGeneration: o.metadata.generation ?? 1,
              },
            ],
          };
        });
      }
    },
  };
}
