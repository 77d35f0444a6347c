/**
 * The workshop: learners join, get a cluster and the lab, move between stages, check, answer and reset. The HTTP API
 * and the socket layer call this; it owns no transport. Operations on one learner run one at a time.
 */
import { EventEmitter } from "node:events";
import type { ClusterConnection } from "../providers/provider.ts";
import type { LabParams, RenderedGuide, RotationOutcome, StageSummary } from "../labs/api.ts";
import { EgresslabError, NotFoundError, ValidationError, type Problem } from "../shared/errors.ts";
import type { Logger } from "../shared/logger.ts";
import { noopLogger } from "../shared/logger.ts";
import type { BoardRow, CheckOutcome, ServerNotice, StageProgress } from "../realtime/protocol.ts";
import type { StorageHealth, StorageProblem } from "../shared/storage.ts";
import type { LabRunner } from "./lab-runner.ts";
import type { ClusterPool, PoolStatus } from "./pool.ts";
import { RateLimiter } from "./rate-limit.ts";
import {
  joinCodeAccepts,
  type ActionRecord,
  type Learner,
  type SessionStore,
  type WorkshopRecord,
  type WorkshopState,
} from "./store.ts";
import { hashPin, pinMatches, pinProblem, type ResumeCodes } from "./identity.ts";
import { newId } from "./tokens.ts";
import type { HomeSpec } from "../terminal/home.ts";

export interface WorkshopEvents {
  progress: [learnerId: string, p: { currentStage: number; stages: StageProgress[] }];
  check: [learnerId: string, result: CheckOutcome];
  /** Something on the instructor's board changed. */
  board: [];
  /** The pool of ready clusters changed. */
  pool: [status: PoolStatus];
  /** A notice for one learner, or (`learnerId` undefined) for everyone and the board. */
  notice: [learnerId: string | undefined, notice: ServerNotice & { cleared?: boolean }];
  /** A join attempt ended (for metrics). */
  joinEnded: [result: JoinResult];
  /** A stage check ended, and how long grading took (for metrics). */
  checkEnded: [result: CheckResult, seconds: number];
  /** A learner was removed or merged into another: their pages must be disconnected. */
  removed: [learnerId: string];
  /** The workshop opened, paused or ended. */
  state: [state: WorkshopState];
  /** The learner's cluster and shell are no longer served by this replica: their pages must reconnect. */
  moved: [learnerId: string];
  /** The workshop's state was changed here (opened, paused, ended): other replicas read it again. */
  changed: [];
}

/** `refused`: the attendee's input or the workshop's capacity; `failed`: the server could not admit them. */
export type JoinResult = "joined" | "refused" | "failed";
/** `error`: grading threw instead of giving a verdict. */
export type CheckResult = "passed" | "failed" | "error";

export interface LearnerState {
  learner: { id: string; name: string };
  /** The learner's personal resume code (opens their session on another browser), and whether they chose a PIN. */
  resume?: { code: string; pin: boolean };
  lab: { id: string; title: string; description: string; durationMinutes: number };
  stages: StageSummary[];
  progress: StageProgress[];
  currentStage: number;
}

export interface WorkshopOptions {
  store: SessionStore;
  workshopId: string;
  lab: LabRunner;
  pool: ClusterPool;
  /** Writes the learner's home (kubeconfig, rc, stage directories). */
  prepareHome(learnerId: string, spec: HomeSpec): void | Promise<void>;
  /** Checks per learner: `burst` at once, `perMinute` sustained. */
  checkRate?: { burst: number; perMinute: number };
  /** Rotations (a guide's `rotate` action) per learner (default 3 at once, then 6 a minute). */
  rotateRate?: { burst: number; perMinute: number };
  /** Most attendees this workshop takes (each costs a cluster, a home and a shell); default unbounded. */
  capacity?: number;
  /** The data directory's health: a fault is told to every page and the board once. */
  storage?: StorageHealth;
  /** Derives learners' resume codes (without it, learners get none). */
  resumeCodes?: ResumeCodes;
  /** Ends a learner's shell (when they are removed, merged or the workshop ends). */
  endShell?(learnerId: string): void;
  /** Releases a cluster for good (when the workshop ends, or its learner is removed). */
  releaseCluster?(clusterId: string): Promise<void>;
  /**
   * Makes this replica the one that serves the learner's cluster and shell (takes its lease), before anything uses
   * the cluster; rejects (`HeldElsewhereError`) while another live replica serves it. Default: always this one.
   */
  ownCluster?(learner: { id: string; clusterId: string }): Promise<void>;
  /** Whether this replica serves the cluster now (holds its lease); default: none, when another replica ended it. */
  servesCluster?(clusterId: string): boolean;
  logger?: Logger;
}

const nameProblem = (name: unknown): Problem | undefined => {
  if (typeof name !== "string" || !name.trim()) return { where: "name", message: "enter your name" };
  if (name.trim().length > 40) return { where: "name", message: "a name has at most 40 characters" };
  if (/[\p{Cc}<>]/u.test(name))
    return { where: "name", message: "a name cannot hold control characters or < >" };
  return undefined;
};

/** A storage fault as the page shows it. */
const storageNotice = (p: StorageProblem): string =>
  `${p.message[0]!.toUpperCase()}${p.message.slice(1)}: changes cannot be saved until space is freed. Nothing you did before is lost.`;

/** A PIN hash no PIN matches, checked when a name is unknown so that the answer takes as long as a wrong PIN's. */
const decoyPin = `scrypt$16384$8$1$${"A".repeat(22)}$${"A".repeat(43)}`;

/** A joined attendee and their new session; `resumed` when the name and PIN were an attendee's already. */
export interface JoinOutcome {
  learner: Learner;
  token: string;
  resumed?: boolean;
}

/** The directory a stage's files live in, inside the learner's HOME. */
export const stageDir = (index: number): string => `stage-${index}`;

export class Workshop extends EventEmitter<WorkshopEvents> {
  private readonly locks = new Map<string, Promise<unknown>>();
  private readonly checkLimiter: RateLimiter;
  private readonly rotateLimiter: RateLimiter;
  /** PIN attempts per learner: 5 at once, then one a minute, whoever is guessing and from wherever. */
  private readonly pinLimiter = new RateLimiter(5, 1);
  /** PIN changes per learner: 3 at once, then one every 20 seconds. */
  private readonly pinChanges = new RateLimiter(3, 3);
  private readonly log: Logger;
  private readonly online = new Map<string, number>();
  /** Joins past validation and not yet recorded, so concurrent joins cannot overshoot the capacity. */
  private joining = 0;
  /** Learners whose cluster was made afresh, and what to tell them. */
  private readonly rebuilt = new Map<string, string>();
  /** Names of joins in progress (lower case), so two joins with one name cannot both pass. */
  private readonly names = new Set<string>();

  private readonly onStorageProblem = (p: StorageProblem): void => {
    this.emit("notice", undefined, { kind: "storage", message: storageNotice(p) });
  };
  private readonly onStorageRecovered = (): void => {
    this.emit("notice", undefined, {
      kind: "storage",
      message: "the server can save changes again",
      cleared: true,
    });
  };

  constructor(private readonly opts: WorkshopOptions) {
    super();
    this.log = opts.logger ?? noopLogger;
    opts.storage?.on("problem", this.onStorageProblem);
    opts.storage?.on("recovered", this.onStorageRecovered);
    this.checkLimiter = new RateLimiter(opts.checkRate?.burst ?? 5, opts.checkRate?.perMinute ?? 12);
    this.rotateLimiter = new RateLimiter(opts.rotateRate?.burst ?? 3, opts.rotateRate?.perMinute ?? 6);
    opts.pool.on("status", (s) => this.emit("pool", s));
  }

  get lab(): LabRunner {
    return this.opts.lab;
  }

  /** Runs `fn` after every earlier operation on the same learner has finished. */
  private serial<T>(learnerId: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(learnerId) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.catch(() => undefined);
    this.locks.set(learnerId, tail);
    void tail.then(() => {
      if (this.locks.get(learnerId) === tail) this.locks.delete(learnerId);
    });
    return next;
  }

  /** This workshop's id. */
  get id(): string {
    return this.opts.workshopId;
  }

  /** The workshop as stored: title, state, capacity, times. */
  async record(): Promise<WorkshopRecord> {
    const r = await this.opts.store.workshopRecord(this.opts.workshopId);
    if (!r) throw new EgresslabError("internal", "the workshop is missing from the database");
    return r;
  }

  /** Why the workshop takes no new attendees now, or undefined when it does. */
  private async closedForJoins(): Promise<string | undefined> {
    const r = await this.record();
    if (r.state === "draft") return "this workshop has not opened yet; wait for the instructor to open it";
    if (r.state === "paused") return "joining this workshop is paused for now; ask the instructor";
    if (r.state === "ended") return "this workshop has ended";
    if (r.endsAt && Date.parse(r.endsAt) <= Date.now()) return "this workshop is over";
    return undefined;
  }

  /**
   * Joins a learner: validates name, code and the optional PIN, assigns a cluster, prepares HOME and sets up the first
   * stage. A name already in the workshop is that attendee: with their PIN the join resumes their session (the same
   * cluster and progress), without it the join is refused, so the board never shows one person twice.
   */
  async join(input: { name?: unknown; code?: unknown; pin?: unknown }): Promise<JoinOutcome> {
    let admitting = false;
    try {
      const r = await this.tryJoin(input, () => (admitting = true));
      this.emit("joinEnded", "joined");
      return r;
    } catch (err) {
      this.emit("joinEnded", admitting ? "failed" : "refused");
      throw err;
    }
  }

  private async tryJoin(
    input: { name?: unknown; code?: unknown; pin?: unknown },
    admitting: () => void,
  ): Promise<JoinOutcome> {
    const problems: Problem[] = [];
    const np = nameProblem(input.name);
    if (np) problems.push(np);
    const ws = { id: this.opts.workshopId, ...(await this.workshopCode()) };
    const code = typeof input.code === "string" ? input.code.trim() : undefined;
    if (!joinCodeAccepts(ws, code))
      problems.push({
        where: "code",
        message: code ? "this join code is not the workshop's" : "enter the workshop's join code",
      });
    const pin = input.pin === undefined || input.pin === null || input.pin === "" ? undefined : input.pin;
    const pp = pin === undefined ? undefined : pinProblem(pin);
    if (pp) problems.push(pp);
    if (problems.length) throw new ValidationError(problems);
    const name = String(input.name).trim();
    const closed = await this.closedForJoins();
    const existing = await this.opts.store.learnerByName(this.opts.workshopId, name);
    if (existing || this.names.has(name.toLowerCase())) {
      if (existing && typeof pin === "string") {
        const resumed = await this.resumeWithPin(existing, pin);
        if (resumed) return { ...resumed, resumed: true };
      }
      throw new EgresslabError(
        "conflict",
        `someone named ${name} has joined already: if that is you, enter your PIN (or use your resume code) to continue; otherwise choose another name`,
      );
    }
    if (closed) throw new EgresslabError("forbidden", closed);
    const capacity = (await this.record()).capacity ?? this.opts.capacity ?? Infinity;
    // Counted before the database is asked, so joins arriving together cannot all see room for one more.
    this.joining++;
    this.names.add(name.toLowerCase());
    let room = false;
    try {
      room = (await this.opts.store.learnerCount(this.opts.workshopId)) + this.joining <= capacity;
    } finally {
      if (!room) {
        this.joining--;
        this.names.delete(name.toLowerCase());
      }
    }
    if (!room)
      throw new EgresslabError(
        "unavailable",
        `this workshop is full: it has room for ${capacity} attendees; ask the instructor`,
      );
    admitting();
    try {
      const pinHash = typeof pin === "string" ? await hashPin(pin) : undefined;
      return await this.admit(name, pinHash);
    } finally {
      this.joining--;
      this.names.delete(name.toLowerCase());
    }
  }

  /**
   * A new session for the attendee of this workshop named `name` whose PIN is `pin` (with the workshop's join code
   * when it has one). Wrong name and wrong PIN get the same answer, after the same work.
   */
  async resumeByName(input: { name?: unknown; code?: unknown; pin?: unknown }): Promise<{
    learner: Learner;
    token: string;
  }> {
    const problems: Problem[] = [];
    if (typeof input.name !== "string" || !input.name.trim() || input.name.length > 80)
      problems.push({ where: "name", message: "enter your name" });
    const pp = pinProblem(input.pin);
    if (pp) problems.push(pp);
    const code = typeof input.code === "string" ? input.code.trim() : undefined;
    if (!joinCodeAccepts({ id: this.id, ...(await this.workshopCode()) }, code))
      problems.push({
        where: "code",
        message: code ? "this join code is not the workshop's" : "enter the workshop's join code",
      });
    if (problems.length) throw new ValidationError(problems);
    const learner = await this.opts.store.learnerByName(this.id, String(input.name));
    const resumed = learner
      ? await this.resumeWithPin(learner, input.pin as string)
      : await pinMatches(input.pin as string, decoyPin).then(() => undefined);
    if (!resumed)
      throw new EgresslabError(
        "unauthorized",
        "no attendee of this workshop has this name and PIN; check both, or use your resume code",
      );
    return resumed;
  }

  /**
   * Sets (or changes) the learner's PIN. Hashing costs real CPU and memory (scrypt), so changes are rate-limited per
   * learner: a hostile page cannot keep the hashing threads busy for everyone.
   */
  async setPin(learner: Learner, pin: unknown): Promise<void> {
    const pp = pinProblem(pin);
    if (pp) throw new ValidationError([pp]);
    const wait = this.pinChanges.take(learner.id);
    if (wait > 0) throw new EgresslabError("rate-limited", `too many PIN changes; try again in ${wait} s`);
    await this.opts.store.setPinHash(learner.id, await hashPin(pin as string));
  }

  /** A new session for `learner` when `pin` is theirs (scrypt, constant time); undefined otherwise. */
  async resumeWithPin(
    learner: Learner,
    pin: string,
  ): Promise<{ learner: Learner; token: string } | undefined> {
    const wait = this.pinLimiter.take(learner.id);
    if (wait > 0)
      throw new EgresslabError(
        "rate-limited",
        `too many wrong PINs for ${learner.name}; try again in ${wait} s, or use your resume code`,
      );
    const stored = await this.opts.store.pinHash(learner.id);
    if (!stored || !(await pinMatches(pin, stored))) return undefined;
    return this.resume(learner, "pin");
  }

  /** A new session for `learner` (who proved who they are); their cluster and progress are as they left them. */
  async resume(learner: Learner, how: "pin" | "code"): Promise<{ learner: Learner; token: string }> {
    if ((await this.record()).state === "ended")
      throw new EgresslabError("forbidden", "this workshop has ended");
    const token = await this.opts.store.createSession(learner.id);
    this.log.info("learner resumed on another browser", { learner: learner.id, with: how });
    this.emit("board");
    return { learner, token };
  }

  /** The learner's resume code, made on first use for learners who joined before codes existed. */
  async resumeCode(learner: Learner): Promise<string | undefined> {
    const codes = this.opts.resumeCodes;
    if (!codes) return undefined;
    const gen = await this.opts.store.resumeGeneration(learner.id);
    const code = codes.code(learner.id, gen);
    if (!(await this.opts.store.learnerByResumeHash(codes.hash(code))))
      await this.opts.store.setResume(learner.id, gen, codes.hash(code));
    return code;
  }

  /** Opens the workshop to attendees (from draft or paused). */
  open(): Promise<void> {
    return this.setState("open");
  }

  /** Stops new joins; attendees already in carry on. */
  pause(): Promise<void> {
    return this.setState("paused");
  }

  private async setState(state: WorkshopState): Promise<void> {
    const now = (await this.record()).state;
    if (now === "ended") throw new EgresslabError("conflict", "this workshop has ended; create a new one");
    if (now === state) return;
    await this.opts.store.setWorkshopState(this.opts.workshopId, state);
    this.log.info("workshop state changed", { workshop: this.opts.workshopId, from: now, to: state });
    this.known = state;
    this.emit("state", state);
    this.emit("changed");
    this.emit("board");
  }

  /** The state this replica last saw (set, or read again), so a change another replica made is told once. */
  private known: WorkshopState | undefined;

  /**
   * Takes in the state as stored now, which another replica may have changed (opened, paused): told to this replica's
   * listeners when it differs from what it last saw. An ended workshop is ended here with `end`.
   */
  stateElsewhere(state: WorkshopState): void {
    if (state === "ended" || state === this.known) return;
    const was = this.known;
    this.known = state;
    if (was === undefined) return;
    this.log.info("workshop state changed on another replica", { workshop: this.id, from: was, to: state });
    this.emit("state", state);
    this.emit("board");
  }

  /** The teardown of the end on this replica, once. */
  private stopping: Promise<void> | undefined;

  /**
   * Ends the workshop: no more joins, every shell ended, every cluster (attendees' and pre-warmed) released, every
   * session ended. Learners, progress, checks and answers are kept for the results. Returns true when this call ended
   * it in the database; when another replica (or an earlier call) did, only what this replica holds of it stops
   * here: its shells, its warm clusters and the attendees' clusters it serves. The database decides which call ends
   * it, so the end is recorded once whichever replicas run it.
   */
  async end(): Promise<boolean> {
    if (this.stopping) {
      await this.stopping;
      return false;
    }
    const ended = await this.opts.store.endWorkshop(this.opts.workshopId);
    if (ended) await this.opts.store.endSessionsOf(this.opts.workshopId);
    this.known = "ended";
    // The other replicas stop it while this one does.
    if (ended) this.emit("changed");
    // Once; after a teardown of what this replica held, the call that ended it releases the rest.
    if (ended || !this.stopping)
      this.stopping = (this.stopping ?? Promise.resolve()).then(() => this.stopHere(ended));
    await this.stopping;
    return ended;
  }

  private async stopHere(all: boolean): Promise<void> {
    const learners = await this.opts.store.learners(this.opts.workshopId);
    this.emit("state", "ended");
    for (const l of learners) this.emit("removed", l.id);
    await this.opts.pool.drain();
    await Promise.all(
      learners.map((l) =>
        this.serial(l.id, async () => {
          this.opts.endShell?.(l.id);
          if (all || (this.opts.servesCluster?.(l.clusterId) ?? false)) await this.release(l.clusterId);
        }),
      ),
    );
    // An ended workshop has no pages to tell of the server's storage; the server's monitor outlives it.
    this.opts.storage?.off("problem", this.onStorageProblem);
    this.opts.storage?.off("recovered", this.onStorageRecovered);
    this.log.info(all ? "workshop ended" : "workshop ended on another replica: stopped here", {
      workshop: this.opts.workshopId,
      learners: learners.length,
    });
    this.emit("board");
  }

  private async release(clusterId: string): Promise<void> {
    try {
      await this.opts.releaseCluster?.(clusterId);
    } catch (err) {
      this.log.warn("could not release a cluster", {
        cluster: clusterId,
        error: err instanceof Error ? err.message : String(err),
      });
    }
  }

  private async ownLearner(id: unknown): Promise<Learner> {
    const l = typeof id === "string" ? await this.opts.store.learner(id) : undefined;
    if (!l || l.workshopId !== this.opts.workshopId)
      throw new NotFoundError(`there is no attendee ${String(id)} in this workshop`);
    return l;
  }

  /** Removes an attendee: their pages are disconnected, their shell ended, their cluster released, their rows deleted. */
  async removeLearner(id: unknown): Promise<void> {
    const l = await this.ownLearner(id);
    await this.serial(l.id, async () => {
      await this.opts.store.removeLearner(l.id);
      this.emit("removed", l.id);
      this.opts.endShell?.(l.id);
      await this.release(l.clusterId);
    });
    this.emit("board");
  }

  /**
   * Merges attendee `dropId` into `keepId` (one person who joined twice): the kept attendee keeps their cluster and
   * gains the other's progress, checks, answers and sessions; the other's shell ends and cluster is released.
   */
  async mergeLearners(keepId: unknown, dropId: unknown): Promise<void> {
    const keep = await this.ownLearner(keepId);
    const drop = await this.ownLearner(dropId);
    if (keep.id === drop.id)
      throw new ValidationError([{ where: "into", message: "choose two different attendees" }]);
    await this.serial(drop.id, () =>
      this.serial(keep.id, async () => {
        await this.opts.store.mergeLearners(keep.id, drop.id);
        this.emit("removed", drop.id);
        this.opts.endShell?.(drop.id);
        await this.release(drop.clusterId);
      }),
    );
    await this.publishProgress(keep.id);
  }

  private async admit(
    name: string,
    pinHash: string | undefined,
  ): Promise<{ learner: Learner; token: string }> {
    let conn: ClusterConnection;
    let seed: number;
    try {
      const taken = await this.opts.pool.take();
      conn = taken.conn;
      seed = taken.seed;
      // The first stage is set up before the learner exists (by the pool, or here), so a failure leaves no
      // half-joined learner behind.
      if (!taken.prepared) await this.opts.lab.setup(conn, 0, this.opts.lab.params(seed));
    } catch (err) {
      this.log.error("could not prepare a cluster for a joining learner", {
        error: err instanceof Error ? err.message : String(err),
      });
      const full = this.opts.storage?.problem;
      throw new EgresslabError(
        "unavailable",
        full
          ? `${full.message}, so your cluster could not be prepared; the instructor has been told, try again once space is freed`
          : "your cluster could not be prepared; try again in a moment",
        { cause: err },
      );
    }
    const id = newId("l");
    const codes = this.opts.resumeCodes;
    const created = await this.opts.store.createLearner({
      id,
      workshopId: this.opts.workshopId,
      name,
      seed,
      clusterId: conn.id,
      ...(pinHash ? { pinHash } : {}),
      ...(codes ? { resumeHash: codes.hash(codes.code(id, 0)) } : {}),
    });
    const learner = created.learner;
    await this.opts.ownCluster?.(learner);
    await this.opts.store.markStarted(learner.id, 0);
    await this.writeHome(learner, conn);
    this.log.info("learner joined", { learner: learner.id, cluster: conn.id });
    this.emit("board");
    return created;
  }

  private async workshopCode(): Promise<{ labId: string; joinCodeHash: string | null }> {
    const row = await this.opts.store.workshopById(this.opts.workshopId);
    if (!row) throw new EgresslabError("internal", "the workshop is missing from the database");
    return row;
  }

  /** True when joining needs the workshop's code. */
  async needsJoinCode(): Promise<boolean> {
    return (await this.workshopCode()).joinCodeHash !== null;
  }

  /** Ends one session (logout). */
  endSession(token: string): Promise<void> {
    return this.opts.store.endSession(token);
  }

  /** The learner a session token belongs to. */
  learnerForToken(token: string | undefined): Promise<Learner | undefined> {
    return token ? this.opts.store.learnerForToken(token) : Promise.resolve(undefined);
  }

  /** The learner's current row. */
  learnerForId(id: string): Promise<Learner | undefined> {
    return this.opts.store.learner(id);
  }

  /**
   * The learner's cluster connection (re-acquired after a restart). With several replicas this one takes the
   * cluster's lease first; a cluster taken over from a replica that stopped is brought back from the shared state.
   */
  async connection(learner: Learner): Promise<ClusterConnection> {
    await this.opts.ownCluster?.(learner);
    return this.opts.pool.connect(learner.clusterId);
  }

  /** Makes this replica the one serving the learner's cluster (see `ownCluster`), without using the cluster yet. */
  async serveHere(learner: Learner): Promise<void> {
    await this.opts.ownCluster?.(learner);
  }

  /**
   * Stops serving the learner's cluster and shell here (another replica serves them now, or will): the shell ends,
   * the cluster leaves this process's memory (with `save: false` writing nothing more: its state may be another
   * replica's already) and the learner's pages are told to reconnect.
   */
  async stopServing(learner: { id: string; clusterId: string }, opts: { save: boolean }): Promise<void> {
    this.opts.endShell?.(learner.id);
    this.emit("moved", learner.id);
    await this.opts.pool.unload(learner.clusterId, opts);
  }

  params(learner: Learner): LabParams {
    return this.opts.lab.params(learner.seed);
  }

  /** Makes sure the learner's HOME exists (after a restart, or for a learner whose home was removed). */
  async ensureHome(learner: Learner): Promise<void> {
    await this.writeHome(learner, await this.connection(learner));
  }

  private async writeHome(learner: Learner, conn: ClusterConnection): Promise<void> {
    const count = this.opts.lab.summary.stageCount;
    await this.opts.prepareHome(learner.id, {
      kubeconfig: conn.kubeconfig,
      clusterId: conn.id,
      dirs: Array.from({ length: count }, (_, i) => stageDir(i)),
      files: [],
      ...(this.opts.lab.toolboxExecNamespaces
        ? { toolboxExecNamespaces: [...this.opts.lab.toolboxExecNamespaces] }
        : {}),
    });
  }

  async state(learner: Learner): Promise<LearnerState> {
    const fresh = (await this.opts.store.learner(learner.id)) ?? learner;
    const s = this.opts.lab.summary;
    const code = await this.resumeCode(fresh);
    const pin = code ? (await this.opts.store.pinHash(fresh.id)) !== undefined : false;
    return {
      learner: { id: fresh.id, name: fresh.name },
      ...(code ? { resume: { code, pin } } : {}),
      lab: { id: s.id, title: s.title, description: s.description, durationMinutes: s.durationMinutes },
      stages: this.opts.lab.stages(this.params(fresh)),
      progress: await this.opts.store.progress(fresh.id, s.stageCount),
      currentStage: fresh.currentStage,
    };
  }

  private stageIndex(i: unknown): number {
    const n = typeof i === "string" && /^\d+$/.test(i) ? Number(i) : i;
    if (typeof n !== "number" || !Number.isInteger(n) || n < 0 || n >= this.opts.lab.summary.stageCount)
      throw new NotFoundError(
        `there is no stage ${String(i)} (stages are 0 to ${this.opts.lab.summary.stageCount - 1})`,
      );
    return n;
  }

  async guide(
    learner: Learner,
    stage: unknown,
  ): Promise<RenderedGuide & { answers: Record<string, string>; lastCheck?: CheckOutcome }> {
    const i = this.stageIndex(stage);
    const last = (await this.opts.store.checks(learner.id, i, 1))[0];
    return {
      ...this.opts.lab.guide(i, this.params(learner)),
      answers: await this.opts.store.answers(learner.id, i),
      ...(last ? { lastCheck: last.result as CheckOutcome } : {}),
    };
  }

  /** Moves the learner to a stage, running its setup the first time. */
  goTo(learner: Learner, stage: unknown): Promise<LearnerState> {
    const i = this.stageIndex(stage);
    return this.serial(learner.id, async () => {
      if (!(await this.opts.store.isStarted(learner.id, i)))
        await this.startStage(learner, i, await this.connection(learner));
      await this.opts.store.setCurrentStage(learner.id, i);
      await this.publishProgress(learner.id);
      return this.state(learner);
    });
  }

  /**
   * Moves the learner to a stage as if they had done the ones before it (the instructor's "jump"): every earlier stage
   * they have not passed is set up if it never was and solved with the lab's reference solution, then the stage is
   * set up. Earlier stages are not marked passed: the results say what the learner did.
   */
  jumpTo(learner: Learner, stage: unknown): Promise<LearnerState> {
    const i = this.stageIndex(stage);
    const solve = this.opts.lab.solve;
    if (!solve) throw new EgresslabError("unavailable", "this lab has no reference solutions to jump with");
    return this.serial(learner.id, async () => {
      const conn = await this.connection(learner);
      const params = this.params(learner);
      const progress = await this.opts.store.progress(learner.id, this.opts.lab.summary.stageCount);
      for (let s = 0; s < i; s++) {
        const p = progress[s]?.status;
        if (p === "passed") continue;
        if (p === "not-started") await this.startStage(learner, s, conn);
        await solve.call(this.opts.lab, conn, s, params);
      }
      if (!(await this.opts.store.isStarted(learner.id, i))) await this.startStage(learner, i, conn);
      await this.opts.store.setCurrentStage(learner.id, i);
      await this.publishProgress(learner.id);
      return this.state(learner);
    });
  }

  private async startStage(learner: Learner, i: number, conn: ClusterConnection): Promise<void> {
    await this.opts.lab.setup(conn, i, this.params(learner));
    await this.opts.store.markStarted(learner.id, i);
  }

  async saveAnswers(learner: Learner, stage: unknown, answers: unknown): Promise<void> {
    const i = this.stageIndex(stage);
    await this.opts.store.saveAnswers(learner.id, i, this.validAnswers(i, learner, answers));
  }

  private validAnswers(i: number, learner: Learner, answers: unknown): Record<string, string> {
    if (answers === undefined) return {};
    const questions = this.opts.lab.stages(this.params(learner))[i]?.questions ?? [];
    const ids = new Set(questions.map((q) => q.id));
    const problems: Problem[] = [];
    if (typeof answers !== "object" || answers === null || Array.isArray(answers))
      throw new ValidationError([
        { where: "answers", message: "answers are an object of question id to text" },
      ]);
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(answers)) {
      if (!ids.has(k)) problems.push({ where: `answers.${k}`, message: "this stage has no such question" });
      else if (typeof v !== "string") problems.push({ where: `answers.${k}`, message: "an answer is text" });
      else if (v.length > 2000)
        problems.push({ where: `answers.${k}`, message: "an answer has at most 2000 characters" });
      else out[k] = v;
    }
    if (problems.length) throw new ValidationError(problems);
    return out;
  }

  /** Runs the stage's checks (rate-limited per learner), records and publishes the outcome. */
  check(learner: Learner, stage: unknown, answers?: unknown): Promise<CheckOutcome> {
    const i = this.stageIndex(stage);
    const given = this.validAnswers(i, learner, answers);
    const wait = this.checkLimiter.take(learner.id);
    if (wait > 0)
      return Promise.reject(new EgresslabError("rate-limited", `checks are limited; try again in ${wait} s`));
    let started = 0;
    const run = this.serial(learner.id, async () => {
      started = performance.now();
      if (Object.keys(given).length) await this.opts.store.saveAnswers(learner.id, i, given);
      const conn = await this.connection(learner);
      if (!(await this.opts.store.isStarted(learner.id, i))) await this.startStage(learner, i, conn);
      const r = await this.opts.lab.grade(
        conn,
        i,
        this.params(learner),
        await this.opts.store.answers(learner.id, i),
      );
      const outcome: CheckOutcome = {
        stageIndex: i,
        passed: r.passed,
        at: r.at,
        checks: r.checks.map((c) => ({
          id: c.id,
          title: c.title,
          passed: c.passed,
          seen: c.seen,
          ...(c.hint ? { hint: c.hint } : {}),
          ...(c.blockedBy ? { blockedBy: c.blockedBy } : {}),
        })),
      };
      await this.opts.store.recordCheck(learner.id, i, r.passed, outcome);
      this.log.info("stage checked", { learner: learner.id, stage: i, passed: r.passed });
      this.emit("check", learner.id, outcome);
      await this.publishProgress(learner.id);
      return outcome;
    });
    const took = () => (performance.now() - started) / 1000;
    void run.then(
      (o) => this.emit("checkEnded", o.passed ? "passed" : "failed", took()),
      () => this.emit("checkEnded", "error", took()),
    );
    return run;
  }

  /**
   * Performs a guide's `rotate` action in the learner's own cluster: the domain is the one the action of that stage's
   * guide names (never one the request gives). Rate-limited per learner; one at a time with the learner's checks.
   */
  rotate(learner: Learner, stage: unknown, actionId: unknown): Promise<RotationOutcome> {
    const i = this.stageIndex(stage);
    const action =
      typeof actionId === "string"
        ? this.opts.lab.guide(i, this.params(learner)).actions.find((a) => a.id === actionId)
        : undefined;
    if (!action)
      return Promise.reject(
        new NotFoundError(
          `stage ${i}'s guide has no action ${JSON.stringify(String(actionId).slice(0, 64))}`,
        ),
      );
    if (action.kind !== "rotate")
      return Promise.reject(
        new EgresslabError("invalid", `action ${action.id} is a ${action.kind} action: the page performs it`),
      );
    const rotate = this.opts.lab.rotate;
    if (!rotate)
      return Promise.reject(new EgresslabError("unavailable", "this server cannot rotate addresses"));
    const wait = this.rotateLimiter.take(learner.id);
    if (wait > 0)
      return Promise.reject(
        new EgresslabError("rate-limited", `rotations are limited; try again in ${wait} s`),
      );
    return this.serial(learner.id, async () => {
      const conn = await this.connection(learner);
      try {
        const r = await rotate.call(this.opts.lab, conn, action.text);
        this.log.info("domain rotated", { learner: learner.id, stage: i, domain: r.domain, ips: r.ips });
        return r;
      } catch (err) {
        if (err instanceof EgresslabError && err.code !== "internal")
          throw new EgresslabError(err.code, `rotating ${action.text} failed: ${err.message}`, {
            cause: err,
          });
        throw err;
      }
    });
  }

  /** Cleans the stage up and sets it up again; its pass (if any) is forgotten. */
  reset(learner: Learner, stage: unknown): Promise<LearnerState> {
    const i = this.stageIndex(stage);
    return this.serial(learner.id, async () => {
      const conn = await this.connection(learner);
      await this.opts.lab.reset(conn, i, this.params(learner));
      await this.opts.store.clearStage(learner.id, i);
      await this.opts.store.markStarted(learner.id, i);
      await this.publishProgress(learner.id);
      return this.state(learner);
    });
  }

  private async publishProgress(learnerId: string): Promise<void> {
    const l = await this.opts.store.learner(learnerId);
    if (!l) return;
    this.emit("progress", learnerId, {
      currentStage: l.currentStage,
      stages: await this.opts.store.progress(learnerId, this.opts.lab.summary.stageCount),
    });
    this.emit("board");
  }

  /** What a page (the learner's, or the board with `undefined`) should be told on connecting. */
  notices(learnerId: string | undefined): ServerNotice[] {
    const out: ServerNotice[] = [];
    const p = this.opts.storage?.problem;
    if (p) out.push({ kind: "storage", message: storageNotice(p) });
    const mine = learnerId && this.rebuilt.get(learnerId);
    if (mine) out.push({ kind: "cluster", message: mine });
    return out;
  }

  /**
   * Sets up again the clusters that were made afresh because their saved state could not be read: for each learner
   * on one, every stage they started is set up and every stage they passed is solved with the lab's reference
   * solution, in order; the learner is told plainly, and the board shows it.
   */
  async rebuildClusters(clusters: { id: string; reason: string }[]): Promise<void> {
    if (!clusters.length) return;
    const ids = new Map(clusters.map((c) => [c.id, c.reason]));
    const count = this.opts.lab.summary.stageCount;
    const learners = (await this.opts.store.learners(this.opts.workshopId)).filter((l) =>
      ids.has(l.clusterId),
    );
    await Promise.all(
      learners.map((learner) =>
        this.serial(learner.id, async () => {
          const progress = await this.opts.store.progress(learner.id, count);
          const passed = progress.filter((p) => p.status === "passed").map((p) => p.index);
          const started = progress.filter((p) => p.status !== "not-started").map((p) => p.index);
          this.log.warn("setting a learner's cluster up again after its saved state could not be read", {
            learner: learner.id,
            cluster: learner.clusterId,
            reason: ids.get(learner.clusterId),
            passed,
          });
          const message =
            "The server could not read your cluster's saved state after it restarted, so you have a fresh cluster" +
            (passed.length
              ? `: the lab set up and solved again the stage${passed.length > 1 ? "s" : ""} you passed (${passed.map((i) => i + 1).join(", ")}), and set up the stage you are on.`
              : ", set up again for the stage you are on.") +
            " Changes you made yourself are not in it; your answers and progress are kept.";
          this.rebuilt.set(learner.id, message);
          try {
            const conn = await this.connection(learner);
            const params = this.params(learner);
            for (const i of started.sort((a, b) => a - b)) {
              await this.opts.lab.setup(conn, i, params);
              if (passed.includes(i)) await this.opts.lab.solve?.(conn, i, params);
            }
          } catch (err) {
            this.log.error("could not set a rebuilt cluster up again", {
              learner: learner.id,
              error: err instanceof Error ? err.message : String(err),
            });
            this.rebuilt.set(
              learner.id,
              `${message} Setting the stages up again failed (${err instanceof Error ? err.message : String(err)}); use Reset on the stage you are on.`,
            );
          }
          this.emit("notice", learner.id, { kind: "cluster", message: this.rebuilt.get(learner.id)! });
          this.emit("board");
        }),
      ),
    );
  }

  /** Counts a learner's open connections, for the board's online column. */
  setOnline(learnerId: string, delta: 1 | -1): void {
    const n = (this.online.get(learnerId) ?? 0) + delta;
    if (n <= 0) this.online.delete(learnerId);
    else this.online.set(learnerId, n);
    this.emit("board");
  }

  /** Attendees with at least one page connected. */
  get onlineCount(): number {
    return this.online.size;
  }

  /** How many attendees have joined. */
  learnerCount(): Promise<number> {
    return this.opts.store.learnerCount(this.id);
  }

  /** The capacity the server gave this workshop (a created workshop's own capacity is in its record). */
  get capacity(): number | null {
    return this.opts.capacity ?? null;
  }

  /** The audit log of this workshop's instructor actions, newest first. */
  actions(): Promise<ActionRecord[]> {
    return this.opts.store.actions(this.id);
  }

  /** The pool of ready clusters, for the board. */
  poolStatus(): PoolStatus {
    return this.opts.pool.status;
  }

  /** The instructor's board: every learner × every stage. */
  async board(): Promise<BoardRow[]> {
    const count = this.opts.lab.summary.stageCount;
    const all = await this.opts.store.progressAll(this.opts.workshopId, count);
    const none = (): StageProgress[] =>
      Array.from({ length: count }, (_, index) => ({ index, status: "not-started" as const, checks: 0 }));
    return (await this.opts.store.learners(this.opts.workshopId)).map((l) => ({
      learnerId: l.id,
      name: l.name,
      currentStage: l.currentStage,
      stages: all.get(l.id) ?? none(),
      online: this.online.has(l.id),
      lastSeen: l.lastSeenAt,
      ...(this.rebuilt.has(l.id) ? { problem: "cluster rebuilt: its saved state could not be read" } : {}),
    }));
  }
}
