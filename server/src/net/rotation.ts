/**
 * Where a rotating domain's addresses go: each domain with `rotate` has a fixed set of candidate addresses in its
 * pool, made from the catalogue alone (so the lab's internet on kind can answer on every one of them, and every node
 * can route exactly those), split into groups of as many addresses as the domain lists. Generation 0 is the
 * catalogue's own addresses; generation g ≥ 1 is one group, chosen by the cluster's seed, and two generations in a row
 * never share an address. The simulator's internet and the rotation through CoreDNS on real clusters both draw here.
 * Pure.
 */
import type { Catalogue, DomainEntry } from "./catalogue.ts";
import { formatIp, parseCidr } from "../shared/ipv4.ts";
import { fnv32a } from "../shared/hash.ts";

/** How many groups of addresses each rotating domain has. */
export const ROTATION_GROUPS = 16;

/** The candidate addresses of every rotating domain, in groups (domain name → groups of addresses). */
export type RotationCandidates = ReadonlyMap<string, readonly (readonly string[])[]>;

/** How many addresses one generation of a domain has. */
const groupSize = (d: DomainEntry): number => Math.max(1, d.ips.length);

const made = new WeakMap<Catalogue, RotationCandidates>();

/**
 * The candidates of every domain with `rotate`, in catalogue order: distinct from every address the catalogue lists
 * and from each other, never a pool's network or broadcast address. A pool too small for all groups gives fewer.
 * Made once per catalogue.
 */
export function rotationCandidates(catalogue: Catalogue): RotationCandidates {
  let c = made.get(catalogue);
  if (!c) made.set(catalogue, (c = makeCandidates(catalogue)));
  return c;
}

function makeCandidates(catalogue: Catalogue): RotationCandidates {
  const taken = new Set(catalogue.domains.flatMap((d) => d.ips));
  const out = new Map<string, string[][]>();
  for (const d of catalogue.domains) {
    if (!d.rotate || d.rotate.pool.length === 0) continue;
    const size = groupSize(d);
    const pools = d.rotate.pool.map((c) => parseCidr(c)!);
    const room = pools.reduce((n, p) => n + Math.max(0, 2 ** (32 - p.bits) - 2), 0);
    const want = Math.min(ROTATION_GROUPS * size, room);
    const picked: string[] = [];
    for (let i = 0; picked.length < want && i < want * 16; i++) {
      const pool = pools[i % pools.length]!;
      const span = 2 ** (32 - pool.bits);
      if (span <= 2) continue;
      const h = fnv32a(`${d.name}/candidate/${i}`);
      const ip = formatIp((pool.base + 1 + (h % (span - 2))) >>> 0);
      if (taken.has(ip)) continue;
      taken.add(ip);
      picked.push(ip);
    }
    const groups: string[][] = [];
    for (let g = 0; g + size <= picked.length; g += size) groups.push(picked.slice(g, g + size));
    if (groups.length) out.set(d.name, groups);
  }
  return out;
}

/** The addresses of `d` at `generation` for a cluster of `seed` (generation 0: the catalogue's). */
export function addressesAt(
  d: DomainEntry,
  candidates: RotationCandidates,
  seed: number,
  generation: number,
): string[] {
  const groups = candidates.get(d.name);
  if (generation <= 0 || !groups?.length) return [...d.ips];
  const offset = fnv32a(`${seed}/${d.name}`) % groups.length;
  return [...groups[(offset + generation - 1) % groups.length]!];
}

/** Every candidate address, for the lab's internet to answer on. */
export function allCandidates(candidates: RotationCandidates): string[] {
  return [...candidates.values()].flat(2);
}

/** A cluster's rotation seed from a stable identity of the cluster (e.g. the kube-system namespace's uid). */
export function seedOf(identity: string): number {
  return fnv32a(`egresslab-rotation/${identity}`);
}
