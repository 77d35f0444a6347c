/**
 * `egresslab validate [LAB…]`: proves labs work. For every stage, carrying state forward: setup; every check fails
 * before the solution; every wrong solution fails the checks it names; the reference solution passes every check.
 * Prints a table per stage, optionally writes JUnit XML, and exits 0 only if all of that holds.
 */
import { existsSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { formatHelp, parseOptions } from "../config/options.ts";
import { NotFoundError, ValidationError, type Problem } from "../shared/errors.ts";
import { createLogger } from "../shared/logger.ts";
import { loadLab, sessionParams, type Edition, type Lab } from "../labs/index.ts";
import { createKubeClient } from "../grading/kube-client.ts";
import { formatReport, formatStage, junitXml } from "../grading/report.ts";
import { validateLab, type ValidateReport } from "../grading/validate-lab.ts";
import { simConnectTimeoutMs } from "../grading/stage.ts";
import type { Command } from "./command.ts";

const specs = {
  provider: {
    type: "string",
    description:
      "Where the cluster comes from: an in-process simulated cluster, or an existing cluster's kubeconfig",
    choices: ["sim", "kubeconfig"],
    default: "sim",
  },
  kubeconfig: {
    type: "string",
    arg: "FILE",
    description: "With --provider kubeconfig: the cluster to validate on",
  },
  edition: {
    type: "string",
    arg: "EDITION",
    choices: ["all", "enterprise", "oss"],
    description:
      "The Calico edition to validate the lab on (default: every edition the lab lists on the simulated cluster, a new cluster of each; with --provider kubeconfig, the lab's first, unless the cluster is of another)",
  },
  junit: { type: "string", arg: "FILE", description: "Also write the results as JUnit XML" },
  output: {
    type: "string",
    short: "o",
    arg: "FORMAT",
    choices: ["text", "json"],
    default: "text",
    description:
      "text: a table per stage as it runs; json: one JSON document with every report, for pipelines",
  },
  seed: {
    type: "number",
    arg: "N",
    description: "The session seed that picks the lab's randomised values",
    default: 1,
  },
  settle: {
    type: "number",
    arg: "MS",
    description: "Pause after applying objects before grading (real clusters need time to program policy)",
  },
  verbose: { type: "boolean", short: "v", description: "Log progress to stderr" },
} as const;

const usage =
  "egresslab validate [LAB…] [--provider sim|kubeconfig] [--kubeconfig FILE] [--edition all|enterprise|oss] [--junit FILE] [-o text|json] [--seed N]";

/** The shipped labs: `labs/` at the repository root. */
export const labsRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../labs");

/** A lab argument: a directory with a lab.yaml, or the name of a shipped lab. */
export function resolveLabDir(arg: string): string {
  if (existsSync(path.join(arg, "lab.yaml"))) return arg;
  const shipped = path.join(labsRoot, arg);
  if (existsSync(path.join(shipped, "lab.yaml"))) return shipped;
  throw new NotFoundError(
    `no lab "${arg}": neither ${arg}/lab.yaml nor ${path.relative(process.cwd(), shipped)}/lab.yaml exists`,
  );
}

async function shippedLabs(): Promise<string[]> {
  const { readdir } = await import("node:fs/promises");
  if (!existsSync(labsRoot)) return [];
  return (await readdir(labsRoot))
    .filter((d) => existsSync(path.join(labsRoot, d, "lab.yaml")))
    .map((d) => path.join(labsRoot, d));
}

async function loadAll(dirs: string[]): Promise<Lab[]> {
  const problems: Problem[] = [];
  const labs: Lab[] = [];
  for (const d of dirs) {
    try {
      labs.push(await loadLab(d));
    } catch (err) {
      if (err instanceof ValidationError) problems.push(...err.problems);
      else throw err;
    }
  }
  if (problems.length) throw new ValidationError(problems);
  return labs;
}

/** The editions to validate `lab` on: those it lists, or the one asked for (none if the lab does not run there). */
export function editionsToValidate(lab: Lab, asked: string | undefined): Edition[] {
  if (asked === undefined || asked === "all") return lab.requirements.editions;
  return lab.requirements.editions.filter((e) => e === asked);
}

/** The `--output json` document: whether every lab passed, and each lab's report as `validateLab` returned it. */
export function validateJson(reports: readonly ValidateReport[]): {
  passed: boolean;
  labs: readonly ValidateReport[];
} {
  return { passed: reports.every((r) => r.passed), labs: reports };
}

export const validateCommand: Command = {
  summary: "Prove a lab works: every check fails before its solution, wrong solutions fail, solutions pass",
  async run(argv) {
    const opts = parseOptions(specs, argv);
    if (opts.help) {
      process.stdout.write(formatHelp(usage, specs) + "\n");
      return 0;
    }
    const dirs = opts._.length ? opts._.map(resolveLabDir) : await shippedLabs();
    if (!dirs.length) throw new NotFoundError(`no labs found in ${labsRoot}`);
    const labs = await loadAll(dirs);
    const logger = opts.verbose ? createLogger({ level: "info" }) : undefined;
    const reports: ValidateReport[] = [];
    const json = opts.output === "json";
    const out = (s: string): boolean => (json ? true : process.stdout.write(s + "\n"));

    if (opts.provider === "kubeconfig") {
      if (!opts.kubeconfig)
        throw new ValidationError([
          { where: "--kubeconfig", message: "--provider kubeconfig needs --kubeconfig FILE" },
        ]);
      if (opts.edition === "all")
        throw new ValidationError([
          { where: "--edition", message: "a kubeconfig cluster is of one edition: give enterprise or oss" },
        ]);
      const client = createKubeClient(await readFile(opts.kubeconfig, "utf8"));
      for (const lab of labs) {
        const edition = (opts.edition as Edition | undefined) ?? lab.requirements.edition;
        if (!lab.requirements.editions.includes(edition)) continue;
        out(`lab ${lab.id} on ${edition}`);
        reports.push(
          await validateLab(client, lab, sessionParams(lab, opts.seed, edition), {
            settleMs: opts.settle ?? 3000,
            ...(logger ? { logger } : {}),
            onStage: (s) => out(formatStage(s)),
          }),
        );
      }
    } else {
      const { SimHost } = await import("../sim/host.ts");
      const host = await SimHost.start({ port: 0, ...(logger ? { logger } : {}) });
      try {
        for (const lab of labs)
          for (const edition of editionsToValidate(lab, opts.edition)) {
            const cluster = await host.createCluster({ profile: lab.profile, edition, seed: opts.seed });
            try {
              out(`lab ${lab.id} on ${edition}`);
              reports.push(
                await validateLab(
                  createKubeClient(cluster.kubeconfig),
                  lab,
                  sessionParams(lab, opts.seed, edition),
                  {
                    settleMs: opts.settle ?? 0,
                    connectTimeoutMs: simConnectTimeoutMs,
                    ...(logger ? { logger } : {}),
                    onStage: (s) => out(formatStage(s)),
                  },
                ),
              );
            } finally {
              await host.deleteCluster(cluster.id);
            }
          }
      } finally {
        await host.close();
      }
    }
    for (const r of reports) out(formatReport(r).split("\n").pop()!);
    if (json) process.stdout.write(JSON.stringify(validateJson(reports), null, 2) + "\n");
    if (opts.junit) await writeFile(opts.junit, junitXml(reports));
    return reports.every((r) => r.passed) ? 0 : 1;
  },
};
