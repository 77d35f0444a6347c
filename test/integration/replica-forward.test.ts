/**
 * A replica that gets a learner's request while another replica serves them forwards it there (as behind an ingress
 * whose cookie affinity knows nothing of leases): two workshop servers in this process on one Postgres and one Redis,
 * talked to directly, no proxy in front.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { startWorkshopServer, type WorkshopServer } from "../../server/src/http/server.ts";
import { startPostgres, startRedis, type PostgresServer, type RedisServer } from "../helpers/services.ts";
import { FakeProvider, fakeLab } from "./web-doubles.ts";
import { Learner, TermWatcher, connected, type TestSocket } from "./web-client.ts";

const token = "teach-me";
const forwarded = "X-Egresslab-Forwarded";
const auth = { Authorization: `Bearer ${token}` };
let postgres: PostgresServer;
let redis: RedisServer;
const replicas: { server: WorkshopServer; dir: string }[] = [];
const sockets: TestSocket[] = [];
let one: WorkshopServer;
let two: WorkshopServer;
let three: WorkshopServer;

async function startReplica(name: string, database: string, advertise?: string): Promise<WorkshopServer> {
  const dir = mkdtempSync(path.join(tmpdir(), `egl-${name}-`));
  const provider = new FakeProvider();
  const server = await startWorkshopServer({
    port: 0,
    host: "127.0.0.1",
    dataDir: dir,
    provider,
    // With solutions, so that an instructor can jump an attendee to a stage.
    lab: { ...fakeLab(provider), solve: () => Promise.resolve() },
    local: true,
    idleTimeoutSeconds: 600,
    pool: 0,
    instructorToken: token,
    checkRate: { burst: 50, perMinute: 600 },
    database,
    redis: redis.url,
    replica: name,
    relayBeatMs: 500,
    buildWeb: false,
    ...(advertise ? { advertise } : {}),
  });
  replicas.push({ server, dir });
  return server;
}

/** A loopback port nothing listens on. */
async function deadPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** `l`'s requests sent to `base` instead of the replica it joined on. */
function via(l: Learner, base: string): Learner {
  const other = new Learner(base);
  other.cookie = l.cookie;
  return other;
}

beforeAll(async () => {
  [postgres, redis] = await Promise.all([startPostgres(), startRedis()]);
  const db = postgres.createDatabase("forward");
  one = await startReplica("one", db);
  two = await startReplica("two", db);
  // Its lease names an address where nothing answers (a replica that is gone, its lease not expired yet).
  three = await startReplica("three", db, `http://127.0.0.1:${await deadPort()}`);
}, 60_000);

afterAll(async () => {
  for (const s of sockets) s.close();
  for (const r of replicas) {
    await r.server.close();
    rmSync(r.dir, { recursive: true, force: true });
  }
  await redis?.stop();
  postgres?.stop();
});

describe("a replica forwards a learner's requests to the replica that serves them", () => {
  it("a learner served by two gets two's answers through one: their session and their terminal over socket.io", async () => {
    const ada = new Learner(two.url);
    const id = (await ada.join("Ada")).learner.id as string;
    const home = new Learner(two.url);
    home.cookie = ada.cookie;
    const tab = home.socket();
    sockets.push(tab);
    const t1 = new TermWatcher(tab);
    await connected(tab);
    tab.emit("term:attach", { cols: 80, rows: 24 });
    await t1.waitFor(() => t1.replays.length > 0, "the shell on two");
    tab.emit("term:input", { data: "echo here-$((6*7))\n" });
    await t1.waitText(/here-42/);

    const r = await via(ada, one.url).call("GET", "/api/session");
    expect(r.status).toBe(200);
    expect(r.json.learner.id).toBe(id);
    // The answer is two's: it names two as the learner's replica.
    expect(r.headers.getSetCookie().some((c) => c.startsWith("egresslab_replica=two"))).toBe(true);

    // A second browser (the WebSocket upgrade through one) reaches the same shell on two.
    const second = via(ada, one.url).socket();
    sockets.push(second);
    const t2 = new TermWatcher(second);
    await connected(second);
    second.emit("term:attach", { cols: 80, rows: 24 });
    await t2.waitText(/here-42/);
    second.emit("term:input", { data: "echo there-$((7*8))\n" });
    await t2.waitText(/there-56/);
  });

  it("socket.io's long-polling through one reaches two as well", async () => {
    const bo = new Learner(two.url);
    await bo.join("Bo");
    const { io } = await import("socket.io-client");
    const s = io(one.url, {
      transports: ["polling"],
      forceNew: true,
      reconnection: false,
      extraHeaders: { Cookie: bo.cookie },
    }) as TestSocket;
    sockets.push(s);
    const term = new TermWatcher(s);
    await connected(s);
    s.emit("term:attach", { cols: 80, rows: 24 });
    await term.waitFor(() => term.replays.length > 0, "the shell on two over polling");
    s.emit("term:input", { data: "echo poll-$((5*5))\n" });
    await term.waitText(/poll-25/);
  });

  it("an instructor's jump on one for a learner served by two succeeds", async () => {
    const cy = new Learner(two.url);
    const id = (await cy.join("Cy")).learner.id as string;
    const jump = `/api/instructor/attendees/${id}/jump`;
    // Answered by one itself (as a forwarded request is), the jump is refused: the cluster is two's.
    const here = await new Learner(one.url).call("POST", jump, { stage: 1 }, { ...auth, [forwarded]: "two" });
    expect(here.status).toBe(503);
    expect(here.json.error).toMatchObject({ replica: "two" });
    const r = await new Learner(one.url).call("POST", jump, { stage: 1 }, auth);
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ stage: 1 });
    expect((await two.workshop.learnerForId(id))!.currentStage).toBe(1);
  });

  it("a forwarded request for a learner the replica does not serve is refused, not forwarded again", async () => {
    const di = new Learner(two.url);
    await di.join("Di");
    const r = await via(di, one.url).call(
      "POST",
      "/api/stages/0/check",
      {},
      {
        [forwarded]: "two",
      },
    );
    expect(r.status).toBe(503);
    expect(r.json.error).toMatchObject({ code: "unavailable", replica: "two" });
    expect(Number(r.headers.get("retry-after"))).toBeGreaterThan(0);
  });

  it("when the owner's address does not answer (its lease still live) the learner gets the clear 503", async () => {
    const ed = new Learner(three.url);
    await ed.join("Ed");
    const r = await via(ed, one.url).call("POST", "/api/stages/0/check", {});
    expect(r.status).toBe(503);
    expect(r.json.error).toMatchObject({ code: "unavailable", replica: "three" });
    expect(r.json.error.message).toMatch(/running on server three/);
    expect(r.headers.getSetCookie().some((c) => c.startsWith("egresslab_replica=three"))).toBe(true);
  });
});
