import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { openDb, migrate } from "./db.ts";
import { joinCodeAccepts, sqliteSessions, type SessionStore } from "./store.ts";
import { migrations } from "./migrations.ts";
import { PgSessionStore } from "../scale/pg-store.ts";
import { migratePg, openPg } from "../scale/pg-db.ts";
import { pgMigrations } from "../scale/pg-migrations.ts";
import { startPostgres, type PostgresServer } from "../../../test/helpers/services.ts";

const dirs: string[] = [];
const open: SessionStore[] = [];
afterEach(async () => {
  for (const s of open.splice(0)) await s.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

let postgres: PostgresServer;
let dbs = 0;
beforeAll(async () => {
  postgres = await startPostgres();
}, 60_000);
afterAll(() => postgres?.stop());

/** An empty store of each kind; the same behaviour is expected of both. */
const backends: { name: string; fresh: () => Promise<SessionStore> }[] = [
  {
    name: "SQLite",
    fresh: () => {
      const s = sqliteSessions(openDb(":memory:"));
      open.push(s);
      return Promise.resolve(s);
    },
  },
  {
    name: "Postgres",
    fresh: async () => {
      const s = new PgSessionStore(await openPg(postgres.createDatabase(`store_${++dbs}`)));
      open.push(s);
      return s;
    },
  },
];

describe.each(backends)("workshops, identity and the audit log on $name", ({ fresh }) => {
  it("records created workshops, finds them by join code and instructor token while not ended", async () => {
    const s = await fresh();
    const def = await s.ensureWorkshop("lab", undefined, "Default");
    expect(def).toMatchObject({ isDefault: true, state: "open", title: "Default" });
    const w = await s.createWorkshop({
      labId: "lab",
      title: "Tuesday",
      joinCode: "tue-42",
      capacity: 12,
      endsAt: "2030-01-01T17:00:00.000Z",
      instructorToken: "teacher-token",
    });
    expect(w).toMatchObject({
      state: "draft",
      capacity: 12,
      isDefault: false,
      endsAt: "2030-01-01T17:00:00.000Z",
    });
    expect((await s.workshopByJoinCode("tue-42"))?.id).toBe(w.id);
    expect(await s.workshopByJoinCode("TUE-42")).toBeUndefined();
    expect((await s.workshopByInstructorToken("teacher-token"))?.id).toBe(w.id);
    expect(await s.workshopByInstructorToken("teacher-tokeN")).toBeUndefined();
    await s.setInstructorToken(w.id, "new-token");
    expect(await s.workshopByInstructorToken("teacher-token")).toBeUndefined();
    expect((await s.workshopByInstructorToken("new-token"))?.id).toBe(w.id);
    expect((await s.workshopRecords()).map((r) => r.id)).toEqual([def.id, w.id]);
    // Ended once: a second end (another replica's, or the schedule's) ends nothing and says so.
    expect(await s.endWorkshop(w.id)).toBe(true);
    const endedAt = (await s.workshopRecord(w.id))?.endedAt;
    expect(await s.endWorkshop(w.id)).toBe(false);
    expect((await s.workshopRecord(w.id))?.endedAt).toBe(endedAt);
    expect((await s.workshopRecord(w.id))?.endedAt).toEqual(expect.any(String));
    expect(await s.workshopByJoinCode("tue-42")).toBeUndefined();
    expect((await s.workshopByJoinCode("tue-42", true))?.id).toBe(w.id);
    expect(await s.workshopByInstructorToken("new-token")).toBeUndefined();
    expect((await s.workshopRecords()).map((r) => r.id)).toEqual([def.id]);
    // An ended default workshop is replaced by a new one at the next start.
    await s.setWorkshopState(def.id, "ended");
    expect((await s.ensureWorkshop("lab", undefined)).id).not.toBe(def.id);
  });

  it("keeps an audit log per workshop, newest first", async () => {
    const s = await fresh();
    const ws = await s.ensureWorkshop("lab", undefined);
    await s.recordAction({ workshopId: ws.id, actor: "owner", action: "workshop.pause" });
    await s.recordAction({
      workshopId: ws.id,
      actor: "instructor",
      action: "learner.merge",
      target: "l-2",
      detail: { into: "l-1" },
    });
    await s.recordAction({ workshopId: null, actor: "owner", action: "owner.rotate-token" });
    expect(await s.actions(ws.id)).toEqual([
      {
        workshopId: ws.id,
        actor: "instructor",
        action: "learner.merge",
        target: "l-2",
        detail: { into: "l-1" },
        at: expect.any(String),
      },
      {
        workshopId: ws.id,
        actor: "owner",
        action: "workshop.pause",
        target: null,
        detail: null,
        at: expect.any(String),
      },
    ]);
  });

  it("finds a learner by name, PIN hash and resume hash; merges one into another and removes", async () => {
    const s = await fresh();
    const ws = await s.ensureWorkshop("lab", undefined);
    const a = await s.createLearner({
      workshopId: ws.id,
      name: "Ada",
      seed: 1,
      clusterId: "c-1",
      pinHash: "scrypt$x",
      resumeHash: "aa".repeat(32),
    });
    const b = await s.createLearner({ workshopId: ws.id, name: "Ada (phone)", seed: 2, clusterId: "c-2" });
    expect((await s.learnerByName(ws.id, " ada "))?.id).toBe(a.learner.id);
    expect(await s.pinHash(a.learner.id)).toBe("scrypt$x");
    expect(await s.pinHash(b.learner.id)).toBeUndefined();
    expect((await s.learnerByResumeHash("aa".repeat(32)))?.id).toBe(a.learner.id);
    await s.setResume(a.learner.id, 1, "bb".repeat(32));
    expect(await s.learnerByResumeHash("aa".repeat(32))).toBeUndefined();
    expect(await s.resumeGeneration(a.learner.id)).toBe(1);
    const second = await s.createSession(a.learner.id);
    expect((await s.learnerForToken(second))?.id).toBe(a.learner.id);

    await s.markStarted(a.learner.id, 0);
    await s.recordCheck(b.learner.id, 0, true, { passed: true });
    await s.markStarted(b.learner.id, 1);
    await s.saveAnswers(a.learner.id, 0, { q: "mine" });
    await s.saveAnswers(b.learner.id, 0, { q: "theirs", r: "only theirs" });
    await s.mergeLearners(a.learner.id, b.learner.id);
    expect(await s.learner(b.learner.id)).toBeUndefined();
    expect((await s.learnerForToken(b.token))?.id).toBe(a.learner.id);
    expect((await s.progress(a.learner.id, 3)).map((p) => p.status)).toEqual([
      "passed",
      "started",
      "not-started",
    ]);
    expect(await s.answers(a.learner.id, 0)).toEqual({ q: "mine", r: "only theirs" });
    expect(await s.checks(a.learner.id, 0)).toHaveLength(1);

    await s.endSessionsOf(ws.id);
    expect(await s.learnerForToken(a.token)).toBeUndefined();
    await s.removeLearner(a.learner.id);
    expect(await s.learners(ws.id)).toEqual([]);
  });
});

describe.each(backends)("SessionStore on $name", ({ fresh }) => {
  it("issues a token that finds the learner, and forgets it on logout", async () => {
    const s = await fresh();
    const ws = await s.ensureWorkshop("lab", undefined);
    const { learner, token } = await s.createLearner({
      workshopId: ws.id,
      name: "Ada",
      seed: 7,
      clusterId: "c-1",
    });
    expect((await s.learnerForToken(token))?.id).toBe(learner.id);
    expect(await s.learnerForToken(token + "x")).toBeUndefined();
    expect(await s.learner(learner.id)).toEqual({ ...learner, lastSeenAt: expect.any(String) as string });
    await s.endSession(token);
    expect(await s.learnerForToken(token)).toBeUndefined();
    expect((await s.learner(learner.id))?.name).toBe("Ada");
  });

  it.each([
    { code: undefined, given: undefined, ok: true },
    { code: undefined, given: "anything", ok: true },
    { code: "k8s-2026", given: "k8s-2026", ok: true },
    { code: "k8s-2026", given: "K8S-2026", ok: false },
    { code: "k8s-2026", given: undefined, ok: false },
  ])("join code $code accepts $given: $ok", async ({ code, given, ok }) => {
    const s = await fresh();
    const ws = await s.ensureWorkshop("lab", code);
    expect(joinCodeAccepts(ws, given)).toBe(ok);
    expect(joinCodeAccepts((await s.workshopById(ws.id))!, given)).toBe(ok);
  });

  it("keeps the first pass even after a later failure, and counts checks", async () => {
    const s = await fresh();
    const ws = await s.ensureWorkshop("lab", undefined);
    const { learner } = await s.createLearner({ workshopId: ws.id, name: "B", seed: 1, clusterId: "c" });
    expect(await s.markStarted(learner.id, 0)).toBe(true);
    expect(await s.markStarted(learner.id, 0)).toBe(false);
    expect(await s.isStarted(learner.id, 0)).toBe(true);
    expect(await s.isStarted(learner.id, 1)).toBe(false);
    await s.recordCheck(learner.id, 0, false, { n: 1 });
    await s.recordCheck(learner.id, 0, true, { n: 2 });
    await s.recordCheck(learner.id, 0, false, { n: 3 });
    expect(await s.progress(learner.id, 3)).toEqual([
      { index: 0, status: "passed", checks: 3 },
      { index: 1, status: "not-started", checks: 0 },
      { index: 2, status: "not-started", checks: 0 },
    ]);
    const history = await s.checks(learner.id, 0);
    expect(history.map((c) => c.result)).toEqual([{ n: 3 }, { n: 2 }, { n: 1 }]);
    expect(history.map((c) => c.passed)).toEqual([false, true, false]);
    expect(await s.checks(learner.id, 0, 1)).toHaveLength(1);
    await s.clearStage(learner.id, 0);
    expect((await s.progress(learner.id, 1))[0]!.status).toBe("not-started");
  });

  it("reads every learner's progress at once, the same as one by one", async () => {
    const s = await fresh();
    const ws = await s.ensureWorkshop("lab", undefined);
    const other = await s.ensureWorkshop("other-lab", undefined);
    const ids: string[] = [];
    for (const name of ["A", "B", "C"])
      ids.push((await s.createLearner({ workshopId: ws.id, name, seed: 1, clusterId: name })).learner.id);
    const stranger = (await s.createLearner({ workshopId: other.id, name: "X", seed: 1, clusterId: "x" }))
      .learner.id;
    await s.markStarted(ids[0]!, 0);
    await s.recordCheck(ids[0]!, 0, true, {});
    await s.recordCheck(ids[1]!, 2, false, {});
    await s.recordCheck(stranger, 0, true, {});
    const all = await s.progressAll(ws.id, 3);
    expect([...all.keys()].sort()).toEqual([ids[0], ids[1]].sort());
    for (const id of [ids[0]!, ids[1]!]) expect(all.get(id)).toEqual(await s.progress(id, 3));
    expect((await s.learners(ws.id)).map((l) => l.name)).toEqual(["A", "B", "C"]);
    expect(await s.learnerCount(ws.id)).toBe(3);
    expect(await s.learnerCount(other.id)).toBe(1);
  });

  it("upserts answers per question", async () => {
    const s = await fresh();
    const ws = await s.ensureWorkshop("lab", undefined);
    const { learner } = await s.createLearner({ workshopId: ws.id, name: "C", seed: 1, clusterId: "c" });
    await s.saveAnswers(learner.id, 0, { a: "1", b: "2" });
    await s.saveAnswers(learner.id, 0, { a: "3" });
    await s.saveAnswers(learner.id, 0, {});
    expect(await s.answers(learner.id, 0)).toEqual({ a: "3", b: "2" });
    expect(await s.answers(learner.id, 1)).toEqual({});
  });

  it("stores an attendee's text as data (quotes, SQL, NUL-free unicode)", async () => {
    const s = await fresh();
    const ws = await s.ensureWorkshop("lab", undefined);
    const name = "Robert'); DROP TABLE learners;-- ✓";
    const { learner } = await s.createLearner({ workshopId: ws.id, name, seed: 1, clusterId: "c" });
    await s.saveAnswers(learner.id, 0, { "q'1": "$1 '; SELECT 1; --" });
    expect((await s.learner(learner.id))?.name).toBe(name);
    expect(await s.answers(learner.id, 0)).toEqual({ "q'1": "$1 '; SELECT 1; --" });
    expect(await s.learnerCount(ws.id)).toBe(1);
  });

  it("lists a workshop's stage times and check history for the board, oldest check first", async () => {
    const s = await fresh();
    const ws = await s.ensureWorkshop("lab", undefined);
    const other = await s.ensureWorkshop("other-lab", undefined);
    const { learner } = await s.createLearner({ workshopId: ws.id, name: "F", seed: 1, clusterId: "c" });
    const { learner: x } = await s.createLearner({
      workshopId: other.id,
      name: "X",
      seed: 1,
      clusterId: "x",
    });
    await s.markStarted(learner.id, 0);
    await s.recordCheck(learner.id, 0, false, { n: 1 });
    await s.recordCheck(learner.id, 0, true, { n: 2 });
    await s.recordCheck(x.id, 0, true, { n: 9 });
    const times = await s.stageTimesAll(ws.id);
    expect(times).toEqual([
      {
        learnerId: learner.id,
        stageIndex: 0,
        startedAt: expect.any(String) as string,
        passedAt: expect.any(String) as string,
      },
    ]);
    const history = await s.checkHistory(ws.id);
    expect(history.map((c) => [c.learnerId, c.passed, c.result])).toEqual([
      [learner.id, false, { n: 1 }],
      [learner.id, true, { n: 2 }],
    ]);
  });

  it("keeps created workshops: join code, instructor token, state, audit log", async () => {
    const s = await fresh();
    const def = await s.ensureWorkshop("lab", undefined);
    expect(def).toMatchObject({ isDefault: true, state: "open", title: "lab" });
    const w = await s.createWorkshop({
      labId: "lab",
      title: "Friday room",
      joinCode: "friday-1",
      capacity: 12,
      instructorToken: "tok-123",
    });
    expect(w).toMatchObject({ title: "Friday room", state: "draft", capacity: 12, isDefault: false });
    expect((await s.workshopByJoinCode("friday-1"))?.id).toBe(w.id);
    expect(await s.workshopByJoinCode("friday-2")).toBeUndefined();
    expect((await s.workshopByInstructorToken("tok-123"))?.id).toBe(w.id);
    await s.setInstructorToken(w.id, "tok-456");
    expect(await s.workshopByInstructorToken("tok-123")).toBeUndefined();
    expect((await s.workshopByInstructorToken("tok-456"))?.id).toBe(w.id);
    // Ended once: a second end (another replica's, or the schedule's) ends nothing and says so.
    expect(await s.endWorkshop(w.id)).toBe(true);
    const endedAt = (await s.workshopRecord(w.id))?.endedAt;
    expect(await s.endWorkshop(w.id)).toBe(false);
    expect((await s.workshopRecord(w.id))?.endedAt).toBe(endedAt);
    expect(await s.workshopByJoinCode("friday-1")).toBeUndefined();
    expect((await s.workshopByJoinCode("friday-1", true))?.id).toBe(w.id);
    expect((await s.workshopRecord(w.id))?.endedAt).toEqual(expect.any(String));
    expect((await s.workshopRecords()).map((r) => r.id)).toEqual([def.id]);
    // Two workshops made in the same millisecond have no order between them.
    expect((await s.workshopRecords(true)).map((r) => r.id).sort()).toEqual([def.id, w.id].sort());
    await s.recordAction({ workshopId: w.id, actor: "owner", action: "a.first", detail: { n: 1 } });
    await s.recordAction({ workshopId: w.id, actor: "instructor", action: "a.second", target: "l-1" });
    expect(await s.actions(w.id)).toMatchObject([
      { action: "a.second", actor: "instructor", target: "l-1", detail: null },
      { action: "a.first", actor: "owner", target: null, detail: { n: 1 } },
    ]);
  });

  it("resumes, merges and removes learners", async () => {
    const s = await fresh();
    const ws = await s.ensureWorkshop("lab", undefined);
    const a = (
      await s.createLearner({
        workshopId: ws.id,
        name: "Grace",
        seed: 1,
        clusterId: "ca",
        resumeHash: "ab".repeat(32),
      })
    ).learner;
    const b = (await s.createLearner({ workshopId: ws.id, name: "Grace H", seed: 2, clusterId: "cb" }))
      .learner;
    expect((await s.learnerByName(ws.id, "  grace "))?.id).toBe(a.id);
    expect(await s.pinHash(a.id)).toBeUndefined();
    await s.setPinHash(a.id, "hash");
    expect(await s.pinHash(a.id)).toBe("hash");
    expect((await s.learnerByResumeHash("ab".repeat(32)))?.id).toBe(a.id);
    expect(await s.learnerByResumeHash("cd".repeat(32))).toBeUndefined();
    await s.setResume(a.id, 3, "ef".repeat(32));
    expect(await s.resumeGeneration(a.id)).toBe(3);
    expect((await s.learnerByResumeHash("ef".repeat(32)))?.id).toBe(a.id);
    const second = await s.createSession(a.id);
    expect((await s.learnerForToken(second))?.id).toBe(a.id);
    await s.recordCheck(a.id, 0, false, {});
    await s.recordCheck(b.id, 0, true, {});
    await s.recordCheck(b.id, 1, false, {});
    await s.saveAnswers(a.id, 0, { q: "mine" });
    await s.saveAnswers(b.id, 0, { q: "theirs", r: "extra" });
    await s.mergeLearners(a.id, b.id);
    expect(await s.learner(b.id)).toBeUndefined();
    expect(await s.progress(a.id, 2)).toEqual([
      { index: 0, status: "passed", checks: 2 },
      { index: 1, status: "started", checks: 1 },
    ]);
    expect(await s.answers(a.id, 0)).toEqual({ q: "mine", r: "extra" });
    await s.endSessionsOf(ws.id);
    expect(await s.learnerForToken(second)).toBeUndefined();
    await s.removeLearner(a.id);
    expect(await s.learnerCount(ws.id)).toBe(0);
  });

  it("moves a learner between stages", async () => {
    const s = await fresh();
    const ws = await s.ensureWorkshop("lab", undefined);
    const { learner, token } = await s.createLearner({
      workshopId: ws.id,
      name: "E",
      seed: 5,
      clusterId: "c",
    });
    await s.setCurrentStage(learner.id, 3);
    expect((await s.learnerForToken(token))?.currentStage).toBe(3);
  });
});

describe("SessionStore on SQLite", () => {
  it("stores only the token's hash", async () => {
    const db = openDb(":memory:");
    const s = sqliteSessions(db);
    open.push(s);
    const ws = await s.ensureWorkshop("lab", undefined);
    const { token } = await s.createLearner({ workshopId: ws.id, name: "Ada", seed: 7, clusterId: "c-1" });
    const stored = db.prepare("SELECT token_hash FROM sessions").all() as { token_hash: string }[];
    expect(stored).toHaveLength(1);
    expect(stored[0]!.token_hash).not.toContain(token);
    expect(stored[0]!.token_hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it("survives reopening the file: same workshop, learner, progress", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "egl-db-"));
    dirs.push(dir);
    const file = path.join(dir, "egresslab.db");
    const db1 = openDb(file);
    const s1 = sqliteSessions(db1);
    const ws = await s1.ensureWorkshop("lab", "code");
    const { token, learner } = await s1.createLearner({
      workshopId: ws.id,
      name: "D",
      seed: 3,
      clusterId: "c-9",
    });
    await s1.setCurrentStage(learner.id, 2);
    await s1.recordCheck(learner.id, 1, true, {});
    db1.close();
    const db2 = openDb(file);
    expect(migrate(db2)).toBe(0);
    expect(db2.pragma("user_version", { simple: true })).toBe(migrations.length);
    const s2 = sqliteSessions(db2);
    open.push(s2);
    expect((await s2.ensureWorkshop("lab", "code")).id).toBe(ws.id);
    const again = await s2.learnerForToken(token);
    expect(again).toMatchObject({ id: learner.id, currentStage: 2, clusterId: "c-9", seed: 3 });
    expect((await s2.progress(learner.id, 2))[1]!.status).toBe("passed");
  });
});

describe("SessionStore on Postgres", () => {
  it("keeps everything across a reconnect, migrates once, and stores only the token's hash", async () => {
    const url = postgres.createDatabase("reopen");
    const s1 = new PgSessionStore(await openPg(url));
    const ws = await s1.ensureWorkshop("lab", "code");
    const { token, learner } = await s1.createLearner({
      workshopId: ws.id,
      name: "D",
      seed: 2 ** 31 - 2,
      clusterId: "c-9",
    });
    await s1.setCurrentStage(learner.id, 2);
    await s1.recordCheck(learner.id, 1, true, { ok: 1 });
    const hashes = await s1.pool.query<{ token_hash: string }>("SELECT token_hash FROM sessions");
    expect(hashes.rows.map((r) => r.token_hash)).toEqual([expect.stringMatching(/^[0-9a-f]{64}$/)]);
    expect(hashes.rows[0]!.token_hash).not.toContain(token);
    await s1.close();
    const s2 = new PgSessionStore(await openPg(url));
    open.push(s2);
    expect(await migratePg(s2.pool)).toBe(0);
    const v = await s2.pool.query<{ version: number }>("SELECT version FROM egresslab_schema");
    expect(v.rows[0]!.version).toBe(pgMigrations.length);
    expect((await s2.ensureWorkshop("lab", "code")).id).toBe(ws.id);
    expect(await s2.learnerForToken(token)).toMatchObject({
      id: learner.id,
      currentStage: 2,
      clusterId: "c-9",
      seed: 2 ** 31 - 2,
    });
    expect((await s2.progress(learner.id, 2))[1]!.status).toBe("passed");
  });

  it("lets replicas that start together agree on one workshop and migrate once", async () => {
    const url = postgres.createDatabase("together");
    const stores = await Promise.all([1, 2, 3].map(async () => new PgSessionStore(await openPg(url))));
    open.push(...stores);
    const found = await Promise.all(stores.map((s) => s.ensureWorkshop("lab", undefined)));
    expect(new Set(found.map((w) => w.id)).size).toBe(1);
    const rows = await stores[0]!.pool.query("SELECT * FROM workshop");
    expect(rows.rows).toHaveLength(1);
  });

  it("refuses a database whose schema is newer than this egresslab", async () => {
    const url = postgres.createDatabase("newer");
    const s = new PgSessionStore(await openPg(url));
    await s.pool.query("UPDATE egresslab_schema SET version = version + 1");
    await s.close();
    await expect(openPg(url)).rejects.toThrow(/newer than this egresslab/);
  });
});
