/**
 * The Deployment controller: one ReplicaSet per pod template (`<deploy>-<pod-template-hash>`), the current one scaled to
 * `spec.replicas` and older ones to zero (a rollout completes at once), revisions, ScalingReplicaSet events, and the
 * status `kubectl rollout status` reads (observedGeneration, replica counts, Available/Progressing conditions).
 */
import { cloneJson } from "../../store/equal.ts";
import { podTemplateHash } from "../../store/random.ts";
import type { KubeObject } from "../../store/types.ts";
import {
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

const REVISION = "deployment.kubernetes.io/revision";

function templateWithoutHash(template: unknown): unknown {
  const t = cloneJson(rec(template));
  const meta = rec(t.metadata);
  if (meta.labels) {
    const labels = { ...rec(meta.labels) };
    delete labels["pod-template-hash"];
    meta.labels = labels;
  }
  return t;
}

function condition(
  type: string,
  reason: string,
  message: string,
  now: string,
  prev?: Record<string, unknown>,
) {
  const same = prev && prev.status === "True" && prev.reason === reason;
  return {
    type,
    status: "True",
    lastUpdateTime: same && type === "Available" ? prev.lastUpdateTime : now,
    lastTransitionTime: prev && prev.status === "True" ? prev.lastTransitionTime : now,
    reason,
    message,
  };
}

export function deploymentController(ctx: ControllerContext): Controller {
  const hashes = new Map<string, { generation: number; hash: string }>();
  const hashOf = (d: KubeObject): string => {
    const gen = d.metadata.generation ?? 1;
    const hit = hashes.get(d.metadata.uid ?? "");
    if (hit && hit.generation === gen) return hit.hash;
    const hash = podTemplateHash(templateWithoutHash(rec(d.spec).template));
    hashes.set(d.metadata.uid ?? "", { generation: gen, hash });
    return hash;
  };
  return {
    name: "deployment",
    watches: ["apps/deployments", "apps/replicasets"],
    sync() {
      const rsType = typeOf(ctx, "apps/replicasets");
      for (const d of ctx.store.list("apps/deployments")) {
        if (isTerminating(d)) continue;
        const ns = d.metadata.namespace;
        const spec = rec(d.spec);
        const want = typeof spec.replicas === "number" ? spec.replicas : 1;
        const hash = hashOf(d);
        const owned = () =>
          ctx.store
            .list("apps/replicasets", ns)
            .filter((rs) => controllerOf(rs, "Deployment") === d.metadata.uid);
        let sets = owned();
        const name = `${d.metadata.name}-${hash}`;
        let current = sets.find((rs) => rs.metadata.name === name);
        const source = { component: "deployment-controller" };
        const maxRev = Math.max(0, ...sets.map((rs) => Number(rs.metadata.annotations?.[REVISION] ?? 0)));
        const paused = spec.paused === true;
        if (!current && paused) {
          // A paused rollout keeps the newest ReplicaSet and only scales it.
          current = [...sets].sort(
            (a, b) =>
              Number(b.metadata.annotations?.[REVISION] ?? 0) -
              Number(a.metadata.annotations?.[REVISION] ?? 0),
          )[0];
        }
        if (!current && namespaceActive(ctx, ns)) {
          const template = cloneJson(rec(spec.template));
          const tmeta = rec(template.metadata);
          tmeta.labels = { ...rec(tmeta.labels), "pod-template-hash": hash };
          template.metadata = tmeta;
          const sel = cloneJson(rec(spec.selector));
          sel.matchLabels = { ...rec(sel.matchLabels), "pod-template-hash": hash };
          const res = ctx.api.createStored(rsType, ns, {
            apiVersion: "apps/v1",
            kind: "ReplicaSet",
            metadata: {
              name,
              labels: { ...(rec(tmeta.labels) as Record<string, string>) },
              annotations: {
                "deployment.kubernetes.io/desired-replicas": String(want),
                "deployment.kubernetes.io/max-replicas": String(want + Math.ceil(want * 0.25)),
                [REVISION]: String(maxRev + 1),
              },
              ownerReferences: [controllerRef(d, "apps/v1", "Deployment")],
            },
            spec: { replicas: 0, selector: sel, template },
          });
          current = res.object;
        } else if (current && Number(current.metadata.annotations?.[REVISION] ?? 0) < maxRev) {
          const rev = String(maxRev + 1);
          current = ctx.api.patchInternal("apps/replicasets", ns, name, (o) => {
            o.metadata.annotations = { ...o.metadata.annotations, [REVISION]: rev };
          });
        }
        if (!current) continue;
        const scale = (rs: KubeObject, to: number) => {
          const from = Number(rec(rs.spec).replicas ?? 0);
          if (from === to) return;
          ctx.api.patchInternal("apps/replicasets", ns, rs.metadata.name, (o) => {
            (o.spec as Record<string, unknown>).replicas = to;
            o.metadata.annotations = {
              ...o.metadata.annotations,
              "deployment.kubernetes.io/desired-replicas": String(want),
              "deployment.kubernetes.io/max-replicas": String(want + Math.ceil(want * 0.25)),
            };
            o.metadata.generation = (o.metadata.generation ?? 1) + 1;
          });
          ctx.events.record(
            d,
            "Normal",
            "ScalingReplicaSet",
            `Scaled ${to > from ? "up" : "down"} replica set ${rs.metadata.name} from ${from} to ${to}`,
            source,
          );
        };
        const currentName = current.metadata.name;
        for (const rs of sets) if (rs.metadata.name !== currentName) scale(rs, 0);
        scale(current, want);
        sets = owned();
        const cur = sets.find((rs) => rs.metadata.name === currentName);
        const sum = (f: string) => sets.reduce((a, rs) => a + Number(rec(rs.status)[f] ?? 0), 0);
        const replicas = sum("replicas");
        const ready = sum("readyReplicas");
        const available = sum("availableReplicas");
        const updated = Number(rec(cur?.status)["replicas"] ?? 0);
        const now = nowTimestamp(ctx);
        const rev = cur?.metadata.annotations?.[REVISION];
        ctx.api.patchInternal("apps/deployments", ns, d.metadata.name, (o) => {
          if (rev) o.metadata.annotations = { ...o.metadata.annotations, [REVISION]: rev };
          const prev = ((rec(o.status).conditions as Record<string, unknown>[] | undefined) ?? []).reduce<
            Record<string, Record<string, unknown>>
          >((m, c) => ((m[String(c.type)] = c), m), {});
          const availableOk = available >= want - Math.floor(want * 0.25);
          const done = updated === want && replicas === want && available === want;
          const conditions = [
            availableOk
              ? condition(
                  "Available",
                  "MinimumReplicasAvailable",
                  "Deployment has minimum availability.",
                  now,
                  prev.Available,
                )
              : {
                  type: "Available",
                  status: "False",
                  lastUpdateTime: now,
                  lastTransitionTime: now,
                  reason: "MinimumReplicasUnavailable",
                  message: "Deployment does not have minimum availability.",
                },
            paused
              ? {
                  type: "Progressing",
                  status: "Unknown",
                  lastUpdateTime: now,
                  lastTransitionTime: now,
                  reason: "DeploymentPaused",
                  message: "Deployment is paused",
                }
              : done
                ? condition(
                    "Progressing",
                    "NewReplicaSetAvailable",
                    `ReplicaSet "${currentName}" has successfully progressed.`,
                    now,
                    prev.Progressing,
                  )
                : condition(
                    "Progressing",
                    "ReplicaSetUpdated",
                    `ReplicaSet "${currentName}" is progressing.`,
                    now,
                    prev.Progressing,
                  ),
          ];
          const status: Record<string, unknown> = { observedGeneration: o.metadata.generation ?? 1 };
          if (replicas) status.replicas = replicas;
          if (updated) status.updatedReplicas = updated;
          if (ready) status.readyReplicas = ready;
          if (available) status.availableReplicas = available;
          if (replicas - available > 0) status.unavailableReplicas = replicas - available;
          status.conditions = conditions;
          o.status = status;
        });
      }
    },
  };
}
