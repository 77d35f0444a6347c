/**
 * A small JSONPath-like selector for resource checks: `spec.egress[*].destination.domains`, `spec.ingress[0]`,
 * `metadata.annotations["egress.projectcalico.org/selector"]`. A `[*]` or a path through a list yields every element;
 * a missing field yields nothing.
 */
import { ValidationError } from "../shared/errors.ts";

type Step = { field: string } | { index: number } | { all: true };

/** Parses a path; throws a ValidationError for malformed paths. */
export function parsePath(path: string): Step[] {
  const steps: Step[] = [];
  const re = /\.?([A-Za-z_$][\w$-]*)|\[(\d+)\]|\[\*\]|\["([^"]*)"\]|\['([^']*)'\]/y;
  let i = 0;
  while (i < path.length) {
    re.lastIndex = i;
    const m = re.exec(path);
    if (!m || m[0] === "")
      throw new ValidationError([{ where: path, message: `cannot read the path at "${path.slice(i)}"` }]);
    if (m[1] !== undefined) steps.push({ field: m[1] });
    else if (m[2] !== undefined) steps.push({ index: Number(m[2]) });
    else if (m[3] !== undefined || m[4] !== undefined) steps.push({ field: (m[3] ?? m[4])! });
    else steps.push({ all: true });
    i = re.lastIndex;
  }
  return steps;
}

/** Every value `path` reaches in `value`. */
export function selectPath(value: unknown, path: string): unknown[] {
  let current: unknown[] = [value];
  for (const step of parsePath(path)) {
    const next: unknown[] = [];
    for (const v of current) {
      if ("all" in step) {
        if (Array.isArray(v)) next.push(...(v as unknown[]));
        else if (v && typeof v === "object") next.push(...Object.values(v));
      } else if ("index" in step) {
        if (Array.isArray(v) && step.index < v.length) next.push(v[step.index]);
      } else if (Array.isArray(v)) {
        for (const e of v as unknown[])
          if (e && typeof e === "object" && step.field in e)
            next.push((e as Record<string, unknown>)[step.field]);
      } else if (v && typeof v === "object" && step.field in v) {
        next.push((v as Record<string, unknown>)[step.field]);
      }
    }
    current = next;
  }
  return current;
}
