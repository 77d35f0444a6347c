/** The session store in Postgres, shared by every replica: the same behaviour as `SqliteSessionStore`. */
import { timingSafeEqual } from "node:crypto";
import { hashToken, matchesHash, newId, newToken } from "../sessions/tokens.ts";
import type { StageProgress } from "../realtime/protocol.ts";
import {
  LEARNER_COLUMNS,
  WORKSHOP_COLUMNS,
  progressByLearner,
  progressCells,
  toLearner,
  toWorkshop,
  type LearnerRow,
  type WorkshopRow,
  type ActionRecord,
  type Actor,
  type CheckRecord,
  type Learner,
  type SessionStore,
  type Workshop,
  type WorkshopRecord,
  type WorkshopState,
} from "../sessions/store.ts";
import type { PoolRecords, PoolRow } from "../sessions/pool.ts";
import { transaction, type PgPool } from "./pg-db.ts";

type Status = "started" | "passed";

export class PgSessionStore implements SessionStore {
  constructor(
    readonly pool: PgPool,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  private iso(): string {
    return this.clock().toISOString();
  }

  async ensureWorkshop(labId: string, joinCode: string | undefined, title?: string): Promise<WorkshopRecord> {
    const codeHash = joinCode ? hashToken(joinCode) : null;
    const id = await transaction(this.pool, async (c) => {
      // Replicas starting together: the first creates the row, the others find it.
      await c.query("LOCK TABLE workshop IN SHARE ROW EXCLUSIVE MODE");
      const found = await c.query<WorkshopRow>(
        `SELECT ${WORKSHOP_COLUMNS} FROM workshop WHERE lab_id = $1 AND is_default = 1 AND state <> 'ended'
         ORDER BY created_at DESC LIMIT 1`,
        [labId],
      );
      const row = found.rows[0];
      if (row) {
        if (row.join_code_hash !== codeHash || (title && row.title !== title))
          await c.query(
            "UPDATE workshop SET join_code_hash = $1, title = COALESCE($2, title) WHERE id = $3",
            [codeHash, title ?? null, row.id],
          );
        return row.id;
      }
      const fresh = newId("ws");
      await c.query(
        `INSERT INTO workshop (id, lab_id, join_code_hash, title, state, is_default, created_at)
         VALUES ($1, $2, $3, $4, 'open', 1, $5)`,
        [fresh, labId, codeHash, title ?? null, this.iso()],
      );
      return fresh;
    });
    return (await this.workshopRecord(id))!;
  }

  async createWorkshop(input: {
    labId: string;
    title: string;
    joinCode: string;
    capacity: number;
    startsAt?: string;
    endsAt?: string;
    instructorToken: string;
  }): Promise<WorkshopRecord> {
    const id = newId("ws");
    await this.pool.query(
      `INSERT INTO workshop (id, lab_id, join_code_hash, title, state, capacity, starts_at, ends_at, instructor_token_hash, is_default, created_at)
       VALUES ($1, $2, $3, $4, 'draft', $5, $6, $7, $8, 0, $9)`,
      [
        id,
        input.labId,
        hashToken(input.joinCode),
        input.title,
        input.capacity,
        input.startsAt ?? null,
        input.endsAt ?? null,
        hashToken(input.instructorToken),
        this.iso(),
      ],
    );
    return (await this.workshopRecord(id))!;
  }

  async workshopById(id: string): Promise<Workshop | undefined> {
    return this.workshopRecord(id);
  }

  async workshopRecord(id: string): Promise<WorkshopRecord | undefined> {
    const r = await this.pool.query<WorkshopRow>(`SELECT ${WORKSHOP_COLUMNS} FROM workshop WHERE id = $1`, [
      id,
    ]);
    const row = r.rows[0];
    return row ? toWorkshop(row) : undefined;
  }

  async workshopRecords(ended = false): Promise<WorkshopRecord[]> {
    const r = await this.pool.query<WorkshopRow>(
      `SELECT ${WORKSHOP_COLUMNS} FROM workshop ${ended ? "" : "WHERE state <> 'ended'"} ORDER BY created_at, id`,
    );
    return r.rows.map(toWorkshop);
  }

  async workshopByJoinCode(code: string, ended = false): Promise<WorkshopRecord | undefined> {
    const r = await this.pool.query<WorkshopRow>(
      `SELECT ${WORKSHOP_COLUMNS} FROM workshop WHERE join_code_hash = $1 ${ended ? "" : "AND state <> 'ended'"} ORDER BY created_at DESC`,
      [hashToken(code)],
    );
    const row = r.rows.find((w) => w.join_code_hash !== null && matchesHash(code, w.join_code_hash));
    return row ? toWorkshop(row) : undefined;
  }

  async workshopByInstructorToken(token: string): Promise<WorkshopRecord | undefined> {
    const r = await this.pool.query<WorkshopRow & { instructor_token_hash: string }>(
      `SELECT ${WORKSHOP_COLUMNS}, instructor_token_hash FROM workshop WHERE instructor_token_hash = $1 AND state <> 'ended'`,
      [hashToken(token)],
    );
    const row = r.rows.find((w) => matchesHash(token, w.instructor_token_hash));
    return row ? toWorkshop(row) : undefined;
  }

  async setWorkshopState(id: string, state: WorkshopState): Promise<void> {
    await this.pool.query(
      "UPDATE workshop SET state = $1, ended_at = CASE WHEN $1 = 'ended' THEN $2 ELSE ended_at END WHERE id = $3",
      [state, this.iso(), id],
    );
  }

  async endWorkshop(id: string): Promise<boolean> {
    const r = await this.pool.query(
      "UPDATE workshop SET state = 'ended', ended_at = $1 WHERE id = $2 AND state <> 'ended' RETURNING id",
      [this.iso(), id],
    );
    return r.rows.length > 0;
  }

  async setInstructorToken(id: string, token: string): Promise<void> {
    await this.pool.query("UPDATE workshop SET instructor_token_hash = $1 WHERE id = $2", [
      hashToken(token),
      id,
    ]);
  }

  async recordAction(a: {
    workshopId: string | null;
    actor: Actor;
    action: string;
    target?: string;
    detail?: unknown;
  }): Promise<void> {
    await this.pool.query(
      "INSERT INTO instructor_actions (workshop_id, actor, action, target, detail_json, at) VALUES ($1, $2, $3, $4, $5, $6)",
      [
        a.workshopId,
        a.actor,
        a.action,
        a.target ?? null,
        a.detail === undefined ? null : JSON.stringify(a.detail),
        this.iso(),
      ],
    );
  }

  async actions(workshopId: string, limit = 200): Promise<ActionRecord[]> {
    const r = await this.pool.query<{
      workshop_id: string | null;
      actor: Actor;
      action: string;
      target: string | null;
      detail_json: string | null;
      at: string;
    }>(
      `SELECT workshop_id, actor, action, target, detail_json, at FROM instructor_actions WHERE workshop_id = $1
       ORDER BY id DESC LIMIT $2`,
      [workshopId, limit],
    );
    return r.rows.map((row) => ({
      workshopId: row.workshop_id,
      actor: row.actor,
      action: row.action,
      target: row.target,
      detail: row.detail_json === null ? null : (JSON.parse(row.detail_json) as unknown),
      at: row.at,
    }));
  }

  async joinCodeAccepts(workshop: Workshop, code: string | undefined): Promise<boolean> {
    if (!workshop.joinCodeHash) return true;
    return code !== undefined && matchesHash(code, workshop.joinCodeHash);
  }

  async createLearner(input: {
    id?: string;
    workshopId: string;
    name: string;
    seed: number;
    clusterId: string;
    pinHash?: string;
    resumeHash?: string;
  }): Promise<{ learner: Learner; token: string }> {
    const id = input.id ?? newId("l");
    const token = newToken();
    const at = this.iso();
    await transaction(this.pool, async (c) => {
      await c.query(
        `INSERT INTO learners (id, workshop_id, name, seed, cluster_id, current_stage, created_at, last_seen_at, pin_hash, resume_hash)
         VALUES ($1, $2, $3, $4, $5, 0, $6, $6, $7, $8)`,
        [
          id,
          input.workshopId,
          input.name,
          input.seed,
          input.clusterId,
          at,
          input.pinHash ?? null,
          input.resumeHash ?? null,
        ],
      );
      await c.query(
        "INSERT INTO sessions (token_hash, learner_id, created_at, last_seen_at) VALUES ($1, $2, $3, $3)",
        [hashToken(token), id, at],
      );
    });
    const learner: Learner = {
      id,
      workshopId: input.workshopId,
      name: input.name,
      seed: input.seed,
      clusterId: input.clusterId,
      currentStage: 0,
      createdAt: at,
      lastSeenAt: at,
    };
    return { learner, token };
  }

  async learnerForToken(token: string): Promise<Learner | undefined> {
    const h = hashToken(token);
    const at = this.iso();
    // One round trip: the session and its learner are marked seen, and the learner comes back.
    const r = await this.pool.query<LearnerRow>(
      `WITH s AS (UPDATE sessions SET last_seen_at = $2 WHERE token_hash = $1 RETURNING learner_id)
       UPDATE learners l SET last_seen_at = $2 FROM s WHERE l.id = s.learner_id
       RETURNING ${LEARNER_COLUMNS.split(", ")
         .map((c) => `l.${c}`)
         .join(", ")}`,
      [h, at],
    );
    const row = r.rows[0];
    return row ? toLearner(row) : undefined;
  }

  async endSession(token: string): Promise<void> {
    await this.pool.query("DELETE FROM sessions WHERE token_hash = $1", [hashToken(token)]);
  }

  async createSession(learnerId: string): Promise<string> {
    const token = newToken();
    const at = this.iso();
    await this.pool.query(
      "INSERT INTO sessions (token_hash, learner_id, created_at, last_seen_at) VALUES ($1, $2, $3, $3)",
      [hashToken(token), learnerId, at],
    );
    return token;
  }

  async endSessionsOf(workshopId: string): Promise<void> {
    await this.pool.query(
      "DELETE FROM sessions WHERE learner_id IN (SELECT id FROM learners WHERE workshop_id = $1)",
      [workshopId],
    );
  }

  async learnerByName(workshopId: string, name: string): Promise<Learner | undefined> {
    const r = await this.pool.query<LearnerRow>(
      `SELECT ${LEARNER_COLUMNS} FROM learners WHERE workshop_id = $1 AND lower(trim(name)) = lower(trim($2))
       ORDER BY seq LIMIT 1`,
      [workshopId, name],
    );
    const row = r.rows[0];
    return row ? toLearner(row) : undefined;
  }

  async pinHash(learnerId: string): Promise<string | undefined> {
    const r = await this.pool.query<{ pin_hash: string | null }>(
      "SELECT pin_hash FROM learners WHERE id = $1",
      [learnerId],
    );
    return r.rows[0]?.pin_hash ?? undefined;
  }

  async setPinHash(learnerId: string, hash: string | null): Promise<void> {
    await this.pool.query("UPDATE learners SET pin_hash = $1 WHERE id = $2", [hash, learnerId]);
  }

  async learnerByResumeHash(hash: string): Promise<Learner | undefined> {
    const r = await this.pool.query<LearnerRow & { resume_hash: string }>(
      `SELECT ${LEARNER_COLUMNS}, resume_hash FROM learners WHERE resume_hash = $1`,
      [hash],
    );
    const row = r.rows[0];
    if (!row) return undefined;
    const a = Buffer.from(row.resume_hash, "hex");
    const b = Buffer.from(hash, "hex");
    return a.length === b.length && timingSafeEqual(a, b) ? toLearner(row) : undefined;
  }

  async resumeGeneration(learnerId: string): Promise<number> {
    const r = await this.pool.query<{ resume_generation: number }>(
      "SELECT resume_generation FROM learners WHERE id = $1",
      [learnerId],
    );
    return r.rows[0]?.resume_generation ?? 0;
  }

  async setResume(learnerId: string, generation: number, hash: string): Promise<void> {
    await this.pool.query("UPDATE learners SET resume_generation = $1, resume_hash = $2 WHERE id = $3", [
      generation,
      hash,
      learnerId,
    ]);
  }

  async mergeLearners(keepId: string, dropId: string): Promise<void> {
    await transaction(this.pool, async (c) => {
      await c.query("UPDATE sessions SET learner_id = $1 WHERE learner_id = $2", [keepId, dropId]);
      await c.query("UPDATE checks SET learner_id = $1 WHERE learner_id = $2", [keepId, dropId]);
      await c.query(
        `INSERT INTO progress (learner_id, stage_index, status, started_at, passed_at)
         SELECT $1, stage_index, status, started_at, passed_at FROM progress WHERE learner_id = $2
         ON CONFLICT (learner_id, stage_index) DO UPDATE SET
           status = CASE WHEN excluded.status = 'passed' OR progress.status = 'passed' THEN 'passed' ELSE 'started' END,
           passed_at = COALESCE(progress.passed_at, excluded.passed_at)`,
        [keepId, dropId],
      );
      await c.query(
        `INSERT INTO answers (learner_id, stage_index, question_id, value, updated_at)
         SELECT $1, stage_index, question_id, value, updated_at FROM answers WHERE learner_id = $2
         ON CONFLICT DO NOTHING`,
        [keepId, dropId],
      );
      await c.query("DELETE FROM learners WHERE id = $1", [dropId]);
    });
  }

  async removeLearner(id: string): Promise<void> {
    await this.pool.query("DELETE FROM learners WHERE id = $1", [id]);
  }

  async learner(id: string): Promise<Learner | undefined> {
    const r = await this.pool.query<LearnerRow>(`SELECT ${LEARNER_COLUMNS} FROM learners WHERE id = $1`, [
      id,
    ]);
    const row = r.rows[0];
    return row ? toLearner(row) : undefined;
  }

  async learners(workshopId: string): Promise<Learner[]> {
    const r = await this.pool.query<LearnerRow>(
      `SELECT ${LEARNER_COLUMNS} FROM learners WHERE workshop_id = $1 ORDER BY created_at, seq`,
      [workshopId],
    );
    return r.rows.map(toLearner);
  }

  async learnerCount(workshopId: string): Promise<number> {
    const r = await this.pool.query<{ n: number }>(
      "SELECT COUNT(*)::int AS n FROM learners WHERE workshop_id = $1",
      [workshopId],
    );
    return r.rows[0]?.n ?? 0;
  }

  async setCurrentStage(learnerId: string, stageIndex: number): Promise<void> {
    await this.pool.query("UPDATE learners SET current_stage = $1 WHERE id = $2", [stageIndex, learnerId]);
  }

  async markStarted(learnerId: string, stageIndex: number): Promise<boolean> {
    const r = await this.pool.query(
      `INSERT INTO progress (learner_id, stage_index, status, started_at) VALUES ($1, $2, 'started', $3)
       ON CONFLICT DO NOTHING`,
      [learnerId, stageIndex, this.iso()],
    );
    return (r.rowCount ?? 0) > 0;
  }

  async isStarted(learnerId: string, stageIndex: number): Promise<boolean> {
    const r = await this.pool.query("SELECT 1 FROM progress WHERE learner_id = $1 AND stage_index = $2", [
      learnerId,
      stageIndex,
    ]);
    return r.rows.length > 0;
  }

  async clearStage(learnerId: string, stageIndex: number): Promise<void> {
    await this.pool.query("DELETE FROM progress WHERE learner_id = $1 AND stage_index = $2", [
      learnerId,
      stageIndex,
    ]);
  }

  async recordCheck(learnerId: string, stageIndex: number, passed: boolean, result: unknown): Promise<void> {
    const at = this.iso();
    await transaction(this.pool, async (c) => {
      await c.query(
        "INSERT INTO checks (learner_id, stage_index, passed, result_json, at) VALUES ($1, $2, $3, $4, $5)",
        [learnerId, stageIndex, passed, JSON.stringify(result), at],
      );
      await c.query(
        `INSERT INTO progress (learner_id, stage_index, status, started_at) VALUES ($1, $2, 'started', $3)
         ON CONFLICT DO NOTHING`,
        [learnerId, stageIndex, at],
      );
      if (passed)
        await c.query(
          `UPDATE progress SET status = 'passed', passed_at = $1
           WHERE learner_id = $2 AND stage_index = $3 AND status <> 'passed'`,
          [at, learnerId, stageIndex],
        );
    });
  }

  async checks(learnerId: string, stageIndex: number, limit = 20): Promise<CheckRecord[]> {
    const r = await this.pool.query<{
      stage_index: number;
      passed: boolean;
      result_json: string;
      at: string;
    }>(
      `SELECT stage_index, passed, result_json, at FROM checks WHERE learner_id = $1 AND stage_index = $2
       ORDER BY id DESC LIMIT $3`,
      [learnerId, stageIndex, limit],
    );
    return r.rows.map((row) => ({
      stageIndex: row.stage_index,
      passed: row.passed,
      result: JSON.parse(row.result_json) as unknown,
      at: row.at,
    }));
  }

  async progress(learnerId: string, stageCount: number): Promise<StageProgress[]> {
    const [rows, counts] = await Promise.all([
      this.pool.query<{ stage_index: number; status: Status }>(
        "SELECT stage_index, status FROM progress WHERE learner_id = $1",
        [learnerId],
      ),
      this.pool.query<{ stage_index: number; n: number }>(
        "SELECT stage_index, COUNT(*)::int AS n FROM checks WHERE learner_id = $1 GROUP BY stage_index",
        [learnerId],
      ),
    ]);
    return progressCells(
      stageCount,
      new Map(rows.rows.map((r) => [r.stage_index, r.status])),
      new Map(counts.rows.map((c) => [c.stage_index, c.n])),
    );
  }

  async progressAll(workshopId: string, stageCount: number): Promise<Map<string, StageProgress[]>> {
    const [rows, counts] = await Promise.all([
      this.pool.query<{ learner_id: string; stage_index: number; status: Status }>(
        `SELECT p.learner_id, p.stage_index, p.status FROM progress p JOIN learners l ON l.id = p.learner_id
         WHERE l.workshop_id = $1`,
        [workshopId],
      ),
      this.pool.query<{ learner_id: string; stage_index: number; n: number }>(
        `SELECT c.learner_id, c.stage_index, COUNT(*)::int AS n FROM checks c JOIN learners l ON l.id = c.learner_id
         WHERE l.workshop_id = $1 GROUP BY c.learner_id, c.stage_index`,
        [workshopId],
      ),
    ]);
    return progressByLearner(
      stageCount,
      rows.rows.map((r) => ({ learnerId: r.learner_id, stageIndex: r.stage_index, status: r.status })),
      counts.rows.map((c) => ({ learnerId: c.learner_id, stageIndex: c.stage_index, n: c.n })),
    );
  }

  async saveAnswers(learnerId: string, stageIndex: number, answers: Record<string, string>): Promise<void> {
    const entries = Object.entries(answers);
    if (!entries.length) return;
    const at = this.iso();
    await this.pool.query(
      `INSERT INTO answers (learner_id, stage_index, question_id, value, updated_at)
       SELECT $1, $2, q, v, $3 FROM unnest($4::text[], $5::text[]) AS a(q, v)
       ON CONFLICT (learner_id, stage_index, question_id) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
      [learnerId, stageIndex, at, entries.map(([q]) => q), entries.map(([, v]) => v)],
    );
  }

  async answers(learnerId: string, stageIndex: number): Promise<Record<string, string>> {
    const r = await this.pool.query<{ question_id: string; value: string }>(
      "SELECT question_id, value FROM answers WHERE learner_id = $1 AND stage_index = $2",
      [learnerId, stageIndex],
    );
    return Object.fromEntries(r.rows.map((row) => [row.question_id, row.value]));
  }

  async stageTimesAll(
    workshopId: string,
  ): Promise<{ learnerId: string; stageIndex: number; startedAt: string; passedAt: string | null }[]> {
    const r = await this.pool.query<{
      learner_id: string;
      stage_index: number;
      started_at: string;
      passed_at: string | null;
    }>(
      `SELECT p.learner_id, p.stage_index, p.started_at, p.passed_at FROM progress p
       JOIN learners l ON l.id = p.learner_id WHERE l.workshop_id = $1`,
      [workshopId],
    );
    return r.rows.map((row) => ({
      learnerId: row.learner_id,
      stageIndex: row.stage_index,
      startedAt: row.started_at,
      passedAt: row.passed_at,
    }));
  }

  async checkHistory(
    workshopId: string,
  ): Promise<{ learnerId: string; stageIndex: number; passed: boolean; result: unknown; at: string }[]> {
    const r = await this.pool.query<{
      learner_id: string;
      stage_index: number;
      passed: boolean;
      result_json: string;
      at: string;
    }>(
      `SELECT c.learner_id, c.stage_index, c.passed, c.result_json, c.at FROM checks c
       JOIN learners l ON l.id = c.learner_id WHERE l.workshop_id = $1 ORDER BY c.id`,
      [workshopId],
    );
    return r.rows.map((row) => ({
      learnerId: row.learner_id,
      stageIndex: row.stage_index,
      passed: row.passed,
      result: JSON.parse(row.result_json) as unknown,
      at: row.at,
    }));
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

/** The warm clusters of one replica (they live in its memory), in the shared database. */
export function pgPoolRecords(pool: PgPool, replica: string): PoolRecords {
  return {
    async list(workshopId, adoptUnowned) {
      const r = await pool.query<{
        cluster_id: string;
        lab_id: string | null;
        seed: number | null;
        prepared: boolean;
      }>(
        `SELECT cluster_id, lab_id, seed, prepared FROM pool_clusters
         WHERE replica = $1 AND (workshop_id IS NOT DISTINCT FROM $2 OR ($3 AND workshop_id IS NULL)) ORDER BY created_at`,
        [replica, workshopId, adoptUnowned],
      );
      return r.rows.map((row): PoolRow => ({ ...row, prepared: row.prepared ? 1 : 0 }));
    },
    async add(id, labId, workshopId) {
      await pool.query(
        "INSERT INTO pool_clusters (replica, cluster_id, lab_id, workshop_id, created_at) VALUES ($1, $2, $3, $4, $5)",
        [replica, id, labId, workshopId, new Date().toISOString()],
      );
    },
    async update(id, seed, prepared) {
      await pool.query("UPDATE pool_clusters SET seed = $1, prepared = $2 WHERE cluster_id = $3", [
        seed,
        prepared,
        id,
      ]);
    },
    async remove(id) {
      await pool.query("DELETE FROM pool_clusters WHERE cluster_id = $1", [id]);
    },
    async unprepare(id) {
      await pool.query("UPDATE pool_clusters SET prepared = FALSE WHERE cluster_id = $1", [id]);
    },
  };
}
