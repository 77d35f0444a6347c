/**
 * Where the workshop keeps its sessions and progress: SQLite in the data directory (the embedded default, one
 * process), or a shared Postgres (`--database postgres://…`) for several replicas.
 */
import path from "node:path";
import { openDb } from "../sessions/db.ts";
import { sqliteSessions, type SessionStore } from "../sessions/store.ts";
import { sqlitePoolRecords } from "../sessions/pool-records.ts";
import type { PoolRecords } from "../sessions/pool.ts";
import { ValidationError } from "../shared/errors.ts";
import { isPostgresUrl, openPg, type PgPool } from "./pg-db.ts";
import { PgSessionStore, pgPoolRecords } from "./pg-store.ts";

export interface Database {
  kind: "sqlite" | "postgres";
  sessions: SessionStore;
  /** This replica's warm clusters. */
  pool: PoolRecords;
  /** The Postgres pool, when the database is Postgres (for leases and cluster state). */
  pg?: PgPool;
  /** Resolves when the database answers a query. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** The database `url` names (a `postgres://` URL), or SQLite under `dataDir` when there is none. */
export async function openDatabase(opts: {
  dataDir: string;
  url?: string | undefined;
  /** This replica's name (its warm clusters are its own). */
  replica?: string;
}): Promise<Database> {
  if (opts.url) {
    if (!isPostgresUrl(opts.url))
      throw new ValidationError([
        {
          where: "--database",
          message: "expects a postgres:// URL (without one, sessions are kept in SQLite in --data)",
        },
      ]);
    const pool = await openPg(opts.url);
    const sessions = new PgSessionStore(pool);
    return {
      kind: "postgres",
      sessions,
      pool: pgPoolRecords(pool, opts.replica ?? "default"),
      pg: pool,
      ping: async () => {
        await pool.query("SELECT 1");
      },
      close: () => sessions.close(),
    };
  }
  const db = openDb(path.join(opts.dataDir, "egresslab.db"));
  const sessions = sqliteSessions(db);
  return {
    kind: "sqlite",
    sessions,
    pool: sqlitePoolRecords(db),
    ping: () => {
      db.prepare("SELECT 1").get();
      return Promise.resolve();
    },
    close: () => sessions.close(),
  };
}
