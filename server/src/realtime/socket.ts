/**
 * The socket.io side of the page: authenticated by the session cookie (or, for the board, the instructor token),
 * every inbound payload validated against `protocol.ts`. A learner's socket only ever reaches that learner's
 * terminal, flows and progress: the learner id comes from the cookie, never from the payload.
 */
import type http from "node:http";
import { Server, type ServerOptions, type Socket } from "socket.io";
import type { z } from "zod";
import {
  flowsSubscribeSchema,
  seatWatchSchema,
  termAckSchema,
  termAttachSchema,
  termInputSchema,
  termResizeSchema,
  type ClientToServerEvents,
  type ServerToClientEvents,
} from "./protocol.ts";
import { FlowHub, whiskerFlowSource, type FlowSource } from "./flows.ts";
import type { Workshop, WorkshopEvents } from "../sessions/workshop.ts";
import { stageDir } from "../sessions/workshop.ts";
import type { InstructorScope, Workshops } from "../sessions/workshops.ts";
import type { InstructorCredential } from "../sessions/credentials.ts";
import type { Learner } from "../sessions/store.ts";
import type { TerminalManager } from "../terminal/manager.ts";
import type { TerminalClient } from "../terminal/session.ts";
import { ValidationError } from "../shared/errors.ts";
import { EgresslabError } from "../shared/errors.ts";
import { toWire } from "../http/errors.ts";
import { instructorScope, learnerOfCookie } from "../http/auth.ts";
import { sameOrigin } from "../http/security.ts";
import { parseCookies, replicaCookieHeader, sessionCookie } from "../http/cookies.ts";
import { HeldElsewhereError } from "../scale/leases.ts";
import type { Logger } from "../shared/logger.ts";
import type { BoardService } from "../instructor/board.ts";
import type { InstructorConsole } from "../instructor/console.ts";
import { Peers } from "./peers.ts";
import { Seats, type SeatRequest, type SeatTransport } from "./seat.ts";
import type { RelayEnvelope, RelayTransport } from "./relay.ts";

/**
 * What a socket carries between its handshake and its handlers: plain data only, since with connection-state recovery
 * the adapter stores it in Redis while the page is away.
 */
export interface SocketData {
  learner?: Learner;
  /** The id of the learner's workshop, or of the one the instructor's board shows. */
  workshopId?: string;
  /** Set for an instructor's board: who they are (the owner, or one workshop's instructor). */
  instructor?: InstructorScope;
}

/** What replicas send each other (server-side events, through the adapter). */
export interface InterServerEvents {
  relay: (m: RelayEnvelope) => void;
  "seat:watch": (req: SeatRequest, answer: (held: boolean) => void) => void;
  "seat:unwatch": (watchId: string) => void;
}

type LabSocket = Socket<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;
export type LabServer = Server<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;

export interface RealtimeOptions {
  workshops: Workshops;
  credential: InstructorCredential;
  terminals: TerminalManager;
  flows: FlowHub;
  logger: Logger;
  /** The flow source of a cluster: Calico Whisker through port-forward (tests replace it). */
  flowSource?: (kubeconfig: string) => FlowSource;
  /** A workshop's board (diffs per attendee and cell). */
  boardOf(workshop: Workshop): BoardService;
  /** A workshop's instructor console: whom its instructor may watch, and the room's pause overlay. */
  consoleOf(workshop: Workshop): InstructorConsole;
  /** What this replica knows of pages on the others (online attendees, terminals taken); default: none. */
  peers?: Peers;
  /** The seat's terminal, wherever the attendee's shell runs (default: this replica's terminals). */
  seats?: Seats;
  /**
   * The adapter that carries room events to the other replicas (the Redis Streams adapter); without it, socket.io's
   * in-memory adapter: one process. With it, connection-state recovery is on: a page back within two minutes gets
   * the room events it missed.
   */
  adapter?: ServerOptions["adapter"];
  /** This replica's name, for the routing cookie on learners' connections (several replicas). */
  replica?: string;
}

function parse<S extends z.ZodType>(schema: S, payload: unknown, what: string): z.infer<S> {
  const r = schema.safeParse(payload);
  if (!r.success)
    throw new ValidationError(
      r.error.issues.map((i) => ({ where: [what, ...i.path.map(String)].join("."), message: i.message })),
    );
  return r.data;
}

export interface Realtime {
  io: LabServer;
  /** Stops publishing and closes every socket. */
  close(): Promise<void>;
}

/** The socket.io room of a workshop's instructor boards. */
export const boardRoom = (workshopId: string): string => `board:${workshopId}`;
/** The room of every page (learners' and boards) of a workshop. */
export const workshopRoom = (workshopId: string): string => `workshop:${workshopId}`;
/** The room of one learner's pages. */
export const learnerRoom = (learnerId: string): string => `learner:${learnerId}`;

const refuse = (message: string): Error =>
  Object.assign(new Error(message), { data: { code: "unauthorized" } });

export function attachRealtime(server: http.Server, opts: RealtimeOptions): Realtime {
  const { workshops, terminals, flows, logger } = opts;
  const makeSource = opts.flowSource ?? whiskerFlowSource;
  const peers = opts.peers ?? new Peers();
  const seats = opts.seats ?? new Seats({ terminals });
  const io: LabServer = new Server(server, {
    serveClient: false,
    maxHttpBufferSize: 128 * 1024,
    pingInterval: 10_000,
    pingTimeout: 8_000,
    allowRequest: (req, cb) => cb(null, sameOrigin(req.headers.origin, req.headers.host)),
    ...(opts.adapter
      ? {
          adapter: opts.adapter,
          // A recovered socket is authorised again (its session may have ended meanwhile).
          connectionStateRecovery: { maxDisconnectionDuration: 2 * 60_000, skipMiddlewares: false },
        }
      : {}),
  });

  // An instructor socket is authorised by its token alone (never a cookie), for one workshop it may see; a learner
  // socket by its session cookie alone, for the learner's own workshop.
  // A learner's connection names this replica in the routing cookie (the proxy keeps the learner here).
  const replica = opts.replica;
  if (replica)
    io.engine.on(
      "initial_headers",
      (headers: Record<string, string | string[]>, req: http.IncomingMessage) => {
        if (parseCookies(req.headers.cookie)[sessionCookie] === undefined) return;
        const secure = Boolean((req.socket as { encrypted?: boolean }).encrypted);
        headers["set-cookie"] = replicaCookieHeader(replica, secure);
      },
    );

  io.use((socket, next) => {
    authorize(socket).then(next, (err: unknown) => {
      if (err instanceof HeldElsewhereError) {
        // Another replica serves this learner: the page goes there (or tries here again once it has gone).
        next(
          Object.assign(new Error(err.message), {
            data: { code: err.code, replica: err.owner.replica, retryAfter: err.retryAfterSeconds },
          }),
        );
        return;
      }
      logger.error("could not authorise a socket", {
        error: err instanceof Error ? err.message : String(err),
      });
      next(
        Object.assign(new Error("the server cannot reach its database; try again"), {
          data: { code: "unavailable" },
        }),
      );
    });
  });
  const authorize = async (socket: LabSocket): Promise<Error | undefined> => {
    const auth = socket.handshake.auth as { instructor?: unknown; workshop?: unknown } | undefined;
    if (auth?.instructor !== undefined) {
      const scope =
        typeof auth.instructor === "string"
          ? await instructorScope(workshops, opts.credential, auth.instructor)
          : undefined;
      if (!scope) return refuse("the instructor token is wrong");
      let w: Workshop;
      try {
        w = workshops.forScope(scope, typeof auth.workshop === "string" ? auth.workshop : undefined);
      } catch (err) {
        return Object.assign(new Error(err instanceof Error ? err.message : String(err)), {
          data: { code: "not-found" },
        });
      }
      socket.data.instructor = scope;
      socket.data.workshopId = w.id;
      return undefined;
    }
    const s = await learnerOfCookie(workshops, socket.request.headers.cookie);
    if (!s) return refuse("your session has ended; join again");
    // The learner's cluster and shell are served by one replica at a time: this one, from now on.
    await s.workshop.serveHere(s.learner);
    socket.data.learner = s.learner;
    socket.data.workshopId = s.workshop.id;
    return undefined;
  };

  let closed = false;
  const unwatch = new Map<string, () => void>();
  /** Publishes one workshop's events to its own rooms only. */
  const watch = (workshop: Workshop): void => {
    const id = workshop.id;
    let poolTimer: NodeJS.Timeout | undefined;
    const onProgress: (...a: WorkshopEvents["progress"]) => void = (lid, p) =>
      io.to(learnerRoom(lid)).emit("progress", p);
    const onCheck: (...a: WorkshopEvents["check"]) => void = (lid, r) =>
      io.to(learnerRoom(lid)).emit("check:result", r);
    const onPool = (): void => {
      if (closed) return;
      poolTimer ??= setTimeout(() => {
        poolTimer = undefined;
        // Each replica has its own warm clusters: its pool is told to its own boards only.
        if (!closed) io.local.to(boardRoom(id)).emit("board:pool", workshop.poolStatus());
      }, 250);
    };
    const onNotice: (...a: WorkshopEvents["notice"]) => void = (lid, n) => {
      if (lid === undefined) io.to(workshopRoom(id)).emit("server:notice", n);
      else io.to(learnerRoom(lid)).emit("server:notice", n);
    };
    const onRemoved: (...a: WorkshopEvents["removed"]) => void = (lid) =>
      io.in(learnerRoom(lid)).disconnectSockets(true);
    // Another replica serves the learner now: their connections here close as a dropped connection does, so the
    // page reconnects (through the proxy, to the replica that serves them).
    const onMoved: (...a: WorkshopEvents["moved"]) => void = (lid) => {
      for (const s of io.of("/").sockets.values())
        if (s.data.learner?.id === lid) {
          s.emit("server:notice", {
            kind: "moved",
            message: "Your terminal and cluster moved to another server; reconnecting…",
          });
          s.conn.close();
        }
    };
    workshop.on("pool", onPool);
    workshop.on("progress", onProgress);
    workshop.on("check", onCheck);
    workshop.on("notice", onNotice);
    workshop.on("removed", onRemoved);
    workshop.on("moved", onMoved);
    unwatch.set(id, () => {
      if (poolTimer) clearTimeout(poolTimer);
      workshop.off("pool", onPool);
      workshop.off("progress", onProgress);
      workshop.off("check", onCheck);
      workshop.off("notice", onNotice);
      workshop.off("removed", onRemoved);
      workshop.off("moved", onMoved);
    });
  };
  for (const w of workshops.all()) watch(w);
  const onAdded = (w: Workshop): void => watch(w);
  const onEnded = (w: Workshop): void => {
    unwatch.get(w.id)?.();
    unwatch.delete(w.id);
    io.in(workshopRoom(w.id)).disconnectSockets(true);
  };
  workshops.on("added", onAdded);
  workshops.on("ended", onEnded);

  io.on("connection", (socket: LabSocket) => {
    const workshop = workshops.get(socket.data.workshopId);
    if (!workshop) {
      socket.emit("error", { code: "not-found", message: "this workshop has ended" });
      socket.disconnect(true);
      return;
    }
    void socket.join(workshopRoom(workshop.id));
    if (socket.data.instructor) {
      void socket.join(boardRoom(workshop.id));
      // The snapshot waits for the board to take in what already happened (joins a moment ago), then diffs follow.
      let leave = (): void => {};
      const board = opts.boardOf(workshop);
      void board.settle().then(() => {
        if (socket.disconnected) return;
        const sub = board.subscribe((d) => socket.emit("board:diff", d));
        leave = sub.leave;
        socket.emit("board:snapshot", sub.snapshot);
        socket.emit("board:pool", workshop.poolStatus());
        for (const n of workshop.notices(undefined)) socket.emit("server:notice", n);
      });
      let unwatchSeat: (() => void) | undefined;
      const stopWatching = (): void => {
        unwatchSeat?.();
        unwatchSeat = undefined;
      };
      // The seat: one attendee's terminal, read-only; only an attendee of this board's workshop.
      socket.on("seat:watch", (p: unknown) => {
        void (async () => {
          const { attendeeId } = parse(seatWatchSchema, p, "seat:watch");
          const l = await opts.consoleOf(workshop).learner(attendeeId);
          if (socket.disconnected) return;
          stopWatching();
          unwatchSeat = seats.watch(
            l.id,
            {
              output: (out) => socket.emit("seat:term", out),
              exited: (code) => socket.emit("seat:term-exit", { attendeeId: l.id, code }),
            },
            (room) => void socket.join(room),
            (room) => void socket.leave(room),
          );
        })().catch((err: unknown) => socket.emit("error", toWire(err).body));
      });
      socket.on("seat:unwatch", stopWatching);
      socket.on("disconnect", () => {
        leave();
        stopWatching();
      });
      return;
    }
    const learner = socket.data.learner!;
    void socket.join(learnerRoom(learner.id));
    for (const n of workshop.notices(learner.id)) socket.emit("server:notice", n);
    const paused = opts.consoleOf(workshop).paused;
    if (paused) socket.emit("room:pause", paused);
    peers.page(workshop.id, learner.id, 1);
    workshop.setOnline(learner.id, 1);
    const fail = (err: unknown): void => {
      const { status, body } = toWire(err);
      if (status >= 500)
        logger.error("socket handler failed", {
          learner: learner.id,
          error: err instanceof Error ? err.message : String(err),
        });
      socket.emit("error", body);
    };
    const on = <E extends keyof ClientToServerEvents>(event: E, fn: (payload: unknown) => unknown): void => {
      (socket.on as (e: string, l: (p: unknown) => void) => void)(event, (payload: unknown) => {
        try {
          const r = fn(payload);
          if (r instanceof Promise) r.catch(fail);
        } catch (err) {
          fail(err);
        }
      });
    };

    const client: TerminalClient = {
      output: (out) => socket.emit("term:output", out),
      reset: () => socket.emit("term:reset"),
      replaced: () => socket.emit("term:replaced"),
      exited: (code) => socket.emit("term:exit", { code }),
    };
    let unclaim = (): void => {};
    const attached = () => {
      const s = terminals.get(learner.id);
      return s && s.isAttached(client) ? s : undefined;
    };

    on("term:attach", async (p) => {
      const req = parse(termAttachSchema, p, "term:attach");
      const fresh = (await workshop.learnerForId(learner.id)) ?? learner;
      if (!terminals.get(learner.id)) await workshop.ensureHome(fresh);
      if (socket.disconnected) return;
      const s = await terminals.attach(learner.id, client, {
        ...req,
        startDir: stageDir(fresh.currentStage),
      });
      if (socket.disconnected) return s.detach(client);
      // A tab on another replica that had the terminal lets go; a newer one there makes this one let go.
      unclaim();
      unclaim = peers.claim(learner.id, () => {
        const cur = attached();
        if (!cur) return;
        cur.detach(client);
        client.replaced();
      });
    });
    on("term:input", (p) => {
      const { data } = parse(termInputSchema, p, "term:input");
      const s = attached();
      if (!s)
        throw new EgresslabError(
          "conflict",
          "this tab is not attached to the terminal; reload to take it over",
        );
      s.input(data);
    });
    on("term:resize", (p) => {
      const { cols, rows } = parse(termResizeSchema, p, "term:resize");
      attached()?.resize(cols, rows);
    });
    on("term:ack", (p) => {
      const { end } = parse(termAckSchema, p, "term:ack");
      attached()?.ack(client, end);
    });

    let leaveFlows: (() => void) | undefined;
    on("flows:subscribe", async (p) => {
      parse(flowsSubscribeSchema, p, "flows:subscribe");
      if (leaveFlows) return;
      const conn = await workshop.connection(learner);
      if (socket.disconnected || leaveFlows) return;
      leaveFlows = flows.subscribe(conn.id, () => makeSource(conn.kubeconfig), {
        snapshot: (rows) => socket.emit("flows:snapshot", rows),
        update: (rows) => socket.emit("flows:update", rows),
        error: (message) => socket.emit("flows:error", { code: "unavailable", message }),
      });
    });
    on("flows:unsubscribe", () => {
      leaveFlows?.();
      leaveFlows = undefined;
    });

    socket.on("disconnect", () => {
      terminals.get(learner.id)?.detach(client);
      unclaim();
      leaveFlows?.();
      leaveFlows = undefined;
      peers.page(workshop.id, learner.id, -1);
      if (!closed) workshop.setOnline(learner.id, -1);
    });
  });
  return {
    io,
    close() {
      closed = true;
      if (!opts.seats) seats.close();
      for (const off of unwatch.values()) off();
      unwatch.clear();
      workshops.off("added", onAdded);
      workshops.off("ended", onEnded);
      return new Promise<void>((resolve) => void io.close(() => resolve()));
    },
  };
}

/** The relay's way through a socket.io server that may not exist yet (`get` returns it once it does). */
export function relayTransport(get: () => LabServer | undefined): RelayTransport {
  return {
    serverSideEmit: (event, m) => get()?.serverSideEmit(event, m),
    on: (event, fn) => get()?.on(event, fn),
    off: (event, fn) => get()?.off(event, fn),
  };
}

/** The seat's way through a socket.io server that may not exist yet. */
export function seatTransport(get: () => LabServer | undefined): SeatTransport {
  return {
    ask(req, timeoutMs, done) {
      const io = get();
      if (!io) return done([]);
      // The adapter waits for every replica's answer up to 5 s; a replica that does not answer sooner is not waited for.
      let answered = false;
      const give = (answers: unknown[]): void => {
        if (answered) return;
        answered = true;
        clearTimeout(timer);
        done(answers);
      };
      const timer = setTimeout(() => give([]), timeoutMs);
      io.serverSideEmit("seat:watch", req, (_err: Error | null, answers: boolean[]) => give(answers ?? []));
    },
    stop: (watchId) => void get()?.serverSideEmit("seat:unwatch", watchId),
    serve(onAsk, onStop) {
      const io = get();
      io?.on("seat:watch", (req, answer) =>
        onAsk(req, (held) => typeof answer === "function" && answer(held)),
      );
      io?.on("seat:unwatch", (watchId) => onStop(watchId));
    },
    toRoom(room, m) {
      const io = get();
      if (!io) return;
      if ("output" in m) io.to(room).emit("seat:term", m.output);
      else io.to(room).emit("seat:term-exit", m.exit);
    },
  };
}
