/**
 * Terminal scrollback in Postgres: a page reconnecting to another replica sees the screen it had at the offsets it
 * had; output is written in batches (never a statement per chunk), stays bounded, and a lost connection neither
 * blocks the terminal nor loses what is buffered while this replica lives (the learner is told, then told again).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPostgres, type PostgresServer } from "../../../test/helpers/services.ts";
import { openPg, type PgPool } from "./pg-db.ts";
import { assembleScrollback, LOST_NOTICE, PgScrollback, SAVED_AGAIN_NOTICE } from "./pg-scrollback.ts";
import { Scrollback } from "../terminal/scrollback.ts";
import { TerminalManager } from "../terminal/manager.ts";
import type { TerminalClient } from "../terminal/session.ts";

let postgres: PostgresServer;
let dbs = 0;
const pools: PgPool[] = [];
const root = mkdtempSync(path.join(tmpdir(), "egl-pgsb-"));
beforeAll(async () => {
  postgres = await startPostgres();
}, 60_000);
afterAll(async () => {
  for (const p of pools.splice(0)) await p.end().catch(() => undefined);
  postgres?.stop();
  rmSync(root, { recursive: true, force: true });
});

async function freshDb(url?: string): Promise<{ url: string; pool: PgPool }> {
  const u = url ?? postgres.createDatabase(`sb_${++dbs}`);
  const pool = await openPg(u, { max: 4 });
  pools.push(pool);
  return { url: u, pool };
}

/** A terminal's scrollback with its writer, as `TerminalSession` wires them. */
function terminal(
  store: PgScrollback,
  learner: string,
  saved: Awaited<ReturnType<PgScrollback["read"]>>,
  max = 1000,
) {
  const sb = new Scrollback(max, saved);
  const notices: string[] = [];
  const w = store.open(
    learner,
    () => {
      const all = sb.since(undefined);
      return { start: all.end - all.data.length, data: all.data };
    },
    (t) => {
      notices.push(t);
      push(`[${t}]`);
    },
  );
  const push = (d: string): void => {
    sb.push(d);
    w.append(d);
  };
  return { sb, w, push, notices };
}

/** Counts the statements a pool runs. */
function counted(pool: PgPool): { pool: PgPool; count: () => number } {
  let n = 0;
  const query = pool.query.bind(pool) as (...a: unknown[]) => unknown;
  (pool as unknown as { query: (...a: unknown[]) => unknown }).query = (...a: unknown[]) => {
    n++;
    return query(...a);
  };
  return { pool, count: () => n };
}

const page = (): TerminalClient & { text: string; end: number; resets: number } => {
  const c = {
    text: "",
    end: 0,
    resets: 0,
    output: (o: { data: string; end: number }) => {
      c.text += o.data;
      c.end = o.end;
    },
    reset: () => void c.resets++,
    replaced() {},
    exited() {},
  };
  return c;
};

async function until(cond: () => boolean | Promise<boolean>, what: string, ms = 15_000): Promise<void> {
  const t0 = Date.now();
  while (!(await cond())) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe("assembleScrollback", () => {
  it("keeps the newest contiguous run, at most maxChars, and the older text where chunks overlap", () => {
    expect(assembleScrollback([], 10)).toBeUndefined();
    expect(
      assembleScrollback(
        [
          { start: 5, text: "world" },
          { start: 0, text: "hello" },
        ],
        100,
      ),
    ).toEqual({ start: 0, data: "helloworld" });
    expect(
      assembleScrollback(
        [
          { start: 0, text: "lost" },
          { start: 10, text: "abc" },
          { start: 12, text: "cdef" },
        ],
        4,
      ),
    ).toEqual({ start: 12, data: "cdef" });
    expect(
      assembleScrollback(
        [
          { start: 0, text: "abcd" },
          { start: 2, text: "XYZW" },
        ],
        100,
      ),
    ).toEqual({ start: 0, data: "abcdZW" });
  });
});

describe("scrollback in Postgres", () => {
  it("hands another replica the screen with its offsets, which its shell continues; one statement a flush", async () => {
    const { url, pool } = await freshDb();
    const a = counted(pool);
    const storeA = new PgScrollback(a.pool, { maxChars: 1000, flushMs: 20 });
    const t = terminal(storeA, "l-1", await storeA.read("l-1"));
    const other = terminal(storeA, "l-2", await storeA.read("l-2"));
    const before = a.count();
    for (let i = 0; i < 200; i++) t.push(`line ${i} ü😀\r\n`);
    other.push("another learner\r\n");
    // Appending does not touch the database; the flush writes every terminal's output in one statement.
    expect(a.count()).toBe(before);
    await storeA.write();
    expect(a.count()).toBe(before + 1);
    const end = t.sb.end;

    // Another replica (its own pool, its own store) after a failover.
    const { pool: poolB } = await freshDb(url);
    const storeB = new PgScrollback(poolB, { maxChars: 1000, flushMs: 20 });
    const saved = await storeB.read("l-1");
    expect(saved).toEqual({ start: end - 1000, data: t.sb.since(undefined).data });
    expect(saved!.data.endsWith("line 199 ü😀\r\n")).toBe(true);
    expect((await storeB.read("l-2"))?.data).toBe("another learner\r\n");
    expect(await storeB.read("l-3")).toBeUndefined();
    const t2 = terminal(storeB, "l-1", saved);
    // A page that had everything gets only what is new.
    expect(t2.sb.since(end)).toEqual({ reset: false, data: "", end });
    t2.push("after failover\r\n");
    await storeB.write();
    const again = await storeA.read("l-1");
    expect(again!.start + again!.data.length).toBe(end + "after failover\r\n".length);
    expect(again!.data.endsWith("line 199 ü😀\r\nafter failover\r\n")).toBe(true);
    // Chunks out of the kept tail are gone: the table holds about maxChars per learner.
    const rows = await pool.query<{ n: number }>(
      "SELECT sum(chars)::int AS n FROM scrollback_chunks WHERE learner_id = 'l-1'",
    );
    expect(rows.rows[0]!.n).toBeLessThanOrEqual(2000);
    await storeA.close();
    await storeB.close();
  });

  it("keeps memory and rows bounded under a flood", async () => {
    const { pool } = await freshDb();
    const store = new PgScrollback(pool, { maxChars: 500, flushMs: 10_000 });
    const t = terminal(store, "flood", undefined, 500);
    for (let i = 0; i < 20_000; i++) t.push("y\r\n");
    const w = t.w as unknown as { pending: { text: string } };
    expect(w.pending.text.length).toBe(500);
    await store.write();
    for (let i = 0; i < 20_000; i++) t.push("n\r\n");
    await store.write();
    const r = await pool.query<{ n: number; rows: number }>(
      "SELECT sum(chars)::int AS n, count(*)::int AS rows FROM scrollback_chunks WHERE learner_id = 'flood'",
    );
    expect(r.rows[0]!.n).toBe(500);
    expect((await store.read("flood"))?.data).toBe("n\r\n".repeat(167).slice(1));
    await store.close();
  });

  it("goes on when the connection is lost, tells the learner, and saves the output once it is back", async () => {
    const { url } = await freshDb();
    const target = new URL(url);
    const cut = await cuttableProxy(Number(target.port));
    target.port = String(cut.port);
    const pool = await openPg(target.toString(), { max: 2 });
    pools.push(pool);
    let now = 1_000_000;
    const store = new PgScrollback(pool, {
      maxChars: 1000,
      flushMs: 20,
      warnAfterMs: 5000,
      queryTimeoutMs: 2000,
      now: () => now,
    });
    const t = terminal(store, "l-cut", await store.read("l-cut"));
    t.push("saved before\r\n");
    await store.write();
    cut.down();
    t.push("while away\r\n");
    await store.write();
    expect(t.notices).toEqual([]);
    now += 6000;
    t.push("still away\r\n");
    await store.write();
    expect(t.notices).toEqual([LOST_NOTICE]);
    // Reading while the database is away starts afresh past every earlier offset, and says so.
    const fresh = await store.read("elsewhere");
    expect(fresh).toMatchObject({ data: "", problem: expect.stringMatching(/could not be read/) });
    expect(fresh!.start).toBeGreaterThan(1e9);
    cut.up();
    await until(async () => {
      await store.write();
      return t.notices.length === 2;
    }, "the output to be saved again");
    expect(t.notices).toEqual([LOST_NOTICE, SAVED_AGAIN_NOTICE]);
    await store.write();
    const back = await new PgScrollback((await freshDb(url)).pool, { maxChars: 1000 }).read("l-cut");
    expect(back?.data).toBe(t.sb.since(undefined).data);
    expect(back!.data).toContain("saved before\r\nwhile away\r\nstill away\r\n");
    await store.close();
    cut.close();
  });

  it("starts a shell with an empty screen, and says why, when the database does not answer in time", async () => {
    const { url } = await freshDb();
    const target = new URL(url);
    const cut = await cuttableProxy(Number(target.port));
    target.port = String(cut.port);
    const pool = await openPg(target.toString(), { max: 2 });
    pools.push(pool);
    const store = new PgScrollback(pool, { maxChars: 1000, readTimeoutMs: 300 });
    await store.read("l-hang");
    cut.hang();
    await until(() => pool.totalCount === 0, "the driver to drop its cut connection");
    const fresh = await store.read("l-hang");
    expect(fresh).toMatchObject({ data: "", problem: expect.stringMatching(/could not be read/) });
    // It gave up while the driver still waits for its connection (which times out much later).
    expect(pool.totalCount).toBe(1);
    cut.close();
  });

  it("shows a page reconnecting to another replica's new shell what it had, through the terminal manager", async () => {
    const { url, pool } = await freshDb();
    const make = (p: PgPool, dir: string): { m: TerminalManager; store: PgScrollback } => {
      const store = new PgScrollback(p, { maxChars: 256 * 1024, flushMs: 20 });
      const m = new TerminalManager({
        root: path.join(root, dir),
        mode: "local",
        hostPath: process.env.PATH ?? "/usr/bin:/bin",
        idleTimeoutMs: 60_000,
        scrollback: store,
      });
      return { m, store };
    };
    const a = make(pool, "a");
    const spec = { kubeconfig: "kind: Config\n", dirs: ["stage-0"], files: [], completion: "# none\n" };
    await a.m.prepare("l-x", spec);
    const p = page();
    await a.m.attach("l-x", p, { cols: 80, rows: 24, startDir: "stage-0" });
    a.m.get("l-x")!.input("echo before-$((20+1))\r");
    await until(() => /before-21\r\n/.test(p.text), "the command's output");
    await until(async () => {
      const r = await pool.query<{ end: number }>(
        "SELECT max(start_offset + chars)::int AS end FROM scrollback_chunks WHERE learner_id = 'l-x'",
      );
      return r.rows[0]!.end === p.end;
    }, "the output to be saved");
    // Replica A dies: the page hears nothing more from it (a SIGKILL'd replica's shell says nothing either); replica
    // B starts a shell in the same home.
    a.m.get("l-x")!.detach(p);
    a.m.close();
    const b = make((await freshDb(url)).pool, "b");
    await b.m.prepare("l-x", spec);
    const back = page();
    await b.m.attach("l-x", back, { cols: 80, rows: 24, startDir: "stage-0", since: p.end });
    expect(back.resets).toBe(0);
    expect(back.text).not.toContain("before-21");
    expect(back.text).toContain("[a new shell]");
    const reloaded = page();
    await b.m.attach("l-x", reloaded, { cols: 80, rows: 24, startDir: "stage-0" });
    expect(reloaded.text).toContain("before-21");
    b.m.close();
    await a.store.close();
    await b.store.close();
  });
});

/** A TCP proxy to `port` on loopback whose connections can be cut (and new ones refused) and restored. */
async function cuttableProxy(
  port: number,
): Promise<{ port: number; down(): void; hang(): void; up(): void; close(): void }> {
  let cut = false;
  let hanging = false;
  const open = new Set<Socket>();
  const server: Server = createServer((client) => {
    if (cut) return void client.destroy();
    // Accepted, never answered: a database behind a dead network path.
    if (hanging) return void open.add(client.on("error", () => undefined));
    const upstream = createConnection({ host: "127.0.0.1", port });
    open.add(client).add(upstream);
    const end = (): void => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    client.on("error", end).on("close", end);
    upstream.on("error", end).on("close", end);
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const addr = server.address();
  if (typeof addr !== "object" || !addr) throw new Error("no address");
  const down = (): void => {
    cut = true;
    for (const s of open) s.destroy();
    open.clear();
  };
  return {
    port: addr.port,
    down,
    hang() {
      down();
      cut = false;
      hanging = true;
    },
    up() {
      cut = false;
      hanging = false;
    },
    close() {
      down();
      server.close();
    },
  };
}
