/**
 * Calico IPAM as the simulator models it: every node gets /26 blocks (the pool's blockSize) of the default pool at a
 * seeded, stable position, the first address of a node's first block is its VXLAN tunnel address, and pods take the
 * lowest free address of their node's blocks. Pods that name pools (`cni.projectcalico.org/ipv4pools`, as egress
 * gateways do) take the lowest free address of those pools.
 */
import { fnv32a } from "../../shared/hash.ts";
import { cidrSize, formatIp, parseCidr } from "../../shared/ipv4.ts";
import type { KubeObject } from "../../store/types.ts";
import { arr, rec, type ControllerContext } from "./context.ts";

/** All pod IPs currently in use. */
export function usedIPs(ctx: ControllerContext): Set<string> {
  const used = new Set<string>();
  for (const p of ctx.store.list("core/pods")) {
    const s = rec(p.status);
    if (typeof s.podIP === "string" && !rec(p.spec).hostNetwork) used.add(s.podIP);
  }
  return used;
}

function defaultPool(ctx: ControllerContext): KubeObject | undefined {
  const pools = ctx.store.list("projectcalico.org/ippools").filter((p) => {
    const spec = rec(p.spec);
    const sel = String(spec.nodeSelector ?? "all()").trim();
    return !spec.disabled && (sel === "all()" || sel === "") && String(spec.cidr ?? "").includes(".");
  });
  return pools.find((p) => p.metadata.name === "default-ipv4-ippool") ?? pools[0];
}

/** The n-th /blockSize block of `pool` that belongs to `node` (stable under the cluster's seed). */
export function nodeBlock(
  ctx: ControllerContext,
  node: string,
  n = 0,
): { base: number; size: number } | undefined {
  const pool = defaultPool(ctx);
  if (!pool) return undefined;
  const spec = rec(pool.spec);
  const c = parseCidr(String(spec.cidr));
  if (!c) return undefined;
  const blockSize = typeof spec.blockSize === "number" ? spec.blockSize : 26;
  const size = 2 ** (32 - blockSize);
  const blocks = Math.max(1, cidrSize(c) / size);
  const nodes = [...new Set([...ctx.store.list("core/nodes").map((x) => x.metadata.name), node])].sort();
  const taken = new Set<number>();
  let idx = 0;
  for (let k = 0; k <= n; k++)
    for (const name of nodes) {
      let i = fnv32a(`${ctx.seed}/${name}/${k}`) % blocks;
      while (taken.has(i)) i = (i + 1) % blocks;
      taken.add(i);
      if (name === node && k === n) idx = i;
    }
  return { base: c.base + idx * size, size };
}

/** The VXLAN tunnel address of a node: the first address of its first block. */
export function tunnelAddress(ctx: ControllerContext, node: string): string | undefined {
  const b = nodeBlock(ctx, node, 0);
  return b ? formatIp(b.base) : undefined;
}

function poolsFromAnnotation(ctx: ControllerContext, pod: KubeObject): KubeObject[] | undefined {
  const raw = pod.metadata.annotations?.["cni.projectcalico.org/ipv4pools"];
  if (!raw) return undefined;
  let names: unknown;
  try {
    names = JSON.parse(raw);
  } catch {
    return [];
  }
  const pools = ctx.store.list("projectcalico.org/ippools");
  return arr(names)
    .map(String)
    .map((n) => pools.find((p) => p.metadata.name === n || rec(p.spec).cidr === n))
    .filter((p): p is KubeObject => !!p);
}

/** Allocates an IP for `pod` on `node`; undefined when no address is free. */
export function allocatePodIP(
  ctx: ControllerContext,
  pod: KubeObject,
  node: string,
  used = usedIPs(ctx),
): string | undefined {
  const named = poolsFromAnnotation(ctx, pod);
  if (named) {
    for (const pool of named) {
      const c = parseCidr(String(rec(pool.spec).cidr ?? ""));
      if (!c) continue;
      for (let i = 0; i < cidrSize(c); i++) {
        const ip = formatIp(c.base + i);
        if (!used.has(ip)) return ip;
      }
    }
    return undefined;
  }
  for (let n = 0; n < 16; n++) {
    const b = nodeBlock(ctx, node, n);
    if (!b) return undefined;
    for (let i = n === 0 ? 1 : 0; i < b.size; i++) {
      const ip = formatIp(b.base + i);
      if (!used.has(ip)) return ip;
    }
  }
  return undefined;
}
