/**
 * The lab's internet in a cluster's Corefile (`kube-system/coredns`): a server block between two marker comments that
 * forwards the lab's zones to the lab's DNS server, and, once a domain has been rotated, a `hosts` stanza in it that
 * answers that domain with its new addresses ahead of `forward` (CoreDNS runs `hosts` before `forward` whatever the
 * order in the block; `fallthrough` passes every other name of the zones on). A comment per rotated domain keeps its
 * generation, so the next rotation moves on. Pure: Corefile text in, text out.
 */

export const corefileBegin = "# egresslab: the lab's internet (begin)";
export const corefileEnd = "# egresslab: the lab's internet (end)";

/** One rotated domain as the block holds it. */
export interface BlockRotation {
  domain: string;
  generation: number;
  ips: string[];
}

/** What the marked block says. */
export interface LabBlock {
  /** The zones of the server block (`api.stripe.com:53` → `api.stripe.com`). */
  zones: string[];
  /** The `forward` target, if any. */
  forward?: string;
  /** Rotated domains, in the block's order. */
  rotations: BlockRotation[];
  /** The `hosts` stanza's `ttl` (CoreDNS's default is 3600). */
  ttl: number;
}

const GENERATION = /^#\s*egresslab: (\S+) rotated, generation (\d+)\s*$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;

function span(corefile: string): { start: number; end: number } | undefined {
  const start = corefile.indexOf(corefileBegin);
  const end = corefile.indexOf(corefileEnd);
  return start >= 0 && end > start ? { start, end: end + corefileEnd.length } : undefined;
}

/** The marked block of a Corefile, or undefined when it has none. */
export function readLabBlock(corefile: string): LabBlock | undefined {
  const s = span(corefile);
  if (!s) return undefined;
  const lines = corefile
    .slice(s.start + corefileBegin.length, s.end - corefileEnd.length)
    .split("\n")
    .map((l) => l.trim());
  const head = lines.find((l) => l.endsWith("{"));
  const zones = (head ?? "")
    .slice(0, -1)
    .trim()
    .split(/\s+/)
    .filter(Boolean)
    .map((k) =>
      k
        .replace(/^dns:\/\//, "")
        .replace(/:\d+$/, "")
        .replace(/\.$/, "")
        .toLowerCase(),
    );
  const generations = new Map<string, number>();
  const hosts = new Map<string, string[]>();
  let ttl = 3600;
  let forward: string | undefined;
  let inHosts = false;
  for (const l of lines) {
    const g = GENERATION.exec(l);
    if (g) generations.set(g[1]!.toLowerCase(), Number(g[2]));
    if (l.startsWith("#") || !l) continue;
    if (/^hosts\s*\{$/.test(l)) {
      inHosts = true;
      continue;
    }
    if (inHosts) {
      if (l === "}") inHosts = false;
      else if (/^ttl\s+\d+$/.test(l)) ttl = Number(l.split(/\s+/)[1]);
      else {
        const [ip, ...names] = l.split(/\s+/);
        if (ip && IPV4.test(ip))
          for (const n of names) {
            const key = n.toLowerCase().replace(/\.$/, "");
            hosts.set(key, [...(hosts.get(key) ?? []), ip]);
          }
      }
      continue;
    }
    const f = /^forward\s+\.\s+(\S+)/.exec(l);
    if (f) forward = f[1];
  }
  const rotations = [...hosts].map(([domain, ips]) => ({
    domain,
    ips,
    generation: generations.get(domain) ?? 1,
  }));
  return { zones, ...(forward ? { forward } : {}), rotations, ttl };
}

/** Whether `name` is inside one of the block's zones (its `hosts` answers only there). */
export function inBlockZones(block: LabBlock, name: string): boolean {
  const n = name.toLowerCase().replace(/\.$/, "");
  return block.zones.some((z) => z === "." || n === z || n.endsWith(`.${z}`));
}

/** The lines of the hosts stanza (and the generation comments) for a block's rotations; none without rotations. */
export function hostsLines(rotations: readonly BlockRotation[], ttl: number): string[] {
  if (!rotations.length) return [];
  return [
    ...rotations.map((r) => `    # egresslab: ${r.domain} rotated, generation ${r.generation}`),
    "    hosts {",
    ...rotations.flatMap((r) => r.ips.map((ip) => `        ${ip} ${r.domain}`)),
    `        ttl ${ttl}`,
    "        fallthrough",
    "    }",
  ];
}

/**
 * The Corefile with the block's rotations replaced by `rotations` (the stanza goes just before `forward`); unchanged
 * when the Corefile has no block.
 */
export function withRotations(corefile: string, rotations: readonly BlockRotation[], ttl: number): string {
  const s = span(corefile);
  if (!s) return corefile;
  const kept: string[] = [];
  let inHosts = false;
  for (const l of corefile.slice(s.start, s.end).split("\n")) {
    const t = l.trim();
    if (GENERATION.test(t)) continue;
    if (/^hosts\s*\{$/.test(t)) {
      inHosts = true;
      continue;
    }
    if (inHosts) {
      if (t === "}") inHosts = false;
      continue;
    }
    kept.push(l);
  }
  const stanza = hostsLines(rotations, ttl);
  let at = kept.findIndex((l) => /^\s*forward\s/.test(l));
  if (at < 0) at = kept.findLastIndex((l) => l.trim() === "}");
  if (at < 0) return corefile;
  kept.splice(at, 0, ...stanza);
  return corefile.slice(0, s.start) + kept.join("\n") + corefile.slice(s.end);
}

/** The Corefile with `domain` at `generation` with `ips` (replacing its earlier rotation, keeping the others'). */
export function rotateInCorefile(
  corefile: string,
  rotation: BlockRotation,
  ttlOf: (domain: string) => number,
): string {
  const block = readLabBlock(corefile);
  if (!block) return corefile;
  const rotations = [...block.rotations.filter((r) => r.domain !== rotation.domain), rotation];
  const ttl = Math.min(...rotations.map((r) => ttlOf(r.domain)));
  return withRotations(corefile, rotations, ttl);
}
