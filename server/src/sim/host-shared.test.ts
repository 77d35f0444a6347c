/**
 * Several replicas sharing a data directory: a host keeps no cluster list and brings none back at start, a cluster
 * another host served is brought back from its saved state when created by id, and a host that lost a cluster
 * writes nothing more to its files.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { SimHost } from "./host.ts";
import { journalFile, stateFile } from "./persistence.ts";
import type { SimClusterHandle } from "./types.ts";

const dirs: string[] = [];
const hosts: SimHost[] = [];
afterAll(async () => {
  for (const h of hosts) await h.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const start = async (dataDir: string): Promise<SimHost> => {
  const h = await SimHost.start({ dataDir, shared: true });
  hosts.push(h);
  return h;
};
const configMap = (c: SimClusterHandle, name: string, value: string): void => {
  c.api.create(c.api.findType("cm")!, "default", {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name },
    data: { value },
  });
};
const valueOf = (c: SimClusterHandle, name: string): unknown =>
  (c.api.get(c.api.findType("cm")!, "default", name) as { data?: { value?: string } }).data?.value;

describe("simulated clusters on a data directory shared by replicas", () => {
  it("brings a cluster back on another host, which then serves it alone", async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), "egl-shared-"));
    dirs.push(dataDir);
    const a = await start(dataDir);
    const b = await start(dataDir);
    await a.createCluster({ id: "alice", profile: "bare" });
    configMap(a.getCluster("alice")!, "before", "1");
    // No cluster list: the other host does not load alice at start, nor would a restarted one.
    expect(existsSync(path.join(dataDir, "host.json"))).toBe(false);
    expect(b.clusterIds()).toEqual([]);
    expect((await start(dataDir)).clusterIds()).toEqual([]);

    // a stops serving alice without writing (its lease is gone): the files are exactly what a's writes left.
    const files = [stateFile(dataDir, "alice"), journalFile(dataDir, "alice")];
    const before = files.map((f) => readFileSync(f));
    await a.unloadCluster("alice", { save: false });
    expect(a.getCluster("alice")).toBeUndefined();
    expect(files.map((f) => readFileSync(f))).toEqual(before);

    const created = await b.createCluster({ id: "alice", profile: "bare" });
    const alice = b.getCluster("alice")!;
    expect(valueOf(alice, "before")).toBe("1");
    configMap(alice, "after", "2");
    // Its own CA and token: the kubeconfig is written again for the learner.
    expect(created.kubeconfig).toContain(b.url);
    expect(a.caCert).not.toBe(b.caCert);
    const journal = statSync(journalFile(dataDir, "alice")).size;
    expect(journal).toBeGreaterThan(0);

    // Handed back cleanly (save: true), the state is compacted and a third host sees both writes.
    await b.unloadCluster("alice", { save: true });
    const c = await start(dataDir);
    await c.createCluster({ id: "alice", profile: "bare" });
    expect(valueOf(c.getCluster("alice")!, "before")).toBe("1");
    expect(valueOf(c.getCluster("alice")!, "after")).toBe("2");
    // Deleting it for good removes its files.
    await c.deleteCluster("alice");
    expect(readdirSync(path.join(dataDir, "clusters")).filter((f) => f.startsWith("alice"))).toEqual([]);
  });
});
