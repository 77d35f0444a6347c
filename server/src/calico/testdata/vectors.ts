/**
 * Test fixtures: the shared Calico vectors, read from `../shared/vectors` beside the repository when present, else from
 * the copy committed in this folder. Tests only; the engine itself does no I/O.
 */
// eslint-disable-next-line no-restricted-imports -- test fixture loading, not engine code
import { existsSync, readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, "..", "..", "..", "..");

/** Parses one vector file, preferring the shared copy. */
export function loadVectors<T>(file: string): T {
  const shared = path.join(repoRoot, "..", "shared", "vectors", file);
  const p = existsSync(shared) ? shared : path.join(here, file);
  return JSON.parse(readFileSync(p, "utf8")) as T;
}

/** The repository root (for tests that need fixture paths). */
export function repositoryRoot(): string {
  return repoRoot;
}

/** The real-world YAML folder: `../shared/realworld-yaml` when present, else the subset committed here. */
export function realworldDir(): { dir: string; complete: boolean } {
  const shared = path.join(repoRoot, "..", "shared", "realworld-yaml");
  return existsSync(shared)
    ? { dir: shared, complete: true }
    : { dir: path.join(here, "realworld"), complete: false };
}

/** The real-world YAML documents: file name → parsed documents. */
export function loadRealworld(): { docs: Map<string, unknown[]>; complete: boolean } {
  const { dir, complete } = realworldDir();
  const docs = new Map<string, unknown[]>();
  for (const f of readdirSync(dir)
    .filter((n) => n.endsWith(".yaml"))
    .sort())
    docs.set(
      f,
      parseAllDocuments(readFileSync(path.join(dir, f), "utf8"))
        .map((d) => d.toJS() as unknown)
        .filter((d) => d !== null && d !== undefined),
    );
  return { docs, complete };
}
