/** Opens the workshop database (SQLite, WAL) and brings its schema up to date. */
import Database from "better-sqlite3";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { migrations } from "./migrations.ts";

export type Db = Database.Database;

/** Opens (creating if needed) `file`, or an in-memory database for `":memory:"`, and runs pending migrations. */
export function openDb(file: string): Db {
  if (file !== ":memory:") mkdirSync(path.dirname(file), { recursive: true });
  const db = new Database(file);
  db.pragma("journal_mode = WAL");
  // FULL: a commit is synced before it returns, so progress and answers survive power loss like the clusters do.
  db.pragma("synchronous = FULL");
  db.pragma("foreign_keys = ON");
  db.pragma("busy_timeout = 5000");
  migrate(db);
  return db;
}

/** Runs the migrations not yet applied, each in its own transaction. Returns how many ran. */
export function migrate(db: Db): number {
  const current = db.pragma("user_version", { simple: true }) as number;
  if (current > migrations.length)
    throw new Error(
      `the database schema (version ${current}) is newer than this egresslab (version ${migrations.length})`,
    );
  let ran = 0;
  for (let v = current; v < migrations.length; v++) {
    db.transaction(() => {
      db.exec(migrations[v]!);
      db.pragma(`user_version = ${v + 1}`);
    })();
    ran++;
  }
  return ran;
}
