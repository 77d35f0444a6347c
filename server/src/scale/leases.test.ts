import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { PgPool } from "./pg-db.ts";
import { openPg } from "./pg-db.ts";
import { HeldElsewhereError, MemoryLeases, PgLeases } from "./leases.ts";
import { startPostgres, type PostgresServer } from "../../../test/helpers/services.ts";

let postgres: PostgresServer;
let url: string;
beforeAll(async () => {
  postgres = await startPostgres();
  url = postgres.createDatabase("leases");
}, 60_000);
afterAll(() => postgres?.stop());

const pools: PgPool[] = [];
const leases: PgLeases[] = [];
afterEach(async () => {
  for (const l of leases.splice(0)) await l.close().catch(() => undefined);
  for (const p of pools.splice(0)) await p.end().catch(() => undefined);
});

/** A replica's leases on its own connection pool (as each process has its own). */
async function replica(name: string, ttlMs = 1500): Promise<{ leases: PgLeases; pool: PgPool }> {
  const pool = await openPg(url);
  pools.push(pool);
  const l = new PgLeases({ pool, replica: name, address: `http://${name}.test:3000`, ttlMs });
  leases.push(l);
  return { leases: l, pool };
}

let n = 0;
const clusterId = (): string => `c-${++n}`;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Tries `acquire` until it succeeds; returns how many times it was refused. */
async function acquireEventually(l: PgLeases, id: string, ms = 20_000): Promise<number> {
  const t0 = Date.now();
  for (let refused = 0; ; refused++) {
    try {
      await l.acquire(id);
      return refused;
    } catch (err) {
      if (!(err instanceof HeldElsewhereError) || Date.now() - t0 > ms) throw err;
      await sleep(50);
    }
  }
}

describe("cluster leases in Postgres", () => {
  it("refuses a cluster another live replica holds, naming it, and lets the holder extend it", async () => {
    const a = await replica("a");
    const b = await replica("b");
    const id = clusterId();
    expect(await a.leases.acquire(id)).toEqual({});
    expect(a.leases.holds(id)).toBe(true);
    const refused = await b.leases.acquire(id).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(HeldElsewhereError);
    const e = refused as HeldElsewhereError;
    expect(e.owner).toEqual({ replica: "a", address: "http://a.test:3000" });
    expect(e.code).toBe("unavailable");
    expect(e.message).toContain("server a");
    expect(e.retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expect(e.retryAfterSeconds).toBeLessThanOrEqual(2);
    expect(b.leases.holds(id)).toBe(false);
    expect(await a.leases.acquire(id)).toEqual({});
    expect(await b.leases.owner(id)).toEqual({ replica: "a", address: "http://a.test:3000" });
  });

  it("keeps a lease past its TTL while the holder renews it", async () => {
    const a = await replica("a", 600);
    const b = await replica("b", 600);
    const id = clusterId();
    const lost: string[] = [];
    a.leases.on("lost", (c) => lost.push(c));
    await a.leases.acquire(id);
    await sleep(2000);
    await expect(b.leases.acquire(id)).rejects.toBeInstanceOf(HeldElsewhereError);
    expect(lost).toEqual([]);
    expect(a.leases.holds(id)).toBe(true);
  });

  it("lets another replica take over when the holder stops renewing, after the holder stopped serving", async () => {
    const a = await replica("a");
    const b = await replica("b");
    const id = clusterId();
    const other = clusterId();
    const events: string[] = [];
    a.leases.on("lost", (c) => events.push(`a lost ${c}`));
    await a.leases.acquire(id);
    await a.leases.acquire(other);
    // The holder is cut off from the database (as when it is killed, or its network fails).
    await a.pool.end();
    const refused = await acquireEventually(b.leases, id);
    events.push(`b took ${id}`);
    expect(refused).toBeGreaterThan(0);
    // One writer at a time: the cut-off holder gave its clusters up before the database let another take them.
    expect(events).toEqual([`a lost ${id}`, `a lost ${other}`, `b took ${id}`]);
    expect(a.leases.holds(id)).toBe(false);
    expect(b.leases.holds(id)).toBe(true);
  });

  it("says whom a lease was taken from, and detects the loss on the next renewal", async () => {
    const a = await replica("a", 60_000);
    const b = await replica("b", 60_000);
    const id = clusterId();
    const lost: string[] = [];
    a.leases.on("lost", (c) => lost.push(c));
    await a.leases.acquire(id);
    // The database's clock decides expiry: age the row as if a's renewals had stopped.
    await b.pool.query("UPDATE leases SET expires_at = now() - interval '1 second' WHERE cluster_id = $1", [
      id,
    ]);
    expect(await b.leases.acquire(id)).toEqual({ takenFrom: "a" });
    await a.leases.renew();
    expect(lost).toEqual([id]);
    expect(a.leases.holds(id)).toBe(false);
    // The old holder now asks like anyone else.
    await expect(a.leases.acquire(id)).rejects.toThrow(/server b/);
  });

  it("renews every lease in one statement", async () => {
    const a = await replica("a", 60_000);
    const ids = [clusterId(), clusterId(), clusterId()];
    for (const id of ids) await a.leases.acquire(id);
    const before = await a.pool.query<{ e: Date }>(
      "SELECT max(expires_at) AS e FROM leases WHERE cluster_id = ANY($1::text[])",
      [ids],
    );
    const statements: string[] = [];
    const query = a.pool.query.bind(a.pool);
    (a.pool as { query: unknown }).query = (text: string, values?: unknown[]) => {
      statements.push(text);
      return query(text, values);
    };
    await a.leases.renew();
    (a.pool as { query: unknown }).query = query;
    expect(statements).toHaveLength(1);
    expect(statements[0]).toMatch(/^\s*UPDATE leases/);
    const after = await a.pool.query<{ e: Date }>(
      "SELECT min(expires_at) AS e FROM leases WHERE cluster_id = ANY($1::text[])",
      [ids],
    );
    expect(after.rows[0]!.e.getTime()).toBeGreaterThanOrEqual(before.rows[0]!.e.getTime());
  });

  it("gives leases up on release and on close, so another replica takes them at once", async () => {
    const a = await replica("a", 60_000);
    const b = await replica("b", 60_000);
    const [x, y] = [clusterId(), clusterId()];
    await a.leases.acquire(x);
    await a.leases.acquire(y);
    await a.leases.release(x);
    expect(await b.leases.acquire(x)).toEqual({});
    await expect(b.leases.acquire(y)).rejects.toBeInstanceOf(HeldElsewhereError);
    await a.leases.close();
    expect(await b.leases.acquire(y)).toEqual({});
    await expect(a.leases.acquire(y)).rejects.toThrow(/shutting down/);
  });

  it("lets exactly one of many replicas take a free cluster at once", async () => {
    const all = await Promise.all(["r1", "r2", "r3", "r4", "r5"].map((r) => replica(r, 60_000)));
    const id = clusterId();
    const results = await Promise.allSettled(all.map((r) => r.leases.acquire(id)));
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    expect(all.filter((r) => r.leases.holds(id))).toHaveLength(1);
    for (const r of results) if (r.status === "rejected") expect(r.reason).toBeInstanceOf(HeldElsewhereError);
  });
});

describe("single-process leases", () => {
  it("grants every cluster and never loses one", async () => {
    const l = new MemoryLeases("solo");
    let lost = 0;
    l.on("lost", () => lost++);
    expect(await l.acquire("c")).toEqual({});
    expect(l.holds("c")).toBe(true);
    expect(await l.owner("c")).toMatchObject({ replica: "solo" });
    await l.release("c");
    expect(l.holds("c")).toBe(false);
    expect(await l.owner("c")).toBeUndefined();
    await l.close();
    expect(lost).toBe(0);
  });
});
