/**
 * What the sim provider remembers beside the simulator's own data: which attendee has which cluster, and which
 * pre-warmed clusters are still free. Kept in `<dataDir>/sim-provider.json`.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { CalicoEdition } from "../../sim/types.ts";
import { ValidationError } from "../../shared/errors.ts";

/** What a pre-warmed cluster was created from; an acquire takes it only when this matches. */
export interface WarmSpec {
  profile?: string;
  edition?: CalicoEdition;
  seed?: number;
}

export interface SimProviderState {
  /** Attendee id → simulator cluster id. */
  assignments: Record<string, string>;
  /** Free pre-warmed clusters. */
  warm: { cluster: string; spec: WarmSpec }[];
}

export const emptyState = (): SimProviderState => ({ assignments: {}, warm: [] });

export function readState(dataDir: string | undefined): SimProviderState {
  if (!dataDir) return emptyState();
  const file = path.join(dataDir, "sim-provider.json");
  if (!existsSync(file)) return emptyState();
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, "utf8"));
  } catch (err) {
    throw new ValidationError([{ where: file, message: `is not valid JSON: ${(err as Error).message}` }]);
  }
  const s = raw as Partial<SimProviderState> | null;
  return {
    assignments: s && typeof s.assignments === "object" && s.assignments ? { ...s.assignments } : {},
    warm: Array.isArray(s?.warm) ? s.warm.filter((w) => w && typeof w.cluster === "string") : [],
  };
}

export function writeState(dataDir: string | undefined, state: SimProviderState): void {
  if (!dataDir) return;
  mkdirSync(dataDir, { recursive: true });
  const file = path.join(dataDir, "sim-provider.json");
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, JSON.stringify(state, null, 2) + "\n");
  renameSync(tmp, file);
}

/** Whether a warm cluster made from `warm` may serve an acquire asking for `want`. */
export function warmMatches(warm: WarmSpec, want: WarmSpec): boolean {
  return (
    (warm.profile ?? null) === (want.profile ?? null) &&
    (warm.edition ?? "enterprise") === (want.edition ?? "enterprise") &&
    (want.seed === undefined || warm.seed === want.seed)
  );
}
