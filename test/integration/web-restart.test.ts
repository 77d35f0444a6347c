/**
 * The workshop across a restart and a failing disk: a learner whose cluster was made afresh (its saved state could
 * not be read) gets their passed stages set up and solved again from the lab and a plain notice, and the board shows
 * it; a full disk is told to every page and the board once, and when it clears; a page reloaded after a restart
 * shows the terminal's scrollback.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { startWorkshopServer, type WorkshopServer } from "../../server/src/http/server.ts";
import type { LabRunner } from "../../server/src/sessions/lab-runner.ts";
import { StorageHealth } from "../../server/src/shared/storage.ts";
import type { ServerNotice } from "../../server/src/realtime/protocol.ts";
import { FakeProvider, fakeLab } from "./web-doubles.ts";
import { Learner, TermWatcher, connected, nextEvent, type TestSocket } from "./web-client.ts";

const dataDir = mkdtempSync(path.join(tmpdir(), "egl-web-restart-"));
const sockets: TestSocket[] = [];
const servers: WorkshopServer[] = [];
afterAll(async () => {
  for (const s of sockets) s.close();
  for (const s of servers) await s.close();
  rmSync(dataDir, { recursive: true, force: true });
});

/** A provider that, like the sim provider after a quarantine, reports clusters made afresh. */
class RebuildingProvider extends FakeProvider {
  made: { id: string; reason: string }[] = [];
  rebuilt(): { id: string; reason: string }[] {
    return this.made;
  }
}

const provider = new RebuildingProvider();
const solves: number[] = [];
/** While set, setting a stage up fails as it does when the cluster cannot save. */
let clusterFull = false;
const base = fakeLab(provider);
const lab: LabRunner = {
  ...base,
  async setup(conn, i, params) {
    if (clusterFull) throw new Error("Internal error occurred: the server's disk is full");
    return base.setup(conn, i, params);
  },
  async solve(_conn, i) {
    solves.push(i);
  },
};
const storage = new StorageHealth();
const start = async (): Promise<WorkshopServer> => {
  const s = await startWorkshopServer({
    port: 0,
    host: "127.0.0.1",
    dataDir,
    provider,
    lab,
    local: true,
    idleTimeoutSeconds: 600,
    pool: 0,
    buildWeb: false,
    checkRate: { burst: 10, perMinute: 60 },
    storage,
  });
  servers.push(s);
  return s;
};
const track = (s: TestSocket): TestSocket => (sockets.push(s), s);

describe("a learner whose cluster was made afresh", () => {
  it("gets the stages they passed set up and solved again, a plain notice, and a mark on the board", async () => {
    let server = await start();
    const l = new Learner(server.url);
    await l.join("Ada");
    // Pass stage 0 (whichever workload is this learner's), then move on to stage 1.
    let passed = false;
    for (const w of ["shop/checkout", "blog/wordpress", "crm/sync"]) {
      const r = await l.call("POST", "/api/stages/0/check", { answers: { compromised: w } });
      if (r.json.passed) passed = true;
      if (passed) break;
    }
    expect(passed).toBe(true);
    expect((await l.call("POST", "/api/stages/1/go")).status).toBe(200);
    const cluster = [...provider.clusters.values()][0]!;
    expect(cluster.setups).toEqual([0, 1]);
    await server.close();

    cluster.setups.length = 0;
    provider.made = [{ id: cluster.id, reason: "clusters/c-1.json: Unexpected end of JSON input" }];
    server = await start();
    const board = track(new Learner(server.url).socket({ instructor: server.instructorToken }));
    const marked = new Promise<{ problem?: string }[]>((resolve) => {
      board.on("board:snapshot", (s) => {
        if (s.attendees[0]?.problem) resolve(s.attendees);
      });
      board.on("board:diff", (d) => {
        const a = d.changes[0]?.attendee;
        if (a?.problem) resolve([a]);
      });
    });
    const again = new Learner(server.url);
    again.cookie = l.cookie;
    const sock = track(again.socket());
    const notice = nextEvent(sock, "server:notice");
    await connected(sock);
    const [n] = await notice;
    expect(n).toMatchObject({ kind: "cluster" });
    expect(n.message).toContain("could not read your cluster's saved state");
    expect(n.message).toContain("stage you passed (1)");
    expect(cluster.setups).toEqual([0, 1]);
    expect(solves).toEqual([0]);
    const rows = await marked;
    expect(rows[0]!.problem).toContain("cluster rebuilt");
  });
});

describe("a full disk", () => {
  it("is told to every page and the board once, and when it clears", async () => {
    const server = servers.at(-1)!;
    const l = new Learner(server.url);
    await l.join("Grace");
    const sock = track(l.socket());
    const board = track(new Learner(server.url).socket({ instructor: server.instructorToken }));
    await Promise.all([connected(sock), connected(board)]);
    const seen: ServerNotice[] = [];
    sock.on("server:notice", (n) => seen.push(n));
    const onBoard = nextEvent(board, "server:notice");
    const err = Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
    storage.failed(err);
    storage.failed(err);
    const [b] = await onBoard;
    expect(b).toEqual({
      kind: "storage",
      message: expect.stringMatching(/^The server's disk is full/) as unknown,
    });
    // Joining says why it cannot work now.
    clusterFull = true;
    const blocked = await new Learner(server.url).call("POST", "/api/join", { name: "Lin" });
    clusterFull = false;
    expect(blocked.status).toBe(503);
    expect(blocked.json.error.message).toMatch(
      /^the server's disk is full, so your cluster could not be prepared/,
    );
    // A page that connects while it lasts is told as well.
    const late = track(l.socket());
    const lateNotice = nextEvent(late, "server:notice");
    await connected(late);
    expect((await lateNotice)[0].message).toContain("The server's disk is full");
    storage.succeeded();
    await new Promise((r) => setTimeout(r, 200));
    expect(seen.map((n) => [n.kind, !!(n as { cleared?: boolean }).cleared])).toEqual([
      ["storage", false],
      ["storage", true],
    ]);
  });
});

describe("the terminal after a server restart", () => {
  it("shows a reloaded page what was there, and a new shell after it", async () => {
    let server = servers.at(-1)!;
    const l = new Learner(server.url);
    await l.join("Hedy");
    const s1 = track(l.socket());
    const w1 = new TermWatcher(s1);
    await connected(s1);
    s1.emit("term:attach", { cols: 100, rows: 30 });
    await w1.waitText(/learner@egresslab:~\/stage-0\$ $/);
    s1.emit("term:input", { data: "echo kept-$((40+2))\r" });
    await w1.waitText(/kept-42/);
    await server.close();
    server = await start();
    const again = new Learner(server.url);
    again.cookie = l.cookie;
    const s2 = track(again.socket());
    const w2 = new TermWatcher(s2);
    await connected(s2);
    s2.emit("term:attach", { cols: 100, rows: 30 });
    await w2.waitText(/kept-42[\s\S]*\[a new shell\][\s\S]*learner@egresslab/);
    expect(w2.replays.join("")).toContain("kept-42");
  });
});

describe("a warm cluster made afresh", () => {
  it("is prepared again by the pool before anyone gets it", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "egl-web-restart-pool-"));
    const p = new RebuildingProvider();
    const opts = {
      port: 0,
      host: "127.0.0.1",
      dataDir: dir,
      provider: p,
      lab: fakeLab(p),
      local: true,
      idleTimeoutSeconds: 600,
      pool: 1,
      buildWeb: false,
      storage: new StorageHealth(),
    };
    try {
      let s = await startWorkshopServer(opts);
      const waitWarm = async (setups: number) => {
        for (let i = 0; i < 200 && ![...p.clusters.values()].some((c) => c.setups.length >= setups); i++)
          await new Promise((r) => setTimeout(r, 25));
        return [...p.clusters.values()];
      };
      const [warm] = await waitWarm(1);
      expect(warm!.setups).toEqual([0]);
      await s.close();
      p.made = [{ id: warm!.id, reason: "clusters/c-2.json: Unexpected end of JSON input" }];
      s = await startWorkshopServer(opts);
      const after = await waitWarm(2);
      expect(after).toHaveLength(1);
      expect(after[0]!.setups).toEqual([0, 0]);
      await s.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
