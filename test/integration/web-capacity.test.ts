/**
 * A workshop started with a capacity makes a cluster ready for every attendee it admits in the background, shows the
 * progress on the instructor's board and hands the ready clusters to joining attendees.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { startWorkshopServer, type WorkshopServer } from "../../server/src/http/server.ts";
import type { PoolView } from "../../server/src/realtime/protocol.ts";
import { FakeProvider, fakeLab } from "./web-doubles.ts";
import { Learner, connected, type TestSocket } from "./web-client.ts";

let server: WorkshopServer;
let provider: FakeProvider;
let dataDir: string;
const sockets: TestSocket[] = [];

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(tmpdir(), "egl-capacity-"));
  provider = new FakeProvider();
  server = await startWorkshopServer({
    port: 0,
    host: "127.0.0.1",
    dataDir,
    provider,
    lab: fakeLab(provider),
    local: false,
    shellMode: "local",
    idleTimeoutSeconds: 600,
    pool: 1,
    capacity: 6,
    instructorToken: "teach",
    buildWeb: false,
  });
});

afterAll(async () => {
  for (const s of sockets) s.close();
  await server?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

const health = async (): Promise<{ pool: number }> =>
  (await fetch(server.url + "/healthz")).json() as Promise<{ pool: number }>;

async function until(test: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (await test()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe("a workshop with a capacity", () => {
  it("pre-warms a cluster per attendee it admits, on the board, and hands them out", async () => {
    const teacher = new Learner(server.url).socket({ instructor: "teach" });
    sockets.push(teacher);
    const seen: PoolView[] = [];
    teacher.on("board:pool", (p) => seen.push(p));
    await connected(teacher);
    await until(async () => (await health()).pool === 6, "six ready clusters");
    await until(() => seen.at(-1)?.ready === 6, "the board to show six ready clusters");
    expect(seen.at(-1)).toMatchObject({ ready: 6, target: 6 });
    const warm = [...provider.acquired];
    expect(warm).toHaveLength(6);

    for (const name of ["Ada", "Bob", "Cy", "Di"]) await new Learner(server.url).join(name);
    // Four attendees took four of the clusters made for them; nothing new was made.
    expect(provider.acquired).toHaveLength(6);
    await until(() => seen.at(-1)?.ready === 2, "the board to show two ready clusters");
    expect(seen.at(-1)).toMatchObject({ ready: 2, target: 2 });

    for (const name of ["Ed", "Flo"]) await new Learner(server.url).join(name);
    await until(() => seen.at(-1)?.ready === 0, "the board to show no ready clusters");
    expect(seen.at(-1)).toMatchObject({ ready: 0, target: 0 });
    expect(provider.acquired).toHaveLength(6);
    const late = await new Learner(server.url).call("POST", "/api/join", { name: "Gus" });
    expect(late.status).toBeGreaterThanOrEqual(400);
    expect(provider.acquired).toHaveLength(6);
  });
});
