/**
 * `egresslab proxy`: a cookie-affinity reverse proxy in front of several `egresslab serve` replicas on one machine,
 * for trying multi-replica by hand (on Kubernetes the ingress does this). Runs until interrupted.
 */
import type { Command } from "./command.ts";
import { untilStopSignal } from "./signals.ts";
import { formatHelp, parseOptions, type OptionSpecs } from "../config/options.ts";
import { ValidationError } from "../shared/errors.ts";
import { createLogger, type LogLevel } from "../shared/logger.ts";
import { createAffinityProxy, parseBackend, replicaCookie } from "../scale/affinity-proxy.ts";

export const proxyOptionSpecs = {
  listen: {
    type: "number",
    default: 8080,
    env: "EGRESSLAB_PROXY_PORT",
    arg: "PORT",
    description: "Port the proxy listens on",
  },
  host: {
    type: "string",
    default: "127.0.0.1",
    env: "EGRESSLAB_PROXY_HOST",
    arg: "ADDR",
    description: "Interface to listen on",
  },
  backend: {
    type: "list",
    env: "EGRESSLAB_PROXY_BACKENDS",
    arg: "NAME=URL",
    description: `A replica: its name (the value of the ${replicaCookie} cookie, as its --replica) and address, e.g. r1=http://127.0.0.1:3001; repeat for each replica`,
  },
  "health-interval": {
    type: "number",
    default: 1000,
    env: "EGRESSLAB_PROXY_HEALTH_INTERVAL",
    arg: "MS",
    description: "How often each replica's /readyz is checked",
  },
  "log-level": {
    type: "string",
    default: "info",
    env: "EGRESSLAB_LOG_LEVEL",
    choices: ["debug", "info", "warn", "error"],
    arg: "LEVEL",
    description: "Least severe log lines shown",
  },
} as const satisfies OptionSpecs;

export const proxyCommand: Command = {
  summary: "Run a cookie-affinity proxy in front of several serve replicas (multi-replica on one machine)",
  async run(argv) {
    const o = parseOptions(proxyOptionSpecs, argv);
    if (o.help) {
      process.stdout.write(
        formatHelp("egresslab proxy --backend NAME=URL … [options]", proxyOptionSpecs) + "\n",
      );
      return 0;
    }
    const problems = [];
    if (o._.length) problems.push({ where: o._.join(" "), message: "unexpected argument" });
    if (!Number.isInteger(o.listen) || o.listen < 0 || o.listen > 65535)
      problems.push({ where: "--listen", message: `expects a port number, got ${o.listen}` });
    if (!(o["health-interval"] >= 100))
      problems.push({ where: "--health-interval", message: "expects at least 100 ms" });
    if (!o.backend?.length) problems.push({ where: "--backend", message: "give at least one replica" });
    if (problems.length) throw new ValidationError(problems);
    const logger = createLogger({ level: o["log-level"] as LogLevel });
    const proxy = createAffinityProxy({
      backends: o.backend!.map(parseBackend),
      healthIntervalMs: o["health-interval"],
      logger: logger.child({ component: "proxy" }),
    });
    const url = await proxy.listen(o.listen, o.host);
    process.stdout.write(
      `egresslab proxy: open ${url} (${proxy
        .status()
        .map((b) => `${b.name} → ${b.url}`)
        .join(", ")})\n`,
    );
    await untilStopSignal();
    await proxy.close();
    return 0;
  },
};
