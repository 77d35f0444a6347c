/**
 * A workshop's life and an attendee's identity, through the HTTP API: created (pre-warming, closed to joins), opened,
 * paused (new joins refused, attendees resume), ended (sessions over, every cluster released, results kept); the
 * instructor credential survives a restart and rotates; an attendee resumes from another browser with a resume code
 * or name + PIN and is never on the board twice; guessing is rate-limited; the instructor merges and removes
 * attendees.
 */
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it, vi } from "vitest";
import { workshopCommand } from "../../server/src/cli/workshop.ts";
import { instructorCommand } from "../../server/src/cli/instructor.ts";
import { startWorkshopServer, type WorkshopServer } from "../../server/src/http/server.ts";
import { rotateInstructorToken } from "../../server/src/sessions/credentials.ts";
import { FakeProvider, fakeLab } from "./web-doubles.ts";
import { io } from "socket.io-client";
import { Learner, connected, type Json, type TestSocket } from "./web-client.ts";

/** A provider that remembers which clusters were released. */
class ReleasingProvider extends FakeProvider {
  released: string[] = [];
  override async release(id?: string): Promise<void> {
    if (id) this.released.push(id);
  }
}

const dataDir = mkdtempSync(path.join(tmpdir(), "egl-workshops-"));
const provider = new ReleasingProvider();
const servers: WorkshopServer[] = [];
const sockets: TestSocket[] = [];
afterAll(async () => {
  for (const s of sockets) s.close();
  for (const s of servers) await s.close();
  rmSync(dataDir, { recursive: true, force: true });
});

const start = async (port = 0): Promise<WorkshopServer> => {
  const s = await startWorkshopServer({
    port,
    host: "127.0.0.1",
    dataDir,
    provider,
    lab: fakeLab(provider),
    loadLab: async () => fakeLab(provider),
    local: true,
    idleTimeoutSeconds: 600,
    pool: 0,
    buildWeb: false,
  });
  servers.push(s);
  return s;
};

const as = (server: WorkshopServer, token: string) => ({
  call: (method: string, url: string, body?: unknown): Promise<{ status: number; json: Json }> =>
    new Learner(server.url).call(method, url, body, { Authorization: `Bearer ${token}` }),
});

describe("the instructor credential", () => {
  it("is kept in the data directory (0600), the same after a restart, and rotates", async () => {
    let server = await start();
    const token = server.instructorToken;
    expect(statSync(path.join(dataDir, "instructor-token")).mode & 0o777).toBe(0o600);
    expect(server.boardUrl).toBe(`${server.url}/instructor#token=${encodeURIComponent(token)}`);
    await server.close();
    server = await start();
    expect(server.instructorToken).toBe(token);
    expect((await as(server, token).call("GET", "/api/instructor/workshops")).status).toBe(200);
    // Rotated from the command line while the server runs: the old token stops working within a second.
    const fresh = rotateInstructorToken(dataDir);
    await new Promise((r) => setTimeout(r, 1100));
    expect((await as(server, token).call("GET", "/api/instructor/workshops")).status).toBe(401);
    expect((await as(server, fresh).call("GET", "/api/instructor/workshops")).status).toBe(200);
    // And from the API.
    const r = await as(server, fresh).call("POST", "/api/instructor/token");
    expect(r.status).toBe(200);
    expect(r.json.boardUrl).toContain(encodeURIComponent(r.json.instructorToken));
    expect((await as(server, fresh).call("GET", "/api/instructor/workshops")).status).toBe(401);
    expect((await as(server, r.json.instructorToken).call("GET", "/api/instructor/workshops")).status).toBe(
      200,
    );
  });
});

describe("an open board", () => {
  it("comes back by itself after the server restarts: same token, same board", async () => {
    const before = servers.at(-1)!;
    const token = before.instructorToken;
    const board = io(before.url, {
      transports: ["websocket"],
      forceNew: true,
      reconnectionDelay: 100,
      reconnectionDelayMax: 200,
      auth: { instructor: token },
    });
    sockets.push(board);
    const snapshots: string[] = [];
    board.on("board:snapshot", (snap) => snapshots.push(snap.lab.id));
    await connected(board);
    while (snapshots.length < 1) await new Promise((r) => setTimeout(r, 20));
    const refused: unknown[] = [];
    board.on("connect_error", (err) => {
      if ((err as Error & { data?: { code?: string } }).data?.code === "unauthorized") refused.push(err);
    });
    await before.close();
    servers.splice(servers.indexOf(before), 1);
    await start(before.port);
    for (let i = 0; i < 200 && snapshots.length < 2; i++) await new Promise((r) => setTimeout(r, 25));
    expect(snapshots).toEqual(["test-lab", "test-lab"]);
    expect(refused).toEqual([]);
    board.close();
  });
});

describe("a workshop's life", () => {
  it("is created closed and pre-warming, opens, pauses joins, and ends with its clusters released and results kept", async () => {
    const server = servers.at(-1)!;
    const owner = as(server, server.instructorToken);
    const bad = await owner.call("POST", "/api/instructor/workshops", {
      title: "",
      lab: "../etc",
      joinCode: "x",
      capacity: 0,
      endsAt: "soon",
    });
    expect(bad.status).toBe(400);
    expect(bad.json.error.problems.map((p: { where: string }) => p.where)).toEqual([
      "title",
      "lab",
      "joinCode",
      "capacity",
      "endsAt",
    ]);
    const made = await owner.call("POST", "/api/instructor/workshops", {
      title: "Tuesday room",
      lab: "test-lab",
      joinCode: "tuesday",
      capacity: 3,
    });
    expect(made.status).toBe(201);
    const id: string = made.json.workshop.id;
    expect(made.json.workshop).toMatchObject({ title: "Tuesday room", state: "draft", capacity: 3 });
    const dup = await owner.call("POST", "/api/instructor/workshops", {
      title: "Copy",
      lab: "test-lab",
      joinCode: "tuesday",
    });
    expect(dup.json.error.problems).toEqual([
      { where: "joinCode", message: "another workshop running on this server has this join code" },
    ]);
    const teacher = as(server, made.json.instructorToken);
    // Pre-warming: the pool fills towards the capacity before anyone can join.
    let view: Json;
    for (let i = 0; i < 100; i++) {
      view = (await teacher.call("GET", `/api/instructor/workshops/${id}`)).json;
      if (view.pool.ready === 3) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(view.pool).toMatchObject({ ready: 3, target: 3 });
    const early = await new Learner(server.url).call("POST", "/api/join", { name: "Early", code: "tuesday" });
    expect(early.status).toBe(403);
    expect(early.json.error.message).toMatch(/not opened yet/);

    expect((await teacher.call("POST", `/api/instructor/workshops/${id}/open`)).json.state).toBe("open");
    const ada = new Learner(server.url);
    const st = await ada.join("Ada", "tuesday");
    expect(st.lab.id).toBe("test-lab");
    await ada.call("POST", "/api/stages/0/check", { answers: { compromised: "shop/checkout" } });

    expect((await teacher.call("POST", `/api/instructor/workshops/${id}/pause`)).json.state).toBe("paused");
    const late = await new Learner(server.url).call("POST", "/api/join", { name: "Late", code: "tuesday" });
    expect(late.status).toBe(403);
    expect(late.json.error.message).toMatch(/paused/);
    expect((await ada.call("GET", "/api/session")).status).toBe(200);

    const adaSocket = ada.socket();
    sockets.push(adaSocket);
    await connected(adaSocket);
    const dropped = new Promise<void>((r) => adaSocket.on("disconnect", () => r()));
    const clusterOfAda = (await server.workshops.get(id)!.learnerForId(st.learner.id))!.clusterId;
    const ended = await teacher.call("POST", `/api/instructor/workshops/${id}/end`);
    expect(ended.json.state).toBe("ended");
    await dropped;
    expect((await ada.call("GET", "/api/session")).status).toBe(401);
    expect(provider.released).toContain(clusterOfAda);
    // The two warm clusters nobody took are released too.
    expect(provider.released.filter((c) => c !== clusterOfAda)).toHaveLength(2);
    // The workshop is gone for its instructor and its attendees; its results stay in the database.
    expect((await teacher.call("GET", `/api/instructor/workshops/${id}`)).status).toBe(401);
    const after = await new Learner(server.url).call("POST", "/api/join", { name: "After", code: "tuesday" });
    expect(after.status).toBe(400);
    expect(after.json.error.problems).toEqual([{ where: "code", message: "this workshop has ended" }]);
    const typo = await new Learner(server.url).call("POST", "/api/join", { name: "Typo", code: "tusday" });
    expect(typo.json.error.problems).toEqual([
      { where: "code", message: "no workshop on this server has this join code" },
    ]);
    const db = new Database(path.join(dataDir, "egresslab.db"), { readonly: true });
    try {
      const checks = db
        .prepare(
          "SELECT COUNT(*) AS n FROM checks c JOIN learners l ON l.id = c.learner_id WHERE l.workshop_id = ?",
        )
        .get(id) as { n: number };
      expect(checks.n).toBe(1);
      const actions = db
        .prepare("SELECT action FROM instructor_actions WHERE workshop_id = ? ORDER BY id")
        .all(id) as { action: string }[];
      expect(actions.map((a) => a.action)).toEqual([
        "workshop.create",
        "workshop.open",
        "workshop.pause",
        "workshop.end",
      ]);
    } finally {
      db.close();
    }
  });
});

describe("a workshop's end time", () => {
  it("ends the workshop when it passes, as the instructor's end would, recorded as the schedule's", async () => {
    const server = servers.at(-1)!;
    const owner = as(server, server.instructorToken);
    const endsAt = new Date(Date.now() + 60 * 60_000).toISOString();
    const made = await owner.call("POST", "/api/instructor/workshops", {
      title: "Evening room",
      lab: "test-lab",
      joinCode: "evening",
      capacity: 1,
      endsAt,
    });
    expect(made.status).toBe(201);
    const id: string = made.json.workshop.id;
    const teacher = as(server, made.json.instructorToken);
    expect((await teacher.call("POST", `/api/instructor/workshops/${id}/open`)).json.state).toBe("open");
    const eve = new Learner(server.url);
    await eve.join("Eve", "evening");
    // Not before its time, whatever else is running.
    expect(await server.workshops.endOverdue(Date.parse(endsAt) - 1000)).toEqual([]);
    expect((await eve.call("GET", "/api/session")).status).toBe(200);
    expect(await server.workshops.endOverdue(Date.parse(endsAt))).toEqual([id]);
    expect((await eve.call("GET", "/api/session")).status).toBe(401);
    expect(server.workshops.get(id)).toBeUndefined();
    const db = new Database(path.join(dataDir, "egresslab.db"), { readonly: true });
    try {
      const last = db
        .prepare(
          "SELECT actor, action FROM instructor_actions WHERE workshop_id = ? ORDER BY id DESC LIMIT 1",
        )
        .get(id);
      expect(last).toEqual({ actor: "schedule", action: "workshop.end" });
    } finally {
      db.close();
    }
  });
});

describe("an attendee's identity", () => {
  it("follows them to another browser with their resume code or name + PIN, never twice on the board", async () => {
    const server = servers.at(-1)!;
    const first = new Learner(server.url);
    const st = await first.join("Grace");
    expect(st.resume.code).toMatch(/^[0-9A-Z]{4}(-[0-9A-Z]{4}){3}$/);
    expect(st.resume.pin).toBe(false);
    expect((await first.call("PUT", "/api/pin", { pin: "12" })).status).toBe(400);
    expect((await first.call("PUT", "/api/pin", { pin: "4242" })).json.resume.pin).toBe(true);
    await first.call("POST", "/api/stages/1/go");

    // The same name without the PIN is refused: it is somebody already here.
    const again = await new Learner(server.url).call("POST", "/api/join", { name: " grace " });
    expect(again.status).toBe(409);
    expect(again.json.error.message).toMatch(/enter your PIN/);

    const phone = new Learner(server.url);
    const byPin = await phone.call("POST", "/api/resume", { name: "Grace", pin: "4242" });
    expect(byPin.status).toBe(200);
    expect(byPin.json.learner.id).toBe(st.learner.id);
    expect(byPin.json.currentStage).toBe(1);

    const laptop = new Learner(server.url);
    const byCode = await laptop.call("POST", "/api/resume", { resumeCode: st.resume.code.toLowerCase() });
    expect(byCode.status).toBe(200);
    expect(byCode.json.learner.id).toBe(st.learner.id);
    // Joining with the name and PIN is a resume too.
    const tablet = new Learner(server.url);
    const rejoin = await tablet.call("POST", "/api/join", { name: "Grace", pin: "4242" });
    expect(rejoin.json.learner.id).toBe(st.learner.id);
    // Every browser is the same attendee, on the same cluster; the first keeps working.
    expect((await first.call("GET", "/api/session")).json.learner.id).toBe(st.learner.id);
    const names = (await server.workshop.board()).map((r) => r.name);
    expect(names.filter((n) => n === "Grace")).toHaveLength(1);
  });

  it("rate-limits PIN and resume-code guessing", async () => {
    const server = servers.at(-1)!;
    const l = new Learner(server.url);
    await l.join("Hopper", undefined);
    await l.call("PUT", "/api/pin", { pin: "9999" });
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) {
      const r = await new Learner(server.url).call("POST", "/api/resume", { name: "Hopper", pin: `000${i}` });
      statuses.push(r.status);
    }
    expect(statuses.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
    expect(statuses.slice(5)).toEqual([429, 429]);
    // Even the right PIN waits now: guessing is limited per attendee, not per address.
    expect(
      (await new Learner(server.url).call("POST", "/api/resume", { name: "Hopper", pin: "9999" })).status,
    ).toBe(429);
    // Setting a PIN (scrypt) is limited per attendee too.
    const changes: number[] = [];
    for (let i = 0; i < 5; i++) changes.push((await l.call("PUT", "/api/pin", { pin: `12345${i}` })).status);
    expect(changes).toEqual([200, 200, 429, 429, 429]);
    const codes: number[] = [];
    for (let i = 0; i < 12; i++)
      codes.push(
        (
          await new Learner(server.url).call("POST", "/api/resume", {
            resumeCode: `AAAA-AAAA-AAAA-AA${10 + i}`,
          })
        ).status,
      );
    expect(codes.filter((c) => c === 429).length).toBeGreaterThan(0);
    expect(codes.every((c) => c === 401 || c === 429)).toBe(true);
  });

  it("lets the instructor merge one person's two attendees, and remove an attendee", async () => {
    const server = servers.at(-1)!;
    const owner = as(server, server.instructorToken);
    const ws = server.workshop.id;
    const one = new Learner(server.url);
    const a = await one.join("Lin");
    const two = new Learner(server.url);
    const b = await two.join("Lin (laptop)");
    await two.call("POST", "/api/stages/1/go");
    const clusterB = (await server.workshop.learnerForId(b.learner.id))!.clusterId;
    const merged = await owner.call(
      "POST",
      `/api/instructor/workshops/${ws}/learners/${b.learner.id}/merge`,
      {
        into: a.learner.id,
      },
    );
    expect(merged.status).toBe(200);
    expect(merged.json.rows.map((r: { name: string }) => r.name)).not.toContain("Lin (laptop)");
    // The second browser is now the kept attendee, with the stage the other had started.
    const s2 = await two.call("GET", "/api/session");
    expect(s2.json.learner.id).toBe(a.learner.id);
    expect(s2.json.progress[1].status).toBe("started");
    expect(provider.released).toContain(clusterB);

    const gone = await owner.call("DELETE", `/api/instructor/workshops/${ws}/learners/${a.learner.id}`);
    expect(gone.status).toBe(204);
    expect((await one.call("GET", "/api/session")).status).toBe(401);
    expect((await two.call("GET", "/api/session")).status).toBe(401);
    expect((await server.workshop.board()).map((r) => r.name)).not.toContain("Lin");
    const log = (await owner.call("GET", `/api/instructor/workshops/${ws}/actions`)).json.actions;
    expect(log.slice(0, 2)).toMatchObject([
      { actor: "owner", action: "learner.remove", target: a.learner.id },
      { actor: "owner", action: "learner.merge", target: b.learner.id, detail: { into: a.learner.id } },
    ]);
  });
});

/** Runs a CLI command in this process; returns its exit code and what it printed. */
async function cli(
  cmd: { run(argv: string[]): Promise<number> },
  argv: string[],
): Promise<{ code: number; out: string }> {
  let out = "";
  const spy = vi.spyOn(process.stdout, "write").mockImplementation((chunk) => ((out += String(chunk)), true));
  const err = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
  try {
    return { code: await cmd.run(argv), out };
  } finally {
    spy.mockRestore();
    err.mockRestore();
  }
}

describe("egresslab workshop and egresslab instructor", () => {
  it("create, list, open, pause and end a workshop with the owner's token from the data directory", async () => {
    const server = servers.at(-1)!;
    const base = ["--url", server.url, "--data", dataDir];
    const made = await cli(workshopCommand, [
      "create",
      ...base,
      "--title",
      "From the shell",
      "--lab",
      "test-lab",
      "--join-code",
      "shell-42",
      "--capacity",
      "2",
      "-o",
      "json",
    ]);
    expect(made.code).toBe(0);
    const r = JSON.parse(made.out) as Json;
    expect(r.workshop).toMatchObject({ title: "From the shell", state: "draft" });
    expect(r.boardUrl).toContain(`#token=${encodeURIComponent(r.instructorToken)}`);
    const id: string = r.workshop.id;
    const listed = await cli(workshopCommand, ["list", ...base]);
    expect(listed.out).toMatch(new RegExp(`^${id}\tdraft\t0/2 attendees\t.*\tFrom the shell$`, "m"));
    for (const [action, state] of [
      ["open", "open"],
      ["pause", "paused"],
      ["end", "ended"],
    ] as const) {
      const done = await cli(workshopCommand, [action, ...base, "--id", id]);
      expect(done.out.split("\t")[1]).toBe(state);
    }
    await expect(cli(workshopCommand, ["open", ...base, "--id", id])).rejects.toThrow(/no workshop/);
    await expect(cli(workshopCommand, ["create", ...base])).rejects.toThrow(/title[\s\S]*join code/);
    await expect(cli(workshopCommand, ["list", ...base, "--token", "wrong"])).rejects.toThrow(
      /instructor token/,
    );
  });

  it("egresslab instructor token prints the kept token and rotate replaces it", async () => {
    const server = servers.at(-1)!;
    const shown = await cli(instructorCommand, ["token", "--data", dataDir, "--url", server.url]);
    const token = shown.out.split("\n")[0]!;
    expect(token).toBe(server.instructorToken);
    expect(shown.out).toContain(`${server.url}/instructor#token=`);
    const rotated = await cli(instructorCommand, ["rotate", "--data", dataDir]);
    expect(rotated.out.trim()).not.toBe(token);
    await new Promise((r) => setTimeout(r, 1100));
    expect(server.instructorToken).toBe(rotated.out.trim());
  });
});
