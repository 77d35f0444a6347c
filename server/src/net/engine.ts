/** The policy engine of one cluster: the engine module's `PolicyEngine` (`calico/`), of the cluster's edition. */
import { PolicyEngine } from "../calico/index.ts";
import type { CalicoEdition } from "../sim/types.ts";
import type { PolicyDecider } from "./policy.ts";

export function createPolicyEngine(edition: CalicoEdition): PolicyDecider {
  return new PolicyEngine({ edition });
}
