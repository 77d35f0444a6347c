import { describe, expect, it } from "vitest";
import { openDb } from "./db.ts";
import { sqlitePoolRecords } from "./pool-records.ts";
import { ClusterPool, replicaShare } from "./pool.ts";
import type {
  AcquireOptions,
  ClusterConnection,
  ClusterProvider,
  ClusterTemplates,
} from "../providers/provider.ts";

class CountingProvider implements ClusterProvider {
  readonly name = "sim" as const;
  readonly capabilities = {
    canCreate: true,
    realDataplane: false,
    calicoEdition: "enterprise" as const,
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

/** A provider that copies clusters: a copy remembers the template it came from (its "state"). */
class CopyingProvider extends CountingProvider {
  readonly state = new Map<string, string>();
  readonly saved = new Map<string, string>();
  copies: { id: string; template: string }[] = [];
  readonly templates: ClusterTemplates = {
    save: async (id, name) => {
      this.saved.set(name, this.state.get(id) ?? "");
      await this.release(id);
    },
    has: (name) => this.saved.has(name),
    acquire: async (name, o) => {
      const from = this.saved.get(name);
      if (from === undefined) throw new Error(`no template ${name}`);
      this.copies.push({ id: o.id, template: name });
      this.state.set(o.id, from);
      this.created.add(o.id);
      return { id: o.id, provider: "sim", kubeconfig: `id: ${o.id}`, edition: "enterprise" };
    },
  };
}

const until = async (test: () => boolean): Promise<void> => {
  for (let i = 0; i < 500 && !test(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(test()).toBe(true);
};

describe("ClusterPool", () => {
  it("prepares warm clusters for the seed their learner will get, once, also across a restart", async () => {
    const db = openDb(":memory:");
    const prepared: [string, number][] = [];
    const prepare = async (c: ClusterConnection, seed: number): Promise<void> =>
      void prepared.push([c.id, seed]);
    const pool = new ClusterPool(new CountingProvider(), sqlitePoolRecords(db), {
      size: 2,
      labId: "lab",
      prepare,
    });
    await pool.fill();
    expect(prepared).toHaveLength(2);
    const got = await pool.take();
    expect(got.prepared).toBe(true);
    expect(prepared).toContainEqual([got.conn.id, got.seed]);
    pool.close();
    await new Promise((r) => setTimeout(r, 50));
    const before = prepared.length;
    const pool2 = new ClusterPool(new CountingProvider(), sqlitePoolRecords(db), {
      size: 2,
      labId: "lab",
      prepare,
    });
    await pool2.fill();
    const reused = await pool2.take();
    expect(reused.prepared).toBe(true);
    expect(prepared.slice(0, before)).toContainEqual([reused.conn.id, reused.seed]);
  });

  it("pre-warms clusters, hands them out, refills, and reuses the warm ones after a restart", async () => {
    const db = openDb(":memory:");
    const provider = new CountingProvider();
    const pool = new ClusterPool(provider, sqlitePoolRecords(db), { size: 2, labId: "lab" });
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
    const pool2 = new ClusterPool(again, sqlitePoolRecords(db), { size: 2, labId: "lab" });
    await pool2.fill();
    expect(pool2.available).toBe(2);
    expect([...again.created].every((id) => provider.created.has(id) && id !== a.conn.id)).toBe(true);
  });

  it("releases warm clusters prepared for another lab instead of handing them out", async () => {
    const db = openDb(":memory:");
    const first = new ClusterPool(new CountingProvider(), sqlitePoolRecords(db), {
      size: 1,
      labId: "lab-a",
      prepare: async () => {},
    });
    await first.fill();
    first.close();
    const provider = new CountingProvider();
    const second = new ClusterPool(provider, sqlitePoolRecords(db), {
      size: 1,
      labId: "lab-b",
      prepare: async () => {},
    });
    await second.fill();
    const got = await second.take();
    expect(provider.released).toHaveLength(1);
    expect(got.conn.id).not.toBe(provider.released[0]);
  });

  it("acquires a cluster on demand when the pool is empty, and connects to a known id once", async () => {
    const provider = new CountingProvider();
    const pool = new ClusterPool(provider, sqlitePoolRecords(openDb(":memory:")), { size: 0, labId: "lab" });
    const c = await pool.take();
    expect(provider.calls).toEqual([c.conn.id]);
    expect(c.prepared).toBe(false);
    await Promise.all([pool.connect(c.conn.id), pool.connect(c.conn.id)]);
    expect(provider.calls).toEqual([c.conn.id]);
  });

  it("prepares one cluster per lab variant and copies it for every other learner of that variant", async () => {
    const provider = new CopyingProvider();
    const prepared: number[] = [];
    const prepare = async (c: ClusterConnection, seed: number): Promise<void> => {
      prepared.push(seed);
      provider.state.set(c.id, `stage 0 for variant ${seed % 3}`);
    };
    const pool = new ClusterPool(provider, sqlitePoolRecords(openDb(":memory:")), {
      size: 12,
      labId: "lab",
      prepare,
      variant: (seed) => String(seed % 3),
    });
    await pool.fill();
    expect(pool.available).toBe(12);
    // At most one slow preparation per variant; the templates' own clusters are released.
    expect(prepared.length).toBeLessThanOrEqual(3);
    expect(new Set(prepared.map((s) => s % 3)).size).toBe(prepared.length);
    expect(provider.released).toHaveLength(prepared.length);
    expect(provider.copies).toHaveLength(12);
    // Every learner gets a cluster prepared for their own variant.
    for (let i = 0; i < 12; i++) {
      const got = await pool.take();
      expect(got.prepared).toBe(true);
      expect(provider.state.get(got.conn.id)).toBe(`stage 0 for variant ${got.seed % 3}`);
    }
    // An empty pool still hands out a prepared copy at once.
    const extra = await pool.take();
    expect(extra.prepared).toBe(true);
    expect(provider.state.get(extra.conn.id)).toBe(`stage 0 for variant ${extra.seed % 3}`);
    expect(prepared.length).toBeLessThanOrEqual(3);
    pool.close();
  });

  it("with a capacity, pre-warms a cluster for every attendee who may still join, reporting progress", async () => {
    const provider = new CopyingProvider();
    let joined = 0;
    const statuses: { ready: number; target: number }[] = [];
    const pool = new ClusterPool(provider, sqlitePoolRecords(openDb(":memory:")), {
      size: 2,
      capacity: 30,
      joined: () => joined,
      labId: "lab",
      prepare: async (c) => void provider.state.set(c.id, "ready"),
      variant: () => "one",
    });
    pool.on("status", (s) => statuses.push({ ready: s.ready, target: s.target }));
    expect(pool.target).toBe(30);
    await pool.fill();
    expect(pool.available).toBe(30);
    expect(statuses.at(-1)).toEqual({ ready: 30, target: 30 });
    expect(statuses.map((s) => s.ready)).toEqual(expect.arrayContaining([1, 10, 20, 30]));
    // Joins use the clusters made for them: nothing is made while attendees up to the capacity arrive.
    for (let i = 0; i < 25; i++) {
      await pool.take();
      joined++;
    }
    expect(pool.target).toBe(5);
    await new Promise((r) => setTimeout(r, 20));
    expect(pool.available).toBe(5);
    expect(provider.copies).toHaveLength(30);
    // A cluster handed out while attendees may still come is replaced right away.
    await pool.take();
    await until(() => pool.available === 5);
    expect(provider.copies).toHaveLength(31);
    for (let i = 0; i < 5; i++) {
      await pool.take();
      joined++;
    }
    // All have joined: nothing more is made.
    expect(pool.target).toBe(0);
    await new Promise((r) => setTimeout(r, 20));
    expect(provider.copies).toHaveLength(31);
    pool.close();
  });

  it("prepares a template again after a failed preparation, and drops the failed cluster", async () => {
    const provider = new CopyingProvider();
    let fail = true;
    const pool = new ClusterPool(provider, sqlitePoolRecords(openDb(":memory:")), {
      size: 1,
      labId: "lab",
      prepare: async (c) => {
        if (fail) throw new Error("setup failed");
        provider.state.set(c.id, "ready");
      },
      variant: () => "one",
    });
    await pool.fill();
    expect(pool.available).toBe(0);
    expect(provider.released).toHaveLength(1);
    fail = false;
    await pool.fill();
    expect(pool.available).toBe(1);
    expect(provider.state.get((await pool.take()).conn.id)).toBe("ready");
    pool.close();
  });

  it("clears a cluster the provider keeps (a pool's) before returning it, and never one it deletes", async () => {
    const order: string[] = [];
    const clear = async (c: ClusterConnection): Promise<void> => void order.push(`clear ${c.id}`);
    const creating = new CountingProvider();
    const p1 = new ClusterPool(creating, sqlitePoolRecords(openDb(":memory:")), {
      size: 0,
      labId: "lab",
      clear,
    });
    await p1.connect("a");
    await p1.release("a");
    expect(order).toEqual([]);
    expect(creating.released).toEqual(["a"]);

    class Leasing extends CountingProvider {
      override readonly capabilities = { ...new CountingProvider().capabilities, canCreate: false };
      override async release(id: string): Promise<void> {
        order.push(`release ${id}`);
      }
    }
    const leasing = new Leasing();
    const p2 = new ClusterPool(leasing, sqlitePoolRecords(openDb(":memory:")), {
      size: 0,
      labId: "lab",
      clear,
    });
    await p2.release("b"); // after a restart: connected on the way out
    expect(order).toEqual(["clear b", "release b"]);
    // A clear that fails is logged; the cluster is still returned.
    const p3 = new ClusterPool(leasing, sqlitePoolRecords(openDb(":memory:")), {
      size: 0,
      labId: "lab",
      clear: () => Promise.reject(new Error("API down")),
    });
    await p3.release("c");
    expect(order).toEqual(["clear b", "release b", "release c"]);
  });
});

describe("the warm pool shared by replicas", () => {
  it.each([
    { total: 100, live: 1, share: 100 },
    { total: 100, live: 3, share: 34 },
    { total: 2, live: 3, share: 1 },
    { total: 0, live: 2, share: 0 },
    { total: -4, live: 2, share: 0 },
    { total: 7, live: 0, share: 7 },
  ])("gives each of $live replicas $share of $total", ({ total, live, share }) => {
    expect(replicaShare(total, live)).toBe(share);
  });

  it("fills towards its share of the workshop's target, and towards a bigger one when a replica goes", async () => {
    const provider = new CountingProvider();
    let live = 3;
    let joined = 0;
    const pool = new ClusterPool(provider, sqlitePoolRecords(openDb(":memory:")), {
      size: 2,
      capacity: 30,
      joined: () => joined,
      replicas: () => live,
      labId: "lab",
    });
    expect(pool.target).toBe(10);
    await pool.fill();
    expect(pool.available).toBe(10);
    expect(provider.created.size).toBe(10);
    // One of three replicas is gone: the two left cover the workshop between them.
    live = 2;
    expect(pool.target).toBe(15);
    await pool.fill();
    expect(pool.available).toBe(15);
    // Attendees joined (on any replica): the remaining target is divided again.
    joined = 24;
    expect(pool.target).toBe(3);
    pool.close();

    const small = new ClusterPool(new CountingProvider(), sqlitePoolRecords(openDb(":memory:")), {
      size: 5,
      replicas: () => 2,
      labId: "lab",
    });
    expect(small.target).toBe(3);
    await small.fill();
    expect(small.available).toBe(3);
    small.close();
  });
});
