/**
 * Events between `egresslab serve` processes: two replicas on one Postgres and Redis (`EGRESSLAB_REDIS`), the
 * instructor on one, attendees on the other (each talking to its replica directly). The board on r1 sees r2's
 * attendees come online and pass a stage they solved in their own terminal, live; Redis killed and started again
 * mid-workshop loses no board update; a broadcast from r1 reaches a page on r2; a second tab reaching r1 is sent to
 * r2, which holds the terminal, and takes it from the first tab there.
 */
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from "vitest";
import path from "node:path";
import { startReplicas, type ReplicaSet } from "../helpers/replicas.ts";
import { Learner, TermWatcher, connected, nextEvent, type TestSocket } from "./web-client.ts";
import { applyBoardDiff, type BoardAttendee } from "../../server/src/instructor/wire.ts";

const solution = path.join(
  import.meta.dirname,
  "..",
  "..",
  "labs",
  "egress-workshop",
  "01-default-deny",
  "solution",
);
let set: ReplicaSet;
const sockets: TestSocket[] = [];
let r1 = "";
let r2 = "";

beforeAll(async () => {
  set = await startReplicas({ replicas: 2, pool: 1 });
  r1 = set.replica("r1").url;
  r2 = set.replica("r2").url;
}, 300_000);
afterAll(async () => {
  for (const s of sockets) s.close();
  await set?.stop();
}, 60_000);

function track(s: TestSocket): TestSocket {
  sockets.push(s);
  return s;
}

async function until<T>(get: () => T | undefined | false, what: string, ms = 30_000): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = get();
    if (v !== undefined && v !== false) return v;
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The instructor's board on a replica, kept up to date from its snapshot and diffs. */
async function board(url: string): Promise<Map<string, BoardAttendee>> {
  const s = track(new Learner(url).socket({ instructor: set.instructorToken }));
  const rows = new Map<string, BoardAttendee>();
  s.on("board:diff", (d) => applyBoardDiff(rows, d));
  const [snapshot] = await nextEvent(s, "board:snapshot", 30_000);
  for (const a of snapshot.attendees) rows.set(a.id, a);
  return rows;
}

/** An attendee on a replica with their page open and their terminal attached. */
async function attendee(
  url: string,
  name: string,
): Promise<{ l: Learner; id: string; page: TestSocket; term: TermWatcher }> {
  const l = new Learner(url);
  const id = (await l.join(name)).learner.id as string;
  const page = track(l.socket());
  const term = new TermWatcher(page);
  page.on("term:output", (o) => page.emit("term:ack", { end: o.end }));
  await connected(page);
  page.emit("term:attach", { cols: 120, rows: 30 });
  await term.waitText(/stage-0\$ $/, 60_000);
  return { l, id, page, term };
}

describe("events between egresslab processes", () => {
  it(
    "the board on r1 sees an attendee of r2 come online and pass a stage solved in their terminal, live",
    { timeout: 180_000 },
    async () => {
      onTestFailed(() => void process.stderr.write(set.logs()));
      const rows = await board(r1);
      const ada = await attendee(r2, "Ada");
      await until(() => rows.get(ada.id)?.online, "Ada online on r1's board");
      expect((await ada.l.call("POST", "/api/stages/1/go")).status).toBe(200);
      await until(() => rows.get(ada.id)?.currentStage === 1, "Ada on stage 1 on r1's board");
      // The staged policy first, as the guide says, then the rest.
      ada.page.emit("term:input", {
        data: `kubectl apply -f ${solution}/staged-default-deny.yaml && sleep 1 && kubectl apply -f ${solution} && echo APPLIED-$((40+2))\n`,
      });
      await ada.term.waitText(/APPLIED-42/, 60_000);
      const r = await ada.l.call("POST", "/api/stages/1/check");
      expect(r.status).toBe(200);
      expect(r.json.passed, JSON.stringify(r.json.checks) + ada.term.plain().slice(-1500)).toBe(true);
      await until(() => rows.get(ada.id)?.cells[1]?.state === "passed", "Ada's pass on r1's board");
      const got = nextEvent(ada.page, "room:message");
      const b = await new Learner(r1).call(
        "POST",
        "/api/instructor/broadcast",
        { text: "well done" },
        {
          Authorization: `Bearer ${set.instructorToken}`,
        },
      );
      expect(b.status).toBe(200);
      expect((await got)[0]).toMatchObject({ text: "well done", broadcast: true });
    },
  );

  it(
    "Redis killed and started again mid-workshop: r1's board loses nothing that happened on r2 meanwhile",
    { timeout: 180_000 },
    async () => {
      onTestFailed(() => void process.stderr.write(set.logs()));
      const rows = await board(r1);
      const bob = await attendee(r2, "Bob");
      await until(() => rows.get(bob.id)?.online, "Bob online on r1's board");
      const restarting = set.redis!.restart(3000);
      await new Promise((r) => setTimeout(r, 100));
      // Meanwhile on r2: Bob moves on to stage 1 and closes his page; Cy joins.
      expect((await bob.l.call("POST", "/api/stages/1/go")).status).toBe(200);
      bob.page.close();
      const cy = new Learner(r2);
      const cyId = (await cy.join("Cy")).learner.id as string;
      await restarting;
      await until(
        () => rows.get(bob.id)?.currentStage === 1 && rows.get(bob.id)?.online === false && rows.get(cyId),
        "r1's board to show what happened on r2 while Redis was away",
      );
    },
  );

  it(
    "a second tab reaching r1 is forwarded to r2, which holds the attendee's terminal, and takes it there: the first tab is told it is open elsewhere",
    { timeout: 120_000 },
    async () => {
      onTestFailed(() => void process.stderr.write(set.logs()));
      const dee = await attendee(r2, "Dee");
      // Dee's cluster and shell live on r2 (it holds their lease): r1, reached directly (as through an ingress that
      // sent the tab there), passes the page on to r2.
      const other = new Learner(r1);
      other.cookie = dee.l.cookie;
      const tab = track(other.socket());
      const t2 = new TermWatcher(tab);
      await connected(tab);
      tab.emit("term:attach", { cols: 120, rows: 30 });
      await t2.waitFor(() => t2.replays.length > 0, "the second tab's terminal", 60_000);
      await dee.term.waitFor(
        () => dee.term.replaced > 0,
        "the first tab told its terminal is open elsewhere",
      );
      expect(t2.replaced).toBe(0);
    },
  );
});
