/**
 * The affinity proxy against small HTTP, WebSocket and socket.io servers that answer with their own name: a cookie
 * routes, newcomers are spread, a dead replica's learners go elsewhere at once, bodies survive the retry, and
 * socket.io's long-polling plus its WebSocket upgrade all reach one replica.
 */
import http from "node:http";
import { connect, type AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { WebSocketServer, WebSocket } from "ws";
import { Server as IoServer } from "socket.io";
import { io as ioClient } from "socket.io-client";
import {
  createAffinityProxy,
  parseBackend,
  replicaCookie,
  type AffinityProxy,
  type RouteEvent,
} from "./affinity-proxy.ts";
import { ValidationError } from "../shared/errors.ts";

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

interface Fake {
  name: string;
  url: string;
  port: number;
  server: http.Server;
  /** Bodies and X-Forwarded-For of the requests it got. */
  seen: { method: string; url: string; body: string; xff: string | undefined }[];
  stop(): Promise<void>;
  /** Listens again on the same port. */
  start(): Promise<void>;
}

/** An HTTP server that answers every request with its name; `/readyz` says 200 unless `ready` is false. */
async function fake(
  name: string,
  opts: { ready?: () => boolean; setCookie?: string; io?: boolean; ws?: boolean } = {},
): Promise<Fake> {
  const seen: Fake["seen"] = [];
  const server = http.createServer((req, res) => {
    if (req.url?.startsWith("/socket.io/")) return; // socket.io's own handler answers.
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", () => {
      if (req.url === "/slow") {
        setTimeout(() => res.end(JSON.stringify({ name })), 800);
        return;
      }
      if (req.url === "/readyz") {
        res.writeHead(opts.ready?.() === false ? 503 : 200).end();
        return;
      }
      seen.push({
        method: req.method ?? "",
        url: req.url ?? "",
        body,
        xff: req.headers["x-forwarded-for"] as string | undefined,
      });
      res.writeHead(200, {
        "Content-Type": "application/json",
        ...(opts.setCookie ? { "Set-Cookie": opts.setCookie } : {}),
      });
      res.end(JSON.stringify({ name, body, cookie: req.headers.cookie ?? null }));
    });
  });
  if (opts.ws) {
    const wss = new WebSocketServer({ server });
    wss.on("connection", (sock) => {
      sock.send(`hello from ${name}`);
      sock.on("message", (m: Buffer) => sock.send(`${name} got ${m.toString()}`));
    });
  }
  if (opts.io) {
    const ioServer = new IoServer(server);
    ioServer.on("connection", (s) => s.on("who", (ack: (n: string) => void) => ack(name)));
    cleanup.push(() => new Promise<void>((r) => void ioServer.close(() => r())));
  }
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  const f: Fake = {
    name,
    url: `http://127.0.0.1:${port}`,
    port,
    server,
    seen,
    stop: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
    start: () => new Promise<void>((r) => void server.listen(port, "127.0.0.1", r)),
  };
  cleanup.push(() => (server.listening ? f.stop() : undefined));
  return f;
}

async function proxyFor(
  backends: Fake[],
  extra: {
    healthIntervalMs?: number;
    bodyLimit?: number;
    requestTimeoutMs?: number;
    onRoute?: (e: RouteEvent) => void;
  } = {},
): Promise<AffinityProxy> {
  const p = createAffinityProxy({
    backends: backends.map((b) => ({ name: b.name, url: b.url })),
    healthIntervalMs: extra.healthIntervalMs ?? 60_000,
    ...extra,
  });
  await p.listen(0);
  await p.checkNow();
  cleanup.push(() => p.close());
  return p;
}

interface Answer {
  status: number;
  name?: string;
  body?: string;
  setCookie: string[];
  json: { name?: string; body?: string; cookie?: string | null; error?: { code: string } };
}

async function get(p: AffinityProxy, cookie?: string, init: RequestInit = {}, path = "/x"): Promise<Answer> {
  const res = await fetch(p.url + path, {
    ...init,
    headers: { ...(cookie ? { Cookie: cookie } : {}), ...(init.headers as Record<string, string>) },
  });
  const json = (await res.json()) as Answer["json"];
  return { status: res.status, name: json.name, setCookie: res.headers.getSetCookie(), json };
}

const cookieOf = (a: Answer): string | undefined =>
  a.setCookie
    .map((c) => c.split(";")[0]!)
    .find((c) => c.startsWith(`${replicaCookie}=`))
    ?.split("=")[1];

describe("routing by cookie", () => {
  it("sends a newcomer to a replica and sets the cookie; the cookie then keeps every request there", async () => {
    const [a, b, c] = await Promise.all([fake("a"), fake("b"), fake("c")]);
    const p = await proxyFor([a!, b!, c!]);
    const first = await get(p);
    expect(first.status).toBe(200);
    const name = cookieOf(first);
    expect(name).toBe(first.name);
    expect(first.setCookie[0]).toMatch(/; Path=\/; HttpOnly; SameSite=Lax$/);
    for (let i = 0; i < 10; i++) {
      const again = await get(p, `${replicaCookie}=${name}; egresslab_session=s1`);
      expect(again.name).toBe(name);
      // Already right: nothing to set.
      expect(cookieOf(again)).toBeUndefined();
    }
    // An explicit cookie for another replica is obeyed, and the replica sees the cookie header unchanged.
    const other = name === "b" ? "c" : "b";
    const there = await get(p, `${replicaCookie}=${other}`);
    expect(there.name).toBe(other);
    expect(there.json.cookie).toBe(`${replicaCookie}=${other}`);
  });

  it("spreads newcomers over every replica", async () => {
    const backends = await Promise.all(["a", "b", "c"].map((n) => fake(n)));
    const p = await proxyFor(backends);
    const names = await Promise.all(Array.from({ length: 30 }, () => get(p).then((a) => a.name)));
    const counts = new Map<string, number>();
    for (const n of names) counts.set(n!, (counts.get(n!) ?? 0) + 1);
    expect([...counts.keys()].sort()).toEqual(["a", "b", "c"]);
    for (const n of counts.values()) expect(n).toBeGreaterThanOrEqual(5);
  });

  it("leaves a replica's own cookie alone and learns the name it gives itself", async () => {
    const a = await fake("a", { setCookie: `${replicaCookie}=pod-a-7f9; Path=/; HttpOnly` });
    const b = await fake("b");
    const p = await proxyFor([a, b]);
    const answers = await Promise.all([get(p), get(p), get(p), get(p)]);
    const fromA = answers.find((x) => x.name === "a")!;
    expect(fromA.setCookie).toEqual([`${replicaCookie}=pod-a-7f9; Path=/; HttpOnly`]);
    for (let i = 0; i < 6; i++) expect((await get(p, `${replicaCookie}=pod-a-7f9`)).name).toBe("a");
  });
});

describe("a replica that goes away", () => {
  it("sends its learners to a live replica at once, keeps each learner on one, and takes it back when ready", async () => {
    const backends = await Promise.all(["a", "b", "c"].map((n) => fake(n)));
    const [a] = backends;
    const p = await proxyFor(backends);
    await a!.stop();
    // The health check has not noticed yet: the refused connection marks it down and the request goes elsewhere.
    const moved = await get(p, `${replicaCookie}=a; egresslab_session=alice`);
    expect(moved.status).toBe(200);
    expect(moved.name).not.toBe("a");
    expect(cookieOf(moved)).toBe(moved.name);
    expect(p.status().find((s) => s.name === "a")!.up).toBe(false);
    // A learner who keeps sending the stale cookie lands on the same live replica every time.
    for (let i = 0; i < 8; i++)
      expect((await get(p, `${replicaCookie}=a; egresslab_session=alice`)).name).toBe(moved.name);
    // Different learners of the dead replica are spread over the live ones.
    const elsewhere = new Set<string>();
    for (let i = 0; i < 24; i++)
      elsewhere.add((await get(p, `${replicaCookie}=a; egresslab_session=s${i}`)).name!);
    expect([...elsewhere].sort()).toEqual(["b", "c"]);
    await a!.start();
    await p.checkNow();
    expect(p.status().find((s) => s.name === "a")!.up).toBe(true);
    expect((await get(p, `${replicaCookie}=a`)).name).toBe("a");
  });

  it("sends a POST's body again to the next replica when the first refused the connection", async () => {
    const [a, b] = await Promise.all([fake("a"), fake("b")]);
    const p = await proxyFor([a!, b!]);
    await a!.stop();
    const r = await get(p, `${replicaCookie}=a`, {
      method: "POST",
      body: JSON.stringify({ name: "ada" }),
      headers: { "Content-Type": "application/json" },
    });
    expect(r.name).toBe("b");
    expect(r.json.body).toBe('{"name":"ada"}');
    expect(b!.seen.map((s) => s.method)).toEqual(["POST"]);
  });

  it("takes a replica whose /readyz fails out of rotation, and answers 503 when none is left", async () => {
    let aReady = true;
    const a = await fake("a", { ready: () => aReady });
    const b = await fake("b");
    const p = await proxyFor([a, b]);
    aReady = false;
    await p.checkNow();
    for (let i = 0; i < 4; i++) expect((await get(p)).name).toBe("b");
    expect((await get(p, `${replicaCookie}=a`)).name).toBe("b");
    await b.stop();
    const none = await get(p);
    expect(none.status).toBe(503);
    expect(none.json.error?.code).toBe("unavailable");
  });

  it("notices a dead replica on its own, by the periodic check", async () => {
    const [a, b] = await Promise.all([fake("a"), fake("b")]);
    const p = await proxyFor([a!, b!], { healthIntervalMs: 100 });
    await a!.stop();
    const t0 = Date.now();
    while (p.status().find((s) => s.name === "a")!.up) {
      if (Date.now() - t0 > 10_000) throw new Error("a still up");
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(b!.seen).toHaveLength(0);
  });
});

describe("what a client sends", () => {
  it("appends the client's address to X-Forwarded-For, so the replica's one trusted hop is the proxy's entry", async () => {
    const a = await fake("a");
    const p = await proxyFor([a]);
    await get(p, undefined, { headers: { "X-Forwarded-For": "203.0.113.9" } });
    await get(p);
    expect(a.seen.map((s) => s.xff)).toEqual(["203.0.113.9, 127.0.0.1", "127.0.0.1"]);
  });

  it("refuses a body over the limit without passing it on", async () => {
    const a = await fake("a");
    const p = await proxyFor([a], { bodyLimit: 1024 });
    const res = await fetch(p.url + "/x", { method: "POST", body: "x".repeat(4096) }).catch(
      (e: unknown) => e,
    );
    if (res instanceof Response) expect(res.status).toBe(413);
    expect(a.seen).toHaveLength(0);
  });

  it("cuts off a client that never finishes its request, but lets a slow answer take its time", async () => {
    const a = await fake("a");
    const p = await proxyFor([a], { requestTimeoutMs: 300 });
    const sock = connect(Number(new URL(p.url).port), "127.0.0.1");
    sock.write("POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789");
    let answer = "";
    sock.on("data", (c: Buffer) => (answer += c.toString()));
    await new Promise((r) => sock.once("close", r));
    expect(answer).toMatch(/^HTTP\/1.1 408/);
    expect(a.seen).toHaveLength(0);
    // An answer that takes longer than the request timeout (as a long-poll does) still arrives.
    const slow = await get(p, undefined, {}, "/slow");
    expect(slow.name).toBe("a");
  });

  it("rejects bad --backend values, every problem at once", () => {
    expect(parseBackend("r1=http://127.0.0.1:3001")).toEqual({ name: "r1", url: "http://127.0.0.1:3001" });
    for (const bad of ["r1", "=http://x:1", "r 1=http://x:1", "r1=https://x:1", "r1=http://x:1/path", "r1=x"])
      expect(() => parseBackend(bad), bad).toThrow(ValidationError);
    expect(() =>
      createAffinityProxy({
        backends: [
          { name: "a", url: "http://127.0.0.1:1" },
          { name: "a", url: "http://127.0.0.1:2" },
        ],
      }),
    ).toThrow(/two replicas are named a/);
  });
});

describe("WebSocket upgrades", () => {
  it("go to the cookie's replica and carry frames both ways", async () => {
    const backends = await Promise.all(["a", "b", "c"].map((n) => fake(n, { ws: true })));
    const p = await proxyFor(backends);
    for (const name of ["a", "b", "c", "b"]) {
      const ws = new WebSocket(p.url.replace("http", "ws") + "/term", {
        headers: { Cookie: `${replicaCookie}=${name}` },
      });
      const got: string[] = [];
      await new Promise<void>((resolve, reject) => {
        ws.on("message", (m: Buffer) => {
          got.push(m.toString());
          if (got.length === 1) ws.send("ping");
          if (got.length === 2) resolve();
        });
        ws.on("error", reject);
      });
      expect(got).toEqual([`hello from ${name}`, `${name} got ping`]);
      ws.close();
    }
    // Each open socket counts as load until closed.
    await new Promise((r) => setTimeout(r, 50));
    expect(p.status().every((s) => s.active === 0)).toBe(true);
  });

  it("socket.io's long-polling and its upgrade all land on one replica (or the handshake would fail)", async () => {
    const backends = await Promise.all(["a", "b", "c"].map((n) => fake(n, { io: true })));
    const routes: RouteEvent[] = [];
    const p = await proxyFor(backends, { onRoute: (e) => routes.push(e) });
    // As the page does it: a first request gets the cookie, then socket.io starts polling and upgrades.
    for (let i = 0; i < 6; i++) {
      const name = cookieOf(await get(p))!;
      const s = ioClient(p.url, {
        transports: ["polling", "websocket"],
        forceNew: true,
        reconnection: false,
        extraHeaders: { Cookie: `${replicaCookie}=${name}` },
      });
      await new Promise<void>((resolve, reject) => {
        s.once("connect", () => resolve());
        s.once("connect_error", reject);
      });
      await new Promise<void>((resolve) => {
        if (s.io.engine.transport.name === "websocket") return resolve();
        s.io.engine.once("upgrade", () => resolve());
      });
      const who = await new Promise<string>((resolve) => s.emit("who", resolve));
      expect(who).toBe(name);
      s.close();
    }
    const io = routes.filter((r) => r.url.startsWith("/socket.io/"));
    expect(io.some((r) => r.upgrade)).toBe(true);
    expect(io.filter((r) => r.method === "POST").length).toBeGreaterThan(0);
    for (const r of io) expect(r.cookie).toBe(`${replicaCookie}=${r.replica}`);
  });
});
