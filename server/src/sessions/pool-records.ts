/** The pool's warm clusters in SQLite (the embedded default), beside the sessions. */
import type { Db } from "./db.ts";
import type { PoolRecords, PoolRow } from "./pool.ts";

/** Runs `fn` now and hands its result (or error) over as a promise. */
function settled<T>(fn: () => T): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (err) {
    return Promise.reject(err instanceof Error ? err : new Error(String(err)));
  }
}

export function sqlitePoolRecords(db: Db): PoolRecords {
  return {
    list: (workshopId, adoptUnowned) =>
      settled(
        () =>
          db
            .prepare(
              "SELECT cluster_id, lab_id, seed, prepared FROM pool_clusters WHERE workshop_id IS ? OR (? AND workshop_id IS NULL) ORDER BY created_at",
            )
            .all(workshopId, adoptUnowned ? 1 : 0) as PoolRow[],
      ),
    add: (id, labId, workshopId) =>
      settled(() => {
        db.prepare(
          "INSERT INTO pool_clusters (cluster_id, lab_id, workshop_id, created_at) VALUES (?, ?, ?, ?)",
        ).run(id, labId, workshopId, new Date().toISOString());
      }),
    update: (id, seed, prepared) =>
      settled(() => {
        db.prepare("UPDATE pool_clusters SET seed = ?, prepared = ? WHERE cluster_id = ?").run(
          seed,
          prepared ? 1 : 0,
          id,
        );
      }),
    remove: (id) =>
      settled(() => {
        db.prepare("DELETE FROM pool_clusters WHERE cluster_id = ?").run(id);
      }),
    unprepare: (id) =>
      settled(() => {
        db.prepare("UPDATE pool_clusters SET prepared = 0 WHERE cluster_id = ?").run(id);
      }),
  };
}
