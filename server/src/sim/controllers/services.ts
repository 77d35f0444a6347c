/**
 * Service IP allocation (the API server's ClusterIP and NodePort allocators) as an admission hook: ClusterIPs from
 * 10.96.0.0/12 at seeded random positions, NodePorts from 30000-32767, and the real errors for taken or out-of-range
 * requests.
 */
import type { AdmissionHook } from "../../store/cluster-api.ts";
import type { MemoryStore } from "../../store/object-store.ts";
import type { Random } from "../../store/random.ts";
import type { FieldError } from "../../store/validation/errors.ts";
import { arr, rec } from "./context.ts";
import { formatIp, inCidr, parseIp } from "../../shared/ipv4.ts";

export const SERVICE_CIDR = "10.96.0.0/12";
const RANGE_BASE = parseIp("10.96.0.0")!;
const RANGE_SIZE = 2 ** 20;

export function serviceAllocator(store: MemoryStore, random: Random): AdmissionHook {
  return (ctx) => {
    if (ctx.key !== "core/services") return;
    const spec = rec(ctx.object.spec);
    const errs: FieldError[] = [];
    const others = store
      .list("core/services")
      .filter(
        (s) =>
          s.metadata.uid !== ctx.object.metadata.uid &&
          !(
            s.metadata.namespace === ctx.object.metadata.namespace &&
            s.metadata.name === ctx.object.metadata.name
          ),
      );
    const usedIPs = new Set(others.map((s) => String(rec(s.spec).clusterIP ?? "")));
    const usedPorts = new Set(
      others.flatMap((s) => arr(rec(s.spec).ports).map((p) => Number(rec(p).nodePort ?? 0))),
    );
    if (ctx.operation === "CREATE" && spec.type !== "ExternalName") {
      const requested = spec.clusterIP as string | undefined;
      if (requested === "None") {
        spec.clusterIPs = ["None"];
      } else if (requested) {
        if (!/^\d+\.\d+\.\d+\.\d+$/.test(requested) || !inCidr(requested, SERVICE_CIDR))
          errs.push({
            field: "spec.clusterIPs",
            type: "Invalid",
            value: [requested],
            detail: `failed to allocate IP ${requested}: the provided IP (${requested}) is not in the valid range. The range of valid IPs is ${SERVICE_CIDR}`,
          });
        else if (usedIPs.has(requested))
          errs.push({
            field: "spec.clusterIPs",
            type: "Invalid",
            value: [requested],
            detail: `failed to allocate IP ${requested}: provided IP is already allocated`,
          });
        else spec.clusterIPs = [requested];
      } else {
        for (let i = 0; i < 1000; i++) {
          const n = RANGE_BASE + 16 + random.int(RANGE_SIZE - 17);
          const ip = formatIp(n);
          if (!usedIPs.has(ip)) {
            spec.clusterIP = ip;
            spec.clusterIPs = [ip];
            break;
          }
        }
      }
    }
    if (spec.type === "NodePort" || spec.type === "LoadBalancer") {
      arr(spec.ports)
        .map(rec)
        .forEach((p, i) => {
          if (p.nodePort === undefined) {
            for (let k = 0; k < 1000; k++) {
              const port = 30000 + random.int(2768);
              if (!usedPorts.has(port)) {
                p.nodePort = port;
                usedPorts.add(port);
                break;
              }
            }
          } else if (typeof p.nodePort === "number") {
            if (p.nodePort < 30000 || p.nodePort > 32767)
              errs.push({
                field: `spec.ports[${i}].nodePort`,
                type: "Invalid",
                value: p.nodePort,
                detail: "provided port is not in the valid range. The range of valid ports is 30000-32767",
              });
            else if (usedPorts.has(p.nodePort))
              errs.push({
                field: `spec.ports[${i}].nodePort`,
                type: "Invalid",
                value: p.nodePort,
                detail: "provided port is already allocated",
              });
          }
        });
    }
    return errs;
  };
}
