/**
 * The instructor's console over HTTP and socket.io, in-process on port 0 with a fake provider and lab and a clock the
 * test moves: board diffs, stuck detection, the seat's read-only terminal, actions (authorised, recorded, told to the
 * attendee), and the results export. A learner's cookie never reaches any of it.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { startWorkshopServer, type WorkshopServer } from "../../server/src/http/server.ts";
import type { BoardDiff, BoardSnapshot } from "../../server/src/instructor/wire.ts";
import { FakeProvider, fakeLab } from "./web-doubles.ts";
import { Learner, TermWatcher, connected, nextEvent, type Json, type TestSocket } from "./web-client.ts";

let server: WorkshopServer;
let provider: FakeProvider;
let dataDir: string;
// The board's clock: starts at the real time (the fake lab stamps checks with it), then the tests move it on.
let clock = Date.now();
const solved: number[] = [];
const sockets: TestSocket[] = [];
const token = "teach-me";
const auth = { Authorization: `Bearer ${token}` };
let ada: { l: Learner; id: string };
let bob: { l: Learner; id: string };
let hostile: { l: Learner; id: string };

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(tmpdir(), "egl-instructor-"));
  provider = new FakeProvider();
  const lab = fakeLab(provider);
  server = await startWorkshopServer({
    port: 0,
    host: "127.0.0.1",
    dataDir,
    provider,
    lab: {
      ...lab,
      mistakes: (i) =>
        i === 1 ? [{ name: "explicit-deny-first", why: "an explicit Deny is final", fails: ["c1"] }] : [],
      async solve(conn, i) {
        solved.push(i);
        provider.clusters.get(conn.id)!.solved = i === 1;
      },
    },
    local: true,
    idleTimeoutSeconds: 600,
    pool: 1,
    instructorToken: token,
    checkRate: { burst: 50, perMinute: 600 },
    stuck: { failingMs: 5 * 60_000, idleMs: 60 * 60_000 },
    now: () => clock,
  });
  const join = async (name: string) => {
    const l = new Learner(server.url);
    const r = await l.join(name);
    return { l, id: r.learner.id as string };
  };
  ada = await join("Ada");
  bob = await join("Bob");
  hostile = await join('=HYPERLINK("http://evil.example","x")');
});

afterAll(async () => {
  for (const s of sockets) s.close();
  await server?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

function track(s: TestSocket): TestSocket {
  sockets.push(s);
  return s;
}

async function instructorSocket(): Promise<{ s: TestSocket; snapshot: BoardSnapshot; diffs: BoardDiff[] }> {
  const s = track(new Learner(server.url).socket({ instructor: token }));
  const diffs: BoardDiff[] = [];
  s.on("board:diff", (d) => diffs.push(d));
  const [snapshot] = await nextEvent(s, "board:snapshot");
  return { s, snapshot, diffs };
}

async function until<T>(get: () => T | undefined, what: string, ms = 5000): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = get();
    if (v !== undefined) return v;
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("the board", () => {
  it("sends the whole board once, then only the cell that changed, with the failing check's hint and mistake", async () => {
    const { snapshot, diffs } = await instructorSocket();
    expect(snapshot.stages.map((s) => s.title)).toEqual(["Map exposure", "Default deny"]);
    expect(snapshot.attendees.map((a) => a.name)).toEqual([
      "Ada",
      "Bob",
      '=HYPERLINK("http://evil.example","x")',
    ]);
    expect((await ada.l.call("POST", "/api/stages/1/go")).status).toBe(200);
    const r = await ada.l.call("POST", "/api/stages/1/check");
    expect(r.json.passed).toBe(false);
    const change = await until(
      () =>
        diffs
          .flatMap((d) => d.changes)
          .find((c) => c.id === ada.id && c.cells?.some((x) => x.stage === 1 && x.attempts === 1)),
      "Ada's failing check on the board",
    );
    // Only Ada changed; Bob's row is never re-sent.
    expect(diffs.flatMap((d) => d.changes).some((c) => c.id === bob.id)).toBe(false);
    const cell = change.cells!.find((x) => x.stage === 1)!;
    expect(cell).toMatchObject({
      state: "working",
      failing: [{ id: "c1", title: "external egress is denied", hint: "look again" }],
      mistake: { names: ["explicit-deny-first"], label: "explicit deny first" },
    });
    expect(change.cells!.map((x) => x.stage)).toEqual([1]);
  });

  it("shows an attendee stuck once they have failed the same checks for the configured minutes (on the clock)", async () => {
    const { diffs } = await instructorSocket();
    clock += 4 * 60_000;
    server.board.flush();
    await new Promise((r) => setTimeout(r, 200));
    expect(diffs.flatMap((d) => d.changes).filter((c) => c.id === ada.id)).toEqual([]);
    clock += 2 * 60_000;
    server.board.flush();
    const c = await until(() => diffs.flatMap((d) => d.changes).find((x) => x.id === ada.id), "a diff");
    expect(c.cells).toEqual([
      expect.objectContaining({
        stage: 1,
        state: "stuck",
        stuck: { reason: "failing", since: expect.any(String) },
      }),
    ]);
  });
});

describe("permissions", () => {
  const routes: [string, string, unknown?][] = [
    ["GET", "/api/instructor/attendees/ID"],
    ["POST", "/api/instructor/attendees/ID/reset", { stage: 1 }],
    ["POST", "/api/instructor/attendees/ID/jump", { stage: 1 }],
    ["POST", "/api/instructor/attendees/ID/message", { text: "hi" }],
    ["POST", "/api/instructor/broadcast", { text: "hi" }],
    ["POST", "/api/instructor/pause", { paused: true }],
    ["GET", "/api/instructor/results.json"],
    ["GET", "/api/instructor/results.csv"],
  ];

  it.each(routes)(
    "%s %s: a learner's cookie or a wrong token is refused and changes nothing",
    async (m, p, body) => {
      const before = (await server.workshop.learnerForId(ada.id))!;
      const url = p.replace("ID", ada.id);
      const tries: Record<string, string>[] = [
        {},
        { Authorization: "Bearer nope" },
        { Authorization: `Bearer ${ada.l.cookie}` },
      ];
      for (const headers of tries) {
        const r = await ada.l.call(m, url, body, headers);
        expect(r.status).toBe(401);
        expect(r.json.error.code).toBe("unauthorized");
      }
      expect((await server.workshop.learnerForId(ada.id))!.currentStage).toBe(before.currentStage);
    },
  );

  it("a learner's socket gets no board and cannot watch a terminal", async () => {
    const s = track(bob.l.socket());
    const got: string[] = [];
    s.onAny((e: string) => got.push(e));
    await connected(s);
    (s.emit as (e: string, p: unknown) => void)("seat:watch", { attendeeId: ada.id });
    await new Promise((r) => setTimeout(r, 300));
    expect(got.filter((e) => e.startsWith("board:") || e.startsWith("seat:"))).toEqual([]);
  });

  it("another workshop's instructor cannot see or act on this workshop's attendees", async () => {
    const made = await ada.l.call(
      "POST",
      "/api/instructor/workshops",
      { title: "Other room", lab: "test-lab", joinCode: "other-room", capacity: 2 },
      auth,
    );
    expect(made.status).toBe(201);
    const other = { Authorization: `Bearer ${made.json.instructorToken as string}` };
    for (const p of [
      `/api/instructor/attendees/${ada.id}`,
      `/api/instructor/workshops/${server.workshop.id}/attendees/${ada.id}`,
      `/api/instructor/attendees/${ada.id}?workshop=${server.workshop.id}`,
    ])
      expect((await ada.l.call("GET", p, undefined, other)).status, p).toBe(404);
    const reset = await ada.l.call("POST", `/api/instructor/attendees/${ada.id}/reset`, { stage: 0 }, other);
    expect(reset.status).toBe(404);
    const s = track(new Learner(server.url).socket({ instructor: made.json.instructorToken as string }));
    const [snap] = await nextEvent(s, "board:snapshot");
    expect(snap.attendees).toEqual([]);
    const [err] = await new Promise<[Json]>((resolve) => {
      s.once("error", (e) => resolve([e]));
      s.emit("seat:watch", { attendeeId: ada.id });
    });
    expect(err.code).toBe("not-found");
  });

  it("an attendee of this workshop only; bad input is a clear 400", async () => {
    expect((await ada.l.call("GET", "/api/instructor/attendees/l_nobody", undefined, auth)).status).toBe(404);
    const bad: [string, unknown, string][] = [
      [`/api/instructor/attendees/${ada.id}/reset`, { stage: 7 }, "stage"],
      [`/api/instructor/attendees/${ada.id}/jump`, { stage: "x" }, "stage"],
      [`/api/instructor/attendees/${ada.id}/message`, { text: "x".repeat(501) }, "text"],
      [`/api/instructor/attendees/${ada.id}/message`, { text: "bell\u0007" }, "text"],
      ["/api/instructor/broadcast", { text: "   " }, "text"],
      ["/api/instructor/pause", { paused: "yes" }, "paused"],
    ];
    for (const [p, body, where] of bad) {
      const r = await ada.l.call("POST", p, body, auth);
      expect(r.status, p).toBe(400);
      expect(r.json.error.problems[0].where).toBe(where);
    }
  });
});

describe("help from the seat", () => {
  it("follows an attendee's terminal read-only and live", async () => {
    const learner = track(ada.l.socket());
    const term = new TermWatcher(learner);
    await connected(learner);
    learner.emit("term:attach", { cols: 80, rows: 24 });
    await term.waitText(/\$ $/m);
    const { s } = await instructorSocket();
    let seen = "";
    s.on("seat:term", (o) => {
      expect(o.attendeeId).toBe(ada.id);
      seen = o.replay ? o.data : seen + o.data;
    });
    s.emit("seat:watch", { attendeeId: ada.id });
    learner.emit("term:input", { data: "echo seat-$((6*7))\r" });
    await until(() => (seen.includes("seat-42") ? true : undefined), "the attendee's output on the seat");
    // The instructor's socket has no way to type: term:input there is not the learner's terminal.
    const errors: unknown[] = [];
    s.on("error", (e) => errors.push(e));
    s.emit("term:input", { data: "echo intruder\r" });
    await new Promise((r) => setTimeout(r, 300));
    expect(term.plain()).not.toContain("intruder");
  });

  it("shows the last check results; a cluster that cannot be read says why", async () => {
    const r = await ada.l.call("GET", `/api/instructor/attendees/${ada.id}`, undefined, auth);
    expect(r.status).toBe(200);
    expect(r.json.attendee.name).toBe("Ada");
    expect(r.json.checks.map((c: Json) => [c.stage, c.outcome.passed])).toEqual([[1, false]]);
    expect(r.json.flows.error).toEqual(expect.any(String));
  });

  it("resets a stage, jumps to a stage, messages, broadcasts and pauses; each is recorded and told", async () => {
    const adaSock = track(ada.l.socket());
    const bobSock = track(bob.l.socket());
    await Promise.all([connected(adaSock), connected(bobSock)]);
    const adaMsgs: Json[] = [];
    const bobMsgs: Json[] = [];
    adaSock.on("room:message", (m) => adaMsgs.push(m));
    bobSock.on("room:message", (m) => bobMsgs.push(m));

    const adaCluster = await clusterOf(ada.id);
    const cluster = () =>
      [...provider.clusters.values()].find((c) => c.setups.length && c.id === adaCluster)!;
    const setupsBefore = cluster().setups.length;
    expect(
      (await ada.l.call("POST", `/api/instructor/attendees/${ada.id}/reset`, { stage: 1 }, auth)).status,
    ).toBe(200);
    expect(cluster().setups.length).toBe(setupsBefore + 1);

    expect(
      (await ada.l.call("POST", `/api/instructor/attendees/${bob.id}/jump`, { stage: 1 }, auth)).status,
    ).toBe(200);
    expect(solved).toEqual([0]);
    expect((await server.workshop.learnerForId(bob.id))!.currentStage).toBe(1);

    const m = await ada.l.call(
      "POST",
      `/api/instructor/attendees/${ada.id}/message`,
      { text: "Look at line 3" },
      auth,
    );
    expect(m.status).toBe(200);
    await ada.l.call("POST", "/api/instructor/broadcast", { text: "Break in 5 minutes" }, auth);
    await until(() => (adaMsgs.length >= 3 && bobMsgs.length >= 2 ? true : undefined), "messages");
    expect(adaMsgs.map((x) => x.text)).toEqual([
      "The instructor reset stage 1 for you: its setup is fresh.",
      "Look at line 3",
      "Break in 5 minutes",
    ]);
    expect(bobMsgs.map((x) => [x.text.slice(0, 30), x.broadcast])).toEqual([
      ["The instructor moved you to st", false],
      ["Break in 5 minutes", true],
    ]);

    const paused = nextEvent(bobSock, "room:pause");
    await ada.l.call("POST", "/api/instructor/pause", { paused: true, text: "Eyes on the projector" }, auth);
    expect((await paused)[0]).toMatchObject({ paused: true, text: "Eyes on the projector" });
    // A page that connects while the room is paused sees the overlay too.
    const late = track(hostile.l.socket());
    const [p] = await nextEvent(late, "room:pause");
    expect(p.paused).toBe(true);
    await ada.l.call("POST", "/api/instructor/pause", { paused: false }, auth);

    const audit = await ada.l.call(
      "GET",
      `/api/instructor/workshops/${server.workshop.id}/actions`,
      undefined,
      auth,
    );
    expect(
      audit.json.actions.map((a: Json) => [a.action, a.actor, a.target, a.detail.ok]).slice(0, 6),
    ).toEqual([
      ["room.resume", "owner", null, true],
      ["room.pause", "owner", null, true],
      ["room.broadcast", "owner", null, true],
      ["attendee.message", "owner", ada.id, true],
      ["attendee.jump-to-stage", "owner", bob.id, true],
      ["attendee.reset-stage", "owner", ada.id, true],
    ]);
  });
});

async function clusterOf(learnerId: string): Promise<string> {
  return (await server.workshop.learnerForId(learnerId))!.clusterId;
}

describe("results", () => {
  it("exports per attendee and per stage as JSON and CSV, with formulas in names made harmless", async () => {
    provider.clusters.get(await clusterOf(ada.id))!.solved = true;
    clock += 60_000;
    expect((await ada.l.call("POST", "/api/stages/1/check")).json.passed).toBe(true);
    const r = await ada.l.call("GET", "/api/instructor/results.json", undefined, auth);
    expect(r.status).toBe(200);
    const a = r.json.attendees.find((x: Json) => x.id === ada.id);
    expect(a.stages[1]).toMatchObject({
      stage: 1,
      title: "Default deny",
      passed: true,
      attempts: 2,
      checksPassed: ["c1"],
      checksFailed: [],
      mistakes: [{ label: "explicit deny first", count: 1 }],
    });
    expect(r.json.perStage[1]).toMatchObject({ stage: 1, passed: 1, attempts: 2 });
    expect(r.json.perStage[1].failedChecks).toEqual([
      { id: "c1", title: "external egress is denied", count: 1 },
    ]);
    expect(r.json.timeline.at(-1).passed).toEqual([0, 1]);

    const csv = await fetch(`${server.url}/api/instructor/results.csv`, { headers: auth });
    expect(csv.headers.get("content-type")).toMatch(/^text\/csv/);
    expect(csv.headers.get("content-disposition")).toMatch(
      /attachment; filename="egresslab-attendees-test-lab-/,
    );
    const lines = (await csv.text()).trimEnd().split("\r\n");
    expect(lines[0]).toBe(
      "attendee,attendee_id,stage,stage_title,started_at,passed_at,minutes,attempts,passed,checks_passed,checks_failed,mistakes",
    );
    expect(lines).toHaveLength(1 + 3 * 2);
    expect(lines.find((l) => l.startsWith(`Ada,${ada.id},1,`))).toMatch(
      /,2,true,c1,,explicit deny first \(1\)$/,
    );
    expect(lines.find((l) => l.includes(hostile.id))).toMatch(
      /^"'=HYPERLINK\(""http:\/\/evil\.example"",""x""\)",/,
    );
    const stages = await (
      await fetch(`${server.url}/api/instructor/results.csv?by=stage`, { headers: auth })
    ).text();
    expect(stages.split("\r\n")[2]).toMatch(
      /^1,Default deny,\d,1,[\d.]+,2,explicit deny first \(1\),c1 \(1\)$/,
    );
  });
});
