/** Cluster names for attendee ids, safe for kind, Docker and the simulator (DNS-label style). */
import { createHash } from "node:crypto";

/**
 * `id` itself when it is already lower-case letters, digits and inner dashes of at most `max` characters; otherwise a
 * cleaned-up id plus a short hash of the original, so every id maps to one stable, distinct, valid name.
 */
export function safeClusterId(id: string, max = 40): string {
  if (/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/.test(id) && id.length <= max) return id;
  const clean = id
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/^-+|-+$/g, "");
  const hash = createHash("sha256").update(id).digest("hex").slice(0, 8);
  const head = clean.slice(0, max - 9).replace(/-+$/, "");
  return head ? `${head}-${hash}` : hash;
}
