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
