/** The web server over HTTP and socket.io, in-process on port 0, with a fake provider and lab. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { startWorkshopServer, type WorkshopServer } from "../../server/src/http/server.ts";
import { FakeProvider, brokenLab, fakeLab, whiskerFlow } from "./web-doubles.ts";
import { Learner, TermWatcher, connected, nextEvent, type TestSocket } from "./web-client.ts";

let server: WorkshopServer;
let provider: FakeProvider;
let dataDir: string;
const sockets: TestSocket[] = [];

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(tmpdir(), "egl-web-"));
  provider = new FakeProvider();
  server = await startWorkshopServer({
    port: 0,
    host: "127.0.0.1",
    dataDir,
    provider,
    flowSource: provider.flowSource,
    lab: fakeLab(provider),
    joinCode: "kube-2026",
    local: true,
    idleTimeoutSeconds: 600,
    pool: 1,
    checkRate: { burst: 3, perMinute: 6 },
  });
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

describe("joining", () => {
  it.each([
    { body: { name: "", code: "kube-2026" }, where: ["name"] },
    { body: { name: "Ada", code: "nope" }, where: ["code"] },
    { body: { name: "<script>", code: "" }, where: ["name", "code"] },
  ])("rejects $body listing every problem", async ({ body, where }) => {
    const r = await new Learner(server.url).call("POST", "/api/join", body);
    expect(r.status).toBe(400);
    expect(r.json.error.code).toBe("invalid");
    expect(r.json.error.problems.map((p: { where: string }) => p.where)).toEqual(where);
    expect(r.headers.get("set-cookie")).toBeNull();
  });

  it("gives a session cookie (httpOnly, SameSite=Lax), a cluster and the first stage set up", async () => {
    const l = new Learner(server.url);
    const r = await l.call("POST", "/api/join", { name: "Ada", code: "kube-2026" });
    expect(r.status).toBe(200);
    const cookie = r.headers.get("set-cookie")!;
    expect(cookie).toMatch(/^egresslab_session=[A-Za-z0-9_-]{43};/);
    expect(cookie).toContain("HttpOnly");
    expect(cookie).toContain("SameSite=Lax");
    expect(r.json).toMatchObject({
      learner: { name: "Ada" },
      currentStage: 0,
      progress: [{ status: "started" }, { status: "not-started" }],
    });
    const session = await l.call("GET", "/api/session");
    expect(session.json.learner.id).toBe(r.json.learner.id);
    const clusterId = [...provider.clusters.values()].find((c) => c.setups.includes(0))?.id;
    expect(clusterId).toBeDefined();
  });

  it("says plainly when a cluster cannot be prepared, and leaves no half-joined learner", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "egl-web-broken-"));
    const p = new FakeProvider();
    const broken = await startWorkshopServer({
      port: 0,
      host: "127.0.0.1",
      dataDir: dir,
      provider: p,
      lab: brokenLab(p),
      local: true,
      idleTimeoutSeconds: 60,
      pool: 0,
    });
    try {
      const r = await new Learner(broken.url).call("POST", "/api/join", { name: "Ivy" });
      expect(r.status).toBe(503);
      expect(r.json.error).toEqual({
        code: "unavailable",
        message: "your cluster could not be prepared; try again in a moment",
      });
      expect(r.headers.get("set-cookie")).toBeNull();
      expect(await broken.workshop.board()).toEqual([]);
    } finally {
      await broken.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("ends the session on logout: the cookie is cleared and the old token no longer works", async () => {
    const l = new Learner(server.url);
    await l.join("Lou", "kube-2026");
    const token = l.cookie;
    const out = await l.call("POST", "/api/logout");
    expect(out.status).toBe(204);
    expect(out.headers.get("set-cookie")).toMatch(/^egresslab_session=; Max-Age=0/);
    l.cookie = token;
    expect((await l.call("GET", "/api/session")).status).toBe(401);
  });

  it("answers 401 without a session and 404 for an unknown stage", async () => {
    expect((await new Learner(server.url).call("GET", "/api/session")).status).toBe(401);
    const l = new Learner(server.url);
    await l.join("Bo", "kube-2026");
    const r = await l.call("GET", "/api/stages/7/guide");
    expect(r.status).toBe(404);
    expect(r.json.error.message).toMatch(/no stage 7/);
  });
});

describe("HTTP hygiene", () => {
  it("serves the page with a CSP and no inline script", async () => {
    const res = await fetch(server.url + "/");
    const html = await res.text();
    expect(res.headers.get("content-security-policy")).toContain("script-src 'self'");
    expect(res.headers.get("x-frame-options")).toBe("DENY");
    expect(html).toMatch(/<script type="module" src="\/assets\/app.js"><\/script>/);
    expect(html).not.toMatch(/<script(?![^>]*src=)[^>]*>/);
    expect((await fetch(server.url + "/assets/app.js")).status).toBe(200);
  });

  it.each([
    {
      what: "a body over the limit",
      body: JSON.stringify({ name: "x".repeat(100_000) }),
      type: "application/json",
      status: 413,
      code: "too-large",
    },
    { what: "malformed JSON", body: "{", type: "application/json", status: 400, code: "invalid" },
    {
      what: "a form post",
      body: "name=x",
      type: "application/x-www-form-urlencoded",
      status: 400,
      code: "invalid",
    },
  ])("rejects $what with a typed error", async ({ body, type, status, code }) => {
    const r = await new Learner(server.url).call("POST", "/api/join", body, { "Content-Type": type });
    expect(r.status).toBe(status);
    expect(r.json.error.code).toBe(code);
  });
});

describe("the socket", () => {
  it("refuses a connection without a session", async () => {
    const s = track(new Learner(server.url).socket());
    await expect(connected(s)).rejects.toThrow(/session/);
  });

  it("runs the learner's terminal, replays only what a reconnecting page missed, and hands over to a new tab", async () => {
    const l = new Learner(server.url);
    await l.join("Cy", "kube-2026");
    const s1 = track(l.socket());
    const w1 = new TermWatcher(s1);
    await connected(s1);
    s1.emit("term:attach", { cols: 100, rows: 30 });
    await w1.waitText(/learner@egresslab:~\/stage-0\$ $/);
    s1.emit("term:input", { data: "echo one-$((0+1))\r" });
    await w1.waitText(/one-1/);
    const seen = w1.end;
    s1.close();
    // Output produced while no page is attached is kept.
    server.terminals
      .get(JSON.parse(JSON.stringify((await l.call("GET", "/api/session")).json)).learner.id)!
      .input("echo two-$((1+1))\r");
    await new Promise((r) => setTimeout(r, 300));
    const s2 = track(l.socket());
    const w2 = new TermWatcher(s2);
    await connected(s2);
    s2.emit("term:attach", { cols: 100, rows: 30, since: seen });
    await w2.waitText(/two-2/);
    expect(w2.replays.join("")).not.toContain("one-1");
    const s3 = track(l.socket());
    const w3 = new TermWatcher(s3);
    await connected(s3);
    s3.emit("term:attach", { cols: 90, rows: 20 });
    await w2.waitFor(() => w2.replaced === 1, "the older tab to be told");
    await w3.waitText(/two-2/);
    s2.emit("term:input", { data: "echo from-old-tab\r" });
    await w2.waitFor(() => w2.errors.length > 0, "an error for the detached tab");
    expect(w2.errors[0]!.code).toBe("conflict");
  });

  it("validates every payload and answers with a typed error", async () => {
    const l = new Learner(server.url);
    await l.join("Di", "kube-2026");
    const s = track(l.socket());
    const w = new TermWatcher(s);
    await connected(s);
    (s.emit as (e: string, p: unknown) => void)("term:attach", { cols: "wide", rows: 9999 });
    (s.emit as (e: string, p: unknown) => void)("term:input", { data: 42 });
    await w.waitFor(() => w.errors.length >= 2, "two errors");
    expect(w.errors.map((e) => e.code)).toEqual(["invalid", "invalid"]);
    expect(w.errors.flatMap((e) => e.problems!.map((p) => p.where)).sort()).toEqual([
      "term:attach.cols",
      "term:attach.rows",
      "term:input.data",
    ]);
  });

  it("streams the learner's flows: a snapshot, then live updates", async () => {
    const l = new Learner(server.url);
    const state = await l.join("Ed", "kube-2026");
    const clusterId = (await server.workshop.learnerForId(state.learner.id))!.clusterId;
    provider.push(clusterId, whiskerFlow({ dest_domains: ["api.example"] }));
    const s = track(l.socket());
    await connected(s);
    const snap = nextEvent(s, "flows:snapshot");
    s.emit("flows:subscribe", {});
    const [rows] = await snap;
    expect(state.learner.name).toBe("Ed");
    expect(rows.map((r) => r.destName)).toEqual(["api.example"]);
    const upd = nextEvent(s, "flows:update");
    provider.push(
      clusterId,
      whiskerFlow({ dest_domains: ["evil.example"], action: "Deny", end_time: "2026-01-01T00:00:30Z" }),
    );
    const [update] = await upd;
    expect(update).toEqual([
      expect.objectContaining({
        destName: "evil.example",
        action: "deny",
        lastSeen: "2026-01-01T00:00:30.000Z",
      }),
    ]);
  });
});

describe("checks and progress", () => {
  it("grades, records, publishes to the learner's sockets and keeps a pass", async () => {
    const l = new Learner(server.url);
    const state = await l.join("Flo", "kube-2026");
    const s = track(l.socket());
    await connected(s);
    const wrong = await l.call("POST", "/api/stages/0/check", {
      answers: { compromised: "default/nothing" },
    });
    expect(wrong.status).toBe(200);
    expect(wrong.json).toMatchObject({ passed: false, checks: [{ passed: false, hint: "look again" }] });
    const lab = fakeLab(provider);
    const truth = lab.params((await server.workshop.learnerForId(state.learner.id))!.seed).compromised!;
    const pushed = nextEvent(s, "check:result");
    const right = await l.call("POST", "/api/stages/0/check", { answers: { compromised: truth } });
    expect(right.json.passed).toBe(true);
    expect((await pushed)[0].passed).toBe(true);
    const guide = await l.call("GET", "/api/stages/0/guide");
    expect(guide.json.answers).toEqual({ compromised: truth });
    expect(guide.json.lastCheck.passed).toBe(true);
    const session = await l.call("GET", "/api/session");
    expect(session.json.progress[0]).toMatchObject({ status: "passed", checks: 2 });
  });

  it("rejects answers to questions the stage does not have, and rate-limits checks", async () => {
    const l = new Learner(server.url);
    await l.join("Gus", "kube-2026");
    const bad = await l.call("POST", "/api/stages/0/check", { answers: { nope: "x" } });
    expect(bad.status).toBe(400);
    expect(bad.json.error.problems[0].where).toBe("answers.nope");
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await l.call("POST", "/api/stages/1/check", {})).status);
    expect(statuses).toEqual([200, 200, 200, 429]);
  });

  it("moves between stages (setting each up once) and resets a stage", async () => {
    const l = new Learner(server.url);
    const st = await l.join("Hal", "kube-2026");
    const cid = (await server.workshop.learnerForId(st.learner.id))!.clusterId;
    const go = await l.call("POST", "/api/stages/1/go");
    if (go.status !== 200) throw new Error(JSON.stringify(go.json));
    expect(go.json.currentStage).toBe(1);
    await l.call("POST", "/api/stages/0/go");
    await l.call("POST", "/api/stages/1/go");
    expect(provider.clusters.get(cid)!.setups).toEqual([0, 1]);
    provider.clusters.get(cid)!.solved = true;
    expect((await l.call("POST", "/api/stages/1/check", {})).json.passed).toBe(true);
    const reset = await l.call("POST", "/api/stages/1/reset");
    expect(reset.json.progress[1].status).toBe("started");
    expect(provider.clusters.get(cid)!.solved).toBe(false);
  });
});
