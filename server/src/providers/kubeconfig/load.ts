/** Reads a pool of kubeconfig files (a directory, a list of files, or both) and validates every one. */
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { ValidationError, type Problem } from "../../shared/errors.ts";
import type { CalicoEdition } from "../../sim/types.ts";
import { looksLikeKubeconfigFile, parsePoolKubeconfig, poolEntryName, type PoolKubeconfig } from "./parse.ts";

export interface PoolSource {
  /** A directory whose kubeconfig files (`*.yaml`, `*.yml`, `*.kubeconfig`, `*.conf`, no extension) form the pool. */
  dir?: string;
  files?: readonly string[];
  /** The Calico edition of clusters whose kubeconfig does not say (default: oss). */
  edition?: CalicoEdition;
}

/** Loads and validates the pool; throws one ValidationError listing every problem in every file. */
export function loadPool(source: PoolSource): PoolKubeconfig[] {
  const problems: Problem[] = [];
  const files: string[] = [];
  if (source.dir) {
    try {
      for (const f of readdirSync(source.dir).sort()) {
        const full = path.join(source.dir, f);
        if (looksLikeKubeconfigFile(f) && statSync(full).isFile()) files.push(full);
      }
    } catch (err) {
      problems.push({
        where: source.dir,
        message: `cannot read the kubeconfig directory: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
      });
    }
  }
  files.push(...(source.files ?? []));
  if (!problems.length && files.length === 0) {
    problems.push({
      where: source.dir,
      message: "no kubeconfig files found: give a directory of kubeconfig files or a list of files",
    });
  }

  const pool: PoolKubeconfig[] = [];
  const seen = new Map<string, string>();
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (err) {
      problems.push({
        where: file,
        message: `cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
      });
      continue;
    }
    const name = poolEntryName(path.basename(file));
    const other = seen.get(name);
    if (other) {
      problems.push({
        where: file,
        message: `has the same pool name "${name}" as ${other}; rename one of them`,
      });
      continue;
    }
    seen.set(name, file);
    const readRef = (ref: string): string | undefined => {
      try {
        return readFileSync(path.resolve(path.dirname(file), ref), "utf8");
      } catch {
        return undefined;
      }
    };
    const r = parsePoolKubeconfig(text, file, name, source.edition ?? "oss", readRef);
    if (r.ok) pool.push(r.value);
    else problems.push(...r.problems);
  }
  if (problems.length)
    throw new ValidationError(
      problems,
      `the kubeconfig pool has problems:\n${problems.map((p) => `${p.where ?? ""}: ${p.message}`).join("\n")}`,
    );
  return pool;
}
