/**
 * The engine's compiled policy model: what Felix holds after the calculation graph has converted the API objects
 * (specification §A). Built by `convert.ts`, used by `evaluate.ts`.
 */
import type { ParsedSelector } from "./selector.ts";
import type { Cidr } from "./nets.ts";
import type { DomainMatcher } from "./domains.ts";

export type RuleAction = "Allow" | "Deny" | "Pass" | "Log";
export type Direction = "ingress" | "egress";

/** Short kinds of the flow-log trace (`felix/types/policy_id.go`). */
export type PolicyKindShort = "np" | "gnp" | "snp" | "sgnp" | "sknp" | "knp" | "kcnp";

/** A port criterion: a numeric range or a named port. */
export type PortMatch = { min: number; max: number } | { name: string };

/** The compiled form of an EntityRule (source or destination). */
export interface EntityMatch {
  nets?: Cidr[];
  notNets?: Cidr[];
  /** The positive selector after Calico's namespace / service-account scoping (A.8). */
  selector?: ParsedSelector;
  notSelector?: ParsedSelector;
  ports?: PortMatch[];
  notPorts?: PortMatch[];
  services?: { name: string; namespace: string };
  domains?: DomainMatcher[];
}

export interface CompiledRule {
  action: RuleAction;
  /** Position in the policy's rule list for this direction. */
  index: number;
  ipVersion?: 4 | 6;
  protocol?: number;
  notProtocol?: number;
  icmp?: { type?: number; code?: number };
  notICMP?: { type?: number; code?: number };
  source: EntityMatch;
  destination: EntityMatch;
}

export interface CompiledPolicy {
  /** Unique key: `<apiKind>/<namespace>/<name>`. */
  key: string;
  kind: PolicyKindShort;
  /** The API kind, used in the 3.32 order tie-break. */
  apiKind: string;
  staged: boolean;
  namespace?: string;
  name: string;
  tier: string;
  /** `Infinity` when unset. */
  order: number;
  /** The effective endpoint selector (namespace / service-account scoping applied). */
  selector: ParsedSelector;
  applies: { ingress: boolean; egress: boolean };
  ingress: CompiledRule[];
  egress: CompiledRule[];
  /** 3.32+: `<name>/<namespace>/<kind>`, compared as strings when orders tie. */
  tieBreak: string;
}

export interface TierInfo {
  name: string;
  /** `Infinity` when unset. */
  order: number;
  defaultAction: "Deny" | "Pass";
  /** False when policies name a tier that has no Tier object. */
  valid: boolean;
}

/** What selectors and rules can see: a workload endpoint or a network set. */
export interface Entity {
  key: string;
  type: "pod" | "networkset" | "globalnetworkset";
  namespace?: string;
  name: string;
  /** Effective labels, including inherited profile labels (A.5). */
  labels: Record<string, string>;
  /** Own labels plus namespace / orchestrator / service account labels, without `pcns.`/`pcsa.` (for display). */
  ownLabels: Record<string, string>;
  ips: string[];
  nets: Cidr[];
  /** Network sets: `allowedEgressDomains`. */
  domains: DomainMatcher[];
  /** Pods: container ports. */
  ports: { name?: string; protocol: number; port: number }[];
  serviceAccount?: string;
}

/** One hit in a policy trace, as in Goldmane's `PolicyHit`. */
export interface PolicyHit {
  tier: string;
  kind: PolicyKindShort | "pro";
  namespace?: string;
  name: string;
  action: "allow" | "deny" | "pass";
  /** -1: the end-of-tier default action; otherwise the rule's index. */
  ruleIndex: number;
}

export const PROTOCOL_NUMBERS: Record<string, number> = {
  TCP: 6,
  UDP: 17,
  ICMP: 1,
  ICMPv6: 58,
  SCTP: 132,
  UDPLite: 136,
};

/** Protocol number for a name or number; undefined when unknown. */
export function protocolNumber(p: unknown): number | undefined {
  if (typeof p === "number") return Number.isInteger(p) && p >= 0 && p <= 255 ? p : undefined;
  if (typeof p !== "string") return undefined;
  if (p in PROTOCOL_NUMBERS) return PROTOCOL_NUMBERS[p];
  const upper = Object.keys(PROTOCOL_NUMBERS).find((k) => k.toLowerCase() === p.toLowerCase());
  if (upper) return PROTOCOL_NUMBERS[upper];
  return /^\d+$/.test(p) ? protocolNumber(Number(p)) : undefined;
}

export const LABEL_NAMESPACE = "projectcalico.org/namespace";
export const LABEL_ORCHESTRATOR = "projectcalico.org/orchestrator";
export const LABEL_SERVICE_ACCOUNT = "projectcalico.org/serviceaccount";
export const LABEL_NAME = "projectcalico.org/name";
