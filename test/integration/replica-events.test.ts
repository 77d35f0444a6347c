/**
 * Events between replicas: two workshop servers in this process on one Postgres and one Redis (socket.io's Redis
 * Streams adapter), each with its own provider. Pages connect to either; what the instructor does on one reaches
 * attendees on the other, and the board on one sees attendees of the other live, also across a Redis restart. A
 * learner's requests and sockets that reach a replica other than the one serving them are forwarded there (as behind
 * an ingress whose cookie affinity knows nothing of leases; no proxy in front here).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import net from "node:net";
import type { WorkshopServer } from "../../server/src/http/server.ts";
import type { FakeProvider } from "./web-doubles.ts";
import { InProcessReplicas, until } from "./replica-doubles.ts";
import { Learner, TermWatcher, connected, nextEvent, type TestSocket } from "./web-client.ts";
import { createClient } from "redis";
import { io } from "socket.io-client";
import { applyBoardDiff, type BoardAttendee } from "../../server/src/instructor/wire.ts";

const token = "teach-me";
const forwarded = "X-Egresslab-Forwarded";
const auth = { Authorization: `Bearer ${token}` };
let replicas: InProcessReplicas;
const track = (s: TestSocket): TestSocket => replicas.track(s);

/** Opens the terminal on a page's socket (tracked) and waits for the shell. */
async function terminal(socket: TestSocket, what: string): Promise<TermWatcher> {
  const term = new TermWatcher(track(socket));
  await connected(socket);
  socket.emit("term:attach", { cols: 80, rows: 24 });
  await term.waitFor(() => term.replays.length > 0, what);
  return term;
}

let one: WorkshopServer;
let two: WorkshopServer;
let three: WorkshopServer;
let providerTwo: FakeProvider;

/** An instructor's board on `server`, kept up to date from its snapshot and diffs. */
async function board(server: WorkshopServer): Promise<{ rows: Map<string, BoardAttendee>; diffs: number[] }> {
  const s = track(new Learner(server.url).socket({ instructor: token }));
  const rows = new Map<string, BoardAttendee>();
  const diffs: number[] = [];
  s.on("board:diff", (d) => {
    applyBoardDiff(rows, d);
    diffs.push(Date.now());
  });
  const [snapshot] = await nextEvent(s, "board:snapshot");
  for (const a of snapshot.attendees) rows.set(a.id, a);
  return { rows, diffs };
}

/** Passes stage 1 for a learner of replica two (its cluster solved, then checked). */
async function passStageOne(l: Learner, id: string): Promise<void> {
  const learner = (await two.workshop.learnerForId(id))!;
  providerTwo.clusters.get(learner.clusterId)!.solved = true;
  expect((await l.call("POST", "/api/stages/1/go")).status).toBe(200);
  const r = await l.call("POST", "/api/stages/1/check");
  expect(r.json.passed).toBe(true);
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
  replicas = await InProcessReplicas.start(token);
  const db = replicas.postgres.createDatabase("events");
  one = (await replicas.add("one", db, { solve: true })).server;
  const second = await replicas.add("two", db, { solve: true });
  two = second.server;
  providerTwo = second.provider;
  // Its lease names an address where nothing answers (a replica that is gone, its lease not expired yet).
  three = (
    await replicas.add("three", db, { solve: true, advertise: `http://127.0.0.1:${await deadPort()}` })
  ).server;
}, 60_000);

afterAll(async () => {
  await replicas?.stop();
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

  it("the board on one replica sees attendees who joined on the other come online and pass a stage, live", async () => {
    const b = await board(one);
    const bea = new Learner(two.url);
    const id = (await bea.join("Bea")).learner.id as string;
    await until(() => b.rows.get(id), "Bea on the board of replica one");
    const page = track(bea.socket());
    await connected(page);
    await until(() => b.rows.get(id)?.online, "Bea online on the board of replica one");
    const t0 = Date.now();
    await passStageOne(bea, id);
    await until(() => b.rows.get(id)?.cells[1]?.state === "passed", "Bea's pass on the board of replica one");
    const took = Date.now() - t0;
    expect(b.rows.get(id)!.currentStage).toBe(1);
    page.close();
    await until(() => b.rows.get(id)?.online === false, "Bea offline on the board of replica one");
    console.log(
      `board across replicas: a pass on replica two shown on replica one's board ${took} ms after the check began`,
    );
  });

  it("a check on one replica reaches the board on the other about as soon as the board on its own", async () => {
    const [far, near] = [await board(one), await board(two)];
    const kim = new Learner(two.url);
    const id = (await kim.join("Kim")).learner.id as string;
    expect((await kim.call("POST", "/api/stages/1/go")).status).toBe(200);
    await until(() => far.rows.get(id) && near.rows.get(id), "Kim on both boards");
    const lag: { far: number[]; near: number[] } = { far: [], near: [] };
    for (let i = 1; i <= 15; i++) {
      const t0 = Date.now();
      const r = await kim.call("POST", "/api/stages/1/check");
      expect(r.json.passed).toBe(false);
      const seen: { far?: number; near?: number } = {};
      await until(() => {
        for (const side of ["far", "near"] as const)
          if (
            seen[side] === undefined &&
            (side === "far" ? far : near).rows.get(id)?.cells[1]?.attempts === i
          )
            seen[side] = Date.now() - t0;
        return seen.far !== undefined && seen.near !== undefined;
      }, `check ${i} on both boards`);
      lag.far.push(seen.far!);
      lag.near.push(seen.near!);
    }
    const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    console.log(
      `board update latency (check request start → cell on the board), median of 15: other replica ${median(lag.far)} ms, same replica ${median(lag.near)} ms`,
    );
  });

  it("a workshop created on one replica runs on the other at its first use: its join code, its instructor, its board", async () => {
    const made = await new Learner(one.url).call(
      "POST",
      "/api/instructor/workshops",
      { title: "Second room", lab: "test-lab", joinCode: "second-room", capacity: 5 },
      auth,
    );
    expect(made.status).toBe(201);
    const itsToken = made.json.instructorToken as string;
    const workshopId = made.json.workshop.id as string;
    expect(
      (await new Learner(one.url).call("POST", `/api/instructor/workshops/${workshopId}/open`, {}, auth))
        .status,
    ).toBeLessThan(300);
    const creatorBoard = track(new Learner(one.url).socket({ instructor: itsToken }));
    const rows = new Map<string, BoardAttendee>();
    creatorBoard.on("board:diff", (d) => applyBoardDiff(rows, d));
    await nextEvent(creatorBoard, "board:snapshot");
    const lu = new Learner(two.url);
    const joined = await lu.join("Lu", "second-room");
    const id = joined.learner.id as string;
    expect((await two.workshop.learnerForId(id))!.workshopId).toBe(workshopId);
    const s = track(new Learner(two.url).socket({ instructor: itsToken }));
    const [snapshot] = await nextEvent(s, "board:snapshot");
    expect(snapshot.attendees.map((a) => a.name)).toEqual(["Lu"]);
    await until(() => rows.get(id), "Lu on the board of the replica that created the workshop");
  });

  it("a message to one attendee and the pause overlay reach their pages on the other replica, also pages that open later", async () => {
    const cy = new Learner(two.url);
    const id = (await cy.join("Cy")).learner.id as string;
    const page = track(cy.socket());
    await connected(page);
    const msg = nextEvent(page, "room:message");
    const r = await new Learner(one.url).call(
      "POST",
      `/api/instructor/attendees/${id}/message`,
      { text: "hi Cy" },
      auth,
    );
    expect(r.status).toBe(200);
    expect((await msg)[0]).toMatchObject({ text: "hi Cy", broadcast: false });
    const paused = nextEvent(page, "room:pause");
    expect(
      (
        await new Learner(one.url).call(
          "POST",
          "/api/instructor/pause",
          { paused: true, text: "eyes up" },
          auth,
        )
      ).status,
    ).toBe(200);
    expect((await paused)[0]).toMatchObject({ paused: true, text: "eyes up" });
    // A page that opens on replica two now is told too, once replica two has heard that the room is paused.
    const p = await until(async () => {
      const later = track(cy.socket());
      const got = await nextEvent(later, "room:pause", 300).catch(() => undefined);
      later.close();
      return got?.[0];
    }, "a page opened on replica two told of the pause");
    expect(p).toMatchObject({ paused: true, text: "eyes up" });
    const resumed = nextEvent(page, "room:pause");
    expect(
      (await new Learner(one.url).call("POST", "/api/instructor/pause", { paused: false }, auth)).status,
    ).toBe(200);
    expect((await resumed)[0]).toMatchObject({ paused: false });
    // Once replica two has heard, a page that opens there is not paused.
    await until(async () => {
      const again = track(cy.socket());
      const events: string[] = [];
      again.onAny((e: string) => events.push(e));
      await connected(again);
      await new Promise((r) => setTimeout(r, 200));
      again.close();
      return !events.includes("room:pause");
    }, "a page opened on replica two after the resume not paused");
  });

  it("the seat on one replica shows, read-only, the terminal of an attendee whose shell runs on the other", async () => {
    const di = new Learner(two.url);
    const id = (await di.join("Di")).learner.id as string;
    const tab = di.socket();
    const term = await terminal(tab, "the shell");
    tab.emit("term:input", { data: "echo seat-$((6*7))\n" });
    await term.waitText(/seat-42/);
    const s = track(new Learner(one.url).socket({ instructor: token }));
    await nextEvent(s, "board:snapshot");
    let seen = "";
    s.on("seat:term", (o) => (seen = o.replay ? o.data : seen + o.data));
    s.emit("seat:watch", { attendeeId: id });
    await until(() => /seat-42/.test(seen), "the attendee's earlier output on the seat");
    tab.emit("term:input", { data: "echo live-$((7*8))\n" });
    await until(() => /live-56/.test(seen), "the attendee's new output on the seat");
  });

  it("a second tab reaching the other replica is forwarded to the one that holds the terminal, where it takes it over", async () => {
    const ed = new Learner(two.url);
    await ed.join("Ed");
    const first = ed.socket();
    const t1 = await terminal(first, "the first tab's shell");
    // Ed's cluster and shell live on replica two (it holds their lease): replica one passes the page on to two.
    const there = new Learner(one.url);
    there.cookie = ed.cookie;
    const second = there.socket();
    const t2 = await terminal(second, "the second tab's shell");
    await t1.waitFor(() => t1.replaced > 0, "the first tab told its terminal is open elsewhere");
    // The first tab no longer types into anything.
    first.emit("term:input", { data: "echo nope\n" });
    await t1.waitFor(() => t1.errors.some((e) => e.code === "conflict"), "the first tab's input refused");
    expect(t2.replaced).toBe(0);
  });

  it("Redis restarted mid-workshop: the board on one replica loses no update made on the other meanwhile", async () => {
    const b = await board(one);
    const fay = new Learner(two.url);
    const fayId = (await fay.join("Fay")).learner.id as string;
    const gus = new Learner(two.url);
    const gusId = (await gus.join("Gus")).learner.id as string;
    const gusPage = track(gus.socket());
    await connected(gusPage);
    await until(() => b.rows.get(fayId) && b.rows.get(gusId)?.online, "Fay and Gus (online) on the board");
    // Redis goes away (SIGKILL) for two seconds; meanwhile, on replica two, Fay passes a stage, Gus closes his
    // page and Hal joins. Nothing of it can travel between the replicas until Redis is back.
    const restarting = replicas.redis.restart(2000);
    await new Promise((r) => setTimeout(r, 100));
    await passStageOne(fay, fayId);
    gusPage.close();
    const hal = new Learner(two.url);
    const halId = (await hal.join("Hal")).learner.id as string;
    await restarting;
    const back = Date.now();
    await until(
      () =>
        b.rows.get(fayId)?.cells[1]?.state === "passed" &&
        b.rows.get(gusId)?.online === false &&
        b.rows.get(halId),
      "the board of replica one to show what happened on replica two while Redis was away",
      20_000,
    );
    console.log(`Redis restart: replica one's board caught up ${Date.now() - back} ms after Redis was back`);
    // The board is the database's truth: every attendee, stage and pass as the database has them.
    const truth = await one.workshop.board();
    for (const r of truth) {
      const row = b.rows.get(r.learnerId)!;
      expect(row, r.name).toBeDefined();
      expect(row.currentStage, r.name).toBe(r.currentStage);
      for (const st of r.stages)
        expect(row.cells[st.index]!.state === "passed", `${r.name} ${st.index}`).toBe(st.status === "passed");
    }
    // And events flow again both ways.
    const halPage = track(hal.socket());
    await connected(halPage);
    const got = nextEvent(halPage, "room:message");
    expect(
      (await new Learner(one.url).call("POST", "/api/instructor/broadcast", { text: "still here" }, auth))
        .status,
    ).toBe(200);
    expect((await got)[0]).toMatchObject({ text: "still here" });
    await until(() => b.rows.get(halId)?.online, "Hal online on the board after the restart");
  });

  it("events between servers lost outright (Redis refusing PUBLISH a while): the board still reaches the database's truth", async () => {
    const b = await board(one);
    const ivy = new Learner(two.url);
    const ivyId = (await ivy.join("Ivy")).learner.id as string;
    await until(() => b.rows.get(ivyId), "Ivy on the board");
    const admin = createClient({ url: replicas.redis.url });
    await admin.connect();
    try {
      // Server-side events go over PUBLISH: refused, they are gone for good (room events, over the stream, are not).
      await admin.sendCommand(["ACL", "SETUSER", "default", "-publish"]);
      await passStageOne(ivy, ivyId);
      const jo = new Learner(two.url);
      const joId = (await jo.join("Jo")).learner.id as string;
      await new Promise((r) => setTimeout(r, 700));
      expect(b.rows.get(ivyId)!.cells[1]!.state).not.toBe("passed");
      expect(b.rows.get(joId)).toBeUndefined();
      await admin.sendCommand(["ACL", "SETUSER", "default", "+publish"]);
      const back = Date.now();
      // Replica two's next beat shows replica one the gap in its numbers: the board reads the database again.
      await until(
        () => b.rows.get(ivyId)?.cells[1]?.state === "passed" && b.rows.get(joId),
        "the board to catch up after the lost events",
      );
      console.log(
        `lost events: replica one's board caught up ${Date.now() - back} ms after PUBLISH worked again`,
      );
    } finally {
      await admin.sendCommand(["ACL", "SETUSER", "default", "+publish"]).catch(() => undefined);
      await admin.close();
    }
  });
});

describe("a replica forwards a learner's requests to the replica that serves them", () => {
  it("a learner served by two gets two's answers through one: their session and their terminal over socket.io", async () => {
    const ada = new Learner(two.url);
    const id = (await ada.join("Ida")).learner.id as string;
    const home = new Learner(two.url);
    home.cookie = ada.cookie;
    const tab = home.socket();
    const t1 = await terminal(tab, "the shell on two");
    tab.emit("term:input", { data: "echo here-$((6*7))\n" });
    await t1.waitText(/here-42/);

    const r = await via(ada, one.url).call("GET", "/api/session");
    expect(r.status).toBe(200);
    expect(r.json.learner.id).toBe(id);
    // The answer is two's: it names two as the learner's replica.
    expect(r.headers.getSetCookie().some((c) => c.startsWith("egresslab_replica=two"))).toBe(true);

    // A second browser (the WebSocket upgrade through one) reaches the same shell on two.
    const second = via(ada, one.url).socket();
    const t2 = await terminal(second, "the shell on two through one");
    await t2.waitText(/here-42/);
    second.emit("term:input", { data: "echo there-$((7*8))\n" });
    await t2.waitText(/there-56/);
  });

  it("socket.io's long-polling through one reaches two as well", async () => {
    const bo = new Learner(two.url);
    await bo.join("Nell");
    const s = io(one.url, {
      transports: ["polling"],
      forceNew: true,
      reconnection: false,
      extraHeaders: { Cookie: bo.cookie },
    }) as TestSocket;
    const term = await terminal(s, "the shell on two over polling");
    s.emit("term:input", { data: "echo poll-$((5*5))\n" });
    await term.waitText(/poll-25/);
  });

  it("an instructor's jump on one for a learner served by two succeeds", async () => {
    const cy = new Learner(two.url);
    const id = (await cy.join("Kit")).learner.id as string;
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
    await di.join("Lu");
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
    await ed.join("Mo");
    const r = await via(ed, one.url).call("POST", "/api/stages/0/check", {});
    expect(r.status).toBe(503);
    expect(r.json.error).toMatchObject({ code: "unavailable", replica: "three" });
    expect(r.json.error.message).toMatch(/running on server three/);
    expect(r.headers.getSetCookie().some((c) => c.startsWith("egresslab_replica=three"))).toBe(true);
  });
});
