/**
 * PodDisruptionBudgets (`pkg/registry/policy/poddisruptionbudget/strategy.go`, `pkg/apis/policy/validation`:
 * ValidatePodDisruptionBudgetSpec): the server owns the status; `minAvailable` and `maxUnavailable` are exclusive, each a
 * non-negative count or a percentage of at most 100%; the eviction policy for unhealthy pods is one of two words.
 */
import type { KubeObject } from "../types.ts";
import type { FieldError } from "../validation/errors.ts";
import { validateLabels } from "../validation/names.ts";
import { asObject, hasOwn, type JsonObject } from "../../shared/object.ts";
import type { Strategy } from "./types.ts";

const PERCENT_RE = /^[0-9]+%$/;
const PERCENT_MESSAGE =
  "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')";
const EVICTION_POLICIES = ["AlwaysAllow", "IfHealthyBudget"];

/** `ValidatePositiveIntOrPercent` and `IsNotMoreThan100Percent`. */
function intOrPercent(v: unknown, field: string, errs: FieldError[]): void {
  if (typeof v === "string") {
    if (!PERCENT_RE.test(v)) errs.push({ field, type: "Invalid", value: v, detail: PERCENT_MESSAGE });
    else if (Number(v.slice(0, -1)) > 100)
      errs.push({ field, type: "Invalid", value: v, detail: "must not be greater than 100%" });
  } else if (typeof v === "number" && v < 0)
    errs.push({ field, type: "Invalid", value: v, detail: "must be greater than or equal to 0" });
}

/** `ValidatePodDisruptionBudgetSpec`. */
export function validatePdbSpec(spec: JsonObject): FieldError[] {
  const errs: FieldError[] = [];
  const hasMin = hasOwn(spec, "minAvailable") && spec.minAvailable !== null;
  const hasMax = hasOwn(spec, "maxUnavailable") && spec.maxUnavailable !== null;
  if (hasMin && hasMax)
    errs.push({
      field: "spec",
      type: "Invalid",
      value: spec,
      detail: "minAvailable and maxUnavailable cannot be both set",
    });
  if (hasMin) intOrPercent(spec.minAvailable, "spec.minAvailable", errs);
  if (hasMax) intOrPercent(spec.maxUnavailable, "spec.maxUnavailable", errs);
  errs.push(...validateLabels(asObject(spec.selector).matchLabels, "spec.selector.matchLabels"));
  const policy = spec.unhealthyPodEvictionPolicy;
  if (policy !== undefined && policy !== null && !EVICTION_POLICIES.includes(String(policy)))
    errs.push({
      field: "spec.unhealthyPodEvictionPolicy",
      type: "NotSupported",
      value: policy,
      supported: EVICTION_POLICIES,
    });
  return errs;
}

export const podDisruptionBudgetStrategy: Strategy = {
  tracksGeneration: true,
  prepareForCreate(obj: KubeObject) {
    obj.status = { disruptionsAllowed: 0, currentHealthy: 0, desiredHealthy: 0, expectedPods: 0 };
  },
  prepareForUpdate(next, old) {
    next.status = old.status ?? {};
  },
  validate: (obj) => validatePdbSpec(asObject(obj.spec)),
};
