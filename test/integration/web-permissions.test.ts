/**
 * The permissions matrix: every instructor endpoint and the instructor's socket, tried by nobody, by a learner's
 * cookie (alone and with another workshop's token), by another workshop's instructor, by the workshop's own
 * instructor and by the server's owner. Only the last two get through, denied attempts change nothing and leave no
 * audit entry, and a board shows only its own workshop. Removing any guard (the bearer check, the workshop scope,
 * the owner-only check, the socket's checks) makes one of these fail.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startWorkshopServer, type WorkshopServer } from "../../server/src/http/server.ts";
import { NotFoundError } from "../../server/src/shared/errors.ts";
import { FakeProvider, fakeLab } from "./web-doubles.ts";
import { Learner, connected, nextEvent, type Json, type TestSocket } from "./web-client.ts";

let dataDir: string;
let server: WorkshopServer;
const provider = new FakeProvider();
const sockets: TestSocket[] = [];
const track = (s: TestSocket): TestSocket => (sockets.push(s), s);

/** A caller: a bearer token and/or a learner's cookie. */
interface Who {
  name: string;
  token?: string;
  learner?: Learner;
}

const ids = { a: "", b: "", adaA: "", bobB: "" };
const tokens = { owner: "", a: "", b: "" };
let ada: Learner;
let bob: Learner;

async function call(
  who: Who,
  method: string,
  url: string,
  body?: unknown,
): Promise<{ status: number; json: Json }> {
  const l = who.learner ?? new Learner(server.url);
  return l.call(method, url, body, who.token ? { Authorization: `Bearer ${who.token}` } : {});
}

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(tmpdir(), "egl-perm-"));
  server = await startWorkshopServer({
    port: 0,
    host: "127.0.0.1",
    dataDir,
    provider,
    lab: fakeLab(provider),
    loadLab: async (id) => {
      if (id !== "test-lab") throw new NotFoundError(`there is no lab "${id}"`);
      return fakeLab(provider);
    },
    local: true,
    idleTimeoutSeconds: 600,
    pool: 0,
    buildWeb: false,
  });
  tokens.owner = server.instructorToken;
  const owner: Who = { name: "owner", token: tokens.owner };
  for (const [k, code] of [
    ["a", "alpha-code"],
    ["b", "beta-code"],
  ] as const) {
    const r = await call(owner, "POST", "/api/instructor/workshops", {
      title: `Workshop ${k}`,
      lab: "test-lab",
      joinCode: code,
      capacity: 5,
    });
    expect(r.status).toBe(201);
    ids[k] = r.json.workshop.id;
    tokens[k] = r.json.instructorToken;
    expect((await call(owner, "POST", `/api/instructor/workshops/${ids[k]}/open`)).status).toBe(200);
  }
  ada = new Learner(server.url);
  ids.adaA = (await ada.join("Ada", "alpha-code")).learner.id;
  bob = new Learner(server.url);
  ids.bobB = (await bob.join("Bob", "beta-code")).learner.id;
});

afterAll(async () => {
  for (const s of sockets) s.close();
  await server?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

/** Every instructor endpoint, aimed at workshop A. */
const endpoints = (): { method: string; url: string; body?: unknown; ownerOnly?: boolean }[] => [
  { method: "GET", url: `/api/instructor/board?workshop=${ids.a}` },
  { method: "GET", url: `/api/instructor/workshops/${ids.a}` },
  { method: "GET", url: `/api/instructor/workshops/${ids.a}/board` },
  { method: "GET", url: `/api/instructor/workshops/${ids.a}/actions` },
  { method: "GET", url: `/api/instructor/workshops/${ids.a}/attendees/${ids.adaA}` },
  {
    method: "POST",
    url: `/api/instructor/workshops/${ids.a}/attendees/${ids.adaA}/reset`,
    body: { stage: 0 },
  },
  {
    method: "POST",
    url: `/api/instructor/workshops/${ids.a}/attendees/${ids.adaA}/jump`,
    body: { stage: 1 },
  },
  {
    method: "POST",
    url: `/api/instructor/workshops/${ids.a}/attendees/${ids.adaA}/message`,
    body: { text: "hi" },
  },
  { method: "POST", url: `/api/instructor/workshops/${ids.a}/broadcast`, body: { text: "hello room" } },
  {
    method: "POST",
    url: `/api/instructor/workshops/${ids.a}/pause`,
    body: { paused: true, text: "look up" },
  },
  { method: "GET", url: `/api/instructor/workshops/${ids.a}/results.json` },
  { method: "GET", url: `/api/instructor/workshops/${ids.a}/results.csv` },
  { method: "GET", url: `/api/instructor/attendees/${ids.adaA}?workshop=${ids.a}` },
  { method: "POST", url: `/api/instructor/workshops/${ids.a}/pause` },
  { method: "POST", url: `/api/instructor/workshops/${ids.a}/open` },
  { method: "POST", url: `/api/instructor/workshops/${ids.a}/token` },
  { method: "DELETE", url: `/api/instructor/workshops/${ids.a}/learners/${ids.adaA}` },
  {
    method: "POST",
    url: `/api/instructor/workshops/${ids.a}/learners/${ids.adaA}/merge`,
    body: { into: ids.adaA },
  },
  { method: "POST", url: `/api/instructor/workshops/${ids.a}/end` },
  {
    method: "POST",
    url: "/api/instructor/workshops",
    body: { title: "Sneaky", lab: "test-lab", joinCode: "sneaky-code" },
    ownerOnly: true,
  },
  { method: "POST", url: "/api/instructor/token", ownerOnly: true },
];

describe("instructor endpoints", () => {
  it("refuse nobody, learners' cookies (alone or with another workshop's token) and the other workshop's instructor, and change nothing", async () => {
    const denied: { who: Who; status: number }[] = [
      { who: { name: "nobody" }, status: 401 },
      { who: { name: "a learner of A", learner: ada }, status: 401 },
      { who: { name: "a learner of B", learner: bob }, status: 401 },
      { who: { name: "a learner's cookie as a token", token: ada.cookie.split("=")[1]! }, status: 401 },
      { who: { name: "a wrong token", token: tokens.a + "x" }, status: 401 },
      { who: { name: "A's learner with B's token", learner: ada, token: tokens.b }, status: 404 },
      { who: { name: "B's instructor", token: tokens.b }, status: 404 },
    ];
    const seen: string[] = [];
    for (const { who, status } of denied)
      for (const e of endpoints()) {
        const r = await call(who, e.method, e.url, e.body);
        const want = e.ownerOnly && who.token === tokens.b ? 403 : status;
        seen.push(`${who.name} ${e.method} ${e.url.replace(/ws-\w+|l-\w+/g, "…")} → ${r.status}`);
        expect(r.status, `${who.name}: ${e.method} ${e.url}`).toBe(want);
      }
    expect(seen.length).toBe(denied.length * endpoints().length);
    // Nothing changed: A is open with Ada in it, its token still works, no action was recorded, no workshop made.
    const view = await call({ name: "A", token: tokens.a }, "GET", `/api/instructor/workshops/${ids.a}`);
    expect(view.json).toMatchObject({ state: "open", attendees: 1 });
    const actions = await call(
      { name: "A", token: tokens.a },
      "GET",
      `/api/instructor/workshops/${ids.a}/actions`,
    );
    expect(actions.json.actions.map((a: { action: string }) => a.action)).toEqual([
      "workshop.open",
      "workshop.create",
    ]);
    const all = await call({ name: "owner", token: tokens.owner }, "GET", "/api/instructor/workshops");
    expect(all.json.workshops.map((w: { title: string }) => w.title)).not.toContain("Sneaky");
    expect((await ada.call("GET", "/api/session")).status).toBe(200);
  });

  it("refuse an instructor reaching another workshop's attendee through their own workshop", async () => {
    const b: Who = { name: "B", token: tokens.b };
    for (const [method, url, body] of [
      ["GET", `/api/instructor/attendees/${ids.adaA}`],
      ["POST", `/api/instructor/attendees/${ids.adaA}/reset`, { stage: 0 }],
      ["POST", `/api/instructor/workshops/${ids.b}/attendees/${ids.adaA}/message`, { text: "psst" }],
      ["DELETE", `/api/instructor/workshops/${ids.b}/learners/${ids.adaA}`],
      ["POST", `/api/instructor/workshops/${ids.b}/learners/${ids.adaA}/merge`, { into: ids.bobB }],
      ["POST", `/api/instructor/workshops/${ids.b}/learners/${ids.bobB}/merge`, { into: ids.adaA }],
    ] as const) {
      const r = await call(b, method, url, body);
      expect(r.status, `${method} ${url}`).toBe(404);
    }
    expect((await ada.call("GET", "/api/session")).json.learner.id).toBe(ids.adaA);
    expect((await bob.call("GET", "/api/session")).json.learner.id).toBe(ids.bobB);
  });

  it("let a workshop's instructor act on it only, and see only it", async () => {
    const a: Who = { name: "A", token: tokens.a };
    const mine = await call(a, "GET", "/api/instructor/workshops");
    expect(mine.json.workshops.map((w: { id: string }) => w.id)).toEqual([ids.a]);
    const board = await call(a, "GET", "/api/instructor/board");
    expect(board.json.workshop.id).toBe(ids.a);
    expect(board.json.rows.map((r: { name: string }) => r.name)).toEqual(["Ada"]);
    expect((await call(a, "POST", `/api/instructor/workshops/${ids.a}/pause`)).status).toBe(200);
    expect((await call(a, "POST", `/api/instructor/workshops/${ids.a}/open`)).status).toBe(200);
    for (const e of endpoints().filter((x) => x.ownerOnly))
      expect((await call(a, e.method, e.url, e.body)).status, e.url).toBe(403);
    const log = await call(a, "GET", `/api/instructor/workshops/${ids.a}/actions`);
    expect(log.json.actions.slice(0, 2)).toMatchObject([
      { actor: "instructor", action: "workshop.open" },
      { actor: "instructor", action: "workshop.pause" },
    ]);
  });

  it("let the owner see every workshop", async () => {
    const all = await call({ name: "owner", token: tokens.owner }, "GET", "/api/instructor/workshops");
    expect(all.json.workshops.map((w: { id: string }) => w.id)).toEqual(
      expect.arrayContaining([server.workshop.id, ids.a, ids.b]),
    );
    const b = await call(
      { name: "owner", token: tokens.owner },
      "GET",
      `/api/instructor/workshops/${ids.b}/board`,
    );
    expect(b.json.rows.map((r: { name: string }) => r.name)).toEqual(["Bob"]);
  });
});

describe("the instructor's socket", () => {
  it("refuses learners' cookies, wrong tokens and another workshop's board", async () => {
    // Each socket is made only when it is awaited, so that its refusal cannot come before the test listens for it.
    const refusals: [string, () => TestSocket][] = [
      ["a learner with a made-up token", () => ada.socket({ instructor: "nope" })],
      ["a learner with B's token for A", () => ada.socket({ instructor: tokens.b, workshop: ids.a })],
      [
        "B's instructor asking for A",
        () => new Learner(server.url).socket({ instructor: tokens.b, workshop: ids.a }),
      ],
      ["nobody", () => new Learner(server.url).socket()],
    ];
    for (const [what, make] of refusals) {
      const s = track(make());
      await expect(connected(s), what).rejects.toThrow();
    }
  });

  it("never lets a learner's socket, or another workshop's instructor, watch an attendee's terminal", async () => {
    const learnerSocket = track(bob.socket());
    const otherBoard = track(new Learner(server.url).socket({ instructor: tokens.b }));
    await Promise.all([connected(learnerSocket), connected(otherBoard)]);
    const seen: string[] = [];
    learnerSocket.on("seat:term", () => seen.push("learner saw a seat"));
    otherBoard.on("seat:term", () => seen.push("B saw A's seat"));
    const refused = new Promise((r) => otherBoard.once("error", r));
    learnerSocket.emit("seat:watch", { attendeeId: ids.adaA });
    otherBoard.emit("seat:watch", { attendeeId: ids.adaA });
    expect(await refused).toMatchObject({ code: "not-found" });
    await new Promise((r) => setTimeout(r, 300));
    expect(seen).toEqual([]);
  });

  it("gives a learner's cookie a learner's socket only: no board, nothing from another workshop", async () => {
    const s = track(ada.socket());
    let boards = 0;
    s.on("board:snapshot", () => boards++);
    s.on("board:diff", () => boards++);
    await connected(s);
    // Bob (workshop B) checks; B's board hears of it, Ada's page hears nothing of B.
    const teacherB = track(new Learner(server.url).socket({ instructor: tokens.b }));
    const [snapB] = await nextEvent(teacherB, "board:snapshot");
    expect(snapB.attendees.map((x) => x.name)).toEqual(["Bob"]);
    const diffB = nextEvent(teacherB, "board:diff");
    const heard: string[] = [];
    s.on("check:result", () => heard.push("check"));
    s.on("progress", () => heard.push("progress"));
    await bob.call("POST", "/api/stages/1/check", {});
    const [d] = await diffB;
    expect(d.changes.map((c) => c.id)).toEqual([ids.bobB]);
    await new Promise((r) => setTimeout(r, 300));
    expect(heard).toEqual([]);
    expect(boards).toBe(0);
  });

  it("shows each instructor their own workshop's board, and the owner any", async () => {
    const teacherA = track(new Learner(server.url).socket({ instructor: tokens.a }));
    const [snapA] = await nextEvent(teacherA, "board:snapshot");
    expect(snapA.attendees.map((x) => x.name)).toEqual(["Ada"]);
    const ownerB = track(new Learner(server.url).socket({ instructor: tokens.owner, workshop: ids.b }));
    const [snapB] = await nextEvent(ownerB, "board:snapshot");
    expect(snapB.attendees.map((x) => x.name)).toEqual(["Bob"]);
    // A's board hears nothing when B's attendee checks.
    let diffs = 0;
    teacherA.on("board:diff", () => diffs++);
    await bob.call("POST", "/api/stages/1/check", {});
    await nextEvent(ownerB, "board:diff");
    await new Promise((r) => setTimeout(r, 300));
    expect(diffs).toBe(0);
  });
});
