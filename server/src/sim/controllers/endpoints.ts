/**
 * The endpoints and endpointslice controllers: for every Service with a selector, the ready pods it selects, with named
 * target ports resolved on each pod, as an Endpoints object and an EndpointSlice (`<svc>-<5 chars>`).
 */
import { fromMap, matchesLabels } from "../../store/selectors.ts";
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
  type Rec,
} from "./context.ts";
import { podIsReady } from "./pods.ts";

interface ResolvedPort {
  name?: string;
  port: number;
  protocol: string;
}

/** The pod's port for a service port's targetPort (a number, or a container port name). */
function resolvePort(pod: KubeObject, sp: Rec): number | undefined {
  const tp = sp.targetPort ?? sp.port;
  if (typeof tp === "number") return tp;
  const proto = String(sp.protocol ?? "TCP");
  for (const c of arr(rec(pod.spec).containers).map(rec))
    for (const p of arr(c.ports).map(rec))
      if (p.name === tp && String(p.protocol ?? "TCP") === proto && typeof p.containerPort === "number")
        return p.containerPort;
  return undefined;
}

function podPorts(pod: KubeObject, svc: KubeObject): ResolvedPort[] {
  const out: ResolvedPort[] = [];
  for (const sp of arr(rec(svc.spec).ports).map(rec)) {
    const port = resolvePort(pod, sp);
    if (port === undefined) continue;
    out.push({ ...(sp.name ? { name: String(sp.name) } : {}), port, protocol: String(sp.protocol ?? "TCP") });
  }
  return out;
}

const targetRef = (p: KubeObject) => ({
  kind: "Pod",
  name: p.metadata.name,
  namespace: p.metadata.namespace,
  uid: p.metadata.uid,
});

export function endpointsController(ctx: ControllerContext): Controller {
  return {
    name: "endpoints",
    watches: ["core/services", "core/pods", "core/endpoints", "discovery.k8s.io/endpointslices"],
    sync() {
      const epType = typeOf(ctx, "core/endpoints");
      const sliceType = typeOf(ctx, "discovery.k8s.io/endpointslices");
      const services = ctx.store.list("core/services");
      for (const svc of services) {
        const ns = svc.metadata.namespace!;
        const sel = rec(svc.spec).selector as Record<string, string> | undefined;
        if (!sel || !Object.keys(sel).length || isTerminating(svc) || !namespaceActive(ctx, ns)) continue;
        const selector = fromMap(sel);
        const pods = ctx.store
          .list("core/pods", ns)
          .filter(
            (p) => !isTerminating(p) && rec(p.status).podIP && matchesLabels(selector, p.metadata.labels),
          );
        const groups = new Map<
          string,
          { ports: ResolvedPort[]; ready: KubeObject[]; notReady: KubeObject[] }
        >();
        for (const p of pods) {
          const ports = podPorts(p, svc);
          const key = JSON.stringify(ports);
          const g = groups.get(key) ?? { ports, ready: [], notReady: [] };
          (podIsReady(p) ? g.ready : g.notReady).push(p);
          groups.set(key, g);
        }
        const addr = (p: KubeObject) => ({
          ip: String(rec(p.status).podIP),
          nodeName: String(rec(p.spec).nodeName),
          targetRef: targetRef(p),
        });
        const subsets = [...groups.values()]
          .filter((g) => g.ports.length || !arr(rec(svc.spec).ports).length)
          .map((g) => ({
            ...(g.ready.length ? { addresses: g.ready.map(addr) } : {}),
            ...(g.notReady.length ? { notReadyAddresses: g.notReady.map(addr) } : {}),
            ports: g.ports,
          }));
        const labels = { ...(svc.metadata.labels ?? {}) };
        const existing = ctx.store.get("core/endpoints", ns, svc.metadata.name);
        const body: KubeObject = {
          apiVersion: "v1",
          kind: "Endpoints",
          metadata: {
            name: svc.metadata.name,
            namespace: ns,
            ...(Object.keys(labels).length ? { labels } : {}),
          },
          ...(subsets.length ? { subsets } : {}),
        };
        if (!existing) ctx.api.createStored(epType, ns, body, { trusted: true });
        else
          ctx.api.patchInternal("core/endpoints", ns, svc.metadata.name, (o) => {
            o.metadata.labels = body.metadata.labels;
            if (!o.metadata.labels) delete o.metadata.labels;
            if (subsets.length) o.subsets = subsets;
            else delete o.subsets;
          });
        const sliceLabels = {
          ...labels,
          "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
          "kubernetes.io/service-name": svc.metadata.name,
        };
        const endpoints = pods.map((p) => {
          const ready = podIsReady(p);
          return {
            addresses: [String(rec(p.status).podIP)],
            conditions: { ready, serving: ready, terminating: false },
            nodeName: String(rec(p.spec).nodeName),
            targetRef: targetRef(p),
          };
        });
        const allPorts =
          [...groups.values()][0]?.ports ??
          arr(rec(svc.spec).ports).map((sp) => ({
            name: rec(sp).name ?? "",
            port: null,
            protocol: rec(sp).protocol ?? "TCP",
          }));
        const slicePorts = allPorts.map((p) => ({ name: p.name ?? "", port: p.port, protocol: p.protocol }));
        const slice = ctx.store
          .list("discovery.k8s.io/endpointslices", ns)
          .find((s) => s.metadata.labels?.["kubernetes.io/service-name"] === svc.metadata.name);
        if (!slice)
          ctx.api.createStored(
            sliceType,
            ns,
            {
              apiVersion: "discovery.k8s.io/v1",
              kind: "EndpointSlice",
              metadata: {
                generateName: `${svc.metadata.name}-`,
                labels: sliceLabels,
                ownerReferences: [controllerRef(svc, "v1", "Service")],
              },
              addressType: "IPv4",
              endpoints,
              ports: slicePorts,
            },
            { trusted: true },
          );
        else
          ctx.api.patchInternal("discovery.k8s.io/endpointslices", ns, slice.metadata.name, (o) => {
            o.metadata.labels = sliceLabels;
            o.endpoints = endpoints;
            o.ports = slicePorts;
          });
      }
      for (const ep of ctx.store.list("core/endpoints")) {
        const svc = ctx.store.get("core/services", ep.metadata.namespace, ep.metadata.name);
        if (svc) continue;
        if (ep.metadata.labels?.["endpointslice.kubernetes.io/skip-mirror"] === "true") continue;
        ctx.api.removeObject("core/endpoints", ep);
      }
    },
  };
}
