/**
 * `egresslab clusters create|delete|list`: for instructors preparing clusters ahead of a workshop. With
 * `--out-dir`, created clusters' kubeconfigs are written there, ready to serve as a kubeconfig pool
 * (`egresslab serve --provider kubeconfig --kubeconfig-dir DIR`).
 */
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import type { Command } from "./command.ts";
import { formatHelp, parseOptions, type OptionSpecs } from "../config/options.ts";
import { EgresslabError, ValidationError, type Problem } from "../shared/errors.ts";
import { createLogger, type LogLevel } from "../shared/logger.ts";
import type { CalicoEdition } from "../sim/types.ts";
import { createProvider, providerOptionSpecs, providerSettings } from "../providers/select.ts";

export const clustersOptionSpecs = {
  id: {
    type: "list",
    arg: "ID",
    description: "The cluster's id (repeatable); for create, the attendee or seat it is for",
  },
  count: { type: "number", arg: "N", description: "create: make N clusters named PREFIX-1 … PREFIX-N" },
  prefix: { type: "string", default: "seat", arg: "PREFIX", description: "create --count: the id prefix" },
  parallel: {
    type: "number",
    default: 1,
    arg: "N",
    description: "create: make up to N clusters at once (kind clusters take minutes each; each needs memory)",
  },
  all: { type: "boolean", default: false, description: "delete: every cluster the provider lists" },
  profile: {
    type: "string",
    arg: "NAME",
    description: "create: the cluster profile (e.g. bare, egress-workshop)",
  },
  edition: {
    type: "string",
    choices: ["enterprise", "oss"],
    arg: "EDITION",
    description: "create: the Calico edition to ask for",
  },
  "out-dir": {
    type: "string",
    arg: "DIR",
    description: "create: also write each kubeconfig to DIR/<id>.yaml (a kubeconfig pool)",
  },
  data: {
    type: "string",
    default: ".egresslab",
    env: "EGRESSLAB_DATA",
    arg: "DIR",
    description: "Where cluster state and leases are kept (the same as for serve)",
  },
  database: {
    type: "string",
    env: "EGRESSLAB_DATABASE",
    arg: "URL",
    description:
      "kubeconfig provider: the pool's leases are in this shared Postgres database (the same as for serve --database)",
  },
  output: {
    type: "string",
    short: "o",
    arg: "FORMAT",
    choices: ["text", "json"],
    default: "text",
    description:
      "list: text (tab-separated lines) or json (an array of {id, provider, detail, kubeconfigPath})",
  },
  "log-level": {
    type: "string",
    default: "warn",
    env: "EGRESSLAB_LOG_LEVEL",
    choices: ["debug", "info", "warn", "error"],
    arg: "LEVEL",
    description: "Least severe log lines shown",
  },
  ...providerOptionSpecs,
} as const satisfies OptionSpecs;

const usage = "egresslab clusters create|delete|list [options]";

export const clustersCommand: Command = {
  summary: "Manage real clusters for workshops (kind, kubeconfig pools)",
  async run(argv) {
    const o = parseOptions(clustersOptionSpecs, argv);
    const [action, ...extra] = o._;
    if (o.help || !action) {
      process.stdout.write(
        formatHelp(usage, clustersOptionSpecs) +
          "\n\nExamples:\n" +
          "  egresslab clusters create --provider kind --count 10 --out-dir pool/   # ten kind clusters with Calico, kubeconfigs in pool/\n" +
          "  egresslab serve --provider kubeconfig --kubeconfig-dir pool/           # hand them to attendees\n" +
          "  egresslab clusters list --provider kind\n" +
          "  egresslab clusters delete --provider kind --all\n",
      );
      return o.help ? 0 : 2;
    }
    const problems: Problem[] = [];
    if (!["create", "delete", "list"].includes(action))
      problems.push({ where: action, message: "unknown action: use create, delete or list" });
    if (extra.length) problems.push({ where: extra.join(" "), message: "unexpected arguments" });
    const ids = clusterIds(o.id ?? [], o.count, o.prefix, problems);
    if (!Number.isInteger(o.parallel) || o.parallel < 1 || o.parallel > 32)
      problems.push({
        where: "--parallel",
        message: `must be a whole number from 1 to 32, got ${o.parallel}`,
      });
    if (action === "create" && ids.length === 0)
      problems.push({ where: "create", message: "needs --id ID or --count N" });
    if (action === "delete" && ids.length === 0 && !o.all)
      problems.push({ where: "delete", message: "needs --id ID or --all" });
    if (problems.length) throw new ValidationError(problems);

    const logger = createLogger({ level: o["log-level"] as LogLevel });
    const provider = await createProvider({
      ...providerSettings(o),
      dataDir: path.resolve(o.data),
      ...(o.database ? { database: o.database } : {}),
      logger,
    });
    const out = (line: string): void => void process.stdout.write(line + "\n");
    // Ctrl-C stops what is being created and lets the provider clean up half-made clusters before exiting.
    const interrupt = new AbortController();
    const onSignal = (): void => {
      process.stderr.write("interrupted: stopping and cleaning up\n");
      interrupt.abort(new EgresslabError("unavailable", "interrupted"));
    };
    process.once("SIGINT", onSignal);
    process.once("SIGTERM", onSignal);
    try {
      if (action === "list") {
        const list = await provider.list();
        if (o.output === "json") {
          const rows = list.map((c) => ({
            id: c.id,
            provider: provider.name,
            detail: c.detail,
            kubeconfigPath: c.kubeconfigPath ?? null,
          }));
          out(JSON.stringify(rows, null, 2));
          return 0;
        }
        if (list.length === 0) out(`no ${provider.name} clusters`);
        for (const c of list) out(`${c.id}\t${c.detail}${c.kubeconfigPath ? `\t${c.kubeconfigPath}` : ""}`);
        return 0;
      }
      if (action === "delete") {
        const targets = o.all ? (await provider.list()).map((c) => c.id) : ids;
        for (const id of targets) {
          await provider.release(id);
          out(`${id}\tdeleted`);
        }
        return 0;
      }
      if (o["out-dir"]) await mkdir(o["out-dir"], { recursive: true });
      let failed = 0;
      let lastError: unknown;
      const createOne = async (id: string): Promise<void> => {
        const started = Date.now();
        try {
          const conn = await provider.acquire({
            id,
            signal: interrupt.signal,
            ...(o.profile ? { profile: o.profile } : {}),
            ...(o.edition ? { edition: o.edition as CalicoEdition } : {}),
            onProgress: (step) => void process.stderr.write(`[${id}] ${step}\n`),
          });
          let where = "";
          if (o["out-dir"]) {
            where = path.join(o["out-dir"], `${id}.yaml`);
            await writeFile(where, conn.kubeconfig, { mode: 0o600 });
          }
          out(
            `${id}\tready (${conn.provider}, Calico ${conn.edition}, ${Math.round((Date.now() - started) / 1000)}s)${where ? `\t${where}` : ""}`,
          );
        } catch (err) {
          failed++;
          lastError = err;
          process.stderr.write(`[${id}] failed: ${err instanceof Error ? err.message : String(err)}\n`);
        }
      };
      const queue = [...ids];
      const workers = Array.from({ length: Math.min(o.parallel, ids.length) }, async () => {
        for (let id = queue.shift(); id !== undefined && !interrupt.signal.aborted; id = queue.shift())
          await createOne(id);
      });
      await Promise.all(workers);
      if (failed === ids.length) throw lastError;
      if (provider.name === "sim") {
        process.stderr.write(
          `simulated clusters are served while \`egresslab serve --data ${o.data}\` runs\n`,
        );
      }
      return failed ? 1 : 0;
    } finally {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
      await provider.close();
    }
  },
};

/** `--id` values, or PREFIX-1 … PREFIX-N for `--count`. */
function clusterIds(ids: string[], count: number | undefined, prefix: string, problems: Problem[]): string[] {
  if (count === undefined) return ids;
  if (ids.length) problems.push({ where: "--count", message: "give either --id or --count, not both" });
  if (!Number.isInteger(count) || count < 1 || count > 500) {
    problems.push({ where: "--count", message: `must be a whole number from 1 to 500, got ${count}` });
    return [];
  }
  return Array.from({ length: count }, (_, i) => `${prefix}-${i + 1}`);
}
