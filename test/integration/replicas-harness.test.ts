/**
 * The multi-replica harness itself: two `egresslab serve` processes on Postgres behind the affinity proxy. A learner
 * who joins through the proxy sticks to one replica for the API, the socket's polling and its upgrade, and gets a
 * terminal there; the session is in the shared database, so the other replica knows the learner too. A replica
 * killed with SIGKILL is taken out of rotation at once and comes back on restart.
 */
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from "vitest";
import { startReplicas, StickyLearner, type ReplicaSet } from "../helpers/replicas.ts";
import { TermWatcher, connected, type TestSocket } from "./web-client.ts";
import { io } from "socket.io-client";
import { replicaCookie, type RouteEvent } from "../../server/src/scale/affinity-proxy.ts";

let set: ReplicaSet;
const routes: RouteEvent[] = [];

beforeAll(async () => {
  set = await startReplicas({ replicas: 2, onRoute: (e) => routes.push(e) });
}, 240_000);
afterAll(async () => {
  await set?.stop();
}, 60_000);

describe("two replicas behind the proxy", () => {
  it(
    "keep a learner on one replica for the API, polling and the upgrade, with a terminal there",
    { timeout: 180_000 },
    async () => {
      onTestFailed(() => void process.stderr.write(set.logs()));
      const l = new StickyLearner(set.url);
      await l.join("Ada");
      const home = l.replica!;
      expect(set.names).toContain(home);
      const session = l.jar.get("egresslab_session")!;
      // The page's socket: long-polling first, then the upgrade, both carrying the cookies.
      const s: TestSocket = io(set.url, {
        transports: ["polling", "websocket"],
        forceNew: true,
        reconnection: false,
        extraHeaders: { Cookie: l.cookie },
      });
      const w = new TermWatcher(s);
      await connected(s);
      s.on("term:output", (o) => s.emit("term:ack", { end: o.end }));
      s.emit("term:attach", { cols: 100, rows: 30 });
      await w.waitText(/learner@egresslab:~\/stage-0\$ $/, 120_000);
      await new Promise<void>((resolve) =>
        s.io.engine.transport.name === "websocket" ? resolve() : s.io.engine.once("upgrade", () => resolve()),
      );
      s.emit("term:input", { data: "echo on-$((6*7))\r" });
      await w.waitText(/on-42/);
      s.close();
      const mine = routes.filter((r) => r.cookie?.includes(session));
      expect(mine.some((r) => r.upgrade)).toBe(true);
      expect(mine.some((r) => r.url.startsWith("/socket.io/") && !r.upgrade)).toBe(true);
      expect(new Set(mine.map((r) => r.replica))).toEqual(new Set([home]));
      // Sessions are in the shared database: the other replica, asked directly, knows this learner.
      const other = set.names.find((n) => n !== home)!;
      const there = await fetch(`${set.replica(other).url}/api/session`, { headers: { Cookie: l.cookie } });
      expect(there.status).toBe(200);
      expect(((await there.json()) as { learner: { name: string } }).learner.name).toBe("Ada");
    },
  );

  it(
    "take a replica killed with SIGKILL out of rotation at once, and back after a restart",
    { timeout: 240_000 },
    async () => {
      onTestFailed(() => void process.stderr.write(set.logs()));
      const [a, b] = set.names as [string, string];
      const pid = set.replica(a).pid;
      await set.kill(a);
      expect(set.replica(a).running).toBe(false);
      // The next request naming it is refused by the dead port, marks it down and is answered by the other.
      const res = await fetch(`${set.url}/api/workshop`, { headers: { Cookie: `${replicaCookie}=${a}` } });
      expect(res.status).toBe(200);
      expect(res.headers.getSetCookie().join()).toContain(`${replicaCookie}=${b}`);
      expect(set.proxy.status().find((s) => s.name === a)!.up).toBe(false);
      const newcomer = new StickyLearner(set.url);
      await newcomer.join("Grace");
      expect(newcomer.replica).toBe(b);
      await set.restart(a);
      expect(set.replica(a).pid).not.toBe(pid);
      expect(set.proxy.status().find((s) => s.name === a)!.up).toBe(true);
      const back = await fetch(`${set.url}/api/workshop`, { headers: { Cookie: `${replicaCookie}=${a}` } });
      expect(back.status).toBe(200);
      expect(set.logs(a)).toMatch(new RegExp(`${a} exited \\(SIGKILL\\)`));
    },
  );
});
