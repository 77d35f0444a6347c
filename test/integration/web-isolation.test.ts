/**
 * Two learners on one server, in multi-user mode (bubblewrap): neither can reach the other's terminal, home, flows or
 * progress, whatever they send.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { io } from "socket.io-client";
import { startWorkshopServer, type WorkshopServer } from "../../server/src/http/server.ts";
import { FakeProvider, fakeLab, whiskerFlow } from "./web-doubles.ts";
import { Learner, TermWatcher, connected, nextEvent, type TestSocket } from "./web-client.ts";

let server: WorkshopServer;
let provider: FakeProvider;
let dataDir: string;
const sockets: TestSocket[] = [];
const ada = { l: undefined as unknown as Learner, id: "", cluster: "" };
const bob = { l: undefined as unknown as Learner, id: "", cluster: "" };

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(tmpdir(), "egl-iso-"));
  provider = new FakeProvider();
  server = await startWorkshopServer({
    port: 0,
    host: "127.0.0.1",
    dataDir,
    provider,
    flowSource: provider.flowSource,
    lab: fakeLab(provider),
    local: false,
    idleTimeoutSeconds: 600,
    pool: 0,
    instructorToken: "teach-me",
  });
  for (const [who, name] of [
    [ada, "Ada"],
    [bob, "Bob"],
  ] as const) {
    who.l = new Learner(server.url);
    const st = await who.l.join(name);
    who.id = st.learner.id;
    who.cluster = (await server.workshop.learnerForId(who.id))!.clusterId;
  }
});

afterAll(async () => {
  for (const s of sockets) s.close();
  await server?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

async function terminal(l: Learner): Promise<{ s: TestSocket; w: TermWatcher }> {
  const s = l.socket();
  sockets.push(s);
  const w = new TermWatcher(s);
  await connected(s);
  s.emit("term:attach", { cols: 160, rows: 40 });
  await w.waitText(/learner@egresslab:~\/stage-0\$ $/, 15_000);
  return { s, w };
}

describe("isolation between learners", () => {
  it("gives each learner their own sandboxed shell that sees neither the other's home nor the data directory", async () => {
    const a = await terminal(ada.l);
    const b = await terminal(bob.l);
    a.s.emit("term:input", { data: "echo secret-of-ada > ~/mine.txt; echo A-$((6*7))\r" });
    await a.w.waitText(/A-42/);
    const adaHome = path.join(dataDir, "learners", ada.id, "home");
    b.s.emit("term:input", {
      data: `cat ~/mine.txt 2>/dev/null || echo NO-OWN-FILE; cat ${adaHome}/mine.txt 2>/dev/null || echo NO-ADA; ls ${dataDir} 2>/dev/null || echo NO-DATA; ls /proc | grep -c '^[0-9]' ; echo B-$((6*7))\r`,
    });
    await b.w.waitText(/B-42/);
    const out = b.w.plain();
    expect(out).toContain("NO-OWN-FILE");
    expect(out).toContain("NO-ADA");
    expect(out).toContain("NO-DATA");
    expect(out).not.toContain("secret-of-ada");
    // A private PID namespace: bwrap, bash, and the few commands of this line.
    const pids = Number(/\n\r?(\d+)\r?\n\r?B-42/.exec(out)?.[1]);
    expect(pids).toBeLessThan(10);
    expect(b.w.plain()).not.toContain("A-42");
  });

  it("gives each learner a kubeconfig for their own cluster only", async () => {
    const b = await terminal(bob.l);
    b.s.emit("term:input", {
      data: "grep -c token ~/.kube/config; grep -o 'current-context: .*' ~/.kube/config; echo K-$((1+1))\r",
    });
    await b.w.waitText(/K-2/);
    expect(b.w.plain()).toContain(`current-context: ${bob.cluster}`);
    expect(b.w.plain()).not.toContain(ada.cluster);
  });

  it("streams each learner only their own cluster's flows", async () => {
    provider.push(
      ada.cluster,
      whiskerFlow({ source_namespace: "ada", source_name: "a-*", dest_domains: ["ada.example"] }),
    );
    provider.push(
      bob.cluster,
      whiskerFlow({
        source_namespace: "bob",
        source_name: "b-*",
        dest_domains: ["bob.example"],
        action: "Deny",
      }),
    );
    const s = bob.l.socket();
    sockets.push(s);
    await connected(s);
    const snap = nextEvent(s, "flows:snapshot");
    (s.emit as (e: string, p: unknown) => void)("flows:subscribe", { cluster: ada.cluster, learner: ada.id });
    const [rows] = await snap;
    expect(rows.map((r) => r.destName)).toEqual(["bob.example"]);
  });

  it("keeps progress and answers per learner; the API takes no learner id from the request", async () => {
    await ada.l.call("PUT", "/api/stages/0/answers", { answers: { compromised: "ada/answer" } });
    const bobGuide = await bob.l.call("GET", "/api/stages/0/guide");
    expect(bobGuide.json.answers).toEqual({});
    await ada.l.call("POST", "/api/stages/1/go");
    const bobState = await bob.l.call("GET", `/api/session?learner=${ada.id}`);
    expect(bobState.json.learner.id).toBe(bob.id);
    expect(bobState.json.currentStage).toBe(0);
    expect(bobState.json.progress[1].status).toBe("not-started");
  });

  it("rejects a forged session cookie and a wrong instructor token; the right token sees the board", async () => {
    const forged = new Learner(server.url);
    forged.cookie = `egresslab_session=${ada.id}`;
    expect((await forged.call("GET", "/api/session")).status).toBe(401);
    await expect(connected(forged.socket())).rejects.toThrow(/session/);
    const anon = new Learner(server.url);
    expect(
      (await anon.call("GET", "/api/instructor/board", undefined, { Authorization: "Bearer nope" })).status,
    ).toBe(401);
    await expect(connected(anon.socket({ instructor: "nope" }))).rejects.toThrow(/instructor/);
    const board = await anon.call("GET", "/api/instructor/board", undefined, {
      Authorization: "Bearer teach-me",
    });
    expect(board.json.rows.map((r: { name: string }) => r.name)).toEqual(["Ada", "Bob"]);
    const teacher = anon.socket({ instructor: "teach-me" });
    sockets.push(teacher);
    const [snap] = await nextEvent(teacher, "board:snapshot");
    expect(snap.attendees.map((a) => a.name)).toEqual(["Ada", "Bob"]);
  });

  it("does not let a cross-site page open a socket with the learner's cookie", async () => {
    const s: TestSocket = io(server.url, {
      transports: ["websocket"],
      forceNew: true,
      reconnection: false,
      extraHeaders: { Cookie: ada.l.cookie, Origin: "https://evil.example" },
    });
    sockets.push(s);
    await expect(connected(s)).rejects.toThrow();
  });
});
