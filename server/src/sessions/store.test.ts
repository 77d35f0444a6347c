import { afterEach, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { openDb, migrate } from "./db.ts";
import { SessionStore } from "./store.ts";
import { migrations } from "./migrations.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function fresh(): SessionStore {
  return new SessionStore(openDb(":memory:"));
}

describe("SessionStore", () => {
  it("issues a token that finds the learner, and stores only its hash", () => {
    const db = openDb(":memory:");
    const s = new SessionStore(db);
    const ws = s.ensureWorkshop("lab", undefined);
    const { learner, token } = s.createLearner({ workshopId: ws.id, name: "Ada", seed: 7, clusterId: "c-1" });
    expect(s.learnerForToken(token)?.id).toBe(learner.id);
    expect(s.learnerForToken(token + "x")).toBeUndefined();
    const stored = db.prepare("SELECT token_hash FROM sessions").all() as { token_hash: string }[];
    expect(stored).toHaveLength(1);
    expect(stored[0]!.token_hash).not.toContain(token);
    expect(stored[0]!.token_hash).toMatch(/^[0-9a-f]{64}$/);
    s.endSession(token);
    expect(s.learnerForToken(token)).toBeUndefined();
  });

  it.each([
    { code: undefined, given: undefined, ok: true },
    { code: undefined, given: "anything", ok: true },
    { code: "k8s-2026", given: "k8s-2026", ok: true },
    { code: "k8s-2026", given: "K8S-2026", ok: false },
    { code: "k8s-2026", given: undefined, ok: false },
  ])("join code $code accepts $given: $ok", ({ code, given, ok }) => {
    const s = fresh();
    expect(s.joinCodeAccepts(s.ensureWorkshop("lab", code), given)).toBe(ok);
  });

  it("keeps the first pass even after a later failure, and counts checks", () => {
    const s = fresh();
    const ws = s.ensureWorkshop("lab", undefined);
    const { learner } = s.createLearner({ workshopId: ws.id, name: "B", seed: 1, clusterId: "c" });
    expect(s.markStarted(learner.id, 0)).toBe(true);
    expect(s.markStarted(learner.id, 0)).toBe(false);
    s.recordCheck(learner.id, 0, false, { n: 1 });
    s.recordCheck(learner.id, 0, true, { n: 2 });
    s.recordCheck(learner.id, 0, false, { n: 3 });
    expect(s.progress(learner.id, 3)).toEqual([
      { index: 0, status: "passed", checks: 3 },
      { index: 1, status: "not-started", checks: 0 },
      { index: 2, status: "not-started", checks: 0 },
    ]);
    expect(s.checks(learner.id, 0).map((c) => c.result)).toEqual([{ n: 3 }, { n: 2 }, { n: 1 }]);
    s.clearStage(learner.id, 0);
    expect(s.progress(learner.id, 1)[0]!.status).toBe("not-started");
  });

  it("reads every learner's progress at once, the same as one by one", () => {
    const s = fresh();
    const ws = s.ensureWorkshop("lab", undefined);
    const other = s.ensureWorkshop("other-lab", undefined);
    const ids = ["A", "B", "C"].map(
      (name) => s.createLearner({ workshopId: ws.id, name, seed: 1, clusterId: name }).learner.id,
    );
    const stranger = s.createLearner({ workshopId: other.id, name: "X", seed: 1, clusterId: "x" }).learner.id;
    s.markStarted(ids[0]!, 0);
    s.recordCheck(ids[0]!, 0, true, {});
    s.recordCheck(ids[1]!, 2, false, {});
    s.recordCheck(stranger, 0, true, {});
    const all = s.progressAll(ws.id, 3);
    expect([...all.keys()].sort()).toEqual([ids[0], ids[1]].sort());
    for (const id of [ids[0]!, ids[1]!]) expect(all.get(id)).toEqual(s.progress(id, 3));
  });

  it("upserts answers per question", () => {
    const s = fresh();
    const ws = s.ensureWorkshop("lab", undefined);
    const { learner } = s.createLearner({ workshopId: ws.id, name: "C", seed: 1, clusterId: "c" });
    s.saveAnswers(learner.id, 0, { a: "1", b: "2" });
    s.saveAnswers(learner.id, 0, { a: "3" });
    expect(s.answers(learner.id, 0)).toEqual({ a: "3", b: "2" });
    expect(s.answers(learner.id, 1)).toEqual({});
  });

  it("survives reopening the file: same workshop, learner, progress", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "egl-db-"));
    dirs.push(dir);
    const file = path.join(dir, "egresslab.db");
    const db1 = openDb(file);
    const s1 = new SessionStore(db1);
    const ws = s1.ensureWorkshop("lab", "code");
    const { token, learner } = s1.createLearner({ workshopId: ws.id, name: "D", seed: 3, clusterId: "c-9" });
    s1.setCurrentStage(learner.id, 2);
    s1.recordCheck(learner.id, 1, true, {});
    db1.close();
    const db2 = openDb(file);
    expect(migrate(db2)).toBe(0);
    expect(db2.pragma("user_version", { simple: true })).toBe(migrations.length);
    const s2 = new SessionStore(db2);
    expect(s2.ensureWorkshop("lab", "code").id).toBe(ws.id);
    const again = s2.learnerForToken(token);
    expect(again).toMatchObject({ id: learner.id, currentStage: 2, clusterId: "c-9", seed: 3 });
    expect(s2.progress(learner.id, 2)[1]!.status).toBe("passed");
    db2.close();
  });
});
