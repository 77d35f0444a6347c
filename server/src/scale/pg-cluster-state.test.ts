/* eslint-disable @typescript-eslint/no-explicit-any -- assertions read deep into Kubernetes JSON */
/**
 * Simulated clusters' state in Postgres: another replica rebuilds a cluster identical to the one that wrote it (every
 * object byte for byte, resourceVersions and uids included); a write through the API is answered only once its commit
 * has returned; a failed commit answers 503, changes nothing and tells no watcher, and costs only its own cluster;
 * writes of many clusters share a commit; compaction keeps the state.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPostgres, type PostgresServer } from "../../../test/helpers/services.ts";
import { rawRequest, type RawResponse } from "../../../test/helpers/https.ts";
import { SimHost } from "../sim/host.ts";
import { createSimCluster, SimCluster } from "../sim/cluster.ts";
import { CorruptStateError } from "../sim/persistence.ts";
import { ApiError, type KubeObject } from "../store/types.ts";
import { VirtualClock } from "../shared/clock.ts";
import { noopLogger } from "../shared/logger.ts";
import { openPg, type PgPool } from "./pg-db.ts";
import { PgClusterState, type PgClusterStateOptions } from "./pg-cluster-state.ts";
import { PgLeases } from "./leases.ts";
import { createSimProvider } from "../providers/sim/provider.ts";

let postgres: PostgresServer;
let dbs = 0;
const cleanups: (() => Promise<unknown> | void)[] = [];
beforeAll(async () => {
  postgres = await startPostgres();
}, 60_000);
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
  postgres?.stop();
});

/** A fresh database and a pool on it (closed after the tests). */
async function database(): Promise<{ url: string; pool: PgPool }> {
  const url = postgres.createDatabase(`cs_${++dbs}`);
  const pool = await openPg(url);
  cleanups.push(() => pool.end());
  return { url, pool };
}

/** A replica's view of the database: its own connections and its own group commit. */
async function replica(url: string, opts: PgClusterStateOptions = {}): Promise<PgClusterState> {
  const state = new PgClusterState(await openPg(url, { max: 4 }), opts, true);
  cleanups.push(() => state.close());
  return state;
}

/**
 * The clusters' clock: it stands still, so controllers that stamp the time (a Deployment's Progressing condition) do
 * the same on a rebuilt cluster as on the original.
 */
const clock = new VirtualClock(Date.UTC(2026, 0, 1));

async function host(state: PgClusterState): Promise<SimHost> {
  const h = await SimHost.start({
    clusterState: state,
    clusterFactory: (spec) => createSimCluster({ ...spec, clock }),
  });
  cleanups.push(() => h.close());
  return h;
}

/** Every object of a cluster, as JSON text keyed by resource and name, for a byte-for-byte comparison. */
function objectsOf(c: SimCluster): Map<string, string> {
  const snap = c.store.snapshot();
  const out = new Map<string, string>();
  for (const [key, items] of Object.entries(snap.objects))
    for (const o of items)
      out.set(`${key} ${o.metadata.namespace ?? ""}/${o.metadata.name}`, JSON.stringify(o));
  return out;
}

const cm = (name: string, data: Record<string, string> = {}): KubeObject => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name },
  data,
});

const deployment = (name: string, replicas: number) => ({
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: { name },
  spec: {
    replicas,
    selector: { matchLabels: { app: name } },
    template: {
      metadata: { labels: { app: name } },
      spec: { containers: [{ name: "c", image: "nginx" }] },
    },
  },
});

/** A client of one cluster on a host, through its HTTPS API. */
function client(h: SimHost, id: string, token: string) {
  const base = `${h.clusterUrl(id)}/`;
  const send = (method: string, path: string, body?: unknown, contentType = "application/json") =>
    rawRequest(base, h.caCert, {
      method,
      path: path.replace(/^\//, ""),
      token,
      ...(body !== undefined ? { body: JSON.stringify(body), headers: { "Content-Type": contentType } } : {}),
    });
  return {
    send,
    async ok(method: string, path: string, body?: unknown, contentType?: string): Promise<any> {
      const r = await send(method, path, body, contentType);
      if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${r.body}`);
      return JSON.parse(r.body);
    },
  };
}

const tokenOf = (kubeconfig: string): string => /token: (\S+)/.exec(kubeconfig)![1]!;

describe("cluster state in Postgres", () => {
  it("rebuilds on another replica a cluster identical to the one that wrote it, without a clean close", async () => {
    const { url } = await database();
    const a = await host(await replica(url));
    const created = await a.createCluster({ id: "alice", seed: 7 });
    const api = client(a, "alice", tokenOf(created.kubeconfig));
    await api.ok("POST", "/api/v1/namespaces", {
      apiVersion: "v1",
      kind: "Namespace",
      metadata: { name: "shop" },
    });
    for (let i = 0; i < 10; i++)
      await api.ok("POST", "/api/v1/namespaces/shop/configmaps", cm(`c${i}`, { i: String(i) }));
    await api.ok("DELETE", "/api/v1/namespaces/shop/configmaps/c3");
    await api.ok(
      "PATCH",
      "/api/v1/namespaces/shop/configmaps/c4",
      { data: { i: "changed" } },
      "application/merge-patch+json",
    );
    await api.ok("POST", "/apis/apps/v1/namespaces/shop/deployments", deployment("web", 2));
    await api.ok(
      "PATCH",
      "/apis/apps/v1/namespaces/shop/deployments/web/scale",
      { spec: { replicas: 3 } },
      "application/merge-patch+json",
    );
    const pods = await api.ok("GET", "/api/v1/namespaces/shop/pods");
    expect(pods.items).toHaveLength(3);

    const alice = a.getCluster("alice") as SimCluster;
    // The controllers may still be settling on a timer: wait until nothing is waiting for a commit.
    await alice.committed();
    const before = objectsOf(alice);
    const rv = alice.store.resourceVersion;

    // No close: replica A "dies" here. Replica B has its own connections and reads what A committed.
    const b = await replica(url);
    const rebuilt = await createSimCluster({ id: "alice", clusterState: b, dataplane: false, clock });
    cleanups.push(() => rebuilt.close());
    expect(rebuilt.seed).toBe(7);
    expect(rebuilt.store.resourceVersion).toBe(rv);
    const after = objectsOf(rebuilt);
    expect([...after.keys()].sort()).toEqual([...before.keys()].sort());
    for (const [k, text] of before) expect(after.get(k), k).toBe(text);
    expect(after.get("core/configmaps shop/c3")).toBeUndefined();
    expect(JSON.parse(after.get("core/configmaps shop/c4")!).data).toEqual({ i: "changed" });
    const uids = [...before.values()].map((t) => (JSON.parse(t) as KubeObject).metadata.uid);
    expect(new Set(uids).size).toBe(uids.length);

    // load() is what a replica taking a cluster over reads: the snapshot and the journal past it.
    const saved = await b.load("alice", noopLogger);
    expect(saved?.state.id).toBe("alice");
    expect(saved!.entries.at(-1)?.rv ?? saved!.state.resourceVersion).toBe(rv);
  });

  it("answers a write only after its commit, and shows no one the change before it", async () => {
    const { url, pool } = await database();
    const a = await host(await replica(url));
    const created = await a.createCluster({ id: "bob" });
    const api = client(a, "bob", tokenOf(created.kubeconfig));
    await api.ok("POST", "/api/v1/namespaces/default/configmaps", cm("first"));
    const bob = a.getCluster("bob") as SimCluster;
    await bob.committed();
    const watched: string[] = [];
    const stop = bob.api.watch(
      bob.api.findType("cm")!,
      { namespace: "default", resourceVersion: String(bob.store.resourceVersion) },
      (e) => watched.push(`${e.type} ${e.object.metadata.name}`),
    );
    cleanups.push(stop);

    // Another session holds the journal table: the commit waits for it.
    const blocker = await pool.connect();
    await blocker.query("BEGIN");
    await blocker.query("LOCK TABLE cluster_journal IN EXCLUSIVE MODE");
    let answered: RawResponse | undefined;
    const post = api.send("POST", "/api/v1/namespaces/default/configmaps", cm("second")).then((r) => {
      answered = r;
      return r;
    });
    let read: RawResponse | undefined;
    const get = (async () => {
      // Wait until the write is in memory, then read it from another request.
      while (!bob.store.get("core/configmaps", "default", "second"))
        await new Promise((r) => setTimeout(r, 5));
      read = await api.send("GET", "/api/v1/namespaces/default/configmaps/second");
      return read;
    })();
    // The commit is waiting for the lock (seen from the database itself).
    for (;;) {
      const waiting = await pool.query(
        "SELECT count(*) AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'INSERT INTO cluster_journal%'",
      );
      if (Number(waiting.rows[0].n) > 0) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    // The request went in and is applied in memory, but nothing has been answered and no watcher saw it.
    await new Promise((r) => setTimeout(r, 100));
    expect(bob.store.get("core/configmaps", "default", "second")).toBeDefined();
    expect(answered).toBeUndefined();
    expect(read).toBeUndefined();
    expect(watched).toEqual([]);
    expect(bob.store.pendingCommits).toBeGreaterThan(0);

    await blocker.query("COMMIT");
    blocker.release();
    expect((await post).status).toBe(201);
    expect((await get).status).toBe(200);
    expect(watched).toEqual(["ADDED second"]);
    const rows = await pool.query("SELECT count(*) AS n FROM cluster_journal WHERE cluster_id = 'bob'");
    expect(Number(rows.rows[0].n)).toBeGreaterThan(0);
  });

  it("answers 503 for a write whose commit fails, undoes it, tells no watcher, and costs no other cluster", async () => {
    const { url, pool } = await database();
    const state = await replica(url);
    const a = await host(state);
    const victim = await a.createCluster({ id: "victim" });
    const bystander = await a.createCluster({ id: "bystander" });
    const v = client(a, "victim", tokenOf(victim.kubeconfig));
    const by = client(a, "bystander", tokenOf(bystander.kubeconfig));
    await v.ok("POST", "/api/v1/namespaces/default/configmaps", cm("kept"));
    const vc = a.getCluster("victim") as SimCluster;
    await vc.committed();
    const rv = vc.store.resourceVersion;
    const watched: string[] = [];
    cleanups.push(
      vc.api.watch(vc.api.findType("cm")!, { namespace: "default", resourceVersion: String(rv) }, (e) =>
        watched.push(`${e.type} ${e.object.metadata.name}`),
      ),
    );
    const undone: string[] = [];
    vc.store.subscribe((c) => undone.push(`${c.type} ${c.object.metadata.name}`));

    // The database refuses the victim's rows (a fault in its own data), not the bystander's.
    await pool.query(
      "ALTER TABLE cluster_journal ADD CONSTRAINT refuse_victim CHECK (cluster_id <> 'victim') NOT VALID",
    );
    const [bad, deploy, good] = await Promise.all([
      v.send("POST", "/api/v1/namespaces/default/configmaps", cm("lost")),
      v.send("POST", "/apis/apps/v1/namespaces/default/deployments", deployment("web", 2)),
      by.send("POST", "/api/v1/namespaces/default/configmaps", cm("fine")),
    ]);
    expect(bad.status).toBe(503);
    expect(JSON.parse(bad.body)).toMatchObject({
      kind: "Status",
      code: 503,
      reason: "ServiceUnavailable",
    });
    expect(JSON.parse(bad.body).message).toMatch(/the database did not save the change.*nothing was changed/);
    expect(deploy.status).toBe(503);
    expect(good.status).toBe(201);
    expect(vc.store.resourceVersion).toBe(rv);
    expect((await v.send("GET", "/api/v1/namespaces/default/configmaps/lost")).status).toBe(404);
    expect(vc.store.list("apps/deployments", "default")).toEqual([]);
    expect(vc.store.list("apps/replicasets", "default")).toEqual([]);
    expect(vc.store.list("core/pods", "default")).toEqual([]);
    expect(watched).toEqual([]);
    // In-process subscribers saw the change and its undo.
    expect(undone).toContain("ADDED lost");
    expect(undone).toContain("DELETED lost");

    // The database takes the victim's rows again: writes work, and what is saved is what was acknowledged.
    await pool.query("ALTER TABLE cluster_journal DROP CONSTRAINT refuse_victim");
    await v.ok("POST", "/api/v1/namespaces/default/configmaps", cm("after"));
    await vc.committed();
    const other = await replica(url);
    const rebuilt = await createSimCluster({ id: "victim", clusterState: other, dataplane: false, clock });
    cleanups.push(() => rebuilt.close());
    expect(objectsOf(rebuilt)).toEqual(objectsOf(vc));
    const names = rebuilt.store.list("core/configmaps", "default").map((o) => o.metadata.name);
    expect(names).toContain("kept");
    expect(names).toContain("after");
    expect(names).not.toContain("lost");
    expect(state.stats.failures).toBeGreaterThan(0);
  });

  it("answers 503 when the database does not commit in time, and the write is not committed later", async () => {
    const { url, pool } = await database();
    const state = new PgClusterState(await openPg(url, { max: 4 }), { timeoutMs: 300 }, true);
    cleanups.push(() => state.close());
    const a = await host(state);
    const created = await a.createCluster({ id: "slow" });
    const api = client(a, "slow", tokenOf(created.kubeconfig));
    const slow = a.getCluster("slow") as SimCluster;
    await slow.committed();
    const rv = slow.store.resourceVersion;
    const blocker = await pool.connect();
    await blocker.query("BEGIN");
    await blocker.query("LOCK TABLE cluster_journal IN EXCLUSIVE MODE");
    const r = await api.send("POST", "/api/v1/namespaces/default/configmaps", cm("stuck"));
    await blocker.query("COMMIT");
    blocker.release();
    expect(r.status).toBe(503);
    expect(JSON.parse(r.body).message).toMatch(/statement timeout/);
    expect(slow.store.resourceVersion).toBe(rv);
    expect(slow.store.get("core/configmaps", "default", "stuck")).toBeUndefined();
    await api.ok("POST", "/api/v1/namespaces/default/configmaps", cm("next"));
    const saved = await (await replica(url)).load("slow", noopLogger);
    const names = [
      ...Object.values(saved!.state.objects).flat(),
      ...saved!.entries.flatMap((e) => e.changes.map((c) => c.object)),
    ].map((o) => o.metadata.name);
    expect(names).toContain("next");
    expect(names).not.toContain("stuck");
  });

  it("commits the writes of many clusters together, compacts, and forgets a deleted cluster", async () => {
    const { url, pool } = await database();
    const state = await replica(url);
    const clusters: SimCluster[] = [];
    for (let i = 0; i < 20; i++) {
      const c = await createSimCluster({
        id: `c${i}`,
        clusterState: state,
        dataplane: false,
        compactBytes: 4096,
        clock,
      });
      cleanups.push(() => c.close());
      clusters.push(c);
    }
    await state.idle();
    const before = { ...state.stats };
    // One write in each of 20 clusters in the same turn of the event loop: one commit.
    for (const c of clusters) c.api.create(c.api.findType("cm")!, "default", cm("together"));
    await Promise.all(clusters.map((c) => c.committed()));
    expect(state.stats.appends - before.appends).toBe(20);
    expect(state.stats.commits - before.commits).toBe(1);
    expect(state.stats.largest).toBeGreaterThanOrEqual(20);

    // Past compactBytes the snapshot is replaced and the journal rows it covers are gone.
    const c0 = clusters[0]!;
    for (let i = 0; i < 40; i++)
      c0.api.create(c0.api.findType("cm")!, "default", cm(`bulk-${i}`, { v: "x".repeat(200) }));
    await c0.committed();
    await new Promise((r) => setImmediate(r));
    await state.idle();
    const snap = await pool.query("SELECT resource_version FROM cluster_snapshots WHERE cluster_id = 'c0'");
    const journal = await pool.query("SELECT count(*) AS n FROM cluster_journal WHERE cluster_id = 'c0'");
    expect(Number(snap.rows[0].resource_version)).toBeGreaterThan(1);
    expect(Number(journal.rows[0].n)).toBeLessThan(40);
    const other = await replica(url);
    const rebuilt = await createSimCluster({ id: "c0", clusterState: other, dataplane: false, clock });
    cleanups.push(() => rebuilt.close());
    expect(objectsOf(rebuilt)).toEqual(objectsOf(c0));

    await state.delete("c1");
    expect(await other.load("c1", noopLogger)).toBeUndefined();
    const rows = await pool.query("SELECT count(*) AS n FROM cluster_journal WHERE cluster_id = 'c1'");
    expect(Number(rows.rows[0].n)).toBe(0);
  });

  it("keeps the dataplane's state, and reports a damaged snapshot instead of building from it", async () => {
    const { url, pool } = await database();
    const state = await replica(url);
    const a = await createSimCluster({ id: "dp", clusterState: state, clock });
    a.dataplane.rotate({ domain: "api.stripe.com" });
    await a.close();
    const other = await replica(url);
    const saved = await other.load("dp", noopLogger);
    expect(saved?.dataplane?.internet.rotations).toEqual({ "api.stripe.com": 1 });
    const b = await createSimCluster({ id: "dp", clusterState: other, clock });
    const again = b.dataplane.rotate({ domain: "api.stripe.com" }) as { ips: string[] };
    await b.close();
    expect((await other.load("dp", noopLogger))?.dataplane?.internet.rotations).toEqual({
      "api.stripe.com": 2,
    });
    expect(again.ips.length).toBeGreaterThan(0);

    await pool.query("UPDATE cluster_snapshots SET state = '{\"version\": 1' WHERE cluster_id = 'dp'");
    await expect(other.load("dp", noopLogger)).rejects.toBeInstanceOf(CorruptStateError);
    await expect(
      createSimCluster({ id: "dp", clusterState: await replica(url), dataplane: false }),
    ).rejects.toBeInstanceOf(CorruptStateError);
  });

  it("writes nothing more for a cluster another replica took over (close without saving)", async () => {
    const { url, pool } = await database();
    const state = await replica(url);
    const c = await createSimCluster({ id: "moved", clusterState: state, dataplane: false, clock });
    c.api.create(c.api.findType("cm")!, "default", cm("committed"));
    await c.committed();
    const rows = async () =>
      (await pool.query("SELECT resource_version, changes FROM cluster_journal WHERE cluster_id = 'moved'"))
        .rows;
    const snapshot = async () =>
      (await pool.query("SELECT resource_version, state FROM cluster_snapshots WHERE cluster_id = 'moved'"))
        .rows;
    const [journalBefore, snapshotBefore] = [await rows(), await snapshot()];
    // A write queued for the next commit, then the lease is gone: it is dropped and its caller told.
    c.api.create(c.api.findType("cm")!, "default", cm("late"));
    const late = c.committed();
    await c.close({ save: false });
    await expect(late).rejects.toMatchObject({ code: 503 });
    await state.idle();
    expect(await rows()).toEqual(journalBefore);
    expect(await snapshot()).toEqual(snapshotBefore);
    const names = (await (await replica(url)).load("moved", noopLogger))!.entries.flatMap((e) =>
      e.changes.map((ch) => ch.object.metadata.name),
    );
    expect(names).toContain("committed");
    expect(names).not.toContain("late");
  });

  it("is where the sim provider keeps its clusters with a database: another replica's provider brings one back", async () => {
    const { url, pool } = await database();
    const first = await createSimProvider({ hostOptions: { database: url } });
    const conn = await first.acquire({ id: "learner-1", seed: 3 });
    const host = first.simHost as SimHost;
    const c = host.getCluster("learner-1") as SimCluster;
    const api = client(host, "learner-1", tokenOf(conn.kubeconfig));
    await api.ok("POST", "/api/v1/namespaces/default/configmaps", cm("mine", { k: "v" }));
    const rows = await pool.query(
      "SELECT count(*) AS n FROM cluster_snapshots WHERE cluster_id = 'learner-1'",
    );
    expect(Number(rows.rows[0].n)).toBe(1);
    const objects = objectsOf(c);
    // The replica goes away without releasing the cluster; another one's provider acquires the same attendee.
    await host.unloadCluster("learner-1", { save: false });
    await first.close();
    const second = await createSimProvider({ hostOptions: { database: url } });
    cleanups.push(() => second.close());
    await second.acquire({ id: "learner-1", seed: 3 });
    const back = (second.simHost as SimHost).getCluster("learner-1") as SimCluster;
    expect(back.store.get("core/configmaps", "default", "mine")?.data).toEqual({ k: "v" });
    const mine = objects.get("core/configmaps default/mine");
    expect(objectsOf(back).get("core/configmaps default/mine")).toBe(mine);
    // Released for good: the state is gone from the database.
    await second.release("learner-1");
    const left = await pool.query(
      "SELECT (SELECT count(*) FROM cluster_snapshots WHERE cluster_id = 'learner-1') + (SELECT count(*) FROM cluster_journal WHERE cluster_id = 'learner-1') AS n",
    );
    expect(Number(left.rows[0].n)).toBe(0);
  });

  it("refuses writes after the cluster closed", async () => {
    const { url } = await database();
    const state = await replica(url);
    const c = await createSimCluster({ id: "closing", clusterState: state, dataplane: false });
    const writer = (c.store as any).journal;
    await c.close();
    expect(() => writer.append([], 99)).toThrow(ApiError);
  });
});

describe("fencing: a cluster's state is written only by the replica holding its lease", () => {
  /** A replica: its leases (renewed too rarely to matter here) and its cluster state, fenced by its name. */
  async function fencedReplica(url: string, name: string) {
    const pool = await openPg(url, { max: 2 });
    const leases = new PgLeases({ pool, replica: name, address: `http://${name}.test`, ttlMs: 600_000 });
    const state = await replica(url, { replica: name });
    cleanups.push(async () => {
      await leases.close().catch(() => undefined);
      await pool.end();
    });
    return { leases, state };
  }
  /** The lease runs out in the database (its holder paused, or its renewals failed), without the holder knowing. */
  const expire = (pool: PgPool, id: string) =>
    pool.query("UPDATE leases SET expires_at = now() - interval '1 second' WHERE cluster_id = $1", [id]);
  const journalNames = async (pool: PgPool, id: string): Promise<string[]> =>
    (
      await pool.query<{ changes: string }>("SELECT changes FROM cluster_journal WHERE cluster_id = $1", [id])
    ).rows.map((r) => r.changes);
  const names = (c: SimCluster) => c.store.list("core/configmaps", "default").map((o) => o.metadata.name);

  it("answers 503 to the old holder's write once another replica took the cluster over, and saves none of it", async () => {
    const { url, pool } = await database();
    const a = await fencedReplica(url, "replica-a");
    const b = await fencedReplica(url, "replica-b");
    await a.leases.acquire("moving");
    const ha = await host(a.state);
    const created = await ha.createCluster({ id: "moving" });
    const api = client(ha, "moving", tokenOf(created.kubeconfig));
    await api.ok("POST", "/api/v1/namespaces/default/configmaps", cm("by-a"));
    const ac = ha.getCluster("moving") as SimCluster;
    const rvBefore = ac.store.resourceVersion;
    // What the server does with the sim provider: a refused write renews the leases, which finds this one lost.
    const provider = await createSimProvider({ host: ha });
    const movedIds: string[] = [];
    const lost: string[] = [];
    provider.onMoved((id) => {
      movedIds.push(id);
      void a.leases.renew();
    });
    a.leases.on("lost", (id) => lost.push(id));

    // A's lease runs out unnoticed; B takes the cluster over and rebuilds it.
    await expire(pool, "moving");
    expect(await b.leases.acquire("moving")).toEqual({ takenFrom: "replica-a" });
    const bc = await createSimCluster({ id: "moving", clusterState: b.state, dataplane: false, clock });
    cleanups.push(() => bc.close());
    expect(names(bc)).toContain("by-a");

    // A still serves the cluster and its commit connection works: the write is refused and undone.
    const late = await api.send("POST", "/api/v1/namespaces/default/configmaps", cm("late-by-a"));
    expect(late.status).toBe(503);
    expect(JSON.parse(late.body)).toMatchObject({ kind: "Status", code: 503, reason: "ServiceUnavailable" });
    expect(JSON.parse(late.body).message).toMatch(/moved to another replica.*nothing was changed/);
    expect(ac.store.resourceVersion).toBe(rvBefore);
    expect(names(ac)).not.toContain("late-by-a");
    expect(movedIds).toEqual(["moving"]);
    await a.leases.renew();
    expect(lost).toEqual(["moving"]);
    expect(a.leases.holds("moving")).toBe(false);
    // A writes nothing more for it, not even its snapshot on close.
    const again = await api.send("POST", "/api/v1/namespaces/default/configmaps", cm("later-by-a"));
    expect(again.status).toBe(503);
    expect(JSON.parse(again.body).message).toMatch(/moved to another replica/);
    const snapshotBefore = (await pool.query("SELECT * FROM cluster_snapshots WHERE cluster_id = 'moving'"))
      .rows;

    // B's writes succeed, at the resourceVersions A would have collided with.
    bc.api.create(bc.api.findType("cm")!, "default", cm("by-b"));
    await bc.committed();
    bc.api.create(bc.api.findType("cm")!, "default", cm("by-b-2"));
    await bc.committed();
    await ha.unloadCluster("moving", { save: true }).catch(() => undefined);
    await a.state.idle();
    expect((await pool.query("SELECT * FROM cluster_snapshots WHERE cluster_id = 'moving'")).rows).toEqual(
      snapshotBefore,
    );
    const journal = (await journalNames(pool, "moving")).join("\n");
    expect(journal).not.toContain("late-by-a");
    expect(journal).not.toContain("later-by-a");
    expect(journal).toContain("by-b-2");
    const rebuilt = await (await replica(url)).load("moving", noopLogger);
    const saved = rebuilt!.entries.flatMap((e) => e.changes.map((ch) => ch.object.metadata.name));
    expect(saved).toEqual(expect.arrayContaining(["by-b", "by-b-2"]));
    expect(saved).not.toContain("late-by-a");
  });

  it("commits the healthy clusters of a commit that carries a fenced-off one", async () => {
    const { url, pool } = await database();
    const a = await fencedReplica(url, "replica-a");
    const b = await fencedReplica(url, "replica-b");
    for (const id of ["fenced-appends", "fenced-snapshot", "healthy"]) await a.leases.acquire(id);
    const open = async (id: string) => {
      const c = await createSimCluster({ id, clusterState: a.state, dataplane: false, clock });
      cleanups.push(() => c.close({ save: false }));
      c.api.create(c.api.findType("cm")!, "default", cm(`${id}-first`));
      await c.committed();
      return c;
    };
    const fencedOnes = { appends: await open("fenced-appends"), snapshot: await open("fenced-snapshot") };
    const healthy = await open("healthy");
    // A warm cluster no one was given yet has no lease: written as before.
    const unleased = await open("unleased");
    for (const id of ["fenced-appends", "fenced-snapshot"]) {
      await expire(pool, id);
      await b.leases.acquire(id);
    }

    // Journal rows only (one statement), then with a snapshot (a transaction): the same commit each time.
    for (const round of ["appends", "snapshot"] as const) {
      const fenced = fencedOnes[round];
      const commitsBefore = a.state.stats.commits;
      for (const c of [fenced, healthy, unleased])
        c.api.create(c.api.findType("cm")!, "default", cm(`${c.id}-${round}`));
      if (round === "snapshot") void ((healthy.store as any).journal.compact() as Promise<boolean>);
      const [f, h, u] = await Promise.allSettled([fenced, healthy, unleased].map((c) => c.committed()));
      expect(a.state.stats.commits - commitsBefore).toBe(1);
      expect(f).toMatchObject({ status: "rejected", reason: { code: 503 } });
      expect((f as PromiseRejectedResult).reason.message).toMatch(/moved to another replica/);
      expect(h?.status).toBe("fulfilled");
      expect(u?.status).toBe("fulfilled");
      expect(names(fenced), round).not.toContain(`${fenced.id}-${round}`);
      expect(names(fenced)).toContain(`${fenced.id}-first`);
    }
    await a.state.idle();
    for (const id of ["fenced-appends", "fenced-snapshot"])
      expect((await journalNames(pool, id)).join("\n")).not.toContain(`${id}-${id.split("-")[1]}`);
    const other = await replica(url);
    const saved = async (id: string) => {
      const s = (await other.load(id, noopLogger))!;
      return [
        ...s.state.objects["core/configmaps"]!.map((o) => o.metadata.name),
        ...s.entries.flatMap((e) => e.changes.map((ch) => ch.object.metadata.name)),
      ];
    };
    expect(await saved("healthy")).toEqual(
      expect.arrayContaining(["healthy-first", "healthy-appends", "healthy-snapshot"]),
    );
    expect(await saved("unleased")).toEqual(
      expect.arrayContaining(["unleased-appends", "unleased-snapshot"]),
    );
    expect(await saved("fenced-appends")).not.toContain("fenced-appends-appends");
    expect(await saved("fenced-snapshot")).not.toContain("fenced-snapshot-snapshot");
  });

  it("refuses a commit that meets a takeover in flight: it waits for the takeover's transaction, then sees it", async () => {
    const { url, pool } = await database();
    const a = await fencedReplica(url, "replica-a");
    await a.leases.acquire("race");
    const c = await createSimCluster({ id: "race", clusterState: a.state, dataplane: false, clock });
    cleanups.push(() => c.close({ save: false }));
    c.api.create(c.api.findType("cm")!, "default", cm("before"));
    await c.committed();
    // Another replica's takeover, not committed yet (the lease ran out, as far as the database is concerned).
    const takeover = await pool.connect();
    try {
      await takeover.query("BEGIN");
      await takeover.query(
        `UPDATE leases SET replica = 'replica-b', generation = nextval('lease_generation'),
           expires_at = now() + interval '1 minute' WHERE cluster_id = 'race'`,
      );
      c.api.create(c.api.findType("cm")!, "default", cm("racing"));
      const racing = c.committed();
      racing.catch(() => undefined);
      // A's commit is under way and waits for the lease row (without the lock it would read the old row and commit).
      for (let waited = 0; ; waited += 20) {
        const w = await pool.query(
          "SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%cluster_journal%'",
        );
        if (w.rows[0].n > 0) break;
        if (waited > 20_000) throw new Error("the commit never waited for the lease row");
        await new Promise((r) => setTimeout(r, 20));
      }
      await takeover.query("COMMIT");
      await expect(racing).rejects.toMatchObject({ code: 503 });
    } finally {
      takeover.release();
    }
    await a.state.idle();
    const joined = (await journalNames(pool, "race")).join("\n");
    expect(joined).toContain("before");
    expect(joined).not.toContain("racing");
  });

  it("fences by the lease's generation: a replica that lost a cluster and took it back later does not write with the old writer", async () => {
    const { url, pool } = await database();
    const a = await fencedReplica(url, "replica-a");
    const b = await fencedReplica(url, "replica-b");
    await a.leases.acquire("aba");
    const old = await createSimCluster({ id: "aba", clusterState: a.state, dataplane: false, clock });
    cleanups.push(() => old.close({ save: false }));
    old.api.create(old.api.findType("cm")!, "default", cm("first"));
    await old.committed();
    // B takes it over and gives it up (expired), then A takes it back: the row names A again.
    await expire(pool, "aba");
    await b.leases.acquire("aba");
    await expire(pool, "aba");
    expect(await a.leases.acquire("aba")).toEqual({ takenFrom: "replica-b" });
    old.api.create(old.api.findType("cm")!, "default", cm("stale"));
    await expect(old.committed()).rejects.toMatchObject({ code: 503 });
    // A writer opened for the new holding (after loading the shared state) writes.
    await a.state.idle();
    const fresh = await createSimCluster({ id: "aba", clusterState: a.state, dataplane: false, clock });
    cleanups.push(() => fresh.close({ save: false }));
    fresh.api.create(fresh.api.findType("cm")!, "default", cm("current"));
    await fresh.committed();
    const joined = (await journalNames(pool, "aba")).join("\n");
    expect(joined).toContain("current");
    expect(joined).not.toContain("stale");
  });
});
