/**
 * Events between replicas: two workshop servers in this process on one Postgres and one Redis (socket.io's Redis
 * Streams adapter), each with its own provider. Pages connect to either; what the instructor does on one reaches
 * attendees on the other, and the board on one sees attendees of the other live, also across a Redis restart.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { startWorkshopServer, type WorkshopServer } from "../../server/src/http/server.ts";
import { startPostgres, startRedis, type PostgresServer, type RedisServer } from "../helpers/services.ts";
import { FakeProvider, fakeLab } from "./web-doubles.ts";
import { Learner, connected, nextEvent, type TestSocket } from "./web-client.ts";

const token = "teach-me";
const auth = { Authorization: `Bearer ${token}` };
let postgres: PostgresServer;
let redis: RedisServer;
const replicas: { server: WorkshopServer; provider: FakeProvider; dir: string }[] = [];
const sockets: TestSocket[] = [];

async function startReplica(name: string, database: string): Promise<WorkshopServer> {
  const dir = mkdtempSync(path.join(tmpdir(), `egl-${name}-`));
  const provider = new FakeProvider();
  const server = await startWorkshopServer({
    port: 0,
    host: "127.0.0.1",
    dataDir: dir,
    provider,
    lab: fakeLab(provider),
    local: true,
    idleTimeoutSeconds: 600,
    pool: 0,
    instructorToken: token,
    checkRate: { burst: 50, perMinute: 600 },
    database,
    redis: redis.url,
    replica: name,
    buildWeb: false,
  });
  replicas.push({ server, provider, dir });
  return server;
}

function track(s: TestSocket): TestSocket {
  sockets.push(s);
  return s;
}

let one: WorkshopServer;
let two: WorkshopServer;

beforeAll(async () => {
  [postgres, redis] = await Promise.all([startPostgres(), startRedis()]);
  const db = postgres.createDatabase("events");
  one = await startReplica("one", db);
  two = await startReplica("two", db);
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

describe("events between replicas", () => {
  it("a broadcast from the instructor on one replica reaches an attendee's page on the other", async () => {
    const ada = new Learner(two.url);
    await ada.join("Ada");
    const page = track(ada.socket());
    await connected(page);
    const got = nextEvent(page, "room:message");
    const r = await new Learner(one.url).call("POST", "/api/instructor/broadcast", { text: "look up" }, auth);
    expect(r.status).toBe(200);
    const [m] = await got;
    expect(m).toMatchObject({ text: "look up", broadcast: true });
  });
});
