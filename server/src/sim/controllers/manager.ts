/**
 * Runs controllers to a fixed point after each outermost write: every controller whose watched resources changed
 * syncs, in registration order, until nothing it watches changes any more.
 */
import type { Logger } from "../../shared/logger.ts";
import type { MemoryStore } from "../../store/object-store.ts";
import type { StoreChange } from "../../store/types.ts";
import type { Controller } from "./context.ts";

const MAX_ROUNDS = 50;

export class ControllerManager {
  private pending: StoreChange[] = [];
  private readonly unsubscribe: () => void;
  private stopped = false;

  constructor(
    store: MemoryStore,
    private readonly controllers: Controller[],
    private readonly logger: Logger,
  ) {
    this.unsubscribe = store.subscribe((c) => {
      if (!this.stopped) this.pending.push(c);
    });
  }

  /** Runs every controller once regardless of changes (after loading or restoring state), then settles. */
  syncAll(): void {
    for (const c of this.controllers) this.run(c, []);
    this.settle();
  }

  /** Drains pending changes through the controllers until they converge. */
  settle(): void {
    for (let round = 0; round < MAX_ROUNDS && this.pending.length && !this.stopped; round++) {
      const changes = this.pending;
      this.pending = [];
      for (const c of this.controllers) {
        const mine = changes.filter((ch) => c.watches.includes(ch.key));
        if (mine.length) this.run(c, mine);
      }
    }
    if (this.pending.length && !this.stopped) {
      this.logger.warn("controllers did not converge", { pending: this.pending.length });
      this.pending = [];
    }
  }

  private run(c: Controller, changes: StoreChange[]): void {
    try {
      c.sync(changes);
    } catch (err) {
      this.logger.error("controller sync failed", {
        controller: c.name,
        error: err instanceof Error ? err.message : String(err),
      });
    }
  }

  stop(): void {
    this.stopped = true;
    this.unsubscribe();
  }
}
