/**
 * Reads a lab directory into the lab model and proves it renders for every session: unknown parameters, mistyped
 * guide actions, malformed YAML and broken cross-references are reported together, each with file and line.
 */
import { readdir, readFile, stat } from "node:fs/promises";
import path from "node:path";
import { NotFoundError, ValidationError, type Problem } from "../shared/errors.ts";
import type { LabSummary } from "./api.ts";
import { guideProblems, guideTitle, type GuideRules } from "./model/guide.ts";
import { defaultCatalogue } from "../net/catalogue-file.ts";
import { paramNames, paramVariants } from "./model/params.ts";
import { durationMinutes, labFileSchema } from "./model/schema.ts";
import { renderStage } from "./model/stage.ts";
import { unknownPlaceholders } from "./model/template.ts";
import type {
  Edition,
  Lab,
  ParamSpec,
  SourceFile,
  StageFiles,
  StageSource,
  WrongSource,
} from "./model/types.ts";
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

/** The wrong solutions in `dir` (each a subdirectory with a wrong.yaml), by name. */
async function readWrong(dir: string, problems: Problem[]): Promise<WrongSource[]> {
  const wrong: WrongSource[] = [];
  if (!(await exists(dir))) return wrong;
  for (const name of (await readdir(dir)).sort()) {
    const wdir = path.join(dir, name);
    if (!(await stat(wdir)).isDirectory()) continue;
    const meta = path.join(wdir, "wrong.yaml");
    if (!(await exists(meta))) {
      problems.push({
        where: meta,
        message: "missing: a wrong solution explains itself in wrong.yaml (why, fails, first)",
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
  return wrong;
}

/** The files of one stage directory (or of an edition's variant directory inside it); each may be absent. */
interface DirFiles {
  guide?: SourceFile;
  checks?: SourceFile;
  commands?: SourceFile;
  solutionAnswers?: SourceFile;
  setup: SourceFile[];
  solution: SourceFile[];
  cleanup: SourceFile[];
  wrong: WrongSource[];
}

async function readDir(dir: string, problems: Problem[]): Promise<DirFiles> {
  const guide = await optional(path.join(dir, "README.md"));
  const checks = await optional(path.join(dir, "checks.yaml"));
  const commands = await optional(path.join(dir, "setup", "commands.yaml"));
  const solutionAnswers = await optional(path.join(dir, "solution", "answers.yaml"));
  return {
    ...(guide ? { guide } : {}),
    ...(checks ? { checks } : {}),
    ...(commands ? { commands } : {}),
    ...(solutionAnswers ? { solutionAnswers } : {}),
    setup: await yamlFiles(path.join(dir, "setup"), ["commands.yaml"]),
    solution: await yamlFiles(path.join(dir, "solution"), ["answers.yaml"]),
    cleanup: await yamlFiles(path.join(dir, "cleanup")),
    wrong: await readWrong(path.join(dir, "wrong"), problems),
  };
}

/** `over`'s files replace `base`'s of the same name and add to them; a list keeps the file-name order. */
function overlay<T>(base: readonly T[], over: readonly T[], key: (x: T) => string): T[] {
  const byKey = new Map(base.map((x) => [key(x), x]));
  for (const x of over) byKey.set(key(x), x);
  return [...byKey.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, x]) => x);
}

function complete(dir: string, f: DirFiles, problems: Problem[]): StageFiles {
  const required = (file: SourceFile | undefined, rel: string): SourceFile => {
    if (file) return file;
    const where = path.join(dir, rel);
    problems.push({ where, message: `missing: every stage has ${rel}` });
    return { path: where, text: "" };
  };
  const guide = required(f.guide, "README.md");
  if (!f.solution.length && !f.solutionAnswers)
    problems.push({
      where: path.join(dir, "solution"),
      message: "missing: a reference solution (manifests or answers.yaml)",
    });
  return {
    title: guideTitle(guide.text) ?? path.basename(dir),
    guide,
    setup: f.setup,
    ...(f.commands ? { commands: f.commands } : {}),
    checks: required(f.checks, "checks.yaml"),
    solution: f.solution,
    ...(f.solutionAnswers ? { solutionAnswers: f.solutionAnswers } : {}),
    wrong: f.wrong,
    cleanup: f.cleanup,
  };
}

async function readStage(
  root: string,
  entry: { id: string; editions?: Edition[] },
  index: number,
  labEditions: readonly Edition[],
  problems: Problem[],
): Promise<StageSource | undefined> {
  const { id } = entry;
  const dir = path.join(root, id);
  if (!(await exists(dir))) {
    problems.push({ where: path.join(root, "lab.yaml"), message: `stage directory ${id}/ does not exist` });
    return undefined;
  }
  const base = await readDir(dir, problems);
  const runsOn = entry.editions ?? labEditions;
  for (const e of runsOn)
    if (!labEditions.includes(e))
      problems.push({
        where: path.join(root, "lab.yaml"),
        message: `stage ${id} names edition ${e}, which requirements.editions does not list`,
      });
  // The stage's own files serve every edition it runs on; `<stage>/<edition>/` changes them for one edition.
  const own = complete(dir, base, problems);
  const variants: Partial<Record<Edition, StageFiles>> = {};
  for (const e of ["enterprise", "oss"] as const) {
    const vdir = path.join(dir, e);
    const has = await exists(vdir);
    if (has && !labEditions.includes(e)) {
      problems.push({
        where: vdir,
        message: `a variant for edition ${e}, which the lab's requirements.editions does not list`,
      });
      continue;
    }
    if (!labEditions.includes(e)) continue;
    if (!runsOn.includes(e)) {
      // Guide-only: the variant's README.md says why the stage cannot run on this edition.
      const guide = await optional(path.join(vdir, "README.md"));
      if (!guide)
        problems.push({
          where: path.join(vdir, "README.md"),
          message: `missing: stage ${id} does not run on ${e}, so ${e}/README.md tells the learner why and what to do instead`,
        });
      const g = guide ?? { path: path.join(vdir, "README.md"), text: "" };
      variants[e] = {
        title: guideTitle(g.text) ?? id,
        guideOnly: true,
        guide: g,
        setup: [],
        checks: { path: path.join(vdir, "checks.yaml"), text: "checks: []\n" },
        solution: [],
        wrong: [],
        cleanup: [],
      };
      continue;
    }
    if (!has) continue;
    const v = await readDir(vdir, problems);
    const guide = v.guide ?? base.guide;
    const commands = v.commands ?? base.commands;
    const checks = v.checks ?? base.checks;
    const solutionAnswers = v.solutionAnswers ?? base.solutionAnswers;
    variants[e] = complete(
      dir,
      {
        ...(guide ? { guide } : {}),
        ...(commands ? { commands } : {}),
        ...(checks ? { checks } : {}),
        ...(solutionAnswers ? { solutionAnswers } : {}),
        setup: overlay(base.setup, v.setup, (f) => path.basename(f.path)),
        solution: overlay(base.solution, v.solution, (f) => path.basename(f.path)),
        cleanup: overlay(base.cleanup, v.cleanup, (f) => path.basename(f.path)),
        wrong: overlay(base.wrong, v.wrong, (w) => w.name),
      },
      problems,
    );
  }
  return { index, id, ...own, ...(Object.keys(variants).length ? { variants } : {}) };
}

function stageFiles(s: StageFiles): SourceFile[] {
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
  const editions: Edition[] = m.requirements.editions ?? [m.requirements.edition ?? "oss"];
  for (const [i, e] of m.stages.entries()) {
    const entry = typeof e === "string" ? { id: e } : e;
    const id = entry.id;
    if (seen.has(id))
      problems.push({
        where: labFile,
        line: meta.doc?.lineOf(["stages", i]),
        message: `stage ${id} is listed twice`,
      });
    seen.add(id);
    const s = await readStage(dir, entry, stages.length, editions, problems);
    if (s) stages.push(s);
  }
  const lab: Lab = {
    id: m.id,
    title: m.title,
    description: m.description,
    durationMinutes: durationMinutes(m.duration),
    profile: m.profile,
    requirements: { edition: editions[0]!, editions, providers: m.requirements.providers },
    ...(m.toolbox ? { toolbox: { execNamespaces: [...m.toolbox.execNamespaces] } } : {}),
    params,
    stages,
  };

  const rules = guideRules();
  const names = new Set([...paramNames(params), "edition"]);
  for (const spec of params)
    for (const c of spec.choices)
      for (const [field, v] of Object.entries({ value: c.value, ...c.fields }))
        for (const p of unknownPlaceholders(v, names, labFile))
          problems.push({
            ...p,
            line: meta.doc?.lineOf(["params", spec.name]),
            message: `params.${spec.name} (${field}): ${p.message}`,
          });
  for (const s of stages)
    for (const files of [s, ...Object.values(s.variants ?? {})]) {
      for (const f of stageFiles(files)) problems.push(...unknownPlaceholders(f.text, names, f.path));
      problems.push(...guideProblems(files.guide.text, files.guide.path, rules));
    }
  if (!problems.length)
    for (const edition of editions)
      for (const variant of paramVariants(params))
        for (const s of stages) {
          try {
            const r = renderStage(lab, s.index, { ...variant, edition });
            for (const c of r.commands) {
              const why = c.kind === "rotate" ? rules.cannotRotate?.(c.domain) : undefined;
              if (why)
                problems.push({
                  where: (s.variants?.[edition]?.commands ?? s.commands)?.path ?? "setup/commands.yaml",
                  message: `setup: rotate: ${why}`,
                });
            }
            for (const c of r.checks) {
              const why = c.kind === "probe" && c.before ? rules.cannotRotate?.(c.before.rotate) : undefined;
              if (why)
                problems.push({
                  where: (s.variants?.[edition] ?? s).checks.path,
                  message: `${c.id}: before.rotate: ${why}`,
                });
            }
          } catch (err) {
            if (err instanceof ValidationError) problems.push(...err.problems);
            else throw err;
          }
        }
  if (problems.length) throw new ValidationError(dedupe(problems), `lab ${dir} has problems:\n`);
  return lab;
}

/** What guides and checks may rotate: the exact names of `clusters/internet.yaml` with `rotate`. */
function guideRules(): GuideRules {
  const catalogue = defaultCatalogue();
  return {
    cannotRotate(domain) {
      const d = catalogue.domains.find((x) => x.name === domain.toLowerCase());
      if (!d) return `"${domain}" is not a domain of the lab's internet (clusters/internet.yaml)`;
      if (!d.rotate) return `"${domain}" has fixed addresses (no rotate.pool in clusters/internet.yaml)`;
      return undefined;
    },
  };
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
