/** Joins as a hostile client would try them: past the capacity, past the rate limit, with a forged X-Forwarded-For. */
import { afterEach, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { startWorkshopServer, type WorkshopServer } from "../../server/src/http/server.ts";
import { FakeProvider, fakeLab } from "./web-doubles.ts";
import { Learner } from "./web-client.ts";

const cleanup: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function start(opts: Partial<Parameters<typeof startWorkshopServer>[0]>): Promise<WorkshopServer> {
  const dataDir = mkdtempSync(path.join(tmpdir(), "egl-joins-"));
  const provider = new FakeProvider();
  const server = await startWorkshopServer({
    port: 0,
    host: "127.0.0.1",
    dataDir,
    provider,
    lab: fakeLab(provider),
    local: true,
    idleTimeoutSeconds: 600,
    pool: 0,
    buildWeb: false,
    ...opts,
  });
  cleanup.push(async () => {
    await server.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
  return server;
}

describe("capacity", () => {
  it("refuses joins past --capacity with a clear message, also when they arrive at once", async () => {
    const server = await start({ capacity: 3 });
    const results = await Promise.all(
      ["A", "B", "C", "D", "E"].map((n) => new Learner(server.url).call("POST", "/api/join", { name: n })),
    );
    expect(results.filter((r) => r.status === 200)).toHaveLength(3);
    const refused = results.filter((r) => r.status !== 200);
    expect(refused).toHaveLength(2);
    for (const r of refused) {
      expect(r.status).toBe(503);
      expect(r.json.error.message).toBe(
        "this workshop is full: it has room for 3 attendees; ask the instructor",
      );
      expect(r.headers.get("set-cookie")).toBeNull();
    }
    expect(await server.workshop.board()).toHaveLength(3);
  });
});

describe("join rate limit", () => {
  it("answers 429 with Retry-After, and a forged X-Forwarded-For does not get a fresh bucket", async () => {
    const server = await start({ joinRate: { burst: 2, perMinute: 1 } });
    let n = 0;
    const join = (xff?: string) =>
      new Learner(server.url).call(
        "POST",
        "/api/join",
        { name: `Eve ${++n}` },
        xff ? { "X-Forwarded-For": xff } : {},
      );
    expect((await join()).status).toBe(200);
    expect((await join("203.0.113.1")).status).toBe(200);
    for (const xff of [undefined, "203.0.113.2", "198.51.100.7, 203.0.113.3"]) {
      const r = await join(xff);
      expect(r.status).toBe(429);
      expect(r.json.error.code).toBe("rate-limited");
      const wait = Number(r.headers.get("retry-after"));
      expect(wait).toBeGreaterThan(0);
      expect(r.json.error.message).toContain(`try again in ${wait} s`);
    }
  });

  it("with --trust-proxy, takes the address the proxy added (the last X-Forwarded-For entry)", async () => {
    const server = await start({ joinRate: { burst: 1, perMinute: 1 }, trustProxy: true });
    let n = 0;
    const join = (xff: string) =>
      new Learner(server.url).call("POST", "/api/join", { name: `Pat ${++n}` }, { "X-Forwarded-For": xff });
    expect((await join("203.0.113.1")).status).toBe(200);
    expect((await join("203.0.113.2")).status).toBe(200);
    // A client that prepends its own entry is still counted by the address the proxy saw.
    expect((await join("10.9.9.9, 203.0.113.2")).status).toBe(429);
  });
});
