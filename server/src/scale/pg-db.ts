/**
 * The shared Postgres database of several replicas: a connection pool (the `pg` driver) and the schema brought up to
 * date under an advisory lock, so replicas starting together migrate once. Postgres commits are durable when they
 * return (the server's `synchronous_commit`, on by default), which is what "acknowledged means durable" needs.
 */
import pg from "pg";
import { pgMigrations } from "./pg-migrations.ts";

export type PgPool = pg.Pool;
export type PgClient = pg.PoolClient;

/** Any key; the same for every egresslab replica (it serialises their migrations). */
const MIGRATION_LOCK = 0x6567_7265;

/** Bigints (counts, seeds) as numbers: none of ours come near 2^53. */
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));

/** True for a `postgres://` or `postgresql://` URL. */
export function isPostgresUrl(s: string): boolean {
  return /^postgres(ql)?:\/\//i.test(s);
}

/** Connects to `url`, checks the server answers and migrates. */
export async function openPg(url: string, opts: { max?: number } = {}): Promise<PgPool> {
  const pool = new pg.Pool({
    connectionString: url,
    max: opts.max ?? 10,
    connectionTimeoutMillis: 10_000,
    idleTimeoutMillis: 30_000,
  });
  // An idle client losing its server (a restart) must not end the process; the next query reconnects.
  pool.on("error", () => undefined);
  try {
    await migratePg(pool);
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw err;
  }
  return pool;
}

/** Runs the migrations not yet applied, each in its own transaction. Returns how many ran. */
export async function migratePg(pool: PgPool): Promise<number> {
  const c = await pool.connect();
  try {
    await c.query("SELECT pg_advisory_lock($1)", [MIGRATION_LOCK]);
    try {
      await c.query("CREATE TABLE IF NOT EXISTS egresslab_schema (version INTEGER NOT NULL)");
      const r = await c.query<{ version: number }>("SELECT version FROM egresslab_schema");
      if (!r.rows.length) await c.query("INSERT INTO egresslab_schema (version) VALUES (0)");
      const current = r.rows[0]?.version ?? 0;
      if (current > pgMigrations.length)
        throw new Error(
          `the database schema (version ${current}) is newer than this egresslab (version ${pgMigrations.length})`,
        );
      let ran = 0;
      for (let v = current; v < pgMigrations.length; v++) {
        await inTransaction(c, async () => {
          await c.query(pgMigrations[v]!);
          await c.query("UPDATE egresslab_schema SET version = $1", [v + 1]);
        });
        ran++;
      }
      return ran;
    } finally {
      await c.query("SELECT pg_advisory_unlock($1)", [MIGRATION_LOCK]);
    }
  } finally {
    c.release();
  }
}

/** Runs `fn` in a transaction on `c`: committed when it resolves, rolled back when it throws. */
export async function inTransaction<T>(c: PgClient, fn: () => Promise<T>): Promise<T> {
  await c.query("BEGIN");
  try {
    const out = await fn();
    await c.query("COMMIT");
    return out;
  } catch (err) {
    await c.query("ROLLBACK").catch(() => undefined);
    throw err;
  }
}

/** Runs `fn` in a transaction on a client of the pool. */
export async function transaction<T>(pool: PgPool, fn: (c: PgClient) => Promise<T>): Promise<T> {
  const c = await pool.connect();
  try {
    return await inTransaction(c, () => fn(c));
  } finally {
    c.release();
  }
}
