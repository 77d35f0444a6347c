/** kind cluster names for attendee ids. */
import { createHash } from "node:crypto";

export const kindNamePrefix = "egresslab-";

/**
 * The kind cluster name for an attendee id: `egresslab-<id>` when the id is already a valid, short kind name, otherwise a
 * cleaned-up id plus a short hash of the original, so every id maps to one stable, distinct name of at most 50
 * characters (kind's limit before host names get too long).
 */
export function kindClusterName(id: string): string {
  const clean = id
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/^-+|-+$/g, "");
  if (clean === id && id.length > 0 && id.length <= 40) return kindNamePrefix + id;
  const hash = createHash("sha256").update(id).digest("hex").slice(0, 8);
  return `${kindNamePrefix}${clean.slice(0, 31)}${clean ? "-" : ""}${hash}`;
}
