/**
 * The pure Calico policy engine: selectors, the policy model, evaluation with traces, DNS-learned IPs. No I/O here.
 */
export {
  parseSelector,
  tryParseSelector,
  SelectorParseError,
  type Selector,
  type ParsedSelector,
} from "./selector.ts";
export { validateCalicoObject, type ValidateOptions } from "./validate.ts";
export {
  PolicyEngine,
  type ConnectionAttempt,
  type DnsAnswer,
  type EngineOptions,
  type PolicyHit,
  type SideVerdict,
  type Verdict,
} from "./engine.ts";
export { compileDomain, domainPatternProblem } from "./domains.ts";
export { policySelectorString, entitySelectorString, k8sSelectorToCalico } from "./convert.ts";
