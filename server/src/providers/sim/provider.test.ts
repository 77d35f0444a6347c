/**
 * The sim provider's bookkeeping (ids, assignments kept in the data directory) over a small
 * in-memory host with SimHost's surface. The real SimHost is driven in test/integration/providers-sim.test.ts.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parse } from "yaml";
import type { CalicoEdition, SimClusterHandle } from "../../sim/types.ts";
import { ConflictError } from "../../shared/errors.ts";
import { SimProvider, type SimHostApi } from "./provider.ts";

class MemoryHost implements SimHostApi {
  clusters = new Map<string, { profile?: string; edition: CalicoEdition; seed?: number }>();
  created: string[] = [];
  closed = false;
  createCluster(o: { id?: string; profile?: string; edition?: CalicoEdition; seed?: number } = {}) {
    const id = o.id!;
    if (this.clusters.has(id))
      return Promise.reject(new ConflictError(`a cluster named "${id}" already exists`));
    this.clusters.set(id, { profile: o.profile, edition: o.edition ?? "enterprise", seed: o.seed });
    this.created.push(id);
    return Promise.resolve({ id, token: `t-${id}`, kubeconfig: this.kubeconfig(id) });
  }
  deleteCluster(id: string) {
    this.clusters.delete(id);
    return Promise.resolve();
  }
  kubeconfig(id: string) {
    const n = `egresslab-${id}`;
    return `apiVersion: v1\nkind: Config\nclusters:\n- name: ${n}\n  cluster: {server: "https://127.0.0.1:1"}\nusers:\n- name: ${n}\n  user: {token: t-${id}}\ncontexts:\n- name: ${n}\n  context: {cluster: ${n}, user: ${n}, namespace: default}\ncurrent-context: ${n}\n`;
  }
  clusterIds() {
    return [...this.clusters.keys()];
  }
  getCluster(id: string) {
    const c = this.clusters.get(id);
    return c ? ({ id, edition: c.edition } as SimClusterHandle) : undefined;
  }
  close() {
    this.closed = true;
    return Promise.resolve();
  }
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "egresslab-simprov-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const newProvider = (host: MemoryHost, dataDir: string | undefined = dir) =>
  new SimProvider(host, false, dataDir, noop);
const noop = { debug() {}, info() {}, warn() {}, error() {}, child: () => noop };

describe("SimProvider", () => {
  it("gives the same cluster to the same id and a valid cluster id to any attendee id", async () => {
    const host = new MemoryHost();
    const p = newProvider(host);
    const a = await p.acquire({ id: "alice", profile: "bare" });
    expect(await p.acquire({ id: "alice" })).toEqual(a);
    const b = await p.acquire({ id: "Bob Smith" });
    expect(host.created).toEqual(["alice", expect.stringMatching(/^bob-smith-[0-9a-f]{8}$/)]);
    expect(b).toMatchObject({ id: "Bob Smith", provider: "sim", edition: "enterprise" });
    const [one, two] = await Promise.all([p.acquire({ id: "carol" }), p.acquire({ id: "carol" })]);
    expect(one).toBe(two);
  });

  it("remembers assignments in the data directory, also to clusters under another name", async () => {
    const host = new MemoryHost();
    const p = newProvider(host);
    await p.acquire({ id: "fay" });
    const saved = JSON.parse(await readFile(path.join(dir, "sim-provider.json"), "utf8")) as {
      assignments: Record<string, string>;
    };
    expect(saved.assignments).toEqual({ fay: "fay" });
    await host.createCluster({ id: "older-1" });
    await writeFile(
      path.join(dir, "sim-provider.json"),
      JSON.stringify({ assignments: { fay: "fay", gil: "older-1", gone: "nowhere" } }),
    );
    const again = newProvider(host);
    expect((await again.acquire({ id: "fay" })).kubeconfig).toContain("t-fay");
    const gil = parse((await again.acquire({ id: "gil" })).kubeconfig) as { "current-context": string };
    expect(gil["current-context"]).toBe("egresslab-gil");
    expect(host.created).toEqual(["fay", "older-1"]);
    expect((await again.list()).map((c) => c.id).sort()).toEqual(["fay", "gil"]);
  });

  it("deletes the attendee's cluster on release and forgets unknown ids quietly", async () => {
    const host = new MemoryHost();
    const p = newProvider(host);
    await p.acquire({ id: "gus" });
    await p.release("gus");
    await p.release("nobody");
    expect(host.clusterIds()).toEqual([]);
    await p.close();
    expect(host.closed).toBe(false);
  });

  it("honours an aborted signal before doing anything", async () => {
    const host = new MemoryHost();
    const ac = new AbortController();
    ac.abort(new Error("gone"));
    await expect(newProvider(host, undefined).acquire({ id: "h", signal: ac.signal })).rejects.toThrow(
      "gone",
    );
    expect(host.created).toEqual([]);
  });
});
