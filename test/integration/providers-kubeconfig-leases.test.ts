/**
 * The kubeconfig pool's leases in a shared Postgres: providers of several replicas claiming at once never share a
 * cluster; an attendee who moves to another replica keeps theirs; a dead replica's leases are reclaimed after they
 * expire, a live one's never.
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  createKubeconfigProvider,
  type KubeconfigProvider,
} from "../../server/src/providers/kubeconfig/provider.ts";
import { startPostgres, type PostgresServer } from "../helpers/services.ts";

let postgres: PostgresServer;
let dbs = 0;
let dir: string;
const open: KubeconfigProvider[] = [];

const kubeconfig = (name: string): string => `apiVersion: v1
kind: Config
clusters: [{name: ${name}, cluster: {server: "https://${name}.example:6443"}}]
users: [{name: ${name}-admin, user: {token: token-${name}}}]
contexts: [{name: ${name}, context: {cluster: ${name}, user: ${name}-admin}}]
current-context: ${name}
`;

beforeAll(async () => {
  postgres = await startPostgres();
  dir = await mkdtemp(path.join(os.tmpdir(), "egresslab-pgpool-"));
  await mkdir(path.join(dir, "pool"));
  for (let i = 1; i <= 4; i++) await writeFile(path.join(dir, "pool", `c${i}.yaml`), kubeconfig(`c${i}`));
}, 60_000);
afterEach(async () => {
  for (const p of open.splice(0)) await p.close().catch(() => undefined);
});
afterAll(async () => {
  postgres?.stop();
  await rm(dir, { recursive: true, force: true });
});

async function replica(database: string, name: string, leaseSeconds = 60): Promise<KubeconfigProvider> {
  const p = await createKubeconfigProvider({
    dir: path.join(dir, "pool"),
    dataDir: path.join(dir, `data-${name}`),
    database,
    replica: name,
    leaseSeconds,
  });
  open.push(p);
  return p;
}

const server = (kubeconfigText: string): string => /server: (\S+)/.exec(kubeconfigText)![1]!;

describe("kubeconfig pool leases in Postgres", () => {
  it("never hands one cluster to two attendees, whichever replicas they claim it on at once", async () => {
    const db = postgres.createDatabase(`kc_${++dbs}`);
    const [a, b, c] = [await replica(db, "a"), await replica(db, "b"), await replica(db, "c")];
    for (let round = 0; round < 5; round++) {
      const ids = Array.from({ length: 9 }, (_, i) => `r${round}-${i}`);
      const results = await Promise.allSettled(ids.map((id, i) => [a, b, c][i % 3]!.acquire({ id })));
      const got = results.filter((r) => r.status === "fulfilled").map((r) => server(r.value.kubeconfig));
      expect(got.sort()).toEqual([1, 2, 3, 4].map((i) => `https://c${i}.example:6443`));
      const refused = results.filter((r) => r.status === "rejected");
      expect(refused).toHaveLength(5);
      for (const r of refused)
        expect(String(r.reason)).toMatch(/all 4 clusters in the kubeconfig pool are leased/);
      // Every replica sees the same leases.
      const listed = (await b.list()).map((s) => s.detail.replace(/ since .*/, ""));
      expect((await a.list()).map((s) => s.detail.replace(/ since .*/, ""))).toEqual(listed);
      expect(listed.filter((d) => d.includes("leased to"))).toHaveLength(4);
      // Released on any replica, free for all.
      for (const [i, r] of results.entries())
        if (r.status === "fulfilled") await [c, a, b][i % 3]!.release(ids[i]!);
      expect((await c.list()).every((s) => s.detail.endsWith(": free"))).toBe(true);
    }
  });

  it("lets an attendee take their cluster to another replica, and reclaims a dead replica's leases after they expire", async () => {
    const db = postgres.createDatabase(`kc_${++dbs}`);
    const dead = await replica(db, "dead", 1);
    const live = await replica(db, "live", 3);
    const other = await replica(db, "other", 3);
    const alice = await dead.acquire({ id: "alice" });
    const bob = await dead.acquire({ id: "bob" });
    const carol = await live.acquire({ id: "carol" });
    await live.acquire({ id: "dave" });
    // Bob reconnects to another replica: his cluster comes with him, and that replica renews it from now on.
    expect(await other.acquire({ id: "bob" })).toEqual(bob);
    // The dead replica stops renewing (its leases stay in the table).
    await dead.close();
    expect(await other.acquire({ id: "erin" }).catch((e: Error) => e.message)).toMatch(
      /all 4 clusters in the kubeconfig pool are leased/,
    );
    // Polled: the dead replica's leases expire a second after its last renewal.
    let erin: Awaited<ReturnType<KubeconfigProvider["acquire"]>> | undefined;
    for (let tries = 0; !erin && tries < 100; tries++) {
      erin = await other.acquire({ id: "erin" }).catch(() => undefined);
      if (!erin) await new Promise((r) => setTimeout(r, 200));
    }
    if (!erin) throw new Error("the dead replica's lease was never reclaimed");
    // Erin gets alice's cluster (expired, nobody came back for it): never bob's (moved), carol's or dave's (live).
    expect(server(erin.kubeconfig)).toBe(server(alice.kubeconfig));
    expect(server(erin.kubeconfig)).not.toBe(server(carol.kubeconfig));
    await new Promise((r) => setTimeout(r, 3500));
    expect(await other.acquire({ id: "frank" }).catch((e: Error) => e.message)).toMatch(
      /all 4 clusters in the kubeconfig pool are leased/,
    );
    const leased = (await live.list()).map((s) => s.id).sort();
    expect(leased).toEqual(["bob", "carol", "dave", "erin"]);
    expect(await live.acquire({ id: "carol" })).toEqual(carol);
  });

  it("refuses a database that is not Postgres", async () => {
    await expect(
      createKubeconfigProvider({ dir: path.join(dir, "pool"), dataDir: dir, database: "mysql://x" }),
    ).rejects.toThrow(/expects a postgres:\/\/ URL/);
  });
});
