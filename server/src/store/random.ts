/**
 * Deterministic randomness for one cluster (uids, generated names), and the Kubernetes name alphabet.
 */
import { fnv32a } from "../shared/hash.ts";
import { mulberry32 } from "../shared/mulberry32.ts";

/** `k8s.io/apimachinery/pkg/util/rand` alphabet: no vowels, no confusable characters. */
export const ALPHANUMS = "bcdfghjklmnpqrstvwxz2456789";

export interface Random {
  /** A float in [0, 1). */
  next(): number;
  /** `n` characters from the Kubernetes name alphabet (`rand.String`). */
  string(n: number): string;
  /** A random (version 4) UUID. */
  uuid(): string;
  /** An integer in [0, n). */
  int(n: number): number;
}

/** Seeded with mulberry32: small, fast and good enough for names. */
export function createRandom(seed: number): Random {
  const next = mulberry32(seed);
  const int = (n: number) => Math.floor(next() * n);
  return {
    next,
    int,
    string: (n) => Array.from({ length: n }, () => ALPHANUMS[int(ALPHANUMS.length)]).join(""),
    uuid() {
      const hex = Array.from({ length: 32 }, () => int(16).toString(16));
      hex[12] = "4";
      hex[16] = (8 + int(4)).toString(16);
      const h = hex.join("");
      return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
    },
  };
}

/** `rand.SafeEncodeString`: maps every character onto the name alphabet. */
export function safeEncodeString(s: string): string {
  return Array.from(s, (c) => ALPHANUMS[c.charCodeAt(0) % ALPHANUMS.length]).join("");
}

/** The `pod-template-hash` of a pod template. */
export function podTemplateHash(template: unknown, collisionCount = 0): string {
  return safeEncodeString(
    String(fnv32a(stableStringify(template) + (collisionCount ? String(collisionCount) : ""))),
  );
}

/** JSON with object keys sorted and null members left out, so equal objects hash equally. */
export function stableStringify(v: unknown): string {
  if (v === null || typeof v !== "object") return JSON.stringify(v) ?? "null";
  if (Array.isArray(v)) return `[${v.map(stableStringify).join(",")}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o)
    .filter((k) => o[k] !== undefined && o[k] !== null)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${stableStringify(o[k])}`)
    .join(",")}}`;
}
