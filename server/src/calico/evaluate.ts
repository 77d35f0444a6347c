/**
 * Felix's policy evaluation for one endpoint and one direction (specification §A.4), with the flow-log trace (§F):
 * tiers in order, policies in order, first terminal rule wins, Pass jumps to the next applicable tier, the end of an
 * applicable tier applies its default action, and the namespace profile allows what no tier decided.
 */
import type { CompiledPolicy, Direction, Entity, PolicyHit, TierInfo } from "./model.ts";
import { ruleMatches, type PacketView, type ServiceLookup } from "./match.ts";

/** The policies of one tier that select an endpoint for one direction, sorted. */
export interface TierGroup {
  tier: TierInfo;
  policies: CompiledPolicy[];
  /** The same without staged policies (what is enforced). */
  enforced: CompiledPolicy[];
}

export interface SideResult {
  action: "allow" | "deny";
  hits: PolicyHit[];
  /** Tiers that passed the packet on (explicit Pass or a Pass default action). */
  passedTiers: string[];
  /** Whether any tier applied at all. */
  anyTierApplied: boolean;
}

function hitFor(p: CompiledPolicy, tier: string, action: PolicyHit["action"], ruleIndex: number): PolicyHit {
  const h: PolicyHit = { tier, kind: p.kind, name: p.name, action, ruleIndex };
  if (p.namespace !== undefined) h.namespace = p.namespace;
  return h;
}

/**
 * Evaluates one side. `pending` treats staged policies as enforced, in their tier and order position.
 */
export function evaluateSide(
  endpoint: Entity,
  direction: Direction,
  groups: readonly TierGroup[],
  pkt: PacketView,
  services: ServiceLookup,
  pending: boolean,
): SideResult {
  const hits: PolicyHit[] = [];
  const passedTiers: string[] = [];
  let anyTierApplied = false;
  tiers: for (const g of groups) {
    const active = pending ? g.policies : g.enforced;
    if (!active.length) continue;
    anyTierApplied = true;
    for (const p of active) {
      for (const rule of p[direction]) {
        if (!ruleMatches(rule, pkt, direction, services)) continue;
        switch (rule.action) {
          case "Log":
            continue;
          case "Allow":
            hits.push(hitFor(p, g.tier.name, "allow", rule.index));
            return { action: "allow", hits, passedTiers, anyTierApplied };
          case "Deny":
            hits.push(hitFor(p, g.tier.name, "deny", rule.index));
            return { action: "deny", hits, passedTiers, anyTierApplied };
          case "Pass":
            hits.push(hitFor(p, g.tier.name, "pass", rule.index));
            passedTiers.push(g.tier.name);
            continue tiers;
        }
      }
    }
    const last = active[active.length - 1]!;
    if (g.tier.defaultAction === "Pass") {
      hits.push(hitFor(last, g.tier.name, "pass", -1));
      passedTiers.push(g.tier.name);
      continue;
    }
    hits.push(hitFor(last, g.tier.name, "deny", -1));
    return { action: "deny", hits, passedTiers, anyTierApplied };
  }
  hits.push({
    tier: "__PROFILE__",
    kind: "pro",
    name: `kns.${endpoint.namespace ?? ""}`,
    action: "allow",
    ruleIndex: 0,
  });
  return { action: "allow", hits, passedTiers, anyTierApplied };
}

/** Felix's string form of a trace: `<index>|<tier>|<kind>:[<ns>/]<name>|<action>|<rule index>`. */
export function formatTrace(hits: readonly PolicyHit[]): string[] {
  return hits.map(
    (h, i) =>
      `${i}|${h.tier}|${h.kind}:${h.namespace !== undefined ? `${h.namespace}/` : ""}${h.name}|${h.action}|${h.ruleIndex}`,
  );
}

const KIND_NAMES: Record<PolicyHit["kind"], string> = {
  np: "Calico NetworkPolicy",
  gnp: "GlobalNetworkPolicy",
  snp: "StagedNetworkPolicy",
  sgnp: "StagedGlobalNetworkPolicy",
  sknp: "StagedKubernetesNetworkPolicy",
  knp: "Kubernetes NetworkPolicy",
  kcnp: "ClusterNetworkPolicy",
  pro: "profile",
};

/** "GlobalNetworkPolicy allow-dns" / "Kubernetes NetworkPolicy default/web". */
export function describePolicy(h: PolicyHit): string {
  return `${KIND_NAMES[h.kind]} ${h.namespace !== undefined ? `${h.namespace}/` : ""}${h.name}`;
}

/** What the explanation may mention about the packet. */
export interface ExplainContext {
  protocol: number;
  dstPort?: number;
}

/** One sentence a learner understands, saying what decided the side and why (with a hint for common mistakes). */
export function explainSide(who: string, direction: Direction, r: SideResult, ctx?: ExplainContext): string {
  const d = direction === "egress" ? "Egress from" : "Ingress to";
  const last = r.hits[r.hits.length - 1]!;
  if (last.kind === "pro") {
    if (!r.anyTierApplied)
      return `${d} ${who} was allowed: no policy in any tier selects ${who} for ${direction}, so the namespace profile ${last.name} allowed it.`;
    const passed = [...new Set(r.passedTiers)].map((t) => `"${t}"`);
    const tiers =
      passed.length > 1
        ? `tiers ${passed.slice(0, -1).join(", ")} and ${passed[passed.length - 1]}`
        : `tier ${passed[0]}`;
    return `${d} ${who} was allowed: ${tiers} passed it on and no later tier applied, so the namespace profile ${last.name} allowed it (Pass is not Deny).`;
  }
  const tier = `tier "${last.tier}"`;
  const dns = direction === "egress" && ctx?.dstPort === 53 && (ctx.protocol === 17 || ctx.protocol === 6);
  const dnsHint = dns
    ? ` No rule allows this DNS query: allow ${ctx.protocol === 6 ? "TCP" : "UDP"} port 53 (both UDP and TCP) to k8s-app == "kube-dns".`
    : "";
  if (last.ruleIndex === -1) {
    const tierHint =
      last.tier !== "default"
        ? ` A tier that selects a pod but takes no action drops the packet: end the tier with a Pass rule if later tiers should decide.`
        : "";
    return `${d} ${who} was denied at the end of ${tier}: ${describePolicy(last)} selects ${who} for ${direction} but none of the rules in that tier matched, so the tier's default action (Deny) dropped it.${dnsHint}${tierHint}`;
  }
  const verb = last.action === "allow" ? "allowed" : "denied";
  return `${d} ${who} was ${verb} by rule ${last.ruleIndex} (${last.action === "allow" ? "Allow" : "Deny"}) of ${describePolicy(last)} in ${tier}.${last.action === "deny" ? dnsHint : ""}`;
}
