/**
 * Every workshop a server runs: the default one (`serve --lab`, open from the start, so `npm start` works as it
 * always did) and those instructors create, each with its own lab, join code, capacity, pool of warm clusters,
 * board and instructor token. Attendees and instructors of one see nothing of another: a learner's session names
 * their workshop, a join code names one workshop, an instructor token opens one workshop (the data directory's
 * owner token opens them all).
 */
import { EventEmitter } from "node:events";
import { EgresslabError, NotFoundError, ValidationError, type Problem } from "../shared/errors.ts";
import type { Logger } from "../shared/logger.ts";
import { noopLogger } from "../shared/logger.ts";
import type { Actor, Learner, SessionStore, WorkshopRecord } from "./store.ts";
import type { Workshop } from "./workshop.ts";
import { normalizeResumeCode, type ResumeCodes } from "./identity.ts";
import { RateLimiter } from "./rate-limit.ts";
import { newToken } from "./tokens.ts";

/** Who an instructor request or socket acts as, and on which workshops. */
export type InstructorScope = { actor: "owner" } | { actor: "instructor"; workshopId: string };

export interface WorkshopsEvents {
  /** A workshop was created (or loaded at start): the socket layer subscribes to it. */
  added: [workshop: Workshop];
  /** A workshop ended: nothing more happens in it. */
  ended: [workshop: Workshop];
  /** A workshop's state or instructor token was changed here: the other replicas read it again (`refresh`). */
  changed: [workshopId: string];
}

export interface WorkshopsOptions {
  store: SessionStore;
  /** Builds the running workshop (its lab, pool and callbacks) for a stored one. */
  build(record: WorkshopRecord): Promise<Workshop>;
  /** The labs a workshop can be created for: lab id → whether it can be loaded (throws a clear error if not). */
  checkLab(labId: string): Promise<void>;
  resumeCodes?: ResumeCodes;
  logger?: Logger;
}

/** What an instructor gives to create a workshop. */
export interface WorkshopInput {
  title?: unknown;
  lab?: unknown;
  joinCode?: unknown;
  capacity?: unknown;
  startsAt?: unknown;
  endsAt?: unknown;
}

const isoTime = (v: unknown, where: string, problems: Problem[]): string | undefined => {
  if (v === undefined || v === null || v === "") return undefined;
  if (typeof v !== "string" || v.length > 40 || Number.isNaN(Date.parse(v))) {
    problems.push({ where, message: "a time is an ISO date and time, e.g. 2026-03-01T09:00:00Z" });
    return undefined;
  }
  return new Date(Date.parse(v)).toISOString();
};

export class Workshops extends EventEmitter<WorkshopsEvents> {
  private readonly running = new Map<string, Workshop>();
  private defaultId = "";
  private readonly log: Logger;
  /** Resume-code guesses per client address, and over the whole server. */
  private readonly resumeByAddress = new RateLimiter(10, 10);
  private readonly resumeOverall = new RateLimiter(200, 600);

  /** Ends workshops whose end time has passed (see `endOverdue`). */
  private schedule: NodeJS.Timeout | undefined;

  constructor(private readonly opts: WorkshopsOptions) {
    super();
    this.log = opts.logger ?? noopLogger;
  }

  /** Stops ending workshops on schedule (the server is closing). */
  close(): void {
    clearInterval(this.schedule);
    this.schedule = undefined;
  }

  /**
   * Ends every running workshop whose end time is `now` or earlier, as an instructor's "end" would (clusters released,
   * results kept), recorded in the audit log as done by the schedule. Returns the ids of the workshops it ended.
   */
  async endOverdue(now = Date.now()): Promise<string[]> {
    const ended: string[] = [];
    for (const w of this.all()) {
      try {
        const r = await w.record();
        // Read on every replica every few seconds: a workshop another replica changed is taken in here even when the
        // event about it was lost.
        if (r.state === "ended") await this.endedElsewhere(w);
        else w.stateElsewhere(r.state);
        if (r.state === "ended" || !r.endsAt || Date.parse(r.endsAt) > now) continue;
        if (await this.end(w, "schedule")) ended.push(w.id);
      } catch (err) {
        this.log.error("could not end a workshop at its end time", {
          workshop: w.id,
          error: err instanceof Error ? err.message : String(err),
        });
      }
    }
    return ended;
  }

  /** Starts the default workshop and every other workshop that has not ended. */
  async start(defaultWorkshop: WorkshopRecord, scheduleEveryMs = 15_000): Promise<void> {
    this.defaultId = defaultWorkshop.id;
    if (!this.schedule && scheduleEveryMs > 0) {
      this.schedule = setInterval(() => void this.endOverdue(), scheduleEveryMs);
      this.schedule.unref();
    }
    for (const r of await this.opts.store.workshopRecords()) {
      if (r.isDefault && r.id !== defaultWorkshop.id) continue;
      try {
        await this.add(r);
      } catch (err) {
        if (r.id === defaultWorkshop.id) throw err;
        this.log.error("could not start a workshop", {
          workshop: r.id,
          error: err instanceof Error ? err.message : String(err),
        });
      }
    }
  }

  /** Workshops being started here because another replica created them (one start each). */
  private readonly adopting = new Map<string, Promise<Workshop>>();

  /**
   * The running workshop of a stored one. A workshop another replica created (same database) is started here on its
   * first use: its instructor, its join code and its attendees' sessions work on every replica.
   */
  private async runningOf(r: WorkshopRecord | undefined): Promise<Workshop | undefined> {
    if (!r) return undefined;
    const w = this.running.get(r.id);
    if (w && r.state === "ended" && !r.isDefault) {
      await this.endedElsewhere(w);
      return undefined;
    }
    if (w || r.state === "ended" || r.isDefault) return w;
    let p = this.adopting.get(r.id);
    if (!p) {
      p = this.add(r).finally(() => this.adopting.delete(r.id));
      this.adopting.set(r.id, p);
    }
    return p.catch((err: unknown) => {
      this.log.error("could not start a workshop another replica created", {
        workshop: r.id,
        error: err instanceof Error ? err.message : String(err),
      });
      return undefined;
    });
  }

  /** The running workshop `id`, started here first when another replica created it. */
  private async runningById(id: string): Promise<Workshop | undefined> {
    return this.runningOf(await this.opts.store.workshopRecord(id));
  }

  /**
   * Reads workshop `id` again from the database (another replica changed it): ended there, it ends here too (its
   * shells, its warm clusters and the clusters this replica serves for it released, its pages disconnected); opened
   * or paused, this replica's boards are told. A workshop not running here is left to start at its first use.
   */
  async refresh(id: string): Promise<void> {
    const w = this.running.get(id);
    if (!w) return;
    const r = await this.opts.store.workshopRecord(id);
    if (!r) return;
    if (r.state === "ended") await this.endedElsewhere(w);
    else w.stateElsewhere(r.state);
  }

  /** Reads every running workshop again (events from other replicas may have been lost). */
  async refreshAll(): Promise<void> {
    await Promise.all(
      this.all().map((w) =>
        this.refresh(w.id).catch((err: unknown) =>
          this.log.warn("could not read a workshop again from the database", {
            workshop: w.id,
            error: err instanceof Error ? err.message : String(err),
          }),
        ),
      ),
    );
  }

  /** Stops here a workshop that ended in the database (by another replica, or the schedule there). */
  private async endedElsewhere(w: Workshop): Promise<void> {
    await w.end();
    this.stopRunning(w);
  }

  private stopRunning(w: Workshop): void {
    if (w.id === this.defaultId || this.running.get(w.id) !== w) return;
    this.running.delete(w.id);
    this.emit("ended", w);
  }

  private async add(r: WorkshopRecord): Promise<Workshop> {
    const w = await this.opts.build(r);
    w.stateElsewhere(r.state);
    w.on("changed", () => this.emit("changed", w.id));
    this.running.set(r.id, w);
    this.emit("added", w);
    return w;
  }

  /** The workshop `serve` runs for its `--lab`. */
  get default(): Workshop {
    const w = this.running.get(this.defaultId);
    if (!w) throw new EgresslabError("internal", "the default workshop is not running");
    return w;
  }

  /** Every running workshop (not ended). */
  all(): Workshop[] {
    return [...this.running.values()];
  }

  get(id: unknown): Workshop | undefined {
    return typeof id === "string" ? this.running.get(id) : undefined;
  }

  /** The workshop `scope` may act on with id `id` (the owner: any; an instructor: only theirs), else not found. */
  forScope(scope: InstructorScope, id?: unknown): Workshop {
    if (scope.actor === "instructor") {
      if (id !== undefined && id !== scope.workshopId)
        throw new NotFoundError(`there is no workshop ${String(id)}`);
      const w = this.running.get(scope.workshopId);
      if (!w) throw new NotFoundError("this workshop has ended");
      return w;
    }
    if (id === undefined) return this.default;
    const w = this.get(id);
    if (!w) throw new NotFoundError(`there is no workshop ${String(id)}`);
    return w;
  }

  /** The workshops `scope` sees. */
  visibleTo(scope: InstructorScope): Workshop[] {
    return scope.actor === "owner" ? this.all() : this.all().filter((w) => w.id === scope.workshopId);
  }

  /** The scope of an instructor token: the owner's (given `isOwner`), or one workshop's. */
  async scopeOf(
    token: string | undefined,
    isOwner: (t: string) => boolean,
  ): Promise<InstructorScope | undefined> {
    if (!token || token.length > 200) return undefined;
    if (isOwner(token)) return { actor: "owner" };
    const r = await this.opts.store.workshopByInstructorToken(token);
    return (await this.runningOf(r)) ? { actor: "instructor", workshopId: r!.id } : undefined;
  }

  /** The learner of a session token and their workshop. */
  async learnerForToken(
    token: string | undefined,
  ): Promise<{ learner: Learner; workshop: Workshop } | undefined> {
    if (!token || token.length > 200) return undefined;
    const learner = await this.opts.store.learnerForToken(token);
    const workshop = learner && (await this.runningById(learner.workshopId));
    return learner && workshop ? { learner, workshop } : undefined;
  }

  /**
   * The workshop a join is for: the one whose code was given, else the default workshop (whose own join then checks
   * the code). A code that names no running workshop, when the default needs none, is refused rather than taken as a
   * join to the default workshop.
   */
  async forJoin(code: unknown): Promise<Workshop> {
    const given = typeof code === "string" && code.trim() ? code.trim() : undefined;
    if (given === undefined || given.length > 200) return this.default;
    const r = await this.opts.store.workshopByJoinCode(given);
    const w = await this.runningOf(r);
    if (w) return w;
    if (await this.default.needsJoinCode()) return this.default;
    const ended = await this.opts.store.workshopByJoinCode(given, true);
    throw new ValidationError([
      {
        where: "code",
        message: ended ? "this workshop has ended" : "no workshop on this server has this join code",
      },
    ]);
  }

  /** True when a join needs a code: the default workshop has one, or other workshops run. */
  async joinNeedsCode(): Promise<boolean> {
    return this.running.size > 1 || (await this.default.needsJoinCode());
  }

  /** Opens a session from a resume code (rate-limited per address and overall). */
  async resumeWithCode(
    code: unknown,
    address: string,
  ): Promise<{ learner: Learner; token: string; workshop: Workshop }> {
    for (const [limiter, key] of [
      [this.resumeByAddress, address],
      [this.resumeOverall, "*"],
    ] as const) {
      const wait = limiter.take(key);
      if (wait > 0)
        throw new EgresslabError("rate-limited", `too many resume attempts; try again in ${wait} s`);
    }
    const canonical = normalizeResumeCode(code);
    const codes = this.opts.resumeCodes;
    if (!canonical)
      throw new ValidationError([
        { where: "resume", message: "a resume code is 16 letters and digits, XXXX-XXXX-XXXX-XXXX" },
      ]);
    const learner = codes ? await this.opts.store.learnerByResumeHash(codes.hash(canonical)) : undefined;
    const workshop = learner && (await this.runningById(learner.workshopId));
    if (!learner || !workshop)
      throw new EgresslabError("unauthorized", "this resume code is not one of this server's attendees'");
    return { ...(await workshop.resume(learner, "code")), workshop };
  }

  /** Creates a workshop (closed until opened; its clusters start pre-warming now); returns its instructor token, once. */
  async create(input: WorkshopInput, actor: Actor): Promise<{ workshop: Workshop; instructorToken: string }> {
    const problems: Problem[] = [];
    const title = typeof input.title === "string" ? input.title.trim() : "";
    if (!title || title.length > 80 || /[\p{Cc}<>]/u.test(title))
      problems.push({
        where: "title",
        message: "a title is 1 to 80 characters, without < > or control characters",
      });
    const lab = typeof input.lab === "string" ? input.lab.trim() : "";
    if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(lab))
      problems.push({ where: "lab", message: "a lab is the id of a lab under labs/, e.g. egress-workshop" });
    const joinCode = typeof input.joinCode === "string" ? input.joinCode.trim() : "";
    if (!/^[\w-]{4,40}$/.test(joinCode))
      problems.push({ where: "joinCode", message: "a join code is 4 to 40 letters, digits, - or _" });
    else if (await this.opts.store.workshopByJoinCode(joinCode))
      problems.push({
        where: "joinCode",
        message: "another workshop running on this server has this join code",
      });
    const capacity = input.capacity ?? 30;
    if (typeof capacity !== "number" || !Number.isInteger(capacity) || capacity < 1 || capacity > 1000)
      problems.push({ where: "capacity", message: "a capacity is a whole number from 1 to 1000" });
    const startsAt = isoTime(input.startsAt, "startsAt", problems);
    const endsAt = isoTime(input.endsAt, "endsAt", problems);
    if (startsAt && endsAt && Date.parse(endsAt) <= Date.parse(startsAt))
      problems.push({ where: "endsAt", message: "the end is after the start" });
    if (problems.length) throw new ValidationError(problems);
    await this.opts.checkLab(lab);
    const instructorToken = newToken();
    const r = await this.opts.store.createWorkshop({
      labId: lab,
      title,
      joinCode,
      capacity: capacity as number,
      ...(startsAt ? { startsAt } : {}),
      ...(endsAt ? { endsAt } : {}),
      instructorToken,
    });
    const workshop = await this.add(r);
    await this.record(actor, workshop.id, "workshop.create", undefined, {
      title,
      lab,
      capacity,
      startsAt,
      endsAt,
    });
    return { workshop, instructorToken };
  }

  /** Gives a workshop a new instructor token (the old one stops working); returns it, once. */
  async rotateToken(workshop: Workshop, actor: Actor): Promise<string> {
    const token = newToken();
    await this.opts.store.setInstructorToken(workshop.id, token);
    await this.record(actor, workshop.id, "workshop.rotate-token");
    this.emit("changed", workshop.id);
    return token;
  }

  /**
   * Ends a workshop and stops running it (its results stay in the database). Recorded in the audit log only when
   * this call ended it (the database decides, so replicas ending it at its end time at once record it once); returns
   * whether it did.
   */
  async end(workshop: Workshop, actor: Actor): Promise<boolean> {
    const ended = await workshop.end();
    if (ended) await this.record(actor, workshop.id, "workshop.end");
    this.stopRunning(workshop);
    return ended;
  }

  /** Appends to the audit log and the server's log. Every instructor action goes through here. */
  async record(
    actor: Actor,
    workshopId: string | null,
    action: string,
    target?: string,
    detail?: unknown,
  ): Promise<void> {
    await this.opts.store.recordAction({
      workshopId,
      actor,
      action,
      ...(target !== undefined ? { target } : {}),
      ...(detail !== undefined ? { detail } : {}),
    });
    this.log.info("instructor action", {
      actor,
      workshop: workshopId,
      action,
      ...(target ? { target } : {}),
    });
  }
}
