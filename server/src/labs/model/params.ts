/**
 * Per-session parameters: each lab parameter takes one of its choices, picked deterministically from a seed, so the
 * same session always sees the same compromised workload and C2 domain, and neighbours see different ones.
 */
import type { LabParams } from "../api.ts";
import type { Edition, Lab, ParamChoice, ParamSpec } from "./types.ts";

/** FNV-1a, 32 bits. */
function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** mulberry32: a small, well-distributed generator; the first output is enough here. */
function unit(seed: number): number {
  let t = (seed + 0x6d2b79f5) | 0;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

function assign(out: LabParams, spec: ParamSpec, choice: ParamChoice): void {
  out[spec.name] = choice.value;
  for (const [k, v] of Object.entries(choice.fields)) out[`${spec.name}.${k}`] = v;
}

/**
 * The parameters of one session: the same `seed` always gives the same values. `edition` (the Calico edition of the
 * session's cluster, default the lab's first) is one of them: it picks the stages' variants, and guides may use it.
 */
export function sessionParams(
  lab: Pick<Lab, "id" | "params"> & { requirements?: { edition: Edition } },
  seed: number,
  edition: Edition | undefined = lab.requirements?.edition,
): LabParams {
  const out: LabParams = edition ? { edition } : {};
  for (const spec of lab.params) {
    const i = Math.floor(
      unit((hash(`${lab.id}/${spec.name}`) ^ Math.trunc(seed)) >>> 0) * spec.choices.length,
    );
    const choice = spec.choices[Math.min(i, spec.choices.length - 1)];
    if (choice) assign(out, spec, choice);
  }
  return out;
}

/** Every name a template may use: each parameter and each of its choices' fields. */
export function paramNames(params: readonly ParamSpec[]): Set<string> {
  const names = new Set<string>();
  for (const spec of params) {
    names.add(spec.name);
    for (const c of spec.choices) for (const k of Object.keys(c.fields)) names.add(`${spec.name}.${k}`);
  }
  return names;
}

/**
 * Enough parameter sets that every choice of every parameter appears at least once (variant i takes choice
 * i mod n of each parameter): what the loader renders to prove every session's files are valid.
 */
export function paramVariants(params: readonly ParamSpec[]): LabParams[] {
  const n = Math.max(1, ...params.map((p) => p.choices.length));
  const out: LabParams[] = [];
  for (let i = 0; i < n; i++) {
    const v: LabParams = {};
    for (const spec of params) {
      const choice = spec.choices[i % spec.choices.length];
      if (choice) assign(v, spec, choice);
    }
    out.push(v);
  }
  return out;
}
