/**
 * `egresslab sim`: starts a simulated cluster on an HTTPS port, writes its kubeconfig and serves until interrupted.
 */
import { existsSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Command } from "./command.ts";
import { untilStopSignal } from "./signals.ts";
import { formatHelp, parseOptions, type OptionSpecs } from "../config/options.ts";
import { EgresslabError, ValidationError } from "../shared/errors.ts";
import { createLogger } from "../shared/logger.ts";
import { SimHost } from "../sim/host.ts";
import type { CalicoEdition } from "../sim/types.ts";

const specs = {
  port: {
    type: "number",
    description: "HTTPS port of the Kubernetes API (0 = any free port)",
    default: 0,
    env: "EGRESSLAB_SIM_PORT",
    arg: "N",
  },
  host: { type: "string", description: "Interface to listen on", default: "127.0.0.1", arg: "ADDR" },
  kubeconfig: {
    type: "string",
    description: "Where to write the kubeconfig",
    default: "egresslab.kubeconfig",
    arg: "FILE",
  },
  data: {
    type: "string",
    description: "Keep the cluster (and its kubeconfig's CA and token) in DIR across restarts",
    env: "EGRESSLAB_SIM_DATA",
    arg: "DIR",
  },
  profile: { type: "string", description: "Cluster profile from clusters/", default: "bare", arg: "NAME" },
  edition: {
    type: "string",
    description: "Calico edition the cluster behaves as",
    default: "enterprise",
    choices: ["enterprise", "oss"],
    arg: "EDITION",
  },
  seed: { type: "number", description: "Seed for everything random in the simulation", arg: "N" },
  id: {
    type: "string",
    description: "Cluster id (names the kubeconfig context egresslab-<id>)",
    default: "sim",
    arg: "ID",
  },
  verbose: { type: "boolean", description: "Log every API request", short: "v" },
} satisfies OptionSpecs;

const USAGE =
  "egresslab sim [--port N] [--kubeconfig FILE] [--data DIR] [--profile NAME] [--edition enterprise|oss] [--seed N]";

export const simCommand: Command = {
  summary: "Start a simulated Kubernetes cluster with Calico and write a kubeconfig for kubectl",
  async run(argv) {
    const opts = parseOptions(specs, argv);
    if (opts.help) {
      process.stdout.write(formatHelp(USAGE, specs) + "\n");
      return 0;
    }
    if (opts._.length) throw new ValidationError([{ message: `unexpected argument "${opts._[0]}"` }]);
    if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535)
      throw new ValidationError([
        { where: "--port", message: `must be a port number between 0 and 65535, got ${opts.port}` },
      ]);
    const kubeconfigPath = path.resolve(opts.kubeconfig);
    const defaultKube = path.join(os.homedir(), ".kube", "config");
    if (kubeconfigPath === defaultKube && existsSync(defaultKube))
      throw new ValidationError([
        {
          where: "--kubeconfig",
          message: `${defaultKube} exists; egresslab will not overwrite it. Choose another file (the default is ./egresslab.kubeconfig)`,
        },
      ]);
    const logger = createLogger({ level: opts.verbose ? "debug" : "warn" });
    const host = await SimHost.start({
      ...(opts.port ? { port: opts.port } : {}),
      host: opts.host,
      ...(opts.data ? { dataDir: opts.data } : {}),
      logger,
    });
    try {
      const existing = host.clusterSpec(opts.id);
      if (
        existing &&
        ((existing.profile ?? "bare") !== opts.profile || (existing.edition ?? "enterprise") !== opts.edition)
      )
        process.stderr.write(
          `egresslab sim: keeping the cluster "${opts.id}" saved in ${opts.data} (profile ${existing.profile ?? "bare"}, edition ${existing.edition ?? "enterprise"}); use another --data directory or --id for a new one\n`,
        );
      const kubeconfig = existing
        ? host.kubeconfig(opts.id)
        : (
            await host.createCluster({
              id: opts.id,
              profile: opts.profile,
              edition: opts.edition as CalicoEdition,
              ...(opts.seed !== undefined ? { seed: opts.seed } : {}),
            })
          ).kubeconfig;
      writeFileSync(kubeconfigPath, kubeconfig, { mode: 0o600 });
    } catch (err) {
      await host.close();
      throw err instanceof EgresslabError || err instanceof Error ? err : new Error(String(err));
    }
    // Listen for the stop signals before announcing readiness, so a Ctrl-C right after the line still closes cleanly.
    const stopped = untilStopSignal();
    process.stdout.write(
      `egresslab sim: cluster ready at ${host.url} — export KUBECONFIG=${kubeconfigPath} (Ctrl-C to stop)\n`,
    );
    await stopped;
    await host.close();
    return 0;
  },
};
