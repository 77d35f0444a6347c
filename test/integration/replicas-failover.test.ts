/**
 * Losing a replica costs its attendees a reconnect, not their work: two `egresslab serve` processes on Postgres behind
 * the affinity proxy; three attendees on the first each create a cluster object and apply a stage's solution from
 * their terminal (kubectl), pass that stage and write a file in their home. The first replica is killed with SIGKILL;
 * each attendee's next connection (through the proxy, as the page reconnects) lands on the other replica, which takes
 * the expired lease, rebuilds the cluster from the shared state and starts a fresh shell in the same home: the object,
 * the policies, the progress and the file are all there. The time from the kill until each attendee's terminal
 * answers again is printed (the bench reports it; no wall-clock limit is asserted here).
 */
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from "vitest";
import { io } from "socket.io-client";
import { startReplicas, StickyLearner, type ReplicaSet } from "../helpers/replicas.ts";
import { TermWatcher, type TestSocket } from "./web-client.ts";
import { replicaCookie } from "../../server/src/http/cookies.ts";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const solution = path.join(root, "labs", "egress-workshop", "01-default-deny", "solution");

let set: ReplicaSet;
beforeAll(async () => {
  set = await startReplicas({ replicas: 2, pool: 1 });
}, 240_000);
afterAll(async () => {
  await set?.stop();
}, 60_000);

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A page's socket through the proxy with the learner's cookies; retried while the server refuses it for now. */
async function page(l: StickyLearner, untilMs: number): Promise<{ socket: TestSocket; term: TermWatcher }> {
  for (;;) {
    const socket: TestSocket = io(set.url, {
      transports: ["websocket"],
      forceNew: true,
      reconnection: false,
      extraHeaders: { Cookie: l.cookie },
    });
    const term = new TermWatcher(socket);
    const outcome = await new Promise<{ ok: true } | { ok: false; code?: string; why: string }>((resolve) => {
      socket.once("connect", () => resolve({ ok: true }));
      socket.once("connect_error", (e: Error & { data?: { code?: string } }) =>
        resolve({ ok: false, ...(e.data?.code ? { code: e.data.code } : {}), why: e.message }),
      );
    });
    if (outcome.ok) {
      socket.on("term:output", (o) => socket.emit("term:ack", { end: o.end }));
      return { socket, term };
    }
    socket.close();
    if (Date.now() > untilMs) throw new Error(`the page could not connect: ${outcome.why}`);
    // Refused (another replica's lease has not run out yet) or the replica is going away: as the page does, ask
    // for the session (the routing cookie follows the learner's cluster) and try again.
    await l.call("GET", "/api/session").catch(() => undefined);
    await sleep(200);
  }
}

/** Runs `command` in the terminal and waits for `expect` in its output. */
async function run(
  s: TestSocket,
  t: TermWatcher,
  command: string,
  expect: RegExp,
  ms = 60_000,
): Promise<void> {
  s.emit("term:input", { data: `${command}\r` });
  await t.waitText(expect, ms);
}

interface Attendee {
  name: string;
  l: StickyLearner;
  id: string;
}

describe("a replica killed with SIGKILL", () => {
  it(
    "costs its attendees a reconnect: cluster objects, progress and home files are back on the other replica",
    { timeout: 600_000 },
    async () => {
      onTestFailed(() => void process.stderr.write(set.logs()));
      const [victim, survivor] = set.names as [string, string];
      const attendees: Attendee[] = [];
      for (const name of ["ada", "bob", "cyd"]) {
        const l = new StickyLearner(set.url);
        // Sent to the replica that will be killed (the proxy honours the routing cookie of a live replica).
        l.jar.set(replicaCookie, victim);
        l.cookie = `${replicaCookie}=${victim}`;
        const joined = await l.join(name);
        expect(l.replica).toBe(victim);
        attendees.push({ name, l, id: joined.learner.id as string });
      }
      const until = Date.now() + 300_000;
      await Promise.all(
        attendees.map(async (a) => {
          expect((await a.l.call("POST", "/api/stages/1/go")).status).toBe(200);
          const { socket, term } = await page(a.l, until);
          socket.emit("term:attach", { cols: 160, rows: 40 });
          await term.waitText(/learner@egresslab:~\/stage-1\$ $/, 180_000);
          await run(
            socket,
            term,
            `kubectl create configmap kept -n default --from-literal=who=${a.name}`,
            /created/,
          );
          await run(socket, term, `kubectl apply -f ${solution}`, /default-deny.*(created|configured)/s);
          await run(
            socket,
            term,
            `echo "home of ${a.name}" > ~/kept.txt && echo WROTE-$((40+2))`,
            /WROTE-42/,
          );
          socket.close();
          const checked = await a.l.call("POST", "/api/stages/1/check");
          expect(checked.status, JSON.stringify(checked.json)).toBe(200);
          expect(checked.json.passed, JSON.stringify(checked.json)).toBe(true);
          expect(a.l.replica).toBe(victim);
        }),
      );

      await set.kill(victim, "SIGKILL");
      const killedAt = Date.now();
      const back: Record<string, number> = {};
      await Promise.all(
        attendees.map(async (a) => {
          // The page reconnects through the proxy, which sends it to the replica still running.
          const { socket, term } = await page(a.l, killedAt + 120_000);
          socket.emit("term:attach", { cols: 160, rows: 40 });
          await term.waitText(/learner@egresslab:~\/stage-1\$ $/, 120_000);
          await run(
            socket,
            term,
            "cat ~/kept.txt; kubectl get configmap kept -n default -o jsonpath='{.data.who}{\"\\n\"}'",
            new RegExp(`home of ${a.name}[\\s\\S]*\\n${a.name}\\r?\\n`),
          );
          back[a.name] = Date.now() - killedAt;
          await run(socket, term, "kubectl get globalnetworkpolicies -o name", /default-deny/);
          socket.close();
          // Progress is in the shared database; the routing cookie now names the replica serving the attendee.
          const state = await a.l.call("GET", "/api/session");
          expect(state.status).toBe(200);
          expect(state.json.currentStage).toBe(1);
          expect(state.json.progress[1].status).toBe("passed");
          expect(a.l.replica).toBe(survivor);
        }),
      );
      const worst = Math.max(...Object.values(back));
      process.stdout.write(
        `failover: every attendee's terminal answered on ${survivor} ${(worst / 1000).toFixed(1)} s after ${victim} was killed ` +
          `(${Object.entries(back)
            .map(([n, ms]) => `${n} ${(ms / 1000).toFixed(1)} s`)
            .join(", ")})\n`,
      );
      expect(set.logs(survivor)).toMatch(/took over a cluster whose server stopped renewing its lease/);
    },
  );
});
