/**
 * The `egresslab` command: `serve`, `sim`, `validate`, `policy check`, `clusters`, `proxy` and the rest. Errors from
 * every command are printed here, once, in the user's terms.
 */
import { EgresslabError, ValidationError, exitCodeFor, formatProblems } from "./shared/errors.ts";
import { readFileSync } from "node:fs";
import type { Command } from "./cli/command.ts";
import { nearest } from "./config/options.ts";

const commands: Record<string, () => Promise<Command>> = {
  serve: async () => (await import("./cli/serve.ts")).serveCommand,
  sim: async () => (await import("./cli/sim.ts")).simCommand,
  validate: async () => (await import("./cli/validate.ts")).validateCommand,
  policy: async () => (await import("./cli/policy.ts")).policyCommand,
  clusters: async () => (await import("./cli/clusters.ts")).clustersCommand,
  instructor: async () => (await import("./cli/instructor.ts")).instructorCommand,
  workshop: async () => (await import("./cli/workshop.ts")).workshopCommand,
  proxy: async () => (await import("./cli/proxy.ts")).proxyCommand,
};

const summaries: Record<string, string> = {
  serve: "Run the workshop server (web page, terminals, grading)",
  sim: "Start a simulated Kubernetes cluster with Calico and write a kubeconfig for kubectl",
  validate: "Prove a lab works: every check fails before its solution, wrong solutions fail, solutions pass",
  policy: "Test Calico and Kubernetes network policies offline (`policy check`)",
  clusters: "Manage real clusters for workshops (kind, kubeconfig pools)",
  instructor: "Show or rotate the instructor token kept in the data directory",
  workshop: "Create, list, open, pause and end workshops on a running server",
  proxy: "Run a cookie-affinity proxy in front of several serve replicas (multi-replica on one machine)",
};

function topHelp(): string {
  const w = Math.max(...Object.keys(commands).map((c) => c.length)) + 2;
  return [
    "Usage: egresslab <command> [options]",
    "",
    "Commands:",
    ...Object.keys(commands).map((c) => `  ${c.padEnd(w)}${summaries[c] ?? ""}`),
    "",
    "Options:",
    "  -h, --help     Show this help",
    "  -V, --version  Print the version of egresslab",
    "",
    "Run `egresslab help <command>` (or `egresslab <command> --help`) for a command's options.",
  ].join("\n");
}

/** The version in package.json. */
export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
    version?: unknown;
  };
  return typeof pkg.version === "string" ? pkg.version : "unknown";
}

function unknownCommand(name: string): string {
  const guess = nearest(name, Object.keys(commands));
  return `egresslab: unknown command "${name}"${guess ? `; did you mean \`egresslab ${guess}\`?` : ""}\n\n${topHelp()}\n`;
}

export async function main(argv: string[]): Promise<number> {
  let [name, ...rest] = argv;
  if (name === "-V" || name === "--version" || name === "version") {
    process.stdout.write(`egresslab ${version()}\n`);
    return 0;
  }
  if (name === "help" && rest[0] !== undefined && !rest[0].startsWith("-")) {
    // `egresslab help serve` is `egresslab serve --help`; `egresslab help policy check` is `policy check --help`.
    name = rest[0];
    rest = [...rest.slice(1).filter((a) => !a.startsWith("-")), "--help"];
  }
  if (!name || name === "-h" || name === "--help" || name === "help") {
    process.stdout.write(topHelp() + "\n");
    return name ? 0 : 2;
  }
  const load = commands[name];
  if (!load) {
    process.stderr.write(unknownCommand(name));
    return 2;
  }
  try {
    const command = await load();
    return await command.run(rest);
  } catch (err) {
    if (err instanceof ValidationError) {
      process.stderr.write(
        `egresslab ${name}: ${err.problems.length > 1 ? "problems found:\n" : ""}${formatProblems(err.problems)}\n`,
      );
    } else if (err instanceof EgresslabError) {
      process.stderr.write(`egresslab ${name}: ${err.message}\n`);
    } else {
      process.stderr.write(
        `egresslab ${name}: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
      );
    }
    return exitCodeFor(err);
  }
}

const isEntry = process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (isEntry) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(String(err) + "\n");
      process.exitCode = 1;
    },
  );
}
