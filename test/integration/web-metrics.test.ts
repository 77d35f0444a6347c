/**
 * `/metrics` (Prometheus text format) counts what attendees did, only for a scraper with the metrics token;
 * `/readyz` fails while the data directory or the pool's provider fails; `/livez` holds.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { startWorkshopServer, type WorkshopServer } from "../../server/src/http/server.ts";
import { StorageHealth } from "../../server/src/shared/storage.ts";
import type { AcquireOptions, ClusterConnection } from "../../server/src/providers/provider.ts";
import { FakeProvider, fakeLab } from "./web-doubles.ts";
import { Learner, connected, type TestSocket } from "./web-client.ts";

const TOKEN = "scrape-me-0123456789";
let server: WorkshopServer;
let provider: FakeProvider;
let storage: StorageHealth;
let dataDir: string;
const sockets: TestSocket[] = [];

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(tmpdir(), "egl-metrics-"));
  provider = new FakeProvider();
  storage = new StorageHealth();
  server = await startWorkshopServer({
    port: 0,
    host: "127.0.0.1",
    dataDir,
    provider,
    lab: fakeLab(provider),
    loadLab: async () => fakeLab(provider),
    local: false,
    shellMode: "local",
    idleTimeoutSeconds: 600,
    pool: 0,
    instructorToken: "teach",
    metricsToken: TOKEN,
    storage,
    buildWeb: false,
  });
});

afterAll(async () => {
  for (const s of sockets) s.close();
  await server?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

const scrape = async (auth = `Bearer ${TOKEN}`) => {
  const r = await fetch(`${server.url}/metrics`, { headers: { Authorization: auth } });
  return { status: r.status, type: r.headers.get("content-type"), text: await r.text() };
};

/** The value of one sample line, e.g. `egresslab_checks_total{result="passed"}`. */
function sample(text: string, series: string): number {
  const line = text.split("\n").find((l) => l.startsWith(series + " "));
  if (!line) throw new Error(`no ${series} in:\n${text}`);
  return Number(line.slice(series.length + 1));
}

async function until(test: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (await test()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe("/metrics", () => {
  it("refuses a scraper without the token, or with another, and never leaks a sample", async () => {
    for (const auth of ["", "Bearer nope", `Basic ${TOKEN}`, `Bearer ${TOKEN}x`, `Bearer  ${TOKEN}`]) {
      const r = await scrape(auth);
      expect(r.status, auth).toBe(401);
      expect(r.text).not.toContain("egresslab_");
    }
  });

  it("counts joins and checks by result, check latency, active attendees and open terminals", async () => {
    const before = await scrape();
    expect(before.status).toBe(200);
    expect(before.type).toContain("text/plain");
    expect(sample(before.text, 'egresslab_joins_total{result="joined"}')).toBe(0);
    expect(sample(before.text, 'egresslab_checks_total{result="passed"}')).toBe(0);
    // Node's own metrics, the event-loop delay among them.
    expect(before.text).toMatch(/^nodejs_eventloop_lag_p99_seconds \d/m);
    expect(before.text).toMatch(/^# TYPE egresslab_check_duration_seconds histogram$/m);

    const ada = new Learner(server.url);
    await ada.join("Ada");
    const refused = await new Learner(server.url).call("POST", "/api/join", { name: "<script>" });
    expect(refused.status).toBe(400);
    const s = ada.socket();
    sockets.push(s);
    await connected(s);

    const wrong = await ada.call("POST", "/api/stages/0/check", { answers: { compromised: "no/such" } });
    expect(wrong.status).toBe(200);
    expect(wrong.json.passed).toBe(false);
    for (const c of provider.clusters.values()) c.solved = true;
    const right = await ada.call("POST", "/api/stages/1/check", {});
    expect(right.status).toBe(200);
    expect(right.json.passed).toBe(true);

    const after = await scrape();
    expect(sample(after.text, 'egresslab_joins_total{result="joined"}')).toBe(1);
    expect(sample(after.text, 'egresslab_joins_total{result="refused"}')).toBe(1);
    expect(sample(after.text, 'egresslab_checks_total{result="failed"}')).toBe(1);
    expect(sample(after.text, 'egresslab_checks_total{result="passed"}')).toBe(1);
    expect(sample(after.text, 'egresslab_check_duration_seconds_count{result="failed"}')).toBe(1);
    expect(sample(after.text, 'egresslab_check_duration_seconds_bucket{le="+Inf",result="failed"}')).toBe(1);
    await until(
      async () => sample((await scrape()).text, "egresslab_attendees_active") === 1,
      "one attendee",
    );
    expect(sample(after.text, "egresslab_terminals_open")).toBe(server.terminals.size);
    expect(sample(after.text, "egresslab_pool_ready_clusters")).toBe(0);

    s.close();
    await until(async () => sample((await scrape()).text, "egresslab_attendees_active") === 0, "no attendee");
  });
});

describe("/metrics across workshops", () => {
  it("counts the joins of a workshop created while the server runs", async () => {
    const auth = { Authorization: `Bearer ${server.instructorToken}` };
    const owner = new Learner(server.url);
    const made = await owner.call(
      "POST",
      "/api/instructor/workshops",
      { title: "Second", lab: "test-lab", joinCode: "second-code", capacity: 5 },
      auth,
    );
    expect(made.status).toBe(201);
    const id = made.json.workshop.id as string;
    expect((await owner.call("POST", `/api/instructor/workshops/${id}/open`, undefined, auth)).status).toBe(
      200,
    );
    const before = sample((await scrape()).text, 'egresslab_joins_total{result="joined"}');
    await new Learner(server.url).join("Cy", "second-code");
    expect(sample((await scrape()).text, 'egresslab_joins_total{result="joined"}')).toBe(before + 1);
  });
});

describe("/readyz and /livez", () => {
  it("are ok on a healthy server, with the checks listed on ?verbose", async () => {
    const r = await fetch(`${server.url}/readyz`);
    expect(r.status).toBe(200);
    expect(await r.text()).toBe("ok");
    const v = await (await fetch(`${server.url}/readyz?verbose`)).text();
    expect(v).toContain("[+]database ok");
    expect(v).toContain("[+]pool ok");
    expect(v).toContain("[+]storage ok");
    expect(v).toMatch(/readyz check passed\n$/);
    expect(await (await fetch(`${server.url}/livez`)).text()).toBe("ok");
  });

  it("takes the replica out of the load balancer while its data directory fails, and back when it recovers", async () => {
    storage.failed(Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" }));
    const r = await fetch(`${server.url}/readyz`);
    expect(r.status).toBe(503);
    const body = await r.text();
    expect(body).toContain("[-]storage failed: the server's disk is full");
    expect(body).toContain("[+]database ok");
    expect(body).toMatch(/readyz check failed\n$/);
    // Liveness does not follow: a restart would not free the disk.
    expect((await fetch(`${server.url}/livez`)).status).toBe(200);
    storage.succeeded();
    expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
  });

  it("fails while the pool is empty and its provider cannot make clusters", async () => {
    class Broken extends FakeProvider {
      broken = true;
      override acquire(opts: AcquireOptions): Promise<ClusterConnection> {
        return this.broken ? Promise.reject(new Error("out of clusters")) : super.acquire(opts);
      }
    }
    const broken = new Broken();
    const dir = mkdtempSync(path.join(tmpdir(), "egl-metrics-pool-"));
    const s = await startWorkshopServer({
      port: 0,
      host: "127.0.0.1",
      dataDir: dir,
      provider: broken,
      lab: fakeLab(broken),
      local: false,
      shellMode: "local",
      idleTimeoutSeconds: 600,
      pool: 1,
      storage: new StorageHealth(),
      buildWeb: false,
    });
    try {
      let body = "";
      await until(async () => {
        const r = await fetch(`${s.url}/readyz`);
        body = await r.text();
        return r.status === 503;
      }, "readyz to fail");
      expect(body).toContain("[-]pool failed: cannot make clusters: out of clusters");
      // No metrics token: no /metrics at all.
      expect((await fetch(`${s.url}/metrics`)).status).toBe(404);
    } finally {
      await s.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("the server's storage monitor", () => {
  it("lets go of a workshop once it has ended (ended workshops are not kept alive by it)", async () => {
    const owner = new Learner(server.url);
    const auth = { Authorization: "Bearer teach" };
    const before = storage.listenerCount("recovered") + storage.listenerCount("problem");
    const ids: string[] = [];
    for (const code of ["storage-a", "storage-b", "storage-c"]) {
      const made = await owner.call(
        "POST",
        "/api/instructor/workshops",
        { title: code, lab: "test-lab", joinCode: code, capacity: 2 },
        auth,
      );
      expect(made.status).toBe(201);
      ids.push(made.json.workshop.id as string);
      expect(
        (await owner.call("POST", `/api/instructor/workshops/${ids.at(-1)}/open`, {}, auth)).status,
      ).toBe(200);
    }
    const open = storage.listenerCount("recovered") + storage.listenerCount("problem");
    expect(open).toBe(before + 6);
    for (const id of ids)
      expect((await owner.call("POST", `/api/instructor/workshops/${id}/end`, {}, auth)).status).toBe(200);
    expect(storage.listenerCount("recovered") + storage.listenerCount("problem")).toBe(before);
  });
});
