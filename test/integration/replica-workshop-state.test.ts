/**
 * A workshop's state across replicas: two workshop servers in this process on one Postgres and one Redis. A workshop
 * ended (or paused, or given a new instructor token) on one replica stops, or changes, on the other too: its
 * attendees' shells and sessions end there, the clusters it holds for the workshop (attendees' and warm ones) are
 * released, its join code and old instructor token are refused. The database decides, so the end at the workshop's end
 * time, run by every replica, is recorded once, and an end whose event was lost is taken in at the next periodic read.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pg from "pg";
import type { WorkshopServer } from "../../server/src/http/server.ts";
import { InProcessReplicas, until } from "./replica-doubles.ts";
import { Learner, TermWatcher, connected, type TestSocket } from "./web-client.ts";
import type { WorkshopState } from "../../server/src/sessions/store.ts";

const token = "teach-me";
const auth = { Authorization: `Bearer ${token}` };
let replicas: InProcessReplicas;
let database: string;
const track = (s: TestSocket): TestSocket => replicas.track(s);

let one: WorkshopServer;
let two: WorkshopServer;
/** Cluster ids replica two's provider released. */
const releasedOnTwo: string[] = [];

/** Creates a workshop on replica one (owner's token); returns its id and instructor token. */
async function create(
  joinCode: string,
  extra: Record<string, unknown> = {},
): Promise<{ id: string; instructorToken: string }> {
  const made = await new Learner(one.url).call(
    "POST",
    "/api/instructor/workshops",
    { title: `Room ${joinCode}`, lab: "test-lab", joinCode, capacity: 4, ...extra },
    auth,
  );
  expect(made.status).toBe(201);
  return { id: made.json.workshop.id as string, instructorToken: made.json.instructorToken as string };
}

const act = async (server: WorkshopServer, id: string, action: string): Promise<number> =>
  (await new Learner(server.url).call("POST", `/api/instructor/workshops/${id}/${action}`, {}, auth)).status;

beforeAll(async () => {
  replicas = await InProcessReplicas.start(token);
  database = replicas.postgres.createDatabase("workshop_state");
  one = (await replicas.add("one", database)).server;
  const second = await replicas.add("two", database);
  two = second.server;
  const p = second.provider as unknown as { release(id: string): Promise<void> };
  const release = p.release.bind(p);
  p.release = async (id: string) => {
    releasedOnTwo.push(id);
    await release(id);
  };
}, 60_000);

afterAll(async () => {
  await replicas?.stop();
});

describe("a workshop's state across replicas", () => {
  it("paused and opened on one replica: the other takes the new state in", async () => {
    const { id } = await create("pause-room");
    expect(await act(one, id, "open")).toBe(200);
    // Replica two runs the workshop from its first use.
    expect((await two.workshops.forJoin("pause-room")).id).toBe(id);
    const onTwo = two.workshops.get(id)!;
    const seen: WorkshopState[] = [];
    onTwo.on("state", (s) => seen.push(s));
    expect(await act(one, id, "pause")).toBe(200);
    await until(() => seen.includes("paused"), "the pause taken in on replica two");
    const refused = await new Learner(two.url).call("POST", "/api/join", {
      name: "Late",
      code: "pause-room",
    });
    expect(refused.status).toBe(403);
    expect(JSON.stringify(refused.json)).toMatch(/paused/);
    expect(await act(one, id, "open")).toBe(200);
    await until(() => seen.at(-1) === "open", "the reopening taken in on replica two");
  });

  it("ended on one replica: the attendee on the other loses their page, shell, clusters and session; the join code and token are refused there", async () => {
    const { id, instructorToken } = await create("end-room");
    expect(await act(one, id, "open")).toBe(200);
    const ada = new Learner(two.url);
    const learnerId = (await ada.join("Ada", "end-room")).learner.id as string;
    const onTwo = two.workshops.get(id)!;
    const clusterId = (await onTwo.learnerForId(learnerId))!.clusterId;
    const page = track(ada.socket());
    const term = new TermWatcher(page);
    await connected(page);
    page.emit("term:attach", { cols: 80, rows: 24 });
    await term.waitFor(() => term.replays.length > 0, "Ada's shell on replica two");
    expect(two.terminals.get(learnerId)).toBeDefined();
    // Replica two keeps its share of the workshop's warm clusters.
    await until(() => onTwo.poolStatus().ready > 0, "warm clusters of the workshop on replica two");
    const warm = onTwo.poolStatus().ready;
    const gone = new Promise<string>((resolve) => page.once("disconnect", resolve));

    expect(await act(one, id, "end")).toBe(200);

    expect(await gone).toBe("io server disconnect");
    await until(() => two.workshops.get(id) === undefined, "the workshop stopped on replica two");
    await until(() => two.terminals.get(learnerId) === undefined, "Ada's shell gone from replica two");
    expect(onTwo.poolStatus().ready).toBe(0);
    expect(releasedOnTwo).toContain(clusterId);
    expect(releasedOnTwo.length).toBeGreaterThanOrEqual(warm + 1);
    // Her session has ended, on either replica.
    expect((await ada.call("GET", "/api/session")).status).toBe(401);
    const again = track(ada.socket());
    await new Promise<Error>((resolve) => again.once("connect_error", resolve));
    const join = await new Learner(two.url).call("POST", "/api/join", { name: "Bo", code: "end-room" });
    expect(join.status).toBe(400);
    expect(JSON.stringify(join.json)).toMatch(/this workshop has ended/);
    const board = await new Learner(two.url).call("GET", "/api/instructor/workshops", undefined, {
      Authorization: `Bearer ${instructorToken}`,
    });
    expect(board.status).toBe(401);
    const ownerBoard = await new Learner(two.url).call(
      "GET",
      `/api/instructor/workshops/${id}/board`,
      undefined,
      auth,
    );
    expect(ownerBoard.status).toBe(404);
  });

  it("a new instructor token made on one replica: the old one is refused on the other", async () => {
    const { id, instructorToken } = await create("token-room");
    const old = { Authorization: `Bearer ${instructorToken}` };
    expect((await new Learner(two.url).call("GET", "/api/instructor/workshops", undefined, old)).status).toBe(
      200,
    );
    const rotated = await new Learner(one.url).call(
      "POST",
      `/api/instructor/workshops/${id}/token`,
      {},
      auth,
    );
    expect(rotated.status).toBe(200);
    const fresh = { Authorization: `Bearer ${rotated.json.instructorToken as string}` };
    expect((await new Learner(two.url).call("GET", "/api/instructor/workshops", undefined, old)).status).toBe(
      401,
    );
    expect(
      (await new Learner(two.url).call("GET", "/api/instructor/workshops", undefined, fresh)).status,
    ).toBe(200);
  });

  it("the end at the workshop's end time, run by both replicas at once, is recorded once", async () => {
    const endsAt = new Date(Date.now() + 3_600_000).toISOString();
    const { id } = await create("late-room", { endsAt });
    await two.workshops.forJoin("late-room");
    expect(two.workshops.get(id)).toBeDefined();
    const at = Date.parse(endsAt);
    const [a, b] = await Promise.all([one.workshops.endOverdue(at), two.workshops.endOverdue(at)]);
    expect([...a, ...b].filter((w) => w === id)).toEqual([id]);
    expect(one.workshops.get(id)).toBeUndefined();
    expect(two.workshops.get(id)).toBeUndefined();
    const client = new pg.Client({ connectionString: database });
    await client.connect();
    try {
      const r = await client.query(
        "SELECT actor FROM instructor_actions WHERE workshop_id = $1 AND action = 'workshop.end'",
        [id],
      );
      expect(r.rows).toEqual([{ actor: "schedule" }]);
    } finally {
      await client.end();
    }
  });

  it("an instructor's end and the schedule's at once on one replica: one ends it, recorded once", async () => {
    const { id } = await create("twice-room");
    const w = one.workshops.get(id)!;
    const results = await Promise.all([one.workshops.end(w, "owner"), one.workshops.end(w, "schedule")]);
    expect(results.sort()).toEqual([false, true]);
    const ends = (await w.actions()).filter((a) => a.action === "workshop.end");
    expect(ends).toHaveLength(1);
    expect(one.workshops.get(id)).toBeUndefined();
  });

  it("an end whose event never arrived is taken in at the next periodic read of the database", async () => {
    const { id } = await create("quiet-room");
    await two.workshops.forJoin("quiet-room");
    expect(two.workshops.get(id)).toBeDefined();
    // Ended behind every replica's back (as if the event about it was lost).
    const client = new pg.Client({ connectionString: database });
    await client.connect();
    try {
      await client.query("UPDATE workshop SET state = 'ended' WHERE id = $1", [id]);
      expect(two.workshops.get(id)).toBeDefined();
      expect(await two.workshops.endOverdue()).toEqual([]);
      expect(two.workshops.get(id)).toBeUndefined();
      const r = await client.query(
        "SELECT count(*)::int AS n FROM instructor_actions WHERE workshop_id = $1 AND action = 'workshop.end'",
        [id],
      );
      expect(r.rows[0].n).toBe(0);
    } finally {
      await client.end();
    }
  });
});
