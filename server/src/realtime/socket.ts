/**
 * The socket.io side of the page: authenticated by the session cookie (or, for the board, the instructor token),
 * every inbound payload validated against `protocol.ts`. A learner's socket only ever reaches that learner's
 * terminal, flows and progress: the learner id comes from the cookie, never from the payload.
 */
import type http from "node:http";
import { Server, type Socket } from "socket.io";
import type { z } from "zod";
import {
  flowsSubscribeSchema,
  termAckSchema,
  termAttachSchema,
  termInputSchema,
  termResizeSchema,
  type ClientToServerEvents,
  type ServerToClientEvents,
} from "./protocol.ts";
import { FlowHub, kubeFlowSource, type FlowSource } from "./flows.ts";
import type { Workshop, WorkshopEvents } from "../sessions/workshop.ts";
import { stageDir } from "../sessions/workshop.ts";
import type { Learner } from "../sessions/store.ts";
import type { TerminalManager } from "../terminal/manager.ts";
import type { TerminalClient } from "../terminal/session.ts";
import { ValidationError } from "../shared/errors.ts";
import { EgresslabError } from "../shared/errors.ts";
import { toWire } from "../http/errors.ts";
import { isInstructor, learnerOf } from "../http/api.ts";
import { sameOrigin } from "../http/security.ts";
import type { Logger } from "../shared/logger.ts";
import type { BoardService } from "../instructor/board.ts";

interface SocketData {
  learner?: Learner;
  instructor?: boolean;
}

type LabSocket = Socket<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;
export type LabServer = Server<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;

export interface RealtimeOptions {
  workshop: Workshop;
  terminals: TerminalManager;
  flows: FlowHub;
  instructorToken: string;
  logger: Logger;
  /** False when the provider's clusters have no flow API (`/egresslab/v1/flows`): the flow view says so once. */
  flowApi?: boolean;
  /** The flow source of a cluster (tests replace it). */
  flowSource?: (kubeconfig: string) => FlowSource;
  /** The instructor's board (diffs per attendee and cell). */
  board: BoardService;
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

export function attachRealtime(server: http.Server, opts: RealtimeOptions): Realtime {
  const { workshop, terminals, flows, logger } = opts;
  const makeSource = opts.flowSource ?? kubeFlowSource;
  const io: LabServer = new Server(server, {
    serveClient: false,
    maxHttpBufferSize: 128 * 1024,
    pingInterval: 10_000,
    pingTimeout: 8_000,
    allowRequest: (req, cb) => cb(null, sameOrigin(req.headers.origin, req.headers.host)),
  });

  io.use((socket, next) => {
    const auth = socket.handshake.auth as { instructor?: unknown } | undefined;
    if (typeof auth?.instructor === "string") {
      if (!isInstructor(auth.instructor, opts.instructorToken))
        return next(
          Object.assign(new Error("the instructor token is wrong"), { data: { code: "unauthorized" } }),
        );
      socket.data.instructor = true;
      return next();
    }
    const learner = learnerOf(workshop, socket.request.headers.cookie);
    if (!learner)
      return next(
        Object.assign(new Error("your session has ended; join again"), { data: { code: "unauthorized" } }),
      );
    socket.data.learner = learner;
    next();
  });

  let closed = false;
  const onProgress: (...a: WorkshopEvents["progress"]) => void = (id, p) =>
    io.to(`learner:${id}`).emit("progress", p);
  const onCheck: (...a: WorkshopEvents["check"]) => void = (id, r) =>
    io.to(`learner:${id}`).emit("check:result", r);
  let poolTimer: NodeJS.Timeout | undefined;
  const onPool = (): void => {
    if (closed) return;
    poolTimer ??= setTimeout(() => {
      poolTimer = undefined;
      if (!closed) io.to("board").emit("board:pool", workshop.poolStatus());
    }, 250);
  };
  const onNotice: (...a: WorkshopEvents["notice"]) => void = (id, n) => {
    if (id === undefined) io.emit("server:notice", n);
    else io.to(`learner:${id}`).emit("server:notice", n);
  };
  workshop.on("pool", onPool);
  workshop.on("progress", onProgress);
  workshop.on("check", onCheck);
  workshop.on("notice", onNotice);

  io.on("connection", (socket: LabSocket) => {
    if (socket.data.instructor) {
      void socket.join("board");
      const { snapshot, leave } = opts.board.subscribe((d) => socket.emit("board:diff", d));
      socket.emit("board:snapshot", snapshot);
      socket.emit("board:pool", workshop.poolStatus());
      for (const n of workshop.notices(undefined)) socket.emit("server:notice", n);
      socket.on("disconnect", leave);
      return;
    }
    const learner = socket.data.learner!;
    void socket.join(`learner:${learner.id}`);
    for (const n of workshop.notices(learner.id)) socket.emit("server:notice", n);
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
    const attached = () => {
      const s = terminals.get(learner.id);
      return s && s.isAttached(client) ? s : undefined;
    };

    on("term:attach", async (p) => {
      const req = parse(termAttachSchema, p, "term:attach");
      const fresh = workshop.learnerForId(learner.id) ?? learner;
      if (!terminals.get(learner.id)) await workshop.ensureHome(fresh);
      if (socket.disconnected) return;
      const s = await terminals.attach(learner.id, client, {
        ...req,
        startDir: stageDir(fresh.currentStage),
      });
      if (socket.disconnected) s.detach(client);
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
      if (opts.flowApi === false) {
        socket.emit("flows:error", {
          code: "unavailable",
          message: "these clusters have no flow log API, so there is no flow view",
        });
        return;
      }
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
      leaveFlows?.();
      leaveFlows = undefined;
      if (!closed) workshop.setOnline(learner.id, -1);
    });
  });
  return {
    io,
    close() {
      closed = true;
      if (poolTimer) clearTimeout(poolTimer);
      workshop.off("pool", onPool);
      workshop.off("progress", onProgress);
      workshop.off("check", onCheck);
      workshop.off("notice", onNotice);
      return new Promise<void>((resolve) => void io.close(() => resolve()));
    },
  };
}
