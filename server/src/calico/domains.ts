/**
 * Domain names in DNS policy (Calico Enterprise, specification §D): exact names, and a single `*` that stands for one
 * or more whole labels at its position (`*.example.com` matches `a.b.example.com` but not `example.com`).
 */

/** Lower-cases and strips a trailing dot. */
export function normaliseDomain(name: string): string {
  const n = name.trim().toLowerCase();
  return n.endsWith(".") ? n.slice(0, -1) : n;
}

/** Why a domain pattern is not accepted, or undefined when it is fine. */
export function domainPatternProblem(pattern: unknown): string | undefined {
  if (typeof pattern !== "string" || pattern.trim() === "") return "must be a non-empty domain name";
  const p = normaliseDomain(pattern);
  const labels = p.split(".");
  const stars = labels.filter((l) => l.includes("*"));
  if (stars.length > 1) return `"${pattern}": only one wildcard is supported in a domain name`;
  if (stars.length === 1 && stars[0] !== "*")
    return `"${pattern}": a wildcard must be a whole label, as in *.example.com`;
  if (labels.length > 1 && labels[labels.length - 1] === "*")
    return `"${pattern}": a wildcard cannot be the last label of a domain name`;
  if (labels.length === 1 && labels[0] === "*") return `"${pattern}": a lone wildcard is not a domain name`;
  for (const l of labels) {
    if (l === "*") continue;
    if (!/^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$/.test(l)) return `"${pattern}" is not a valid domain name`;
  }
  return undefined;
}

/** A compiled matcher for one pattern. */
export interface DomainMatcher {
  pattern: string;
  /** True when `name` matches; `name` may be in any case, with or without a trailing dot. */
  matches(name: string): boolean;
}

const isNormal = (n: string): boolean => !n.endsWith(".") && n === n.toLowerCase() && n.trim() === n;

export function compileDomain(pattern: string): DomainMatcher {
  const p = normaliseDomain(pattern);
  const labels = p.split(".");
  const star = labels.indexOf("*");
  if (star < 0) return { pattern: p, matches: (n) => (isNormal(n) ? n : normaliseDomain(n)) === p };
  const before = labels
    .slice(0, star)
    .map((l) => l + ".")
    .join("");
  const after = labels
    .slice(star + 1)
    .map((l) => "." + l)
    .join("");
  return {
    pattern: p,
    matches(raw) {
      const n = isNormal(raw) ? raw : normaliseDomain(raw);
      // The wildcard stands for one or more whole labels: a non-empty middle between the fixed parts.
      return n.length > before.length + after.length && n.startsWith(before) && n.endsWith(after);
    },
  };
}
