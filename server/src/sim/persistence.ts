/**
 * Saving and restoring a simulated cluster's state: `<dataDir>/clusters/<id>.json` (the objects) and
 * `<id>.dataplane.json` (rotations and flow log), written atomically (temp file + rename), debounced after changes and
 * flushed on close.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { EgresslabError } from "../shared/errors.ts";
import type { Logger } from "../shared/logger.ts";
import { parseDataplaneState, type DataplaneState } from "../net/state.ts";
import type { KubeObject, ResourceKey } from "../store/types.ts";
import type { CalicoEdition } from "./types.ts";

export interface ClusterState {
  version: 1;
  id: string;
  profile: string;
  edition: CalicoEdition;
  seed: number;
  resourceVersion: number;
  objects: Record<ResourceKey, KubeObject[]>;
}

const SAFE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export function stateFile(dataDir: string, id: string): string {
  if (!SAFE_ID.test(id) || id.includes(".."))
    throw new EgresslabError("invalid", `invalid cluster id "${id}": use letters, digits, '.', '_' and '-'`);
  return path.join(dataDir, "clusters", `${id}.json`);
}

export function readState(dataDir: string, id: string): ClusterState | undefined {
  const file = stateFile(dataDir, id);
  if (!existsSync(file)) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, "utf8"));
  } catch (err) {
    throw new EgresslabError(
      "internal",
      `cannot read the saved state of cluster "${id}" (${file}): ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  const s = parsed as Partial<ClusterState>;
  if (s.version !== 1 || typeof s.resourceVersion !== "number" || !s.objects || typeof s.objects !== "object")
    throw new EgresslabError(
      "internal",
      `the saved state of cluster "${id}" (${file}) is not in a format this version understands`,
    );
  return s as ClusterState;
}

/** Writes the state atomically: a reader sees the old file or the new one, never half of one. */
export function writeState(dataDir: string, state: ClusterState): void {
  writeAtomically(stateFile(dataDir, state.id), state);
}

function writeAtomically(file: string, value: unknown): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(value));
  renameSync(tmp, file);
}

export function dataplaneStateFile(dataDir: string, id: string): string {
  return stateFile(dataDir, id).replace(/\.json$/, ".dataplane.json");
}

/**
 * The saved dataplane state, or undefined when there is none. Tolerant: an unreadable or malformed file (or part of
 * one) is dropped with a warning, never an error — the cluster's objects matter more than its flow log.
 */
export function readDataplaneState(dataDir: string, id: string, logger: Logger): DataplaneState | undefined {
  const file = dataplaneStateFile(dataDir, id);
  if (!existsSync(file)) return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, "utf8"));
  } catch (err) {
    logger.warn("ignoring the saved dataplane state", {
      file,
      error: err instanceof Error ? err.message : String(err),
    });
    return undefined;
  }
  const { state, problems } = parseDataplaneState(raw);
  if (problems.length) logger.warn("saved dataplane state partly ignored", { file, problems });
  return state;
}

/** Writes the dataplane state atomically, like `writeState`. */
export function writeDataplaneState(dataDir: string, id: string, state: DataplaneState): void {
  writeAtomically(dataplaneStateFile(dataDir, id), state);
}

/** Forgets a cluster's saved state (no error when there is none). */
export function deleteSimClusterState(dataDir: string, id: string): void {
  rmSync(stateFile(dataDir, id), { force: true });
  rmSync(dataplaneStateFile(dataDir, id), { force: true });
}

/** Calls `save` at most once per `delayMs` after `touch()`, and at once on `flush()`. */
export class DebouncedSaver {
  private timer: NodeJS.Timeout | undefined;
  private dirty = false;
  constructor(
    private readonly save: () => void,
    private readonly delayMs = 250,
    private readonly onError: (err: unknown) => void = () => {},
  ) {}
  touch(): void {
    this.dirty = true;
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flush();
    }, this.delayMs);
    this.timer.unref?.();
  }
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.dirty) return;
    this.dirty = false;
    try {
      this.save();
    } catch (err) {
      this.onError(err);
    }
  }
}
