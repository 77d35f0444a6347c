import { describe, expect, it } from "vitest";
import { MemoryStore } from "./object-store.ts";
import { ApiError, type KubeObject, type WatchEvent } from "./types.ts";

function put(
  s: MemoryStore,
  name: string,
  labels: Record<string, string> = {},
  type: "ADDED" | "MODIFIED" | "DELETED" = "ADDED",
): KubeObject {
  const o: KubeObject = {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name, namespace: "ns", labels, resourceVersion: s.nextVersion() },
  };
  s.commit("core/configmaps", type, o);
  return o;
}

/** `put` as the cluster API writes: the version allocated inside the transaction. */
const putAtomically = (s: MemoryStore, name: string): KubeObject => s.atomically(() => put(s, name));

describe("MemoryStore", () => {
  it("gives every change a higher resourceVersion and lists by namespace and name", () => {
    const s = new MemoryStore();
    const a = put(s, "b");
    const b = put(s, "a");
    expect(Number(b.metadata.resourceVersion)).toBeGreaterThan(Number(a.metadata.resourceVersion));
    expect(s.list("core/configmaps").map((o) => o.metadata.name)).toEqual(["a", "b"]);
    expect(s.list("core/configmaps", "other")).toEqual([]);
    put(s, "a", {}, "DELETED");
    expect(s.get("core/configmaps", "ns", "a")).toBeUndefined();
    expect(s.list("core/configmaps").map((o) => o.metadata.name)).toEqual(["b"]);
  });

  it("replays changes after a resourceVersion, then follows live", () => {
    const s = new MemoryStore();
    put(s, "one");
    const from = s.resourceVersion;
    put(s, "two");
    put(s, "one", { x: "1" }, "MODIFIED");
    const seen: string[] = [];
    const stop = s.watch({ key: "core/configmaps", matches: () => true }, String(from), (e) =>
      seen.push(`${e.type} ${e.object.metadata.name}`),
    );
    expect(seen).toEqual(["ADDED two", "MODIFIED one"]);
    put(s, "three");
    stop();
    put(s, "four");
    expect(seen).toEqual(["ADDED two", "MODIFIED one", "ADDED three"]);
  });

  it("sends the current objects as ADDED when no resourceVersion is given", () => {
    const s = new MemoryStore();
    put(s, "one");
    put(s, "two");
    const seen: WatchEvent[] = [];
    s.watch({ key: "core/configmaps", matches: () => true }, undefined, (e) => seen.push(e));
    expect(seen.map((e) => e.type)).toEqual(["ADDED", "ADDED"]);
  });

  it("answers 410 Expired for a resourceVersion older than the history", () => {
    const s = new MemoryStore(3);
    put(s, "a");
    const old = s.resourceVersion;
    for (let i = 0; i < 8; i++) put(s, `x${i}`);
    try {
      s.watch({ key: "core/configmaps", matches: () => true }, String(old - 1), () => {});
      expect.fail("expected 410");
    } catch (e) {
      expect(e).toBeInstanceOf(ApiError);
      expect((e as ApiError).code).toBe(410);
      expect((e as ApiError).reason).toBe("Expired");
      expect((e as ApiError).message).toMatch(/^too old resource version: \d+ \(\d+\)$/);
    }
    expect(() =>
      s.watch({ key: "core/configmaps", matches: () => true }, String(s.resourceVersion), () => {}),
    ).not.toThrow();
  });

  it("turns label changes into ADDED/DELETED for a filtered watch", () => {
    const s = new MemoryStore();
    put(s, "a", { app: "web" });
    const seen: string[] = [];
    s.watch(
      { key: "core/configmaps", matches: (o) => o.metadata.labels?.app === "web" },
      String(s.resourceVersion),
      (e) => seen.push(e.type),
    );
    put(s, "a", { app: "db" }, "MODIFIED");
    put(s, "a", { app: "web" }, "MODIFIED");
    put(s, "a", { app: "web", v: "2" }, "MODIFIED");
    expect(seen).toEqual(["DELETED", "ADDED", "MODIFIED"]);
  });

  it("notifies subscribers synchronously, in order, until unsubscribed", () => {
    const s = new MemoryStore();
    const seen: string[] = [];
    const off = s.subscribe((c) => seen.push(`${c.key} ${c.type} ${c.object.metadata.name}`));
    put(s, "a");
    off();
    put(s, "b");
    expect(seen).toEqual(["core/configmaps ADDED a"]);
  });

  it("round-trips a snapshot and keeps counting from its resourceVersion", () => {
    const s = new MemoryStore();
    put(s, "a");
    put(s, "b");
    const snap = s.snapshot();
    const t = new MemoryStore();
    t.restore(snap);
    expect(t.list("core/configmaps").map((o) => o.metadata.name)).toEqual(["a", "b"]);
    expect(Number(t.nextVersion())).toBe(snap.resourceVersion + 1);
  });
});

/** A journal that commits later, when the test says so: `settle(n, err?)` settles the n oldest appends. */
function laterJournal() {
  const waiting: { rv: number; resolve: () => void; reject: (e: Error) => void }[] = [];
  return {
    appended: () => waiting.map((w) => w.rv),
    append(_changes: readonly unknown[], rv: number): Promise<void> {
      return new Promise((resolve, reject) => waiting.push({ rv, resolve, reject }));
    },
    async settle(n: number, err?: Error): Promise<void> {
      for (const w of waiting.splice(0, n))
        if (err) w.reject(err);
        else w.resolve();
      await new Promise((r) => setImmediate(r));
    },
  };
}

describe("MemoryStore with a journal that commits later", () => {
  it("shows watchers a change after its commit and resolves committed() then", async () => {
    const s = new MemoryStore();
    const j = laterJournal();
    s.setJournal(j);
    const seen: string[] = [];
    s.watch({ key: "core/configmaps", matches: () => true }, String(s.resourceVersion), (e) =>
      seen.push(`${e.type} ${e.object.metadata.name}`),
    );
    putAtomically(s, "a");
    const rvA = s.resourceVersion;
    putAtomically(s, "b");
    let aDone = false;
    let allDone = false;
    void s.committed(rvA).then(() => (aDone = true));
    void s.committed().then(() => (allDone = true));
    await new Promise((r) => setImmediate(r));
    expect(s.get("core/configmaps", "ns", "a")).toBeDefined();
    expect(seen).toEqual([]);
    expect([aDone, allDone]).toEqual([false, false]);
    await j.settle(1);
    expect(seen).toEqual(["ADDED a"]);
    expect([aDone, allDone]).toEqual([true, false]);
    await j.settle(1);
    expect(seen).toEqual(["ADDED a", "ADDED b"]);
    expect(allDone).toBe(true);
    expect(s.pendingCommits).toBe(0);
  });

  it("undoes a failed commit and every change built on it, and tells their waiters and listing watchers", async () => {
    const s = new MemoryStore();
    const j = laterJournal();
    putAtomically(s, "kept");
    s.setJournal(j);
    const rv = s.resourceVersion;
    putAtomically(s, "first");
    putAtomically(s, "second");
    const subscribed: string[] = [];
    s.subscribe((c) => subscribed.push(`${c.type} ${c.object.metadata.name}`));
    // A watch without a resourceVersion lists the uncommitted objects as ADDED: it must list again after the undo.
    const listed: string[] = [];
    let expired: ApiError | undefined;
    s.watch({ key: "core/configmaps", matches: () => true, expired: (e) => (expired = e) }, undefined, (e) =>
      listed.push(`${e.type} ${e.object.metadata.name}`),
    );
    expect(listed).toEqual(["ADDED first", "ADDED kept", "ADDED second"]);
    const failures: unknown[] = [];
    s.committed().catch((e: unknown) => failures.push(e));
    await j.settle(2, new ApiError(503, "ServiceUnavailable", "the database did not save the change"));
    expect(failures).toHaveLength(1);
    expect((failures[0] as ApiError).code).toBe(503);
    expect(s.resourceVersion).toBe(rv);
    expect(s.list("core/configmaps").map((o) => o.metadata.name)).toEqual(["kept"]);
    expect(subscribed).toEqual(["DELETED second", "DELETED first"]);
    expect(expired?.code).toBe(410);
    // The next change reuses the resourceVersion and commits as usual.
    putAtomically(s, "again");
    expect(s.resourceVersion).toBe(rv + 1);
    const ok = s.committed();
    await j.settle(1);
    await expect(ok).resolves.toBeUndefined();
  });
});
