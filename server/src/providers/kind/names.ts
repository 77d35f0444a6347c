/** kind cluster names for attendee ids. */
import { safeClusterId } from "../ids.ts";

export const kindNamePrefix = "egresslab-";

/**
 * The kind cluster name for an attendee id: `egresslab-<id>` for ids that are already valid, short kind names, and
 * otherwise a cleaned-up id with a short hash, at most 50 characters (kind's limit before host names get too long).
 */
export function kindClusterName(id: string): string {
  return kindNamePrefix + safeClusterId(id, 40);
}
