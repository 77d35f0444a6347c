/* eslint-disable @typescript-eslint/no-explicit-any -- assertions read deep into Kubernetes JSON */
/**
 * Container logs when another replica takes a cluster over from one that died (no clean close): the logs saved when
 * the last run ended are in the shared Postgres state, and the rebuilt cluster shows the same current and previous
 * runs, byte for byte, timestamps included.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPostgres, type PostgresServer } from "../../../../test/helpers/services.ts";
import { openPg } from "../../scale/pg-db.ts";
import { PgClusterState } from "../../scale/pg-cluster-state.ts";
import { VirtualClock } from "../../shared/clock.ts";
import { noopLogger } from "../../shared/logger.ts";
import { createSimCluster, type SimCluster } from "../cluster.ts";
import type { LogOptions } from "../types.ts";

let postgres: PostgresServer;
const cleanups: (() => Promise<unknown> | void)[] = [];
beforeAll(async () => {
  postgres = await startPostgres();
}, 60_000);
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
  postgres?.stop();
});

const replica = async (url: string): Promise<PgClusterState> => {
  const state = new PgClusterState(await openPg(url, { max: 4 }), {}, true);
  cleanups.push(() => state.close());
  return state;
};
const settled = async () => {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
};
const logs = (c: SimCluster, opts: LogOptions) => c.runtime.logs("default", "crash", opts);

describe("container logs on another replica", () => {
  it("are rebuilt byte for byte from what the dead replica saved when the run ended", async () => {
    const url = postgres.createDatabase("logs_takeover");
    const clock = new VirtualClock(Date.UTC(2026, 0, 1));
    const a = await createSimCluster({ id: "crashy", clusterState: await replica(url), clock, seed: 3 });
    cleanups.push(() => a.close({ save: false }));
    a.api.create(a.api.findType("pods")!, "default", {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "crash" },
      spec: {
        containers: [
          {
            name: "crash",
            image: "busybox",
            command: ["sh", "-c", 'echo "start $(date)"; sleep 30; echo "fail $(date)" >&2; exit 1'],
          },
        ],
      },
    });
    await settled();
    for (let s = 0; s < 40; s++) {
      await clock.advance(1000);
      await settled();
    }
    const status = (c: SimCluster) =>
      (c.api.get(c.api.findType("pods")!, "default", "crash").status as any).containerStatuses[0];
    expect(status(a)).toMatchObject({ restartCount: 1, state: { running: {} } });
    const current = logs(a, { timestamps: true });
    const previous = logs(a, { previous: true, timestamps: true });
    expect(previous).toContain("fail Thu Jan  1 00:00:30 UTC 2026");

    // Replica A dies here, without closing. What it saved when the run ended is what B finds.
    const b = await replica(url);
    for (let i = 0; i < 100; i++) {
      const saved = await b.load("crashy", noopLogger);
      if (JSON.stringify(saved?.dataplane?.logs ?? []).includes("fail Thu Jan  1 00:00:30")) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    await a.close({ save: false });
    const rebuilt = await createSimCluster({ id: "crashy", clusterState: b, clock });
    cleanups.push(() => rebuilt.close());
    await settled();
    expect(status(rebuilt)).toMatchObject({ restartCount: 1, state: { running: {} } });
    expect(logs(rebuilt, { previous: true, timestamps: true })).toBe(previous);
    expect(logs(rebuilt, { timestamps: true })).toBe(current);
  });
});
