/**
 * `egresslab serve`: the workshop server. Loads the lab, chooses the cluster provider, starts the web server and
 * prints where to open it; runs until interrupted.
 */
import { hostname } from "node:os";
import path from "node:path";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { Command } from "./command.ts";
import { untilStopSignal } from "./signals.ts";
import { formatHelp, parseOptions, type OptionSpecs } from "../config/options.ts";
import { createLogger, type LogLevel } from "../shared/logger.ts";
import { NotFoundError, ValidationError, type Problem } from "../shared/errors.ts";
import { providerOptionSpecs, providerSettings, createProvider } from "../providers/select.ts";
import { loadLab } from "../labs/index.ts";
import * as grading from "../grading/index.ts";
import { labRunner, sessionEdition } from "../sessions/lab-runner.ts";
import type { Edition } from "../labs/index.ts";
import { startWorkshopServer, type WorkshopServer } from "../http/server.ts";
import { defaultUidRange } from "../terminal/uids.ts";
import { defaultShellLimits } from "../terminal/limits.ts";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..");

export const serveOptionSpecs = {
  port: {
    type: "number",
    default: 3000,
    env: "EGRESSLAB_PORT",
    short: "p",
    arg: "PORT",
    description: "Port of the web server",
  },
  host: {
    type: "string",
    default: "127.0.0.1",
    env: "EGRESSLAB_HOST",
    arg: "ADDR",
    description: "Interface to listen on (0.0.0.0 for a room of attendees)",
  },
  data: {
    type: "string",
    default: ".egresslab",
    env: "EGRESSLAB_DATA",
    arg: "DIR",
    description: "Where sessions, progress, homes and cluster state are kept",
  },
  lab: {
    type: "string",
    default: "egress-workshop",
    env: "EGRESSLAB_LAB",
    arg: "ID",
    description: "The lab to run: an id under labs/, or a lab directory",
  },
  edition: {
    type: "string",
    choices: ["enterprise", "oss"],
    env: "EGRESSLAB_EDITION",
    arg: "EDITION",
    description:
      "The lab's track, the Calico edition of the learners' clusters (default: the provider's: Enterprise on the simulated cluster, Open Source on kind)",
  },
  "join-code": {
    type: "string",
    env: "EGRESSLAB_JOIN_CODE",
    arg: "CODE",
    description: "A code attendees must enter to join",
  },
  local: {
    type: "boolean",
    default: false,
    env: "EGRESSLAB_LOCAL",
    description: "Single-user mode on your own machine: a plain shell instead of a bubblewrap sandbox",
  },
  "idle-timeout": {
    type: "number",
    default: 1800,
    env: "EGRESSLAB_IDLE_TIMEOUT",
    arg: "SECONDS",
    description: "End a terminal nobody has used or watched for this long",
  },
  "stuck-failing": {
    type: "number",
    default: 5,
    env: "EGRESSLAB_STUCK_FAILING",
    arg: "MINUTES",
    description: "The board shows an attendee as stuck after failing the same checks for this long",
  },
  "stuck-idle": {
    type: "number",
    default: 10,
    env: "EGRESSLAB_STUCK_IDLE",
    arg: "MINUTES",
    description:
      "The board shows an attendee as stuck after doing nothing on an unpassed stage for this long",
  },
  pool: {
    type: "number",
    default: 2,
    env: "EGRESSLAB_POOL",
    arg: "N",
    description:
      "Clusters kept pre-warmed with --local (a workshop prepares one for every attendee --capacity admits who has not joined yet); with --database, live replicas divide the warm clusters: each keeps its share, rounded up",
  },
  capacity: {
    type: "number",
    default: 100,
    env: "EGRESSLAB_CAPACITY",
    arg: "N",
    description:
      "Most attendees who can join (each gets a cluster, a home and a shell); joins beyond are refused. With --database it counts the whole workshop, across replicas",
  },
  "trust-proxy": {
    type: "boolean",
    default: false,
    env: "EGRESSLAB_TRUST_PROXY",
    description:
      "Behind a reverse proxy: take attendees' addresses from the X-Forwarded-For header it adds (for the join rate limit)",
  },
  database: {
    type: "string",
    env: "EGRESSLAB_DATABASE",
    arg: "URL",
    description:
      "Keep sessions, progress and cluster state in this Postgres database (postgres://…), shared by several replicas; default SQLite in --data",
  },
  redis: {
    type: "string",
    env: "EGRESSLAB_REDIS",
    arg: "URL",
    description:
      "Carry live events between replicas through this Redis (redis://…; socket.io's Redis Streams adapter): boards, broadcasts, presence; default one process",
  },
  replica: {
    type: "string",
    env: "EGRESSLAB_REPLICA",
    arg: "NAME",
    description:
      "This replica's name among several sharing --database (default: the host name and process id; the chart uses the pod's name)",
  },
  advertise: {
    type: "string",
    env: "EGRESSLAB_ADVERTISE",
    arg: "URL",
    description:
      "How the proxy and the other replicas reach this one, e.g. http://10.0.0.7:3000 (default: the address it listens on)",
  },
  "learner-uids": {
    type: "string",
    default: defaultUidRange,
    env: "EGRESSLAB_LEARNER_UIDS",
    arg: "FIRST-LAST",
    description:
      "Host user ids for learners' shells when serve runs as root, one per learner; a range no one else on this host uses",
  },
  "shell-memory": {
    type: "number",
    default: defaultShellLimits.memoryMiB,
    env: "EGRESSLAB_SHELL_MEMORY",
    arg: "MIB",
    description: "Memory of each learner's shell (cgroup, where available)",
  },
  "shell-processes": {
    type: "number",
    default: defaultShellLimits.processes,
    env: "EGRESSLAB_SHELL_PROCESSES",
    arg: "N",
    description: "Processes of each learner's shell",
  },
  "home-size": {
    type: "number",
    default: defaultShellLimits.homeMiB,
    env: "EGRESSLAB_HOME_SIZE",
    arg: "MIB",
    description: "Size of each learner's home; the learner is told when over it",
  },
  "home-filesystems": {
    type: "boolean",
    default: true,
    env: "EGRESSLAB_HOME_FILESYSTEMS",
    description:
      "As root: each learner's home is an ext4 filesystem of its own of --home-size (full is full; no host path in the sandbox); --no-home-filesystems keeps plain directories",
  },
  "instructor-token": {
    type: "string",
    env: "EGRESSLAB_INSTRUCTOR_TOKEN",
    arg: "TOKEN",
    description:
      "Fixes the server owner's instructor token (default: the one kept in DIR/instructor-token, made on first start; `egresslab instructor rotate` replaces it)",
  },
  "metrics-token": {
    type: "string",
    env: "EGRESSLAB_METRICS_TOKEN",
    arg: "TOKEN",
    description:
      "Serve /metrics (Prometheus) to scrapers that send this token as a bearer token; off without it",
  },
  "log-level": {
    type: "string",
    default: "info",
    env: "EGRESSLAB_LOG_LEVEL",
    choices: ["debug", "info", "warn", "error"],
    arg: "LEVEL",
    description: "Least severe log lines shown",
  },
  ...providerOptionSpecs,
} as const satisfies OptionSpecs;

/** What is wrong with `--replica` and `--advertise` (a replica's name travels in a cookie and in the database). */
export function replicaProblems(replica: string | undefined, advertise: string | undefined): Problem[] {
  const problems: Problem[] = [];
  if (replica !== undefined && !/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(replica))
    problems.push({
      where: "--replica",
      message: `expects at most 63 letters, digits, '.', '_' and '-', starting with a letter or digit, got "${replica}"`,
    });
  if (advertise !== undefined) {
    let u: URL | undefined;
    try {
      u = new URL(advertise);
    } catch {
      u = undefined;
    }
    if (
      !u ||
      (u.protocol !== "http:" && u.protocol !== "https:") ||
      u.username ||
      u.password ||
      u.search ||
      u.hash
    )
      problems.push({
        where: "--advertise",
        message: `expects an http:// or https:// URL of this replica, e.g. http://10.0.0.7:3000, got "${advertise}"`,
      });
  }
  return problems;
}

/** The lab directory for `--lab`: a path when it names a directory, else `labs/<id>` in the repository. */
export function labDir(lab: string, cwd = process.cwd()): string {
  const asPath = path.resolve(cwd, lab);
  if ((lab.includes("/") || lab.startsWith(".")) && existsSync(asPath)) return asPath;
  const inRepo = path.join(repoRoot, "labs", lab);
  if (existsSync(inRepo)) return inRepo;
  throw new NotFoundError(`there is no lab "${lab}": give an id under labs/ or a lab directory`);
}

export const serveCommand: Command = {
  summary: "Run the workshop server (web page, terminals, grading)",
  async run(argv) {
    const o = parseOptions(serveOptionSpecs, argv);
    if (o.help) {
      process.stdout.write(formatHelp("egresslab serve [options]", serveOptionSpecs) + "\n");
      return 0;
    }
    for (const name of ["shell-memory", "shell-processes", "home-size"] as const)
      if (!Number.isInteger(o[name]) || o[name] < 16)
        throw new ValidationError([
          { where: `--${name}`, message: `expects a whole number of at least 16, got ${o[name]}` },
        ]);
    for (const name of ["stuck-failing", "stuck-idle"] as const)
      if (!(o[name] > 0))
        throw new ValidationError([
          { where: `--${name}`, message: `expects a number of minutes above 0, got ${o[name]}` },
        ]);
    const problems = replicaProblems(o.replica, o.advertise);
    if (problems.length) throw new ValidationError(problems);
    if (!Number.isInteger(o.capacity) || o.capacity < 1)
      throw new ValidationError([
        { where: "--capacity", message: `expects a whole number of at least 1, got ${o.capacity}` },
      ]);
    const logger = createLogger({ level: o["log-level"] as LogLevel });
    const dataDir = path.resolve(o.data);
    const lab = await loadLab(labDir(o.lab));
    if (o.edition !== undefined && !lab.requirements.editions.includes(o.edition as Edition))
      throw new ValidationError([
        {
          where: "--edition",
          message: `lab ${lab.id} has no ${o.edition} track (it has ${lab.requirements.editions.join(", ")})`,
        },
      ]);
    const provider = await createProvider({
      ...providerSettings(o),
      dataDir,
      ...(o.database ? { database: o.database } : {}),
      // The kubeconfig pool's leases name the replica that renews them.
      ...(o.replica ? { replica: o.replica } : {}),
      // Several replicas share the data directory: each serves only the clusters it holds the lease of.
      ...(o.database ? { shared: true } : {}),
      logger: logger.child({ component: "provider" }),
      // Simulated clusters' journals and snapshots go to the same database, so another replica can rebuild them.
      // Written only while this replica holds the cluster's lease (the name the leases carry).
      ...(o.database
        ? { simHostOptions: { database: o.database, replica: o.replica ?? `${hostname()}-${process.pid}` } }
        : {}),
    });
    const edition = sessionEdition(
      lab,
      (o.edition as Edition | undefined) ?? provider.capabilities.calicoEdition,
    );
    let server: WorkshopServer;
    try {
      server = await startWorkshopServer({
        port: o.port,
        host: o.host,
        dataDir,
        provider,
        lab: labRunner(lab, grading, edition),
        loadLab: async (id) => {
          const other = await loadLab(labDir(id));
          return labRunner(
            other,
            grading,
            sessionEdition(other, (o.edition as Edition | undefined) ?? provider.capabilities.calicoEdition),
          );
        },
        ...(o["join-code"] ? { joinCode: o["join-code"] } : {}),
        local: o.local,
        idleTimeoutSeconds: o["idle-timeout"],
        pool: o.pool,
        capacity: o.capacity,
        learnerUids: o["learner-uids"],
        shellLimits: {
          memoryMiB: o["shell-memory"],
          processes: o["shell-processes"],
          homeMiB: o["home-size"],
        },
        homeFilesystems: o["home-filesystems"],
        trustProxy: o["trust-proxy"],
        ...(o.database ? { database: o.database } : {}),
        ...(o.redis ? { redis: o.redis } : {}),
        ...(o.replica ? { replica: o.replica } : {}),
        ...(o.advertise ? { advertise: o.advertise.replace(/\/+$/, "") } : {}),
        stuck: { failingMs: o["stuck-failing"] * 60_000, idleMs: o["stuck-idle"] * 60_000 },
        ...(o["instructor-token"] ? { instructorToken: o["instructor-token"] } : {}),
        ...(o["metrics-token"] ? { metricsToken: o["metrics-token"] } : {}),
        logger,
      });
    } catch (err) {
      await provider.close();
      throw err;
    }
    process.stdout.write(`egresslab: open ${server.url}\n`);
    process.stdout.write(`egresslab: instructor board ${server.boardUrl}\n`);
    await untilStopSignal();
    logger.info("stopping");
    await server.close();
    return 0;
  },
};
