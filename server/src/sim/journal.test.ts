/* eslint-disable @typescript-eslint/no-explicit-any -- assertions read deep into Kubernetes JSON */
/**
 * Durable before acknowledged: the journal is written and synced before a write returns, a failed append changes
 * nothing in memory, replay brings back every acknowledged write without a clean close, a torn tail is dropped, a
 * damaged journal is reported, and compaction keeps the state.
 */
import {
  appendFileSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { StorageHealth } from "../shared/storage.ts";
import { VirtualClock } from "../shared/clock.ts";
import { ApiError, type KubeObject } from "../store/types.ts";
import { createSimCluster, type SimCluster } from "./cluster.ts";
import { readJournal } from "./journal.ts";
import { CorruptStateError, journalFile, nodeDisk, stateFile, type DiskIO } from "./persistence.ts";

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const tmp = () => {
  const d = mkdtempSync(path.join(tmpdir(), "egresslab-journal-"));
  dirs.push(d);
  return d;
};
const t = (c: SimCluster, n: string) => c.api.findType(n)!;
const cm = (name: string, data: Record<string, string> = {}): KubeObject => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name },
  data,
});

/** The real disk, except that writes fail with `code` while `full.on` is set. */
function fullableDisk(full: { on: boolean; code?: string }): DiskIO {
  const fail = () => {
    if (full.on)
      throw Object.assign(new Error(`${full.code ?? "ENOSPC"}: no space left on device, write`), {
        code: full.code ?? "ENOSPC",
      });
  };
  return {
    ...nodeDisk,
    append(fd, data, position) {
      fail();
      nodeDisk.append(fd, data, position);
    },
    replaceFile(file, data, mode) {
      fail();
      nodeDisk.replaceFile(file, data, mode);
    },
    async replaceFileAsync(file, data, mode) {
      fail();
      await nodeDisk.replaceFileAsync!(file, data, mode);
    },
  };
}

describe("the cluster journal", () => {
  it("has every acknowledged write on disk before it returns, without a clean close", async () => {
    const dataDir = tmp();
    const a = await createSimCluster({ id: "j", dataDir, dataplane: false });
    a.api.create(t(a, "ns"), undefined, { apiVersion: "v1", kind: "Namespace", metadata: { name: "shop" } });
    for (let i = 0; i < 20; i++) a.api.create(t(a, "cm"), "shop", cm(`c${i}`, { i: String(i) }));
    a.api.delete(t(a, "cm"), "shop", "c3");
    a.api.update(t(a, "cm"), "shop", "c4", { ...cm("c4", { i: "changed" }) });
    a.api.create(t(a, "deploy"), "shop", {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "web" },
      spec: {
        replicas: 2,
        selector: { matchLabels: { app: "web" } },
        template: {
          metadata: { labels: { app: "web" } },
          spec: { containers: [{ name: "c", image: "nginx" }] },
        },
      },
    });
    const pods = a.api.list(t(a, "pods"), { namespace: "shop" }).items.map((p) => p.metadata.name);
    expect(pods).toHaveLength(2);
    const rv = a.store.resourceVersion;
    // No close(): the process "dies" here; a second cluster reads the same files.
    const b = await createSimCluster({ id: "j", dataDir, dataplane: false });
    const names = b.api.list(t(b, "cm"), { namespace: "shop" }).items.map((o) => o.metadata.name);
    expect(names).toHaveLength(19 + 1); // + kube-root-ca.crt
    expect(names).not.toContain("c3");
    expect((b.api.get(t(b, "cm"), "shop", "c4").data as any).i).toBe("changed");
    expect(b.api.list(t(b, "pods"), { namespace: "shop" }).items.map((p) => p.metadata.name)).toEqual(pods);
    expect(b.store.resourceVersion).toBeGreaterThanOrEqual(rv);
    await b.close();
    await a.close();
  });

  it("changes nothing in memory and tells no watcher when the journal cannot be written", async () => {
    const dataDir = tmp();
    const full = { on: false };
    const health = new StorageHealth();
    const problems: string[] = [];
    health.on("problem", (p) => problems.push(p.message));
    const a = await createSimCluster({
      id: "full",
      dataDir,
      dataplane: false,
      disk: fullableDisk(full),
      storage: health,
    });
    a.api.create(t(a, "cm"), "default", cm("before"));
    const rv = a.store.resourceVersion;
    const watched: string[] = [];
    const stop = a.api.watch(t(a, "cm"), { namespace: "default", resourceVersion: String(rv) }, (e) =>
      watched.push(`${e.type} ${e.object.metadata.name}`),
    );
    const subscribed: string[] = [];
    a.store.subscribe((c) => subscribed.push(`${c.type} ${c.object.metadata.name}`));
    full.on = true;
    let err: unknown;
    try {
      a.api.create(t(a, "cm"), "default", cm("during"));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).code).toBe(500);
    expect((err as ApiError).reason).toBe("InternalError");
    expect((err as ApiError).message).toMatch(/the server's disk is full/);
    // A delete that garbage-collects (several changes in one write) is undone as a whole.
    expect(() => a.api.delete(t(a, "cm"), "default", "before")).toThrow(/disk is full/);
    expect(a.store.resourceVersion).toBe(rv);
    expect(a.api.list(t(a, "cm"), { namespace: "default" }).items.map((o) => o.metadata.name)).toContain(
      "before",
    );
    expect(() => a.api.get(t(a, "cm"), "default", "during")).toThrow(/not found/);
    expect(watched).toEqual([]);
    // In-process subscribers saw the change and its undo, so their indexes match the store again.
    expect(subscribed).toEqual(["ADDED during", "DELETED during", "DELETED before", "ADDED before"]);
    expect(problems).toEqual(["the server's disk is full"]);
    expect(health.problem?.fault).toBe("disk-full");
    full.on = false;
    a.api.create(t(a, "cm"), "default", cm("after"));
    expect(watched).toEqual(["ADDED after"]);
    expect(health.problem).toBeUndefined();
    stop();
    const b = await createSimCluster({ id: "full", dataDir, dataplane: false });
    const names = b.api.list(t(b, "cm"), { namespace: "default" }).items.map((o) => o.metadata.name);
    expect(names).toEqual(expect.arrayContaining(["before", "after"]));
    expect(names).not.toContain("during");
    await b.close();
    await a.close();
    expect(readdirSync(path.join(dataDir, "clusters")).filter((f) => f.includes(".tmp"))).toEqual([]);
  });

  it("drops a torn last line and reports a damaged line with good lines after it", async () => {
    const dataDir = tmp();
    // A clock that stands still: the controllers' sync after the restore has no time-stamped change to journal.
    const clock = new VirtualClock(Date.UTC(2026, 0, 1));
    const a = await createSimCluster({ id: "torn", dataDir, dataplane: false, clock });
    a.api.create(t(a, "cm"), "default", cm("one"));
    a.api.create(t(a, "cm"), "default", cm("two"));
    const file = journalFile(dataDir, "torn");
    const good = readFileSync(file);
    appendFileSync(file, '0badc0de {"rv":999,"c":[["core/configmaps","ADDED",{"metadata":{"na');
    const torn = readJournal(dataDir, "torn", 0);
    expect(torn.entries.map((e) => e.changes[0]!.object.metadata.name)).toEqual(["one", "two"]);
    expect(torn.tornBytes).toBeGreaterThan(0);
    const b = await createSimCluster({ id: "torn", dataDir, dataplane: false, clock });
    expect(b.api.list(t(b, "cm"), { namespace: "default" }).items.map((o) => o.metadata.name)).toEqual(
      expect.arrayContaining(["one", "two"]),
    );
    expect(statSync(file).size).toBe(good.length);
    b.api.create(t(b, "cm"), "default", cm("three"));
    expect(readJournal(dataDir, "torn", 0).entries).toHaveLength(3);
    await b.close();
    await a.close();

    const c = await createSimCluster({ id: "bad", dataDir, dataplane: false });
    c.api.create(t(c, "cm"), "default", cm("one"));
    c.api.create(t(c, "cm"), "default", cm("two"));
    const lines = readFileSync(journalFile(dataDir, "bad"), "utf8").split("\n");
    lines[0] = lines[0]!.replace('"one"', '"0ne"');
    writeFileSync(journalFile(dataDir, "bad"), lines.join("\n"));
    expect(() => readJournal(dataDir, "bad", 0)).toThrow(CorruptStateError);
    await expect(createSimCluster({ id: "bad", dataDir, dataplane: false })).rejects.toThrow(
      /line 1 is damaged and later lines are not/,
    );
    rmSync(stateFile(dataDir, "bad"));
    await expect(createSimCluster({ id: "bad", dataDir, dataplane: false })).rejects.toThrow(
      /a journal without the snapshot it follows/,
    );
    c.store.setJournal(undefined);
  });

  it("compacts into the snapshot and replays only what came after it", async () => {
    const dataDir = tmp();
    const a = await createSimCluster({ id: "compact", dataDir, dataplane: false, compactBytes: 4096 });
    for (let i = 0; i < 30; i++) a.api.create(t(a, "cm"), "default", cm(`c${i}`, { v: "x".repeat(100) }));
    await new Promise((r) => setImmediate(r));
    const size = statSync(journalFile(dataDir, "compact")).size;
    expect(size).toBeLessThan(4096);
    const snap = JSON.parse(readFileSync(stateFile(dataDir, "compact"), "utf8")) as {
      resourceVersion: number;
    };
    expect(snap.resourceVersion).toBeGreaterThan(30);
    a.api.delete(t(a, "cm"), "default", "c0");
    const b = await createSimCluster({ id: "compact", dataDir, dataplane: false });
    const names = b.api.list(t(b, "cm"), { namespace: "default" }).items.map((o) => o.metadata.name);
    expect(names).toHaveLength(29 + 1);
    expect(names).not.toContain("c0");
    await b.close();
    // A clean close leaves the snapshot and an empty journal.
    expect(statSync(journalFile(dataDir, "compact")).size).toBe(0);
    expect(existsSync(stateFile(dataDir, "compact"))).toBe(true);
    await a.close();
  });
});
