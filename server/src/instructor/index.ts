/**
 * The instructor's side of one workshop, composed: the board service, the console (seat view, actions) and the
 * results. `startWorkshopServer` makes one per running workshop, mounts `seatRoutes` in the instructor's API and
 * hands the boards and consoles to the socket layer.
 */
import type { Workshop } from "../sessions/workshop.ts";
import type { SessionStore } from "../sessions/store.ts";
import type { TerminalManager } from "../terminal/manager.ts";
import type { Logger } from "../shared/logger.ts";
import type { ClusterClient } from "../grading/cluster.ts";
import { createKubeClient } from "../grading/kube-client.ts";
import { BoardService } from "./board.ts";
import { InstructorConsole, type RoomNotifier } from "./console.ts";
import type { StuckRule } from "./model.ts";
import { workshopResults, type WorkshopResults } from "./results.ts";

export interface InstructorOptions {
  workshop: Workshop;
  store: SessionStore;
  terminals: TerminalManager;
  notify: RoomNotifier;
  rule?: StuckRule;
  now?: () => number;
  client?: (kubeconfig: string) => ClusterClient;
  /** True when the attendee has a page open on another replica. */
  onlineElsewhere?: (attendeeId: string) => boolean;
  logger?: Logger;
}

export interface WorkshopInstructor {
  board: BoardService;
  console: InstructorConsole;
  results(): Promise<WorkshopResults>;
  close(): void;
}

export function workshopInstructor(opts: InstructorOptions): WorkshopInstructor {
  const now = opts.now ?? Date.now;
  const w = opts.workshop;
  const board = new BoardService({
    workshop: w,
    store: opts.store,
    workshopId: w.id,
    ...(opts.rule ? { rule: opts.rule } : {}),
    now,
    activity: (id) => opts.terminals.get(id)?.lastActivity,
    ...(opts.onlineElsewhere ? { onlineElsewhere: opts.onlineElsewhere } : {}),
    ...(opts.logger ? { logger: opts.logger } : {}),
  });
  const console = new InstructorConsole({
    workshop: w,
    store: opts.store,
    board,
    client: opts.client ?? createKubeClient,
    notify: opts.notify,
    now: () => new Date(now()),
    ...(opts.logger ? { logger: opts.logger } : {}),
  });
  const lab = w.lab;
  const results = async (): Promise<WorkshopResults> => {
    const [learners, times, checks] = await Promise.all([
      opts.store.learners(w.id),
      opts.store.stageTimesAll(w.id),
      opts.store.checkHistory(w.id),
    ]);
    return workshopResults({
      lab: { id: lab.summary.id, title: lab.summary.title },
      stages: board.model.stages,
      learners,
      times,
      checks,
      params: (seed) => lab.params(seed),
      ...(lab.mistakes ? { mistakes: (stage, params) => lab.mistakes!(stage, params) } : {}),
      now: new Date(now()),
    });
  };
  return { board, console, results, close: () => board.close() };
}
