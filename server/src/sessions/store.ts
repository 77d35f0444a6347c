/**
 * Learners, sessions, stage progress, check history and answers. `SqliteSessionStore` keeps them in SQLite (the
 * embedded default); `SessionStore`, what the rest of the server uses, is its interface made asynchronous, so Postgres
 * (`server/src/scale/pg-store.ts`, shared by several replicas) implements the same methods. Every method is one
 * statement or one transaction, so a crash never leaves a half-written learner, and a write's promise resolves only
 * once it is durable (SQLite commits and syncs before the promise is made), so what a page was told is never lost.
 */
import type { Db } from "./db.ts";
import { timingSafeEqual } from "node:crypto";
import { hashToken, matchesHash, newId, newToken } from "./tokens.ts";
import type { StageProgress } from "../realtime/protocol.ts";

export interface Learner {
  id: string;
  workshopId: string;
  name: string;
  seed: number;
  clusterId: string;
  currentStage: number;
  createdAt: string;
  lastSeenAt: string;
}

export interface Workshop {
  id: string;
  labId: string;
  joinCodeHash: string | null;
}

/** Where a workshop is in its life: made and pre-warming, taking attendees, not taking new ones, over. */
export type WorkshopState = "draft" | "open" | "paused" | "ended";

/** A workshop as the instructor sees it. */
export interface WorkshopRecord extends Workshop {
  title: string;
  state: WorkshopState;
  capacity: number | null;
  startsAt: string | null;
  endsAt: string | null;
  endedAt: string | null;
  createdAt: string;
  /** The workshop `serve` runs for its `--lab` (the one attendees join without choosing). */
  isDefault: boolean;
}

/** Who did something as an instructor: the server's owner (the data directory's token) or one workshop's instructor. */
export type Actor = "owner" | "instructor" | "schedule";

/** One instructor action, as the audit log keeps it. */
export interface ActionRecord {
  workshopId: string | null;
  actor: Actor;
  action: string;
  target: string | null;
  detail: unknown;
  at: string;
}

/** A workshop as both databases store it. */
export interface WorkshopRow {
  id: string;
  lab_id: string;
  join_code_hash: string | null;
  title: string | null;
  state: WorkshopState;
  capacity: number | null;
  starts_at: string | null;
  ends_at: string | null;
  ended_at: string | null;
  created_at: string;
  is_default: number;
}

export const toWorkshop = (r: WorkshopRow): WorkshopRecord => ({
  id: r.id,
  labId: r.lab_id,
  joinCodeHash: r.join_code_hash,
  title: r.title ?? r.lab_id,
  state: r.state,
  capacity: r.capacity,
  startsAt: r.starts_at,
  endsAt: r.ends_at,
  endedAt: r.ended_at,
  createdAt: r.created_at,
  isDefault: r.is_default === 1,
});

export const WORKSHOP_COLUMNS =
  "id, lab_id, join_code_hash, title, state, capacity, starts_at, ends_at, ended_at, created_at, is_default";

export interface CheckRecord {
  stageIndex: number;
  passed: boolean;
  result: unknown;
  at: string;
}

/** A learner as both databases store it. */
export interface LearnerRow {
  id: string;
  workshop_id: string;
  name: string;
  seed: number;
  cluster_id: string;
  current_stage: number;
  created_at: string;
  last_seen_at: string;
}

export const LEARNER_COLUMNS =
  "id, workshop_id, name, seed, cluster_id, current_stage, created_at, last_seen_at";

export const toLearner = (r: LearnerRow): Learner => ({
  id: r.id,
  workshopId: r.workshop_id,
  name: r.name,
  seed: r.seed,
  clusterId: r.cluster_id,
  currentStage: r.current_stage,
  createdAt: r.created_at,
  lastSeenAt: r.last_seen_at,
});

/** The session store in SQLite, synchronous (better-sqlite3); the server uses it through `sqliteSessions`. */
export class SqliteSessionStore {
  constructor(
    private readonly db: Db,
    private readonly now: () => Date = () => new Date(),
  ) {}

  private iso(): string {
    return this.now().toISOString();
  }

  /**
   * Returns the default workshop for `labId` (the one `serve` runs), creating it on first start or after it ended;
   * the join code is replaced when one is given.
   */
  ensureWorkshop(labId: string, joinCode: string | undefined, title?: string): WorkshopRecord {
    const found = this.db
      .prepare(
        `SELECT ${WORKSHOP_COLUMNS} FROM workshop WHERE lab_id = ? AND is_default = 1 AND state <> 'ended' ORDER BY created_at DESC`,
      )
      .get(labId) as WorkshopRow | undefined;
    const codeHash = joinCode ? hashToken(joinCode) : null;
    if (found) {
      if (found.join_code_hash !== codeHash || (title && found.title !== title))
        this.db
          .prepare("UPDATE workshop SET join_code_hash = ?, title = COALESCE(?, title) WHERE id = ?")
          .run(codeHash, title ?? null, found.id);
      return this.workshopRecord(found.id)!;
    }
    const id = newId("ws");
    this.db
      .prepare(
        "INSERT INTO workshop (id, lab_id, join_code_hash, title, state, is_default, created_at) VALUES (?, ?, ?, ?, 'open', 1, ?)",
      )
      .run(id, labId, codeHash, title ?? null, this.iso());
    return this.workshopRecord(id)!;
  }

  /** Records a new workshop (not yet open); its instructor token is stored as a hash. */
  createWorkshop(input: {
    labId: string;
    title: string;
    joinCode: string;
    capacity: number;
    startsAt?: string;
    endsAt?: string;
    instructorToken: string;
  }): WorkshopRecord {
    const id = newId("ws");
    this.db
      .prepare(
        `INSERT INTO workshop (id, lab_id, join_code_hash, title, state, capacity, starts_at, ends_at, instructor_token_hash, is_default, created_at)
         VALUES (?, ?, ?, ?, 'draft', ?, ?, ?, ?, 0, ?)`,
      )
      .run(
        id,
        input.labId,
        hashToken(input.joinCode),
        input.title,
        input.capacity,
        input.startsAt ?? null,
        input.endsAt ?? null,
        hashToken(input.instructorToken),
        this.iso(),
      );
    return this.workshopRecord(id)!;
  }

  workshopById(id: string): Workshop | undefined {
    return this.workshopRecord(id);
  }

  workshopRecord(id: string): WorkshopRecord | undefined {
    const r = this.db.prepare(`SELECT ${WORKSHOP_COLUMNS} FROM workshop WHERE id = ?`).get(id) as
      WorkshopRow | undefined;
    return r ? toWorkshop(r) : undefined;
  }

  /** Every workshop not ended, and (with `ended`) those that ended too; oldest first. */
  workshopRecords(ended = false): WorkshopRecord[] {
    return (
      this.db
        .prepare(
          `SELECT ${WORKSHOP_COLUMNS} FROM workshop ${ended ? "" : "WHERE state <> 'ended'"} ORDER BY created_at, id`,
        )
        .all() as WorkshopRow[]
    ).map(toWorkshop);
  }

  /** The workshop, not ended (unless `ended`), whose join code is `code`. */
  workshopByJoinCode(code: string, ended = false): WorkshopRecord | undefined {
    const h = hashToken(code);
    const rows = this.db
      .prepare(
        `SELECT ${WORKSHOP_COLUMNS} FROM workshop WHERE join_code_hash = ? ${ended ? "" : "AND state <> 'ended'"} ORDER BY created_at DESC`,
      )
      .all(h) as WorkshopRow[];
    const r = rows.find((w) => w.join_code_hash !== null && matchesHash(code, w.join_code_hash));
    return r ? toWorkshop(r) : undefined;
  }

  /** The workshop, not ended, whose instructor token is `token`. */
  workshopByInstructorToken(token: string): WorkshopRecord | undefined {
    const rows = this.db
      .prepare(
        `SELECT ${WORKSHOP_COLUMNS}, instructor_token_hash FROM workshop WHERE instructor_token_hash = ? AND state <> 'ended'`,
      )
      .all(hashToken(token)) as (WorkshopRow & { instructor_token_hash: string })[];
    const r = rows.find((w) => matchesHash(token, w.instructor_token_hash));
    return r ? toWorkshop(r) : undefined;
  }

  setWorkshopState(id: string, state: WorkshopState): void {
    this.db
      .prepare(
        "UPDATE workshop SET state = ?, ended_at = CASE WHEN ? = 'ended' THEN ? ELSE ended_at END WHERE id = ?",
      )
      .run(state, state, this.iso(), id);
  }

  /**
   * Ends a workshop unless it has ended already; true when this call ended it (the one caller of several, on any
   * replica, that records the end).
   */
  endWorkshop(id: string): boolean {
    return (
      this.db
        .prepare("UPDATE workshop SET state = 'ended', ended_at = ? WHERE id = ? AND state <> 'ended'")
        .run(this.iso(), id).changes > 0
    );
  }

  setInstructorToken(id: string, token: string): void {
    this.db.prepare("UPDATE workshop SET instructor_token_hash = ? WHERE id = ?").run(hashToken(token), id);
  }

  /** Appends an instructor action to the audit log. */
  recordAction(a: {
    workshopId: string | null;
    actor: Actor;
    action: string;
    target?: string;
    detail?: unknown;
  }): void {
    this.db
      .prepare(
        "INSERT INTO instructor_actions (workshop_id, actor, action, target, detail_json, at) VALUES (?, ?, ?, ?, ?, ?)",
      )
      .run(
        a.workshopId,
        a.actor,
        a.action,
        a.target ?? null,
        a.detail === undefined ? null : JSON.stringify(a.detail),
        this.iso(),
      );
  }

  /** The audit log of a workshop, newest first. */
  actions(workshopId: string, limit = 200): ActionRecord[] {
    const rows = this.db
      .prepare(
        "SELECT workshop_id, actor, action, target, detail_json, at FROM instructor_actions WHERE workshop_id = ? ORDER BY id DESC LIMIT ?",
      )
      .all(workshopId, limit) as {
      workshop_id: string | null;
      actor: Actor;
      action: string;
      target: string | null;
      detail_json: string | null;
      at: string;
    }[];
    return rows.map((r) => ({
      workshopId: r.workshop_id,
      actor: r.actor,
      action: r.action,
      target: r.target,
      detail: r.detail_json === null ? null : (JSON.parse(r.detail_json) as unknown),
      at: r.at,
    }));
  }

  /** True when the workshop needs no code, or `code` is its code. */
  joinCodeAccepts(workshop: Workshop, code: string | undefined): boolean {
    if (!workshop.joinCodeHash) return true;
    return code !== undefined && matchesHash(code, workshop.joinCodeHash);
  }

  /** Creates a learner with their first session; returns the learner and the session token (shown once). */
  createLearner(input: {
    id?: string;
    workshopId: string;
    name: string;
    seed: number;
    clusterId: string;
    pinHash?: string;
    resumeHash?: string;
  }): {
    learner: Learner;
    token: string;
  } {
    const id = input.id ?? newId("l");
    const token = newToken();
    const at = this.iso();
    this.db.transaction(() => {
      this.db
        .prepare(
          `INSERT INTO learners (id, workshop_id, name, seed, cluster_id, current_stage, created_at, last_seen_at, pin_hash, resume_hash)
           VALUES (?, ?, ?, ?, ?, 0, ?, ?, ?, ?)`,
        )
        .run(
          id,
          input.workshopId,
          input.name,
          input.seed,
          input.clusterId,
          at,
          at,
          input.pinHash ?? null,
          input.resumeHash ?? null,
        );
      this.db
        .prepare(
          "INSERT INTO sessions (token_hash, learner_id, created_at, last_seen_at) VALUES (?, ?, ?, ?)",
        )
        .run(hashToken(token), id, at, at);
    })();
    return { learner: this.learner(id)!, token };
  }

  /** The learner a session token belongs to, or undefined for an unknown token. Marks both as seen. */
  learnerForToken(token: string): Learner | undefined {
    const h = hashToken(token);
    const row = this.db
      .prepare("SELECT l.* FROM sessions s JOIN learners l ON l.id = s.learner_id WHERE s.token_hash = ?")
      .get(h) as LearnerRow | undefined;
    if (!row) return undefined;
    const at = this.iso();
    this.db.prepare("UPDATE sessions SET last_seen_at = ? WHERE token_hash = ?").run(at, h);
    this.db.prepare("UPDATE learners SET last_seen_at = ? WHERE id = ?").run(at, row.id);
    return toLearner({ ...row, last_seen_at: at });
  }

  /** A new session for an existing learner (a resume from another browser); returns its token. */
  createSession(learnerId: string): string {
    const token = newToken();
    const at = this.iso();
    this.db
      .prepare("INSERT INTO sessions (token_hash, learner_id, created_at, last_seen_at) VALUES (?, ?, ?, ?)")
      .run(hashToken(token), learnerId, at, at);
    return token;
  }

  /** Ends every session of a workshop's learners (the workshop ended); their progress stays. */
  endSessionsOf(workshopId: string): void {
    this.db
      .prepare("DELETE FROM sessions WHERE learner_id IN (SELECT id FROM learners WHERE workshop_id = ?)")
      .run(workshopId);
  }

  /** The learner of a workshop with this name (compared without case or surrounding spaces). */
  learnerByName(workshopId: string, name: string): Learner | undefined {
    const row = this.db
      .prepare("SELECT * FROM learners WHERE workshop_id = ? AND lower(trim(name)) = lower(trim(?))")
      .get(workshopId, name) as LearnerRow | undefined;
    return row ? toLearner(row) : undefined;
  }

  /** The stored PIN hash of a learner, if they chose a PIN. */
  pinHash(learnerId: string): string | undefined {
    const r = this.db.prepare("SELECT pin_hash FROM learners WHERE id = ?").get(learnerId) as
      { pin_hash: string | null } | undefined;
    return r?.pin_hash ?? undefined;
  }

  setPinHash(learnerId: string, hash: string | null): void {
    this.db.prepare("UPDATE learners SET pin_hash = ? WHERE id = ?").run(hash, learnerId);
  }

  /** The learner whose resume code has this hash. */
  learnerByResumeHash(hash: string): Learner | undefined {
    const row = this.db.prepare("SELECT * FROM learners WHERE resume_hash = ?").get(hash) as
      (LearnerRow & { resume_hash: string }) | undefined;
    if (!row) return undefined;
    const a = Buffer.from(row.resume_hash, "hex");
    const b = Buffer.from(hash, "hex");
    return a.length === b.length && timingSafeEqual(a, b) ? toLearner(row) : undefined;
  }

  /** The learner's resume-code generation (0 until the code is renewed). */
  resumeGeneration(learnerId: string): number {
    const r = this.db.prepare("SELECT resume_generation FROM learners WHERE id = ?").get(learnerId) as
      { resume_generation: number } | undefined;
    return r?.resume_generation ?? 0;
  }

  setResume(learnerId: string, generation: number, hash: string): void {
    this.db
      .prepare("UPDATE learners SET resume_generation = ?, resume_hash = ? WHERE id = ?")
      .run(generation, hash, learnerId);
  }

  /**
   * Folds learner `dropId` into `keepId` (the same person who joined twice): the kept learner keeps their cluster;
   * they gain the other's sessions (so both browsers now show the kept learner), check history, stage progress they
   * lacked (a pass wins over a start) and answers they had not given; the other learner is deleted.
   */
  mergeLearners(keepId: string, dropId: string): void {
    this.db.transaction(() => {
      this.db.prepare("UPDATE sessions SET learner_id = ? WHERE learner_id = ?").run(keepId, dropId);
      this.db.prepare("UPDATE checks SET learner_id = ? WHERE learner_id = ?").run(keepId, dropId);
      this.db
        .prepare(
          `INSERT INTO progress (learner_id, stage_index, status, started_at, passed_at)
           SELECT ?, stage_index, status, started_at, passed_at FROM progress WHERE learner_id = ? AND true
           ON CONFLICT (learner_id, stage_index) DO UPDATE SET
             status = CASE WHEN excluded.status = 'passed' OR progress.status = 'passed' THEN 'passed' ELSE 'started' END,
             passed_at = COALESCE(progress.passed_at, excluded.passed_at)`,
        )
        .run(keepId, dropId);
      this.db
        .prepare(
          `INSERT OR IGNORE INTO answers (learner_id, stage_index, question_id, value, updated_at)
           SELECT ?, stage_index, question_id, value, updated_at FROM answers WHERE learner_id = ?`,
        )
        .run(keepId, dropId);
      this.db.prepare("DELETE FROM learners WHERE id = ?").run(dropId);
    })();
  }

  /** Deletes a learner with their sessions, progress, checks and answers. */
  removeLearner(id: string): void {
    this.db.prepare("DELETE FROM learners WHERE id = ?").run(id);
  }

  /** Ends one session (logout); the learner and their progress stay. */
  endSession(token: string): void {
    this.db.prepare("DELETE FROM sessions WHERE token_hash = ?").run(hashToken(token));
  }

  learner(id: string): Learner | undefined {
    const row = this.db.prepare("SELECT * FROM learners WHERE id = ?").get(id) as LearnerRow | undefined;
    return row ? toLearner(row) : undefined;
  }

  learners(workshopId: string): Learner[] {
    return (
      this.db
        .prepare("SELECT * FROM learners WHERE workshop_id = ? ORDER BY created_at")
        .all(workshopId) as LearnerRow[]
    ).map(toLearner);
  }

  /** How many learners have joined the workshop. */
  learnerCount(workshopId: string): number {
    const row = this.db
      .prepare("SELECT COUNT(*) AS n FROM learners WHERE workshop_id = ?")
      .get(workshopId) as { n: number };
    return row.n;
  }

  setCurrentStage(learnerId: string, stageIndex: number): void {
    this.db.prepare("UPDATE learners SET current_stage = ? WHERE id = ?").run(stageIndex, learnerId);
  }

  /** Records that a stage's setup ran; returns false when it had already started (or passed). */
  markStarted(learnerId: string, stageIndex: number): boolean {
    const r = this.db
      .prepare(
        "INSERT OR IGNORE INTO progress (learner_id, stage_index, status, started_at) VALUES (?, ?, 'started', ?)",
      )
      .run(learnerId, stageIndex, this.iso());
    return r.changes > 0;
  }

  isStarted(learnerId: string, stageIndex: number): boolean {
    return (
      this.db
        .prepare("SELECT 1 FROM progress WHERE learner_id = ? AND stage_index = ?")
        .get(learnerId, stageIndex) !== undefined
    );
  }

  /** Forgets a stage's start and pass (used by reset, before setup runs again). */
  clearStage(learnerId: string, stageIndex: number): void {
    this.db
      .prepare("DELETE FROM progress WHERE learner_id = ? AND stage_index = ?")
      .run(learnerId, stageIndex);
  }

  /** Stores a check's outcome; a pass marks the stage passed (and a pass is never undone by a later failure). */
  recordCheck(learnerId: string, stageIndex: number, passed: boolean, result: unknown): void {
    const at = this.iso();
    this.db.transaction(() => {
      this.db
        .prepare(
          "INSERT INTO checks (learner_id, stage_index, passed, result_json, at) VALUES (?, ?, ?, ?, ?)",
        )
        .run(learnerId, stageIndex, passed ? 1 : 0, JSON.stringify(result), at);
      this.db
        .prepare(
          "INSERT OR IGNORE INTO progress (learner_id, stage_index, status, started_at) VALUES (?, ?, 'started', ?)",
        )
        .run(learnerId, stageIndex, at);
      if (passed)
        this.db
          .prepare(
            "UPDATE progress SET status = 'passed', passed_at = ? WHERE learner_id = ? AND stage_index = ? AND status <> 'passed'",
          )
          .run(at, learnerId, stageIndex);
    })();
  }

  /** Check history of one stage, newest first. */
  checks(learnerId: string, stageIndex: number, limit = 20): CheckRecord[] {
    const rows = this.db
      .prepare(
        "SELECT stage_index, passed, result_json, at FROM checks WHERE learner_id = ? AND stage_index = ? ORDER BY id DESC LIMIT ?",
      )
      .all(learnerId, stageIndex, limit) as {
      stage_index: number;
      passed: number;
      result_json: string;
      at: string;
    }[];
    return rows.map((r) => ({
      stageIndex: r.stage_index,
      passed: r.passed === 1,
      result: JSON.parse(r.result_json) as unknown,
      at: r.at,
    }));
  }

  /** Progress for stages `0..stageCount-1`. */
  progress(learnerId: string, stageCount: number): StageProgress[] {
    const rows = this.db
      .prepare("SELECT stage_index, status FROM progress WHERE learner_id = ?")
      .all(learnerId) as { stage_index: number; status: "started" | "passed" }[];
    const counts = this.db
      .prepare("SELECT stage_index, COUNT(*) AS n FROM checks WHERE learner_id = ? GROUP BY stage_index")
      .all(learnerId) as { stage_index: number; n: number }[];
    const status = new Map(rows.map((r) => [r.stage_index, r.status]));
    const n = new Map(counts.map((c) => [c.stage_index, c.n]));
    return Array.from({ length: stageCount }, (_, index) => ({
      index,
      status: status.get(index) ?? "not-started",
      checks: n.get(index) ?? 0,
    }));
  }

  /** Progress of every learner of a workshop, in two queries (for the instructor's board). */
  progressAll(workshopId: string, stageCount: number): Map<string, StageProgress[]> {
    const rows = this.db
      .prepare(
        "SELECT p.learner_id, p.stage_index, p.status FROM progress p JOIN learners l ON l.id = p.learner_id WHERE l.workshop_id = ?",
      )
      .all(workshopId) as { learner_id: string; stage_index: number; status: "started" | "passed" }[];
    const counts = this.db
      .prepare(
        "SELECT c.learner_id, c.stage_index, COUNT(*) AS n FROM checks c JOIN learners l ON l.id = c.learner_id WHERE l.workshop_id = ? GROUP BY c.learner_id, c.stage_index",
      )
      .all(workshopId) as { learner_id: string; stage_index: number; n: number }[];
    const out = new Map<string, StageProgress[]>();
    const of = (id: string): StageProgress[] => {
      let p = out.get(id);
      if (!p) {
        p = Array.from({ length: stageCount }, (_, index) => ({
          index,
          status: "not-started" as const,
          checks: 0,
        }));
        out.set(id, p);
      }
      return p;
    };
    for (const r of rows) {
      const cell = of(r.learner_id)[r.stage_index];
      if (cell) cell.status = r.status;
    }
    for (const c of counts) {
      const cell = of(c.learner_id)[c.stage_index];
      if (cell) cell.checks = c.n;
    }
    return out;
  }

  saveAnswers(learnerId: string, stageIndex: number, answers: Record<string, string>): void {
    const at = this.iso();
    const put = this.db.prepare(
      `INSERT INTO answers (learner_id, stage_index, question_id, value, updated_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (learner_id, stage_index, question_id) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
    );
    this.db.transaction(() => {
      for (const [q, v] of Object.entries(answers)) put.run(learnerId, stageIndex, q, v, at);
    })();
  }

  answers(learnerId: string, stageIndex: number): Record<string, string> {
    const rows = this.db
      .prepare("SELECT question_id, value FROM answers WHERE learner_id = ? AND stage_index = ?")
      .all(learnerId, stageIndex) as { question_id: string; value: string }[];
    return Object.fromEntries(rows.map((r) => [r.question_id, r.value]));
  }

  /** When each stage of each learner of a workshop started and was passed (for the instructor's board). */
  stageTimesAll(
    workshopId: string,
  ): { learnerId: string; stageIndex: number; startedAt: string; passedAt: string | null }[] {
    return (
      this.db
        .prepare(
          "SELECT p.learner_id, p.stage_index, p.started_at, p.passed_at FROM progress p JOIN learners l ON l.id = p.learner_id WHERE l.workshop_id = ?",
        )
        .all(workshopId) as {
        learner_id: string;
        stage_index: number;
        started_at: string;
        passed_at: string | null;
      }[]
    ).map((r) => ({
      learnerId: r.learner_id,
      stageIndex: r.stage_index,
      startedAt: r.started_at,
      passedAt: r.passed_at,
    }));
  }

  /** Every check of a workshop's learners, oldest first (the board folds them in at start, the exports read them). */
  checkHistory(
    workshopId: string,
  ): { learnerId: string; stageIndex: number; passed: boolean; result: unknown; at: string }[] {
    return (
      this.db
        .prepare(
          "SELECT c.learner_id, c.stage_index, c.passed, c.result_json, c.at FROM checks c JOIN learners l ON l.id = c.learner_id WHERE l.workshop_id = ? ORDER BY c.id",
        )
        .all(workshopId) as {
        learner_id: string;
        stage_index: number;
        passed: number;
        result_json: string;
        at: string;
      }[]
    ).map((r) => ({
      learnerId: r.learner_id,
      stageIndex: r.stage_index,
      passed: r.passed === 1,
      result: JSON.parse(r.result_json) as unknown,
      at: r.at,
    }));
  }
}

/** True when the workshop needs no code, or `code` is its code. */
export function joinCodeAccepts(workshop: Workshop, code: string | undefined): boolean {
  if (!workshop.joinCodeHash) return true;
  return code !== undefined && matchesHash(code, workshop.joinCodeHash);
}

/** `T`'s methods, each returning a promise of what it returned. */
export type Async<T> = {
  [K in keyof T]: T[K] extends (...args: infer A) => infer R ? (...args: A) => Promise<Awaited<R>> : never;
};

/**
 * What the server keeps about workshops and learners, whichever database holds it: the methods of
 * `SqliteSessionStore` (see their comments), asynchronous, and `close`.
 */
export type SessionStore = Async<SqliteSessionStore> & {
  /** Closes the connection (SQLite file or Postgres pool). */
  close(): Promise<void>;
};

/** Runs `fn` now and hands its result (or error) over as a promise. */
function settled<T>(fn: () => T): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (err) {
    return Promise.reject(err instanceof Error ? err : new Error(String(err)));
  }
}

/** The SQLite store behind the asynchronous interface: every call runs (and commits) before its promise is made. */
export function sqliteSessions(db: Db, now?: () => Date): SessionStore {
  const sync = new SqliteSessionStore(db, now);
  const out: Record<string, unknown> = {
    close: () =>
      settled(() => {
        if (db.open) db.close();
      }),
  };
  for (const name of Object.getOwnPropertyNames(SqliteSessionStore.prototype)) {
    const method = (sync as unknown as Record<string, unknown>)[name];
    if (name === "constructor" || typeof method !== "function") continue;
    out[name] = (...args: unknown[]) =>
      settled(() => (method as (...a: unknown[]) => unknown).apply(sync, args));
  }
  return out as SessionStore;
}

/** Fills the progress of stages `0..stageCount-1` from status and check-count rows. */
export function progressCells(
  stageCount: number,
  status: Map<number, "started" | "passed">,
  counts: Map<number, number>,
): StageProgress[] {
  return Array.from({ length: stageCount }, (_, index) => ({
    index,
    status: status.get(index) ?? "not-started",
    checks: counts.get(index) ?? 0,
  }));
}

/** Groups per-learner progress rows into the board's map (as `progressAll` returns it). */
export function progressByLearner(
  stageCount: number,
  rows: readonly { learnerId: string; stageIndex: number; status: "started" | "passed" }[],
  counts: readonly { learnerId: string; stageIndex: number; n: number }[],
): Map<string, StageProgress[]> {
  const out = new Map<string, StageProgress[]>();
  const of = (id: string): StageProgress[] => {
    let p = out.get(id);
    if (!p) {
      p = progressCells(stageCount, new Map(), new Map());
      out.set(id, p);
    }
    return p;
  };
  for (const r of rows) {
    const cell = of(r.learnerId)[r.stageIndex];
    if (cell) cell.status = r.status;
  }
  for (const c of counts) {
    const cell = of(c.learnerId)[c.stageIndex];
    if (cell) cell.checks = c.n;
  }
  return out;
}
