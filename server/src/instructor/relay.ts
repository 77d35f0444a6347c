/**
 * The instructor's side across replicas: each replica tells the others what its attendees did (a board changed, a
 * stage checked, the pause overlay), and folds in what they tell it, so the board on any replica shows every attendee
 * live, and each workshop's state (ended, opened, paused) reaches every replica. What arrives is only a hint to read
 * the database again, except checks, which are folded as they come; when
 * the relay says something may be lost, every board reads attendees, stages and the whole check history again.
 */
import type { Relay } from "../realtime/relay.ts";
import type { Peers } from "../realtime/peers.ts";
import type { Workshop } from "../sessions/workshop.ts";
import type { Workshops } from "../sessions/workshops.ts";
import type { Logger } from "../shared/logger.ts";
import { noopLogger } from "../shared/logger.ts";
import type { WorkshopInstructor } from "./index.ts";
import type { RoomPause } from "./wire.ts";
import type { CheckOutcome } from "../realtime/protocol.ts";

export interface InstructorRelayOptions {
  relay: Relay;
  peers: Peers;
  workshops: Workshops;
  /** The instructor side of a workshop this replica runs. */
  instructorOf(workshopId: string): WorkshopInstructor | undefined;
  logger?: Logger;
}

export interface InstructorRelay {
  /** Tells the other replicas that the pause overlay of a workshop changed. */
  paused(workshopId: string, p: RoomPause): void;
  close(): void;
}

export function relayInstructors(opts: InstructorRelayOptions): InstructorRelay {
  const { relay, peers, workshops } = opts;
  const log = opts.logger ?? noopLogger;
  const offs = new Map<string, () => void>();
  const pending = new Set<string>();
  let flushing = false;
  /** One `board` event per workshop for everything that changed in the same turn of the event loop. */
  const boardChanged = (workshopId: string): void => {
    pending.add(workshopId);
    if (flushing) return;
    flushing = true;
    setImmediate(() => {
      flushing = false;
      for (const id of pending) relay.publish({ kind: "board", workshopId: id });
      pending.clear();
    });
  };
  const watch = (w: Workshop): void => {
    if (offs.has(w.id)) return;
    const onBoard = (): void => boardChanged(w.id);
    const onCheck = (learnerId: string, outcome: CheckOutcome): void =>
      relay.publish({ kind: "check", workshopId: w.id, learnerId, outcome });
    w.on("board", onBoard);
    w.on("progress", onBoard);
    w.on("check", onCheck);
    offs.set(w.id, () => {
      w.off("board", onBoard);
      w.off("progress", onBoard);
      w.off("check", onCheck);
    });
  };
  for (const w of workshops.all()) watch(w);
  const onAdded = (w: Workshop): void => watch(w);
  const onEnded = (w: Workshop): void => {
    offs.get(w.id)?.();
    offs.delete(w.id);
  };
  /** A workshop changed here: every replica reads it again (ends it, or tells its boards). */
  const onChanged = (workshopId: string): void => relay.publish({ kind: "workshop", workshopId });
  workshops.on("added", onAdded);
  workshops.on("ended", onEnded);
  workshops.on("changed", onChanged);
  const refreshFailed = (err: unknown): void =>
    log.warn("could not read a workshop again from the database", {
      error: err instanceof Error ? err.message : String(err),
    });

  relay.on("workshop", (b) => void workshops.refresh(b.workshopId).catch(refreshFailed));
  relay.on("board", (b) => opts.instructorOf(b.workshopId)?.board.changed());
  relay.on("check", (b) => opts.instructorOf(b.workshopId)?.board.remoteCheck(b.learnerId, b.outcome));
  relay.on("pause", (b) => opts.instructorOf(b.workshopId)?.console.pausedElsewhere(b.pause));
  peers.onChange((workshopId) => opts.instructorOf(workshopId)?.board.changed());
  relay.onResync(() => {
    void workshops.refreshAll().catch(refreshFailed);
    for (const w of workshops.all()) {
      const i = opts.instructorOf(w.id);
      if (!i) continue;
      const fail = (what: string) => (err: unknown) =>
        log.warn(`could not read the ${what} again from the database`, {
          workshop: w.id,
          error: err instanceof Error ? err.message : String(err),
        });
      i.board.resync().catch(fail("board"));
      i.console.reloadPause().catch(fail("pause overlay"));
    }
  });

  return {
    paused: (workshopId, p) => relay.publish({ kind: "pause", workshopId, pause: p }),
    close() {
      for (const off of offs.values()) off();
      offs.clear();
      workshops.off("added", onAdded);
      workshops.off("ended", onEnded);
      workshops.off("changed", onChanged);
    },
  };
}
