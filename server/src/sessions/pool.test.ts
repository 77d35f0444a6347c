import { describe, expect, it } from "vitest";
import { openDb } from "./db.ts";
import { ClusterPool } from "./pool.ts";
import type { AcquireOptions, ClusterConnection, ClusterProvider } from "../providers/provider.ts";

class CountingProvider implements ClusterProvider {
  readonly name = "sim" as const;
  readonly capabilities = {
    canCreate: true,
    realDataplane: false,
    calicoEdition: "enterprise" as const,
    flowApi: true,
    typicalReadySeconds: 0,
  };
  readonly created = new Set<string>();
  calls: string[] = [];
  async acquire(o: AcquireOptions): Promise<ClusterConnection> {
    this.calls.push(o.id);
    this.created.add(o.id);
    return { id: o.id, provider: "sim", kubeconfig: `id: ${o.id}`, edition: "enterprise" };
  }
  released: string[] = [];
  async release(id: string): Promise<void> {
    this.released.push(id);
  }
  async close(): Promise<void> {}
}

describe("ClusterPool", () => {
  it("prepares warm clusters for the seed their learner will get, once, also across a restart", async () => {
    const db = openDb(":memory:");
    const prepared: [string, number][] = [];
    const prepare = async (c: ClusterConnection, seed: number): Promise<void> =>
      void prepared.push([c.id, seed]);
    const pool = new ClusterPool(new CountingProvider(), db, { size: 2, labId: "lab", prepare });
    await pool.fill();
    expect(prepared).toHaveLength(2);
    const got = await pool.take();
    expect(got.prepared).toBe(true);
    expect(prepared).toContainEqual([got.conn.id, got.seed]);
    pool.close();
    await new Promise((r) => setTimeout(r, 50));
    const before = prepared.length;
    const pool2 = new ClusterPool(new CountingProvider(), db, { size: 2, labId: "lab", prepare });
    await pool2.fill();
    const reused = await pool2.take();
    expect(reused.prepared).toBe(true);
    expect(prepared.slice(0, before)).toContainEqual([reused.conn.id, reused.seed]);
  });

  it("pre-warms clusters, hands them out, refills, and reuses the warm ones after a restart", async () => {
    const db = openDb(":memory:");
    const provider = new CountingProvider();
    const pool = new ClusterPool(provider, db, { size: 2, labId: "lab" });
    await pool.fill();
    expect(pool.available).toBe(2);
    const warm = new Set(provider.created);
    const a = await pool.take();
    expect(warm.has(a.conn.id)).toBe(true);
    await pool.fill();
    expect(pool.available).toBe(2);
    expect(provider.created.size).toBe(3);
    pool.close();

    // A new server on the same database: the two clusters still waiting are re-acquired, none created.
    const again = new CountingProvider();
    const pool2 = new ClusterPool(again, db, { size: 2, labId: "lab" });
    await pool2.fill();
    expect(pool2.available).toBe(2);
    expect([...again.created].every((id) => provider.created.has(id) && id !== a.conn.id)).toBe(true);
  });

  it("releases warm clusters prepared for another lab instead of handing them out", async () => {
    const db = openDb(":memory:");
    const first = new ClusterPool(new CountingProvider(), db, {
      size: 1,
      labId: "lab-a",
      prepare: async () => {},
    });
    await first.fill();
    first.close();
    const provider = new CountingProvider();
    const second = new ClusterPool(provider, db, { size: 1, labId: "lab-b", prepare: async () => {} });
    await second.fill();
    const got = await second.take();
    expect(provider.released).toHaveLength(1);
    expect(got.conn.id).not.toBe(provider.released[0]);
  });

  it("acquires a cluster on demand when the pool is empty, and connects to a known id once", async () => {
    const provider = new CountingProvider();
    const pool = new ClusterPool(provider, openDb(":memory:"), { size: 0, labId: "lab" });
    const c = await pool.take();
    expect(provider.calls).toEqual([c.conn.id]);
    expect(c.prepared).toBe(false);
    await Promise.all([pool.connect(c.conn.id), pool.connect(c.conn.id)]);
    expect(provider.calls).toEqual([c.conn.id]);
  });
});
