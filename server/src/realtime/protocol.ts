/**
 * The socket.io protocol between the learner's page and the server, declared once: the event maps (shared with
 * `web/`) and the zod schemas that every inbound payload is validated against on the server.
 *
 * Terminal output is numbered by character offset: `term:output` carries `end`, the offset just past its last
 * character. The page acknowledges what it has written (`term:ack`) so the server can pause a flooding shell, and on
 * reconnecting asks only for what comes after the last offset it saw (`term:attach.since`).
 */
import { z } from "zod";
import type { BoardDiff, BoardSnapshot, RoomMessage, RoomPause, SeatOutput } from "../instructor/wire.ts";

/** Limits shared by both sides. */
export const limits = {
  /** Largest keyboard/paste chunk accepted in one `term:input`. */
  inputChars: 64 * 1024,
  minCols: 2,
  maxCols: 500,
  minRows: 1,
  maxRows: 200,
} as const;

export const termAttachSchema = z.object({
  cols: z.number().int().min(limits.minCols).max(limits.maxCols),
  rows: z.number().int().min(limits.minRows).max(limits.maxRows),
  /** Offset of the last output character the page has; absent on a fresh page. */
  since: z.number().int().min(0).optional(),
});
export const termInputSchema = z.object({ data: z.string().min(1).max(limits.inputChars) });
export const termResizeSchema = termAttachSchema.pick({ cols: true, rows: true });
export const termAckSchema = z.object({ end: z.number().int().min(0) });
export const seatWatchSchema = z.object({ attendeeId: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/) });
export const flowsSubscribeSchema = z
  .object({ limit: z.number().int().min(1).max(5000).optional() })
  .optional();

export type TermAttach = z.infer<typeof termAttachSchema>;
export type TermInput = z.infer<typeof termInputSchema>;
export type TermResize = z.infer<typeof termResizeSchema>;
export type TermAck = z.infer<typeof termAckSchema>;
export type FlowsSubscribe = z.infer<typeof flowsSubscribeSchema>;

/** One flow as the page shows it: who talked to what, and what Calico decided. */
export interface FlowView {
  /** Stable key of the aggregated flow (source, destination, port, proto, action, reporter). */
  key: string;
  sourceNamespace: string;
  sourceName: string;
  destNamespace: string;
  /** A workload name, a domain, a network set or an IP. */
  destName: string;
  destType: "wep" | "hep" | "ns" | "net" | "domain" | "unknown";
  destPort: number;
  proto: string;
  action: "allow" | "deny" | "pass" | "unknown";
  reporter: string;
  /** The enforced policy trace, in Calico's `tier|policy|rule|action` form where known. */
  policies: string[];
  /** The pending trace: staged policies evaluated as if enforced (Calico's `pending_policies`). */
  pending?: string[];
  /** What the flow would get if the staged policies were enforced (the pending trace's verdict), where one exists. */
  pendingAction?: "allow" | "deny" | "pass" | "unknown";
  connections: number;
  /** Packets both ways (Whisker's `packets_in` + `packets_out`), where the flow says. */
  packets?: number;
  /** The grader's probe made this flow (its source is an egresslab probe pod), not the learner's workloads. */
  probe?: boolean;
  /** ISO time the flow was last seen. */
  lastSeen: string;
}

export interface TermOutput {
  data: string;
  /** Offset just past the last character of `data`. */
  end: number;
}

/** The page's copy of a learner's progress through the lab. */
export interface StageProgress {
  index: number;
  status: "not-started" | "started" | "passed";
  checks: number;
}

/** A typed error, as the socket `error` event and the HTTP API both carry it. */
export interface WireError {
  code: string;
  message: string;
  problems?: { where?: string; line?: number; message: string }[];
  /** The replica that serves this learner's cluster, when it is not the one that answered. */
  replica?: string;
  /** Seconds after which trying again may succeed (here, if that replica has gone). */
  retryAfter?: number;
}

export interface CheckOutcome {
  stageIndex: number;
  passed: boolean;
  at: string;
  /** In the order the learner should read them: root causes first (see grading's `rootCauseFirst`). */
  checks: { id: string; title: string; passed: boolean; seen: string; hint?: string; blockedBy?: string }[];
}

/** One cell of the instructor's board. */
export interface BoardRow {
  learnerId: string;
  name: string;
  currentStage: number;
  stages: StageProgress[];
  online: boolean;
  lastSeen: string;
  /** Something the instructor should know about this learner ("cluster rebuilt: …"). */
  problem?: string;
}

/** A problem of the server, or of one learner's cluster, in plain words. */
export interface ServerNotice {
  /**
   * `storage`: the server cannot save (its disk is full); `cluster`: the learner's cluster was made afresh; `moved`:
   * another replica serves the learner now (the page reconnects).
   */
  kind: "storage" | "cluster" | "moved";
  message: string;
}

/** The pool of ready clusters, on the instructor's board. */
export interface PoolView {
  /** Clusters waiting for attendees. */
  ready: number;
  /** How many the pool is filling towards (the attendees expected who have not joined, or the margin). */
  target: number;
  /** Clusters are being made now. */
  filling: boolean;
}

export interface ServerToClientEvents {
  /** Shell output; `replay` is set on the output sent in answer to `term:attach`. */
  "term:output": (out: TermOutput & { replay?: boolean }) => void;
  /** The page's offset is older than the scrollback kept: clear the screen before the replay that follows. */
  "term:reset": () => void;
  /** Another tab took this terminal over; this page is detached. */
  "term:replaced": () => void;
  /** The shell ended; `term:attach` starts a new one. */
  "term:exit": (info: { code: number }) => void;
  "flows:snapshot": (flows: FlowView[]) => void;
  "flows:update": (flows: FlowView[]) => void;
  /** The flow stream failed; it is retried. */
  "flows:error": (err: WireError) => void;
  /** A check finished (from this tab or another). */
  "check:result": (result: CheckOutcome) => void;
  /** The learner's progress changed (stage started, passed, reset). */
  progress: (p: { currentStage: number; stages: StageProgress[] }) => void;
  /** The instructor's board, whole, once on connecting. */
  "board:snapshot": (board: BoardSnapshot) => void;
  /** What changed on the board since the snapshot or the last diff: per attendee, the cells that changed. */
  "board:diff": (diff: BoardDiff) => void;
  /** The instructor's view of the attendee opened with `seat:watch`: their terminal, read-only. */
  "seat:term": (out: SeatOutput) => void;
  /** The watched attendee's shell ended. */
  "seat:term-exit": (info: { attendeeId: string; code: number }) => void;
  /** A message from the instructor, to this attendee or to everyone. */
  "room:message": (m: RoomMessage) => void;
  /** The instructor's "look at the screen" overlay, on or off (sent on connecting while it is on). */
  "room:pause": (p: RoomPause) => void;
  /** The pool of ready clusters, whenever it changes (at most a few times a second). */
  "board:pool": (pool: PoolView) => void;
  /** A problem appeared (sent once, and again on connecting while it lasts); `cleared` when it went away. */
  "server:notice": (notice: ServerNotice & { cleared?: boolean }) => void;
  error: (err: WireError) => void;
}

export interface ClientToServerEvents {
  "term:attach": (req: TermAttach) => void;
  "term:input": (req: TermInput) => void;
  "term:resize": (req: TermResize) => void;
  "term:ack": (req: TermAck) => void;
  "flows:subscribe": (req?: FlowsSubscribe) => void;
  "flows:unsubscribe": () => void;
  /** Instructor only: follow an attendee's terminal read-only (one at a time per page). */
  "seat:watch": (req: { attendeeId: string }) => void;
  "seat:unwatch": () => void;
}
