/**
 * Cluster profiles: YAML files in `clusters/` describing what a new simulated cluster contains. A profile is a stream of
 * documents: a `ClusterProfile` header (name, description, `include` of other profiles) followed by the objects to
 * create, as `kubectl apply` would take them. Profiles are parsed once per process and cached; each cluster is built
 * from the parsed objects. An object annotated `egresslab.dev/edition: oss` (or `enterprise`) is created only on clusters
 * of that Calico edition (the annotation itself is not), so a profile can prepare each edition's track.
 */
import { existsSync, readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { LineCounter, parseAllDocuments } from "yaml";
import { ValidationError, type Problem } from "../shared/errors.ts";
import type { KubeObject } from "../store/types.ts";
import type { CalicoEdition } from "./types.ts";

export interface ClusterProfile {
  name: string;
  description: string;
  /** The file it came from. */
  file: string;
  /** Every object to create, included profiles' objects first, each with where it was written. */
  objects: { object: KubeObject; where: string; line?: number; edition?: CalicoEdition }[];
}

/** The annotation that limits a profile object to clusters of one Calico edition. */
export const EDITION_ANNOTATION = "egresslab.dev/edition";

/** `profile` as a cluster of `edition` gets it: without the objects meant for the other edition. */
export function profileForEdition(profile: ClusterProfile, edition: CalicoEdition): ClusterProfile {
  if (profile.objects.every((o) => o.edition === undefined || o.edition === edition)) return profile;
  return {
    ...profile,
    objects: profile.objects.filter((o) => o.edition === undefined || o.edition === edition),
  };
}

/** The object without the edition annotation, and the edition it named (a problem if it names none we know). */
function splitEdition(obj: KubeObject): { object: KubeObject; edition?: CalicoEdition; problem?: string } {
  const annotations = obj.metadata.annotations;
  const e = annotations?.[EDITION_ANNOTATION];
  if (e === undefined) return { object: obj };
  if (e !== "oss" && e !== "enterprise")
    return { object: obj, problem: `${EDITION_ANNOTATION} must be oss or enterprise, not "${e}"` };
  const { [EDITION_ANNOTATION]: _e, ...rest } = annotations!;
  const metadata = { ...obj.metadata };
  if (Object.keys(rest).length) metadata.annotations = rest;
  else delete metadata.annotations;
  return { object: { ...obj, metadata }, edition: e };
}

/** `clusters/` at the root of the repository. */
export function defaultProfilesDir(): string {
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "clusters");
}

const cache = new Map<string, ClusterProfile>();

/** Creation order: namespaces and nodes before what lives in them, tiers and pools before what uses them. */
const kindOrder: Record<string, number> = {
  Namespace: 0,
  Node: 1,
  Tier: 2,
  IPPool: 3,
  FelixConfiguration: 4,
  ServiceAccount: 5,
  ConfigMap: 5,
  Secret: 5,
};

export function sortForCreation<T extends { object: KubeObject }>(items: T[]): T[] {
  return items
    .map((x, i) => ({ x, i }))
    .sort((a, b) => (kindOrder[a.x.object.kind] ?? 9) - (kindOrder[b.x.object.kind] ?? 9) || a.i - b.i)
    .map((e) => e.x);
}

/** The names of the profiles in `dir` (every `*.yaml` whose first document is a ClusterProfile). */
export function listProfiles(dir = defaultProfilesDir()): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith(".yaml"))
    .filter((f) =>
      /^kind:\s*ClusterProfile\s*$/m.test(readFileSync(path.join(dir, f), "utf8").slice(0, 2000)),
    )
    .map((f) => f.replace(/\.yaml$/, ""))
    .sort();
}

/** Loads (once) the profile `name` from `dir`, resolving includes; throws a ValidationError listing every problem. */
export function loadProfile(name: string, dir = defaultProfilesDir()): ClusterProfile {
  const key = `${dir}\0${name}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const p = parseProfile(name, dir, []);
  cache.set(key, p);
  return p;
}

function parseProfile(name: string, dir: string, stack: string[]): ClusterProfile {
  const file = path.join(dir, `${name}.yaml`);
  const rel = path.relative(path.dirname(dir), file);
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(name))
    throw new ValidationError([
      { message: `invalid cluster profile name "${name}": use lower case letters, digits and '-'` },
    ]);
  if (!existsSync(file)) {
    const known = listProfiles(dir);
    throw new ValidationError([
      { message: `unknown cluster profile "${name}"${known.length ? ` (known: ${known.join(", ")})` : ""}` },
    ]);
  }
  if (stack.includes(name))
    throw new ValidationError([
      { where: rel, message: `profile include cycle: ${[...stack, name].join(" -> ")}` },
    ]);
  const text = readFileSync(file, "utf8");
  const lc = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter: lc });
  const problems: Problem[] = [];
  const items: ClusterProfile["objects"] = [];
  let header: Record<string, unknown> | undefined;
  const docList = Array.isArray(docs) ? docs : [docs];
  docList.forEach((doc, i) => {
    const line = doc.range ? lc.linePos(doc.range[0]).line : undefined;
    for (const e of doc.errors)
      problems.push({ where: rel, line: e.linePos?.[0]?.line ?? line, message: e.message });
    if (doc.errors.length) return;
    const value = doc.toJS() as unknown;
    if (value === null || value === undefined) return;
    if (typeof value !== "object" || Array.isArray(value)) {
      problems.push({ where: rel, line, message: `document ${i + 1} is not an object` });
      return;
    }
    const obj = value as Record<string, unknown>;
    if (i === 0) {
      if (obj.kind !== "ClusterProfile") {
        problems.push({
          where: rel,
          line,
          message: "the first document must be the ClusterProfile header (kind: ClusterProfile)",
        });
        return;
      }
      header = obj;
      return;
    }
    if (typeof obj.apiVersion !== "string" || typeof obj.kind !== "string")
      problems.push({ where: rel, line, message: `document ${i + 1} needs apiVersion and kind` });
    else if (!obj.metadata || typeof (obj.metadata as Record<string, unknown>).name !== "string")
      problems.push({ where: rel, line, message: `document ${i + 1} (${obj.kind}) needs metadata.name` });
    else {
      const split = splitEdition(obj as unknown as KubeObject);
      if (split.problem) problems.push({ where: rel, line, message: split.problem });
      items.push({
        object: split.object,
        where: rel,
        ...(line !== undefined ? { line } : {}),
        ...(split.edition ? { edition: split.edition } : {}),
      });
    }
  });
  if (!header && !problems.length)
    problems.push({
      where: rel,
      message: "the first document must be the ClusterProfile header (kind: ClusterProfile)",
    });
  const meta = (header?.metadata ?? {}) as Record<string, unknown>;
  if (header && meta.name !== undefined && meta.name !== name)
    problems.push({
      where: rel,
      message: `metadata.name "${String(meta.name)}" does not match the file name "${name}"`,
    });
  const includes = header?.include ?? [];
  if (!Array.isArray(includes) || includes.some((x) => typeof x !== "string"))
    problems.push({ where: rel, message: "include must be a list of profile names" });
  if (problems.length) throw new ValidationError(problems);
  const included: ClusterProfile["objects"] = [];
  for (const inc of includes as string[]) included.push(...parseProfile(inc, dir, [...stack, name]).objects);
  return {
    name,
    description: typeof meta.description === "string" ? meta.description : "",
    file,
    objects: [...included, ...items],
  };
}
