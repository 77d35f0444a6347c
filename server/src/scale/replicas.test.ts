/** Live replicas in Postgres: counted by heartbeat, gone at once on a clean stop, gone after going stale when dead. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPostgres, type PostgresServer } from "../../../test/helpers/services.ts";
import { openPg, type PgPool } from "./pg-db.ts";
import { ReplicaRegistry } from "./replicas.ts";

let postgres: PostgresServer;
let pool: PgPool;
beforeAll(async () => {
  postgres = await startPostgres();
  pool = await openPg(postgres.createDatabase("replicas"));
}, 60_000);
afterAll(async () => {
  await pool?.end();
  postgres?.stop();
});

describe("ReplicaRegistry", () => {
  it("counts the live replicas and tells when their number changes", async () => {
    const a = await ReplicaRegistry.start(pool, "a", { everySeconds: 3600, staleSeconds: 5 });
    expect(a.live).toBe(1);
    const changes: number[] = [];
    a.on("change", (n) => changes.push(n));
    const b = await ReplicaRegistry.start(pool, "b", { everySeconds: 3600, staleSeconds: 5 });
    expect(b.live).toBe(2);
    // A replica that died: its last heartbeat, then nothing.
    await pool.query("INSERT INTO replicas (name, seen_at) VALUES ('dead', now())");
    await a.beat();
    expect(a.live).toBe(3);
    // B stops cleanly: gone at once.
    await b.close();
    await a.beat();
    expect(a.live).toBe(2);
    // The dead one goes when its heartbeat is older than staleSeconds.
    for (let i = 0; i < 200 && a.live > 1; i++) {
      await new Promise((r) => setTimeout(r, 100));
      await a.beat();
    }
    expect(a.live).toBe(1);
    expect(changes).toEqual([3, 2, 1]);
    await a.close();
    expect((await pool.query("SELECT name FROM replicas WHERE name = 'a'")).rowCount).toBe(0);
  });
});
