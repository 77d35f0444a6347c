/** Session tokens and join codes: random values handed out once, stored only as hashes. */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

/** A random, URL-safe token with 256 bits of entropy. */
export function newToken(): string {
  return randomBytes(32).toString("base64url");
}

/** A short random id for rows (learners, clusters). */
export function newId(prefix: string): string {
  return `${prefix}-${randomBytes(6).toString("hex")}`;
}

/** The stored form of a token: SHA-256, hex. */
export function hashToken(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

/** Compares a presented secret with a stored hash in constant time. */
export function matchesHash(presented: string, storedHash: string): boolean {
  const a = Buffer.from(hashToken(presented), "hex");
  const b = Buffer.from(storedHash, "hex");
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Compares two secrets in constant time (for their length: the lengths themselves are not secret). */
export function constantTimeEqual(a: string, b: string): boolean {
  const x = createHash("sha256").update(a).digest();
  const y = createHash("sha256").update(b).digest();
  return timingSafeEqual(x, y);
}
