/**
 * The workshop server, composed: SQLite sessions, the cluster pool, terminals, flows, the JSON API, the socket layer
 * and the page. `startWorkshopServer` is what `egresslab serve` and the tests run.
 */
import express from "express";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { hostname } from "node:os";
import { fileURLToPath } from "node:url";
import type { ClusterProvider } from "../providers/provider.ts";
import type { LabRunner } from "../sessions/lab-runner.ts";
import { openDatabase } from "../scale/database.ts";
import { connectRedis, type RedisLink } from "../scale/redis.ts";
import { MemoryLeases, PgLeases, type Leases } from "../scale/leases.ts";
import { Ownership } from "../scale/ownership.ts";
import { forwardToOwners } from "../scale/replica-forward.ts";
import { ClusterPool } from "../sessions/pool.ts";
import { Workshop } from "../sessions/workshop.ts";
import { Workshops } from "../sessions/workshops.ts";
import type { Learner, WorkshopRecord } from "../sessions/store.ts";
import { InstructorCredential, readOrCreateSecretFile, serverSecretFile } from "../sessions/credentials.ts";
import { ResumeCodes } from "../sessions/identity.ts";
import { TerminalManager } from "../terminal/manager.ts";
import { defaultScrollbackChars } from "../terminal/scrollback-store.ts";
import { PgScrollback } from "../scale/pg-scrollback.ts";
import { ReplicaRegistry } from "../scale/replicas.ts";
import { SandboxUnavailable, type ShellMode } from "../terminal/sandbox.ts";
import { setUpSandbox } from "../terminal/sandbox-setup.ts";
import { pipeTo } from "../terminal/api-socket.ts";
import { Toolboxes } from "../terminal/toolbox.ts";
import { createCmder } from "../providers/cmd.ts";
import { defaultShellLimits, type ShellLimits } from "../terminal/limits.ts";
import { defaultUidRange, overlapsHostUsers, parseUidRange } from "../terminal/uids.ts";
import type { SandboxOptions } from "../terminal/manager.ts";
import { FlowHub, type FlowSource } from "../realtime/flows.ts";
import { attachRealtime, relayTransport, seatTransport, type LabServer } from "../realtime/socket.ts";
import { Relay } from "../realtime/relay.ts";
import { Peers } from "../realtime/peers.ts";
import { Seats } from "../realtime/seat.ts";
import { relayInstructors, type InstructorRelay } from "../instructor/relay.ts";
import { apiRouter } from "./api.ts";
import { errorHandler } from "./errors.ts";
import { securityHeaders } from "./security.ts";
import { healthHandler, type HealthCheck } from "./health.ts";
import { createMetrics, metricsHandler } from "./metrics.ts";
import { environment } from "../config/options.ts";
import type { Logger } from "../shared/logger.ts";
import { noopLogger } from "../shared/logger.ts";
import { EgresslabError, NotFoundError, ValidationError } from "../shared/errors.ts";
import { storageHealth, type StorageHealth } from "../shared/storage.ts";
import type { BoardService } from "../instructor/board.ts";
import type { StuckRule } from "../instructor/model.ts";
import type { InstructorConsole } from "../instructor/console.ts";
import { workshopInstructor, type WorkshopInstructor } from "../instructor/index.ts";
import { seatRoutes } from "../instructor/routes.ts";
import { learnerRoom, workshopRoom } from "../realtime/socket.ts";

export interface WorkshopServerOptions {
  port: number;
  host: string;
  dataDir: string;
  provider: ClusterProvider;
  lab: LabRunner;
  joinCode?: string;
  /**
   * Single-user mode: a plain shell instead of a sandbox. Without it, a server listening on loopback only falls back
   * to single-user mode (saying so) when the sandbox cannot run here; on any other address it refuses to start.
   */
  local: boolean;
  /** Host uids for learners' shells when the server runs as root, `FIRST-LAST` (default 1500000000-1500999999). */
  learnerUids?: string;
  /** The bubblewrap program (default `bwrap` on PATH). */
  bwrapPath?: string;
  /** Limits of each learner's shell (defaults in `terminal/limits.ts`). */
  shellLimits?: Partial<ShellLimits>;
  /**
   * Each learner's home an ext4 filesystem of its own (its size the home's limit) when the server runs as root and
   * loop devices work (default true); false keeps plain directories.
   */
  homeFilesystems?: boolean;
  idleTimeoutSeconds: number;
  /** Pre-warmed clusters kept ahead of joins. */
  pool: number;
  /** Fixes the owner's instructor token (default: the one kept in the data directory, made on first start). */
  instructorToken?: string;
  /** Loads a lab by id, for workshops created for another lab than `lab` (default: only `lab` can be used). */
  loadLab?: (id: string) => Promise<LabRunner>;
  /** More instructor endpoints under /api/instructor, mounted after authentication. */
  instructorRoutes?: (r: express.Router) => void;
  /** Overrides the shell mode that `local` implies. */
  shellMode?: ShellMode;
  /** Builds the page at start when it is missing or stale (default true). */
  buildWeb?: boolean;
  checkRate?: { burst: number; perMinute: number };
  /** Joins per client address (a whole room may share one address behind NAT). */
  joinRate?: { burst: number; perMinute: number };
  /** Most attendees (default 100). */
  capacity?: number;
  /**
   * Behind a reverse proxy: take the client address from the `X-Forwarded-For` entry the proxy added (one hop).
   * Off by default, so a client cannot choose its own address (and escape the join rate limit) with that header.
   */
  trustProxy?: boolean;
  /** The shared database (a `postgres://` URL); default SQLite in `dataDir`. */
  database?: string;
  /** This replica's name (default the host name and process id). */
  replica?: string;
  /**
   * Redis (`redis://…`) to carry socket.io's events between replicas (the Redis Streams adapter): boards, broadcasts,
   * pauses, messages, presence and the seat's terminal reach pages on every replica. Default: one process.
   */
  redis?: string;
  /** How often this replica tells the others what it holds, with Redis (default 2 s). */
  relayBeatMs?: number;
  /** How the proxy and the other replicas reach this one (default: the address it listens on). */
  advertise?: string;
  /** How long a replica's lease on a learner's cluster lasts without renewal (Postgres only; default 5 s). */
  leaseTtlMs?: number;
  flowSource?: (kubeconfig: string) => FlowSource;
  /**
   * Serves `/metrics` (Prometheus text format) to requests that carry this token as `Authorization: Bearer`; without
   * a token there is no `/metrics`.
   */
  metricsToken?: string;
  /** The data directory's health (default: the process's). */
  storage?: StorageHealth;
  /** When the board calls an attendee stuck (default 5 minutes failing the same checks, 10 minutes idle). */
  stuck?: StuckRule;
  /** The board's clock (tests move it). */
  now?: () => number;
  logger?: Logger;
}

export interface WorkshopServer {
  url: string;
  port: number;
  /** The server owner's instructor token (kept in the data directory unless given). */
  readonly instructorToken: string;
  /** The instructor board's address, with the owner's token in its fragment (never sent to the server by browsers). */
  boardUrl: string;
  /** The default workshop (the one `--lab` names). */
  workshop: Workshop;
  /** Every workshop the server runs. */
  workshops: Workshops;
  terminals: TerminalManager;
  board: BoardService;
  io: LabServer;
  /** Stops accepting connections, ends shells and streams, closes the provider and the database. */
  close(): Promise<void>;
}

/** The board's address for `token`: in the fragment, which browsers never send to the server or in a Referer. */
export const boardUrl = (base: string, token: string): string =>
  `${base}/instructor#token=${encodeURIComponent(token)}`;

/** True for an address only this machine can reach. */
export function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..");

export async function startWorkshopServer(opts: WorkshopServerOptions): Promise<WorkshopServer> {
  const log = opts.logger ?? noopLogger;
  const env = environment();
  const hostPath = env.PATH ?? "/usr/local/bin:/usr/bin:/bin";
  // On real clusters the terminal is `kubectl exec` into a toolbox pod in the learner's cluster: no host shell to sandbox.
  const toolbox = opts.provider.capabilities.realDataplane
    ? new Toolboxes({ cmder: createCmder({ logger: log.child({ component: "toolbox" }) }) })
    : undefined;
  let mode: ShellMode = toolbox ? "local" : (opts.shellMode ?? (opts.local ? "local" : "bwrap"));
  const limits: ShellLimits = { ...defaultShellLimits, ...opts.shellLimits };
  const bwrapPath = opts.bwrapPath ?? "bwrap";
  let sandbox: Omit<SandboxOptions, "connectApi"> | undefined;
  if (mode === "bwrap") {
    const asRoot = process.getuid?.() === 0;
    const range = parseUidRange(opts.learnerUids ?? defaultUidRange);
    if (asRoot) {
      const clash = overlapsHostUsers(range);
      if (clash)
        throw new ValidationError([
          {
            where: "--learner-uids",
            message: `${range.first}-${range.last} overlaps ${clash}; choose a range no one else on this host uses`,
          },
        ]);
    }
    try {
      sandbox = setUpSandbox({
        limits,
        hostPath,
        bwrapPath,
        asRoot,
        range,
        learnersDir: path.join(opts.dataDir, "learners"),
        capacity: opts.capacity ?? 100,
        homeFilesystems: opts.homeFilesystems ?? true,
        log,
      });
    } catch (err) {
      if (!(err instanceof SandboxUnavailable) || opts.shellMode !== undefined || !isLoopback(opts.host))
        throw err;
      mode = "local";
      log.warn(
        `single-user mode: ${err.reason}, so the shell runs unsandboxed as your own user; that is fine on your own machine, and only this machine can connect (--host ${opts.host}). To run a room, ${err.remedy}`,
      );
    }
  }

  let webDist = path.join(repoRoot, "web", "dist");
  if (opts.buildWeb !== false) {
    const web =
      (await import("../../../scripts/build-web.mjs")) as typeof import("../../../scripts/build-web.mjs");
    if (await web.buildWeb()) log.info("built the web page", { dir: web.webDist });
    webDist = web.webDist;
  }

  const replica = opts.replica ?? `${hostname()}-${process.pid}`;
  const database = await openDatabase({ dataDir: opts.dataDir, url: opts.database, replica });
  let redis: RedisLink | undefined;
  if (opts.redis) {
    try {
      redis = await connectRedis(opts.redis, { logger: log.child({ component: "redis" }) });
    } catch (err) {
      await database.close();
      throw err;
    }
    log.info(
      "events between replicas go through Redis (socket.io Redis Streams adapter, connection-state recovery on)",
      {
        redis: redis.shownUrl,
        replica,
      },
    );
  }
  // Between replicas (with Redis): what pages on the others hold, and what their attendees did.
  const room: { io?: LabServer } = {};
  const relay: Relay | undefined = redis
    ? new Relay(
        relayTransport(() => room.io),
        {
          replica,
          beat: () => peers.beat(),
          ...(opts.relayBeatMs ? { beatMs: opts.relayBeatMs } : {}),
          logger: log.child({ component: "relay" }),
        },
      )
    : undefined;
  const peers: Peers = new Peers(relay);
  // Known once the server listens (acquires come after that).
  let advertised = opts.advertise ?? "";
  const leases: Leases = database.pg
    ? new PgLeases({
        pool: database.pg,
        replica,
        address: () => advertised,
        ...(opts.leaseTtlMs !== undefined ? { ttlMs: opts.leaseTtlMs } : {}),
        logger: log.child({ component: "leases" }),
      })
    : new MemoryLeases(replica);
  const ownership = new Ownership(leases, log.child({ component: "ownership" }));
  // A cluster's write refused because another replica holds its lease: the renewal finds it lost, and it stops here.
  if (leases instanceof PgLeases) opts.provider.onMoved?.(() => void leases.renew());
  const store = database.sessions;
  const credential = InstructorCredential.open(opts.dataDir, opts.instructorToken);
  const resumeCodes = new ResumeCodes(readOrCreateSecretFile(serverSecretFile(opts.dataDir)));
  let ws: WorkshopRecord;
  // With a shared database, live replicas are counted: each keeps its share of the warm clusters.
  let replicas: ReplicaRegistry | undefined;
  try {
    ws = await store.ensureWorkshop(opts.lab.summary.id, opts.joinCode);
    if (database.pg)
      replicas = await ReplicaRegistry.start(database.pg, replica, {
        logger: log.child({ component: "replicas" }),
      });
  } catch (err) {
    await redis?.close();
    await ownership.close();
    await database.close();
    throw err;
  }
  // With a shared database, scrollback lives there, so a page reconnecting to another replica keeps its screen.
  const scrollback = database.pg
    ? new PgScrollback(database.pg, {
        maxChars: defaultScrollbackChars,
        logger: log.child({ component: "scrollback" }),
      })
    : undefined;
  const terminals = new TerminalManager({
    root: path.join(opts.dataDir, "learners"),
    mode,
    hostPath,
    idleTimeoutMs: opts.idleTimeoutSeconds * 1000,
    logger: log,
    ...(scrollback ? { scrollback } : {}),
    ...(toolbox ? { toolbox } : {}),
    ...(sandbox
      ? {
          sandbox: {
            ...sandbox,
            connectApi: (learner, socket) => {
              if (learner.clusterId !== undefined && opts.provider.connectApi)
                opts.provider.connectApi(learner.clusterId, socket);
              else if (learner.upstream) pipeTo(learner.upstream.host, learner.upstream.port, socket);
              else socket.destroy();
            },
          },
        }
      : {}),
  });
  void terminals.kubectlCompletion();
  const labs = new Map<string, Promise<LabRunner>>([[opts.lab.summary.id, Promise.resolve(opts.lab)]]);
  const labFor = (id: string): Promise<LabRunner> => {
    let l = labs.get(id);
    if (!l) {
      if (!opts.loadLab) throw new NotFoundError(`this server runs only the lab ${opts.lab.summary.id}`);
      l = opts.loadLab(id);
      labs.set(id, l);
      l.catch(() => labs.delete(id));
    }
    return l;
  };
  const pools: ClusterPool[] = [];
  let defaultPool: ClusterPool | undefined;
  /** Each workshop's board (the model behind the instructor's page). */
  const instructors = new Map<string, WorkshopInstructor>();
  const instructorOf = (w: Workshop): WorkshopInstructor => {
    const b = instructors.get(w.id);
    if (!b) throw new EgresslabError("internal", "the workshop has no board");
    return b;
  };
  const boardOf = (w: Workshop): BoardService => instructorOf(w).board;
  const consoleOf = (w: Workshop): InstructorConsole => instructorOf(w).console;
  // The socket server exists once the HTTP server does; consoles only send through it after that.
  let instructorRelay: InstructorRelay | undefined;
  let listening = false;
  let closing: Promise<void> | undefined;
  /** A running workshop: its lab, its own pool of warm clusters, and the shared terminals and provider. */
  const build = async (record: WorkshopRecord): Promise<Workshop> => {
    const lab = await labFor(record.labId);
    const capacity = record.isDefault ? (opts.capacity ?? 100) : (record.capacity ?? 30);
    let joined = await store.learnerCount(record.id);
    const pool = new ClusterPool(opts.provider, database.pool, {
      size: opts.pool,
      // A workshop gets a ready cluster for every attendee it expects; one person on their own machine does not.
      ...(!record.isDefault || (opts.capacity !== undefined && !opts.local) ? { capacity } : {}),
      joined: () => joined,
      ...(replicas ? { replicas: () => replicas.live } : {}),
      labId: lab.summary.id,
      workshopId: record.id,
      adoptUnowned: record.isDefault,
      profile: lab.profile,
      edition: lab.edition,
      prepare: (conn, seed) => lab.setup(conn, 0, lab.params(seed)),
      clear: (conn) => lab.end?.(conn) ?? Promise.resolve(),
      ...(lab.variant ? { variant: (seed: number) => lab.variant!(seed) } : {}),
      logger: log.child({ component: "pool", workshop: record.id }),
    });
    pools.push(pool);
    if (record.isDefault) defaultPool = pool;
    const w: Workshop = new Workshop({
      store,
      workshopId: record.id,
      lab,
      pool,
      prepareHome: (id, spec) => terminals.prepare(id, spec),
      checkRate: opts.checkRate,
      capacity,
      storage: opts.storage ?? storageHealth,
      resumeCodes,
      endShell: (id) => terminals.get(id)?.kill(),
      releaseCluster: async (id) => {
        await pool.release(id);
        await ownership.release(id);
      },
      ownCluster: (learner): Promise<void> => ownership.own(w, learner),
      servesCluster: (id) => leases.holds(id),
      logger: log,
    });
    // The pool fills towards the capacity minus those who joined: counted again when the board changes.
    w.on("board", () => {
      store.learnerCount(record.id).then(
        (n) => (joined = n),
        () => undefined,
      );
    });
    const instructor = workshopInstructor({
      workshop: w,
      store,
      terminals,
      notify: {
        message: (id, m) =>
          void room.io?.to(id ? learnerRoom(id) : workshopRoom(record.id)).emit("room:message", m),
        pause: (p) => {
          room.io?.to(workshopRoom(record.id)).emit("room:pause", p);
          instructorRelay?.paused(record.id, p);
        },
      },
      ...(opts.stuck ? { rule: opts.stuck } : {}),
      ...(opts.now ? { now: opts.now } : {}),
      ...(relay ? { onlineElsewhere: (id: string) => peers.onlineElsewhere(id) } : {}),
      logger: log,
    });
    await instructor.board.ready;
    instructors.set(record.id, instructor);
    // Workshops created while the server runs start pre-warming at once; those of the start, once it listens.
    if (listening && !closing) void pool.fill();
    return w;
  };
  const workshops = new Workshops({
    store,
    build,
    checkLab: async (id) => void (await labFor(id)),
    resumeCodes,
    logger: log,
  });
  const rebuilt = opts.provider.rebuilt?.() ?? [];
  // A warm cluster made afresh lost the first stage the pool had prepared on it: the pool prepares it again.
  for (const r of rebuilt) await database.pool.unprepare(r.id);
  await workshops.start(ws);
  workshops.on("ended", (w) => {
    instructors.get(w.id)?.close();
    instructors.delete(w.id);
  });
  const workshop = workshops.default;
  const pool = defaultPool!;
  const board = boardOf(workshop);
  const flows = new FlowHub({ logger: log });

  let url = "";
  const app = express();
  app.disable("x-powered-by");
  app.set("trust proxy", opts.trustProxy ? 1 : false);
  app.use(securityHeaders);
  app.get("/healthz", (_req, res) => {
    res.json({ ok: true, pool: workshop.poolStatus().ready, terminals: terminals.size });
  });
  const storage = opts.storage ?? storageHealth;
  const ready: HealthCheck[] = [
    {
      name: "database",
      check: async () => {
        await database.ping();
        return undefined;
      },
    },
    {
      name: "pool",
      // An empty pool that can still fill is fine (joins wait for a cluster); one whose provider fails is not. The
      // default workshop's pool stands for the provider, which every workshop shares.
      check: () =>
        pool.available === 0 && pool.fillProblem ? `cannot make clusters: ${pool.fillProblem}` : undefined,
    },
    { name: "storage", check: () => storage.problem?.message },
  ];
  app.get("/readyz", healthHandler("readyz", ready));
  app.get("/livez", healthHandler("livez", [{ name: "ping", check: () => undefined }]));
  const metrics = opts.metricsToken ? createMetrics({ workshops, terminals }) : undefined;
  if (metrics && opts.metricsToken) app.get("/metrics", metricsHandler(metrics, opts.metricsToken));
  app.use(
    "/api",
    apiRouter({
      workshops,
      credential,
      boardUrl: (token) => boardUrl(url, token),
      ...(database.pg ? { servedBy: (learner: Learner) => ownership.servedBy(learner) } : {}),
      ...(opts.joinRate ? { joinRate: opts.joinRate } : {}),
      instructorRoutes: (r) => {
        seatRoutes(r, { workshops, consoleOf, resultsOf: (w) => instructorOf(w).results() });
        opts.instructorRoutes?.(r);
      },
    }),
  );
  app.get("/instructor", (_req, res) => res.sendFile(path.join(webDist, "instructor.html")));
  app.use(express.static(webDist, { index: "index.html", maxAge: 0, dotfiles: "ignore" }));
  app.use(() => {
    throw new EgresslabError("not-found", "no such page");
  });
  app.use(errorHandler(log));

  const server = http.createServer(app);
  const seats = new Seats({
    terminals,
    ...(relay ? { transport: seatTransport(() => room.io) } : {}),
    logger: log.child({ component: "seat" }),
  });
  const realtime = attachRealtime(server, {
    peers,
    seats,
    workshops,
    credential,
    terminals,
    flows,
    boardOf: (w) => boardOf(w),
    consoleOf: (w) => consoleOf(w),
    ...(database.pg ? { replica } : {}),
    logger: log,
    ...(opts.flowSource ? { flowSource: opts.flowSource } : {}),
    ...(redis ? { adapter: redis.adapter } : {}),
  });
  room.io = realtime.io;
  // A learner's requests that land here while another replica serves them are passed on to it.
  if (database.pg)
    forwardToOwners(server, {
      replica,
      learnerForToken: async (t) => (await workshops.learnerForToken(t))?.learner,
      learnerForId: (id) => workshop.learnerForId(id),
      holds: (id) => leases.holds(id),
      owner: (id) => leases.owner(id),
      trustProxy: Boolean(opts.trustProxy),
      logger: log.child({ component: "forward" }),
    });
  // Events other replicas send once this one listens must reach it: the adapter reads and listens first.
  await redis?.settled();
  if (relay) {
    instructorRelay = relayInstructors({
      relay,
      peers,
      workshops,
      instructorOf: (id) => instructors.get(id),
      logger: log.child({ component: "relay" }),
    });
    seats.start();
    relay.start();
    // This replica may have missed what the others said while it was away from Redis, or before it started.
    redis?.onReconnect(() => relay.resync("reconnected to Redis"));
    relay.resync("started");
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", (err: NodeJS.ErrnoException) =>
      reject(
        err.code === "EADDRINUSE"
          ? new EgresslabError("unavailable", `port ${opts.port} is in use; choose another with --port`)
          : err,
      ),
    );
    server.listen(opts.port, opts.host, () => resolve());
  });
  listening = true;
  if (!advertised) {
    const at = ["0.0.0.0", "::"].includes(opts.host) ? hostname() : opts.host;
    advertised = `http://${at.includes(":") ? `[${at}]` : at}:${(server.address() as AddressInfo).port}`;
  }
  for (const p of pools) void p.fill();
  // A replica gone (or a new one) changes each one's share: the pools fill towards the new target.
  replicas?.on("change", () => {
    if (!closing) for (const p of pools) void p.fill();
  });
  // Clusters made afresh because their saved state could not be read: their learners' stages are set up again.
  for (const w of workshops.all()) void w.rebuildClusters(rebuilt);
  const port = (server.address() as AddressInfo).port;
  const shownHost = ["0.0.0.0", "::", "127.0.0.1", "::1"].includes(opts.host) ? "localhost" : opts.host;
  url = `http://${shownHost.includes(":") ? `[${shownHost}]` : shownHost}:${port}`;

  return {
    url,
    port,
    get instructorToken() {
      return credential.token;
    },
    boardUrl: boardUrl(url, credential.token),
    workshop,
    workshops,
    terminals,
    board,
    io: realtime.io,
    close() {
      closing ??= (async () => {
        metrics?.close();
        workshops.close();
        for (const b of instructors.values()) b.close();
        for (const p of pools) p.close();
        relay?.close();
        instructorRelay?.close();
        seats.close();
        flows.close();
        terminals.close();
        const closed = realtime.close();
        server.closeAllConnections();
        await closed;
        await redis?.close();
        await scrollback?.close();
        await terminals.unmountHomes();
        await replicas?.close();
        await opts.provider.close();
        // The clusters are saved and closed: another replica may take them over at once.
        await ownership.close();
        await database.close();
      })();
      return closing;
    },
  };
}
