/**
 * Names the mistake behind a failing check: the lab's wrong solutions each say which checks they fail (`fails`) and
 * which of them is the root cause (`first`); an attendee's failing checks match the wrong solutions whose failures
 * they include, the ones whose root cause is the attendee's first failing check before the others, the tightest fit
 * first. Wrong solutions that fail alike (the same checks) are named together: the checks cannot tell them apart.
 */
import type { MistakeMatch } from "./wire.ts";

/** A wrong solution as the lab declares it (`wrong/<name>/wrong.yaml`). */
export interface KnownMistake {
  name: string;
  why: string;
  fails: readonly string[];
  first?: string;
}

/** `explicit-deny-first` → `explicit deny first`. */
export const mistakeWords = (name: string): string => name.replace(/[-_]+/g, " ").trim();

/**
 * The mistake matching `failing` (check ids, root cause first, as the learner reads them), or undefined when no
 * wrong solution of the stage fails this way.
 */
export function matchMistake(
  failing: readonly string[],
  known: readonly KnownMistake[],
): MistakeMatch | undefined {
  if (!failing.length) return undefined;
  const set = new Set(failing);
  const root = failing[0];
  let best: { score: [number, number]; list: KnownMistake[] } | undefined;
  for (const k of known) {
    if (!k.fails.length || !k.fails.every((id) => set.has(id))) continue;
    // Root cause agrees first, then the fewest failing checks the wrong solution does not explain.
    const score: [number, number] = [(k.first ?? k.fails[0]) === root ? 1 : 0, -(set.size - k.fails.length)];
    const cmp = best ? score[0] - best.score[0] || score[1] - best.score[1] : 1;
    if (cmp > 0) best = { score, list: [k] };
    else if (cmp === 0) best!.list.push(k);
  }
  if (!best) return undefined;
  const names = best.list.map((k) => k.name).sort();
  const first = best.list.find((k) => k.name === names[0])!;
  return { names, label: names.map(mistakeWords).join(" or "), why: first.why };
}
