/**
 * Rendering a stage for one session: templates filled with the session's parameters, then parsed into manifests,
 * checks, setup commands and wrong solutions. Every problem is collected with its file and line.
 */
import { ValidationError, type Problem } from "../../shared/errors.ts";
import type { LabParams } from "../api.ts";
import { renderTemplate } from "./template.ts";
import {
  answersFileSchema,
  checksFileSchema,
  commandsFileSchema,
  wrongFileSchema,
  type CheckFile,
} from "./schema.ts";
import { parseOne, parseYaml } from "./yaml.ts";
import type {
  Check,
  Edition,
  Lab,
  Manifest,
  RenderedStage,
  SetupCommand,
  SourceFile,
  StageFiles,
  WrongSolution,
} from "./types.ts";

function manifests(files: readonly SourceFile[], params: LabParams, problems: Problem[]): Manifest[] {
  const out: Manifest[] = [];
  for (const f of files) {
    const { docs, problems: yp } = parseYaml(renderTemplate(f.text, params), f.path);
    problems.push(...yp);
    for (const d of docs) {
      const o = d.value as Record<string, unknown> | null;
      const line = d.lineOf([]);
      const meta =
        o && typeof o === "object" ? (o.metadata as Record<string, unknown> | undefined) : undefined;
      const missing = [
        typeof o?.apiVersion !== "string" && "apiVersion",
        typeof o?.kind !== "string" && "kind",
        typeof meta?.name !== "string" && "metadata.name",
      ].filter(Boolean);
      if (missing.length) {
        problems.push({ where: f.path, line, message: `a Kubernetes object needs ${missing.join(", ")}` });
        continue;
      }
      out.push({ object: o as Manifest["object"], file: f.path, line });
    }
  }
  return out;
}

function answers(
  file: SourceFile | undefined,
  params: LabParams,
  problems: Problem[],
): Record<string, string> {
  if (!file) return {};
  const r = parseOne(renderTemplate(file.text, params), file.path, answersFileSchema);
  problems.push(...r.problems);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(r.value ?? {})) out[k] = Array.isArray(v) ? v.join(", ") : v;
  return out;
}

const basename = (p: string): string => p.slice(p.lastIndexOf("/") + 1);

/** Whether two manifests name the same object (apiVersion group, kind, namespace and name). */
function sameObject(a: Manifest, b: Manifest): boolean {
  const group = (v: string): string => (v.includes("/") ? v.slice(0, v.lastIndexOf("/")) : "");
  return (
    group(a.object.apiVersion) === group(b.object.apiVersion) &&
    a.object.kind === b.object.kind &&
    (a.object.metadata.namespace ?? "") === (b.object.metadata.namespace ?? "") &&
    a.object.metadata.name === b.object.metadata.name
  );
}

/** A circle of dependsOn references, as a list of ids ending where it began; undefined when there is none. */
export function dependencyCycle(
  checks: readonly { id: string; dependsOn?: readonly string[] }[],
): string[] | undefined {
  const byId = new Map(checks.map((c) => [c.id, c]));
  const state = new Map<string, "visiting" | "done">();
  const path: string[] = [];
  const visit = (id: string): string[] | undefined => {
    if (state.get(id) === "done") return undefined;
    if (state.get(id) === "visiting") return [...path.slice(path.indexOf(id)), id];
    state.set(id, "visiting");
    path.push(id);
    for (const d of byId.get(id)?.dependsOn ?? []) {
      if (!byId.has(d) || d === id) continue;
      const found = visit(d);
      if (found) return found;
    }
    path.pop();
    state.set(id, "done");
    return undefined;
  };
  for (const c of checks) {
    const found = visit(c.id);
    if (found) return found;
  }
  return undefined;
}

function toCheck(c: CheckFile): Check {
  const base = { id: c.id, title: c.title, hint: c.hint, guard: c.guard, dependsOn: c.dependsOn };
  switch (c.kind) {
    case "probe": {
      const e = c.expect;
      const expect =
        typeof e === "string"
          ? { outcome: e }
          : "status" in e
            ? { outcome: "status" as const, status: e.status }
            : { outcome: "source-ip" as const, ...e.sourceIP };
      const before = c.before ? { before: { rotate: c.before.rotate } } : {};
      return { ...base, kind: "probe", from: c.from, to: c.to, expect, ...before };
    }
    case "resource":
      return { ...base, kind: "resource", target: c.target, expect: c.expect, where: c.where };
    case "flows": {
      const e = c.expect;
      const expect =
        e === "present" ? { present: true as const } : e === "absent" ? { absent: true as const } : e;
      return {
        ...base,
        kind: "flows",
        query: c.query,
        match: c.match,
        windowSeconds: c.windowSeconds,
        expect,
      };
    }
    case "answer": {
      const t = c.truth;
      const truth = t.flows
        ? { flows: t.flows }
        : { values: t.values ?? (t.value !== undefined ? [t.value] : []) };
      return { ...base, kind: "answer", question: c.question, normalize: c.normalize, truth };
    }
  }
}

function commands(file: SourceFile | undefined, params: LabParams, problems: Problem[]): SetupCommand[] {
  if (!file) return [];
  const r = parseOne(renderTemplate(file.text, params), file.path, commandsFileSchema);
  problems.push(...r.problems);
  return (r.value ?? []).map((c): SetupCommand => {
    if ("post" in c) return { kind: "post", path: c.post, body: c.body };
    if ("rotate" in c) return { kind: "rotate", domain: c.rotate.toLowerCase() };
    if ("exec" in c)
      return { kind: "exec", from: c.exec.from, command: c.exec.command, ignoreFailure: c.ignoreFailure };
    return { kind: "wait", seconds: c.wait };
  });
}

/** The edition `params` are for: their `edition`, else the lab's first. */
export function editionOf(lab: Pick<Lab, "requirements">, params: LabParams): Edition {
  const e = params.edition;
  return e === "oss" || e === "enterprise" ? e : lab.requirements.edition;
}

/** The files of stage `index` as `edition` runs it. */
export function stageFilesFor(lab: Lab, index: number, edition: Edition): StageFiles & { id: string } {
  const src = lab.stages[index];
  if (!src) throw new ValidationError([{ message: `lab ${lab.id} has no stage ${index}` }]);
  return { ...src, ...src.variants?.[edition] };
}

/**
 * Renders stage `index` of `lab` with `params` (their `edition`, else the lab's first, picks the stage's variant), or
 * throws a ValidationError listing every problem.
 */
export function renderStage(lab: Lab, index: number, params: LabParams): RenderedStage {
  const edition = editionOf(lab, params);
  if (!lab.requirements.editions.includes(edition))
    throw new ValidationError([
      {
        message: `lab ${lab.id} does not run on Calico ${edition === "oss" ? "Open Source" : "Enterprise"} (it runs on ${lab.requirements.editions.join(", ")})`,
      },
    ]);
  const src = stageFilesFor(lab, index, edition);
  const problems: Problem[] = [];
  if (src.guideOnly)
    return {
      index,
      id: src.id,
      title: src.title,
      edition,
      guideOnly: true,
      questions: [],
      setup: [],
      commands: [],
      checks: [],
      solution: [],
      solutionAnswers: {},
      wrong: [],
      cleanup: [],
    };

  const cf = parseOne(renderTemplate(src.checks.text, params), src.checks.path, checksFileSchema);
  problems.push(...cf.problems);
  const checks = (cf.value?.checks ?? []).map(toCheck);
  const questions = (cf.value?.questions ?? []).map((q) => ({
    id: q.id,
    prompt: q.prompt,
    ...(q.placeholder !== undefined ? { placeholder: q.placeholder } : {}),
  }));

  // Cross-references inside checks.yaml.
  if (cf.value && cf.doc) {
    const seen = new Set<string>();
    const qids = new Set(questions.map((q) => q.id));
    cf.value.checks.forEach((c, i) => {
      if (seen.has(c.id))
        problems.push({
          where: src.checks.path,
          line: cf.doc!.lineOf(["checks", i, "id"]),
          message: `duplicate check id "${c.id}"`,
        });
      seen.add(c.id);
      if (c.kind === "answer" && !qids.has(c.question))
        problems.push({
          where: src.checks.path,
          line: cf.doc!.lineOf(["checks", i, "question"]),
          message: `checks[${i}].question: no question "${c.question}" in this file's questions`,
        });
    });
    const ids = new Set(cf.value.checks.map((c) => c.id));
    cf.value.checks.forEach((c, i) =>
      c.dependsOn.forEach((d, j) => {
        if (!ids.has(d) || d === c.id)
          problems.push({
            where: src.checks.path,
            line: cf.doc!.lineOf(["checks", i, "dependsOn", j]),
            message:
              d === c.id
                ? `checks[${i}].dependsOn: a check cannot depend on itself`
                : `checks[${i}].dependsOn: no check "${d}"`,
          });
      }),
    );
    const cycle = dependencyCycle(checks);
    if (cycle)
      problems.push({
        where: src.checks.path,
        line: 1,
        message: `dependsOn goes round in a circle: ${cycle.join(" → ")}`,
      });
    if (checks.every((c) => c.guard))
      problems.push({
        where: src.checks.path,
        line: 1,
        message: "every check is a guard: a stage needs a check that fails before its solution",
      });
  }

  const solutionAnswers = answers(src.solutionAnswers, params, problems);
  const solution = manifests(src.solution, params, problems);
  const answered = checks
    .filter((c) => c.kind === "answer")
    .map((c) => (c.kind === "answer" ? c.question : ""));
  for (const q of new Set(answered))
    if (!(q in solutionAnswers))
      problems.push({
        where: src.solutionAnswers?.path ?? `${src.id}/solution/answers.yaml`,
        line: 1,
        message: `the reference solution does not answer "${q}"`,
      });

  // Ids as written, even when a check does not parse, so references are checked in the same pass.
  const rawChecks = (cf.doc?.value as { checks?: { id?: unknown }[] } | undefined)?.checks;
  const checkIds = new Set(Array.isArray(rawChecks) ? rawChecks.map((c) => String(c?.id)) : []);
  const wrong: WrongSolution[] = [];
  for (const w of src.wrong) {
    const r = parseOne(renderTemplate(w.meta.text, params), w.meta.path, wrongFileSchema);
    problems.push(...r.problems);
    if (r.value?.editions && !r.value.editions.includes(edition)) continue;
    if (r.value && cf.doc && !r.value.fails.includes(r.value.first))
      problems.push({
        where: w.meta.path,
        line: r.doc?.lineOf(["first"]),
        message: `first: "${r.value.first}" is not one of the checks this wrong solution fails`,
      });
    r.value?.fails.forEach((id, i) => {
      if (cf.doc && !checkIds.has(id))
        problems.push({
          where: w.meta.path,
          line: r.doc?.lineOf(["fails", i]),
          message: `no check "${id}" in ${src.checks.path}`,
        });
    });
    const m = manifests(w.manifests, params, problems);
    const a = answers(w.answers, params, problems);
    const without = r.value?.without ?? [];
    if (!w.manifests.length && !w.answers && !without.length)
      problems.push({
        where: w.meta.path,
        line: 1,
        message: "a wrong solution needs manifests, answers.yaml or solution files it goes without",
      });
    without.forEach((f, i) => {
      if (!src.solution.some((s) => basename(s.path) === f))
        problems.push({
          where: w.meta.path,
          line: r.doc?.lineOf(["without", i]),
          message: `without: no file ${f} in the reference solution`,
        });
    });
    wrong.push({
      name: w.name,
      why: r.value?.why ?? "",
      fails: r.value?.fails ?? [],
      first: r.value?.first ?? "",
      manifests: [
        ...solution.filter((s) => !without.includes(basename(s.file)) && !m.some((x) => sameObject(x, s))),
        ...m,
      ],
      answers: { ...solutionAnswers, ...a },
    });
  }

  const stage: RenderedStage = {
    index,
    id: src.id,
    title: src.title,
    edition,
    guideOnly: false,
    questions,
    setup: manifests(src.setup, params, problems),
    commands: commands(src.commands, params, problems),
    checks,
    solution,
    solutionAnswers,
    wrong,
    cleanup: manifests(src.cleanup, params, problems),
  };
  if (problems.length) throw new ValidationError(problems);
  return stage;
}
