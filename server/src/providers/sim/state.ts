/**
 * What the sim provider remembers beside the simulator's own data: which attendee has which cluster. Kept in
 * `<dataDir>/sim-provider.json`.
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { ValidationError } from "../../shared/errors.ts";
import { storageHealth, toStorageError } from "../../shared/storage.ts";
import { nodeDisk } from "../../sim/persistence.ts";

export interface SimProviderState {
  /** Attendee id → simulator cluster id. */
  assignments: Record<string, string>;
}

export const emptyState = (): SimProviderState => ({ assignments: {} });

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
  };
}

/** Writes the assignments durably (no temp file left behind); a full disk throws a `StorageError` saying so. */
export function writeState(dataDir: string | undefined, state: SimProviderState): void {
  if (!dataDir) return;
  try {
    nodeDisk.replaceFile(path.join(dataDir, "sim-provider.json"), JSON.stringify(state, null, 2) + "\n");
  } catch (err) {
    storageHealth.failed(err);
    throw toStorageError(err, "which attendee has which cluster was not saved");
  }
}
