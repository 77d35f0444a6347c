/**
 * 100 attendees spread across three replicas: three `egresslab serve` processes on one Postgres and Redis behind the
 * affinity proxy, 100 joins through the proxy. Each attendee lands on one replica (the cookie names it) and every
 * later request of theirs — the API, the socket's long-polling and its upgrade — goes there; every replica gets a share;
 * each attendee's page opens its socket and gets its terminal, on its own replica (counted by asking each replica). The
 * instructor board on one replica lists every attendee and sees them all online.
 */
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from "vitest";
import { io } from "socket.io-client";
import { startReplicas, StickyLearner, type ReplicaSet } from "../helpers/replicas.ts";
import { Learner, TermWatcher, connected, nextEvent, type TestSocket } from "./web-client.ts";
import type { RouteEvent } from "../../server/src/scale/affinity-proxy.ts";
import { applyBoardDiff, type BoardAttendee } from "../../server/src/instructor/wire.ts";

const attendees = 100;
let set: ReplicaSet;
const routes: RouteEvent[] = [];
const sockets: TestSocket[] = [];

beforeAll(async () => {
  set = await startReplicas({ replicas: 3, capacity: attendees + 10, onRoute: (e) => routes.push(e) });
}, 300_000);
afterAll(async () => {
  for (const s of sockets) s.close();
  await set?.stop();
}, 60_000);

interface Attendee {
  l: StickyLearner;
  id: string;
  replica: string;
  session: string;
}

/** Runs `work` for 0…n-1, `width` at a time. */
async function inBatches<T>(n: number, width: number, work: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < n) {
        const i = next++;
        out[i] = await work(i);
      }
    }),
  );
  return out;
}

describe("100 attendees on three replicas", () => {
  it(
    "each lands on one replica, stays there, and gets a terminal there; every replica gets some",
    { timeout: 900_000 },
    async () => {
      onTestFailed(() => void process.stderr.write(set.logs()));
      const joined = await inBatches(attendees, 10, async (i): Promise<Attendee> => {
        const l = new StickyLearner(set.url);
        // The page first, as a browser loads it: that answer sets the affinity cookie, and the join follows it.
        await l.call("GET", "/api/workshop");
        const r = await l.join(`Attendee ${i}`);
        return {
          l,
          id: r.learner.id as string,
          replica: l.replica!,
          session: l.jar.get("egresslab_session")!,
        };
      });
      const per = new Map<string, number>(set.names.map((n) => [n, 0]));
      for (const a of joined) {
        expect(set.names).toContain(a.replica);
        per.set(a.replica, per.get(a.replica)! + 1);
      }
      // Spread: every replica has a real share (the proxy sends newcomers to the least busy, in turns).
      for (const [name, n] of per)
        expect(n, `attendees on ${name}: ${JSON.stringify([...per])}`).toBeGreaterThanOrEqual(10);

      // Every page opens its socket (long-polling, then the upgrade) and gets its terminal.
      await inBatches(attendees, 10, async (i) => {
        const a = joined[i]!;
        const s: TestSocket = io(set.url, {
          transports: ["polling", "websocket"],
          forceNew: true,
          reconnection: false,
          extraHeaders: { Cookie: a.l.cookie },
        });
        sockets.push(s);
        const w = new TermWatcher(s);
        await connected(s);
        s.on("term:output", (o) => s.emit("term:ack", { end: o.end }));
        s.emit("term:attach", { cols: 100, rows: 30 });
        await w.waitText(/learner@egresslab:~\/stage-0\$ $/, 180_000);
        await new Promise<void>((resolve) =>
          s.io.engine.transport.name === "websocket"
            ? resolve()
            : s.io.engine.once("upgrade", () => resolve()),
        );
        expect(w.errors).toEqual([]);
      });

      // Stayed there: every request that carried an attendee's session went to the attendee's replica, upgrades too.
      const bySession = new Map(joined.map((a) => [a.session, a]));
      let upgrades = 0;
      for (const r of routes) {
        const session = /egresslab_session=([^;\s]+)/.exec(r.cookie ?? "")?.[1];
        const a = session ? bySession.get(session) : undefined;
        if (!a) continue;
        expect(r.replica, `${r.method} ${r.url} of ${a.id}`).toBe(a.replica);
        expect(r.retry).toBe(false);
        if (r.upgrade) upgrades++;
      }
      expect(upgrades).toBeGreaterThanOrEqual(attendees);
      // The shells run where the cookies say: each replica, asked directly, has exactly its attendees' terminals.
      for (const name of set.names) {
        const health = (await (await fetch(`${set.replica(name).url}/healthz`)).json()) as {
          terminals: number;
        };
        expect(health.terminals, `terminals on ${name}`).toBe(per.get(name));
      }

      // The instructor board, on one replica, lists every attendee and sees each of them online, wherever they are.
      const board = new Learner(set.replica(set.names[0]!).url).socket({ instructor: set.instructorToken });
      sockets.push(board);
      const seen = new Map<string, BoardAttendee>();
      board.on("board:diff", (d) => void applyBoardDiff(seen, d));
      const [snapshot] = await nextEvent(board, "board:snapshot", 30_000);
      for (const a of snapshot.attendees) if (!seen.has(a.id)) seen.set(a.id, a);
      expect(new Set(snapshot.attendees.map((a) => a.id))).toEqual(new Set(joined.map((a) => a.id)));
      const online = (): number => joined.filter((a) => seen.get(a.id)?.online).length;
      const t0 = Date.now();
      while (online() < attendees && Date.now() - t0 < 60_000) await new Promise((r) => setTimeout(r, 100));
      expect(online(), "attendees online on the board of one replica").toBe(attendees);
    },
  );
});
