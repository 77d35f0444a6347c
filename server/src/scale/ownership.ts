/**
 * Which learners' clusters and shells this replica serves, kept in step with its leases (`leases.ts`): a learner's
 * cluster is used here only after this replica took its lease, and when a lease is lost the cluster and shell stop
 * here at once and the learner's pages are told to reconnect (the proxy, or the page, then reaches the new owner).
 * Learners' homes are on a volume every replica mounts (`<data>/learners`): the lease is what keeps a home to one
 * writer, so the next replica starts a fresh shell in the same home.
 */
import { InFlight } from "../providers/in-flight.ts";
import type { Workshop } from "../sessions/workshop.ts";
import { noopLogger, type Logger } from "../shared/logger.ts";
import type { Leases } from "./leases.ts";

interface Served {
  learnerId: string;
  workshop: Workshop;
}

export class Ownership {
  /** Cluster id → the learner it is served here for. */
  private readonly served = new Map<string, Served>();
  private readonly taking = new InFlight<void>();
  private readonly log: Logger;

  constructor(
    readonly leases: Leases,
    logger: Logger = noopLogger,
  ) {
    this.log = logger;
    leases.on("lost", (clusterId) => this.lost(clusterId));
  }

  /** This replica's name. */
  get replica(): string {
    return this.leases.replica;
  }

  /**
   * Takes the lease on the learner's cluster for this replica (at once when it holds it already). Rejects with
   * `HeldElsewhereError` while another live replica serves it.
   */
  own(workshop: Workshop, learner: { id: string; clusterId: string }): Promise<void> {
    if (this.leases.holds(learner.clusterId) && this.served.has(learner.clusterId)) return Promise.resolve();
    return this.taking.run(learner.clusterId, async () => {
      const r = await this.leases.acquire(learner.clusterId);
      this.served.set(learner.clusterId, { learnerId: learner.id, workshop });
      if (r.takenFrom)
        this.log.info("serving a learner whose server stopped: their cluster is brought back here", {
          learner: learner.id,
          cluster: learner.clusterId,
          from: r.takenFrom,
        });
    });
  }

  /** Gives up the lease on a cluster that was released for good (or is no longer served here). */
  async release(clusterId: string): Promise<void> {
    this.served.delete(clusterId);
    await this.leases.release(clusterId);
  }

  /**
   * The replica that serves the learner's cluster, for the routing cookie: this one when it holds the lease or when
   * no live replica does (it takes the lease on the next use), else the live owner.
   */
  async servedBy(learner: { clusterId: string }): Promise<string> {
    if (this.leases.holds(learner.clusterId)) return this.replica;
    const owner = await this.leases.owner(learner.clusterId);
    return owner?.replica ?? this.replica;
  }

  /** How many learners' clusters this replica serves. */
  get size(): number {
    return this.served.size;
  }

  private lost(clusterId: string): void {
    const s = this.served.get(clusterId);
    this.served.delete(clusterId);
    if (!s) return;
    s.workshop.stopServing({ id: s.learnerId, clusterId }, { save: false }).catch((err: unknown) =>
      this.log.error("could not stop serving a cluster whose lease was lost", {
        learner: s.learnerId,
        cluster: clusterId,
        error: err instanceof Error ? err.message : String(err),
      }),
    );
  }

  /** Stops renewing and gives every lease up (after the clusters were saved and closed). */
  close(): Promise<void> {
    this.served.clear();
    return this.leases.close();
  }
}
