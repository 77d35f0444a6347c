/**
 * Reads a lab directory into the lab model and proves it renders for every session: unknown parameters, mistyped
 * guide actions, malformed YAML and broken cross-references are reported together, each with file and line.
 */
import { readdir, readFile, stat } from "node:fs/promises";
import path from "node:path";
import { NotFoundError, ValidationError, type Problem } from "../shared/errors.ts";
import type { LabSummary } from "./api.ts";
import { guideProblems, guideTitle } from "./model/guide.ts";
import { paramNames, paramVariants } from "./model/params.ts";
import { durationMinutes, labFileSchema } from "./model/schema.ts";
import { renderStage } from "./model/stage.ts";
import { unknownPlaceholders } from "./model/template.ts";
import type { Lab, ParamSpec, SourceFile, StageSource, WrongSource } from "./model/types.ts";
import { parseOne } from "./model/yaml.ts";

async function exists(p: string): Promise<boolean> {
  return stat(p).then(
    () => true,
    () => false,
  );
}

async function readSource(file: string): Promise<SourceFile> {
  return { path: file, text: await readFile(file, "utf8") };
}

/** The YAML files of a directory, sorted by name, except those named in `skip`; none if it does not exist. */
async function yamlFiles(dir: string, skip: readonly string[] = []): Promise<SourceFile[]> {
  if (!(await exists(dir))) return [];
  const names = (await readdir(dir)).filter((n) => /\.ya?ml$/.test(n) && !skip.includes(n)).sort();
  return Promise.all(names.map((n) => readSource(path.join(dir, n))));
}

async function optional(file: string): Promise<SourceFile | undefined> {
  return (await exists(file)) ? readSource(file) : undefined;
}

async function readStage(
  root: string,
  id: string,
  index: number,
  problems: Problem[],
): Promise<StageSource | undefined> {
  const dir = path.join(root, id);
  if (!(await exists(dir))) {
    problems.push({ where: path.join(root, "lab.yaml"), message: `stage directory ${id}/ does not exist` });
    return undefined;
  }
  const required = async (rel: string): Promise<SourceFile> => {
    const f = path.join(dir, rel);
    if (await exists(f)) return readSource(f);
    problems.push({ where: f, message: `missing: every stage has ${rel}` });
    return { path: f, text: "" };
  };
  const guide = await required("README.md");
  const checks = await required("checks.yaml");
  const solution = await yamlFiles(path.join(dir, "solution"), ["answers.yaml"]);
  const solutionAnswers = await optional(path.join(dir, "solution", "answers.yaml"));
  if (!solution.length && !solutionAnswers)
    problems.push({
      where: path.join(dir, "solution"),
      message: "missing: a reference solution (manifests or answers.yaml)",
    });

  const wrong: WrongSource[] = [];
  const wrongDir = path.join(dir, "wrong");
  if (await exists(wrongDir)) {
    for (const name of (await readdir(wrongDir)).sort()) {
      const wdir = path.join(wrongDir, name);
      if (!(await stat(wdir)).isDirectory()) continue;
      const meta = path.join(wdir, "wrong.yaml");
      if (!(await exists(meta))) {
        problems.push({
          where: meta,
          message: "missing: a wrong solution explains itself in wrong.yaml (why, fails)",
        });
        continue;
      }
      const answers = await optional(path.join(wdir, "answers.yaml"));
      wrong.push({
        name,
        meta: await readSource(meta),
        manifests: await yamlFiles(wdir, ["wrong.yaml", "answers.yaml"]),
        ...(answers ? { answers } : {}),
      });
    }
  }
  const commands = await optional(path.join(dir, "setup", "commands.yaml"));
  return {
    index,
    id,
    title: guideTitle(guide.text) ?? id,
    guide,
    setup: await yamlFiles(path.join(dir, "setup"), ["commands.yaml"]),
    ...(commands ? { commands } : {}),
    checks,
    solution,
    ...(solutionAnswers ? { solutionAnswers } : {}),
    wrong,
    cleanup: await yamlFiles(path.join(dir, "cleanup")),
  };
}

function stageFiles(s: StageSource): SourceFile[] {
  return [
    s.guide,
    s.checks,
    ...s.setup,
    ...(s.commands ? [s.commands] : []),
    ...s.solution,
    ...(s.solutionAnswers ? [s.solutionAnswers] : []),
    ...s.cleanup,
    ...s.wrong.flatMap((w) => [w.meta, ...w.manifests, ...(w.answers ? [w.answers] : [])]),
  ];
}

function dedupe(problems: readonly Problem[]): Problem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const k = `${p.where}:${p.line}:${p.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/** Loads the lab in `dir`; throws a ValidationError listing every problem found, with file and line. */
export async function loadLab(dir: string): Promise<Lab> {
  const labFile = path.join(dir, "lab.yaml");
  if (!(await exists(labFile))) throw new NotFoundError(`no lab at ${dir}: ${labFile} does not exist`);
  const meta = parseOne(await readFile(labFile, "utf8"), labFile, labFileSchema);
  if (!meta.value) throw new ValidationError(meta.problems);
  const m = meta.value;
  const problems: Problem[] = [];

  const params: ParamSpec[] = Object.entries(m.params).map(([name, spec]) => ({
    name,
    choices: spec.oneOf.map((c) => {
      if (typeof c === "string") return { value: c, fields: {} };
      const { value, ...fields } = c;
      return { value: value ?? "", fields };
    }),
  }));
  const stages: StageSource[] = [];
  const seen = new Set<string>();
  for (const [i, id] of m.stages.entries()) {
    if (seen.has(id))
      problems.push({
        where: labFile,
        line: meta.doc?.lineOf(["stages", i]),
        message: `stage ${id} is listed twice`,
      });
    seen.add(id);
    const s = await readStage(dir, id, stages.length, problems);
    if (s) stages.push(s);
  }
  const lab: Lab = {
    id: m.id,
    title: m.title,
    description: m.description,
    durationMinutes: durationMinutes(m.duration),
    profile: m.profile,
    requirements: m.requirements,
    params,
    stages,
  };

  const names = paramNames(params);
  for (const spec of params)
    for (const c of spec.choices)
      for (const [field, v] of Object.entries({ value: c.value, ...c.fields }))
        for (const p of unknownPlaceholders(v, names, labFile))
          problems.push({
            ...p,
            line: meta.doc?.lineOf(["params", spec.name]),
            message: `params.${spec.name} (${field}): ${p.message}`,
          });
  for (const s of stages) {
    for (const f of stageFiles(s)) problems.push(...unknownPlaceholders(f.text, names, f.path));
    problems.push(...guideProblems(s.guide.text, s.guide.path));
  }
  if (!problems.length)
    for (const variant of paramVariants(params))
      for (const s of stages) {
        try {
          renderStage(lab, s.index, variant);
        } catch (err) {
          if (err instanceof ValidationError) problems.push(...err.problems);
          else throw err;
        }
      }
  if (problems.length) throw new ValidationError(dedupe(problems), `lab ${dir} has problems:\n`);
  return lab;
}

/** Summaries of every lab under `root` (each subdirectory with a lab.yaml). Broken labs are skipped. */
export async function listLabs(root: string): Promise<LabSummary[]> {
  if (!(await exists(root))) return [];
  const out: LabSummary[] = [];
  for (const name of (await readdir(root)).sort()) {
    if (!(await exists(path.join(root, name, "lab.yaml")))) continue;
    try {
      const lab = await loadLab(path.join(root, name));
      out.push({
        id: lab.id,
        title: lab.title,
        description: lab.description,
        durationMinutes: lab.durationMinutes,
        stageCount: lab.stages.length,
      });
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err;
    }
  }
  return out;
}
