/**
 * The dataplane's view of the policy engine (`calico/`): the decisions it asks for on every connection attempt and
 * the DNS answers it reports. `allowAll` stands in where no policy applies (tests of the network alone).
 */
import type { KubeObject } from "../store/types.ts";
import type { ConnectionAttempt, DnsAnswer, SideVerdict, Verdict } from "../calico/index.ts";

export type { ConnectionAttempt, DnsAnswer, SideVerdict, Verdict } from "../calico/index.ts";
export type PolicyAction = SideVerdict["action"];

/** What the dataplane needs from the policy engine (the engine's `PolicyEngine` satisfies it). */
export interface PolicyDecider {
  /** Adds or replaces an object the engine cares about (policies, sets, pods, namespaces, …). */
  upsert(obj: KubeObject): void;
  /** Forgets an object. */
  remove(obj: { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } }): void;
  /** Reports a DNS answer; true if the engine learned from it (a trusted server). */
  learnDns(a: DnsAnswer): boolean;
  /** Decides a connection: the source's egress and the destination's ingress, with traces. */
  evaluate(c: ConnectionAttempt): Verdict;
  /** Network sets whose nets contain an address (flow logs name such destinations after the set). */
  networkSetsForIp?(ip: string): { namespace?: string; name: string; labels: Record<string, string> }[];
}

const open = (): SideVerdict => ({
  action: "none",
  policies: [],
  pendingPolicies: [],
  pendingAction: "none",
  explanation: "no policy applies",
});

/** A decider that allows everything and learns nothing. */
export function allowAll(): PolicyDecider {
  return {
    upsert() {},
    remove() {},
    learnDns: () => false,
    evaluate: () => ({ allowed: true, egress: open(), ingress: open() }),
  };
}
