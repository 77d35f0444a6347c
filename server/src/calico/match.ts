/**
 * Does one rule match one packet (specification §A.8)? All criteria of a rule are ANDed; values within one list are
 * ORed; every `not*` field negates its twin.
 */
import { cidrContains, type Ip } from "./nets.ts";
import type { CompiledRule, Entity, EntityMatch, PortMatch } from "./model.ts";
import type { ParsedSelector } from "./selector.ts";

/** One end of the packet as the rule sees it. */
export interface PeerView {
  ip: Ip;
  /** The IP in canonical text form. */
  ipText: string;
  /** The workload endpoint with this IP, if any. */
  endpoint?: Entity;
  /** Network sets whose nets contain the IP. */
  sets: readonly Entity[];
  /** Network sets whose `allowedEgressDomains` match a name the IP currently has (egress Allow rules only). */
  domainSets: readonly Entity[];
  /** Names the IP currently stands for (DNS-learned, trusted answers only). */
  names: readonly string[];
  port?: number;
}

export interface PacketView {
  protocol: number;
  icmp?: { type: number; code?: number };
  source: PeerView;
  destination: PeerView;
}

/** Looks up a Service's backends (post-DNAT IPs and ports). */
export type ServiceLookup = (
  namespace: string,
  name: string,
) => { ip: string; port: number; protocol: number }[];

/**
 * Selector results per entity. An entity object is replaced whenever its labels change, and a compiled selector
 * whenever its policy changes, so a cached result never goes stale.
 */
const memo = new WeakMap<Entity, Map<ParsedSelector, boolean>>();

function matchesEntity(sel: ParsedSelector, e: Entity): boolean {
  let m = memo.get(e);
  if (!m) memo.set(e, (m = new Map()));
  let r = m.get(sel);
  if (r === undefined) {
    if (m.size >= 4096) m.clear();
    r = sel.matches(e.labels);
    m.set(sel, r);
  }
  return r;
}

function selectorMatches(sel: ParsedSelector, peer: PeerView, withDomains: boolean): boolean {
  if (peer.endpoint && matchesEntity(sel, peer.endpoint)) return true;
  for (const s of peer.sets) if (matchesEntity(sel, s)) return true;
  if (withDomains) for (const s of peer.domainSets) if (matchesEntity(sel, s)) return true;
  return false;
}

function portMatches(
  ports: readonly PortMatch[],
  port: number | undefined,
  endpoint: Entity | undefined,
  protocol: number | undefined,
): boolean {
  if (port === undefined) return false;
  for (const p of ports) {
    if ("min" in p) {
      if (port >= p.min && port <= p.max) return true;
    } else if (endpoint) {
      for (const ep of endpoint.ports)
        if (ep.name === p.name && ep.port === port && (protocol === undefined || ep.protocol === protocol))
          return true;
    }
  }
  return false;
}

function entityMatches(
  m: EntityMatch,
  peer: PeerView,
  rule: CompiledRule,
  packetProtocol: number,
  opts: { domainsHonoured: boolean; services: ServiceLookup; side: "source" | "destination" },
): boolean {
  if (m.nets && !m.nets.some((c) => cidrContains(c, peer.ip))) return false;
  if (m.notNets && m.notNets.some((c) => cidrContains(c, peer.ip))) return false;
  if (m.selector && !selectorMatches(m.selector, peer, opts.domainsHonoured)) return false;
  if (m.notSelector && selectorMatches(m.notSelector, peer, false)) return false;
  if (m.ports && !portMatches(m.ports, peer.port, peer.endpoint, rule.protocol)) return false;
  if (m.notPorts && portMatches(m.notPorts, peer.port, peer.endpoint, rule.protocol)) return false;
  if (m.domains) {
    if (!opts.domainsHonoured) return false;
    if (!peer.names.some((n) => m.domains!.some((d) => d.matches(n)))) return false;
  }
  if (m.services) {
    const backends = opts.services(m.services.namespace, m.services.name);
    const hit = backends.some((b) => {
      if (b.ip !== peer.ipText) return false;
      if (opts.side === "source") return true;
      return b.port === peer.port && b.protocol === packetProtocol;
    });
    if (!hit) return false;
  }
  return true;
}

function icmpMatches(
  want: { type?: number; code?: number },
  got: { type: number; code?: number } | undefined,
): boolean {
  if (!got) return false;
  if (want.type !== undefined && want.type !== got.type) return false;
  if (want.code !== undefined && want.code !== got.code) return false;
  return true;
}

/** True when `rule` matches the packet. `egressAllow` enables domain matching (egress Allow rules only, §D). */
export function ruleMatches(
  rule: CompiledRule,
  pkt: PacketView,
  direction: "ingress" | "egress",
  services: ServiceLookup,
): boolean {
  if (rule.ipVersion !== undefined && rule.ipVersion !== pkt.source.ip.version) return false;
  if (rule.protocol !== undefined && rule.protocol !== pkt.protocol) return false;
  if (rule.notProtocol !== undefined && rule.notProtocol === pkt.protocol) return false;
  const isIcmp = pkt.protocol === 1 || pkt.protocol === 58;
  if (rule.icmp && (!isIcmp || !icmpMatches(rule.icmp, pkt.icmp))) return false;
  if (rule.notICMP && isIcmp && icmpMatches(rule.notICMP, pkt.icmp)) return false;
  const domainsHonoured = direction === "egress" && rule.action === "Allow";
  if (
    !entityMatches(rule.source, pkt.source, rule, pkt.protocol, {
      domainsHonoured: false,
      services,
      side: "source",
    })
  )
    return false;
  return entityMatches(rule.destination, pkt.destination, rule, pkt.protocol, {
    domainsHonoured,
    services,
    side: "destination",
  });
}
