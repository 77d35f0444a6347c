/**
 * The guide's Rotate button on the server: `POST /api/stages/:stage/actions/:action` rotates the domain the stage's
 * `rotate` action names, in the learner's own cluster only (the real lab on the simulated provider), whatever the
 * request carries; unknown and non-rotate actions are refused, and rotations are rate-limited per learner.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { WorkshopServer } from "../../server/src/http/server.ts";
import { defaultCatalogue } from "../../server/src/net/catalogue-file.ts";
import { startServer } from "../e2e/server.ts";
import { Learner, type Json } from "./web-client.ts";

const labDir = path.resolve(import.meta.dirname, "..", "..", "labs", "egress-workshop");
const stripe = defaultCatalogue().domains.find((d) => d.name === "api.stripe.com")!;
let dataDir: string;
let server: WorkshopServer;
let ada: Learner;
let bob: Learner;
let rotateId: string;
let runId: string;

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(tmpdir(), "egl-rotate-"));
  server = await startServer({ labDir, dataDir });
  ada = new Learner(server.url);
  bob = new Learner(server.url);
  await ada.join("Ada");
  await bob.join("Bob");
  const guide = (await ada.call("GET", "/api/stages/2/guide")).json as {
    actions: { id: string; kind: string; text: string }[];
  };
  rotateId = guide.actions.find((a) => a.kind === "rotate")!.id;
  runId = guide.actions.find((a) => a.kind === "run")!.id;
  expect(guide.actions.find((a) => a.kind === "rotate")!.text).toBe("api.stripe.com");
});

afterAll(async () => {
  await server?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe("the guide's rotate action", () => {
  it("rotates the action's domain in the learner's own cluster, whatever the request says", async () => {
    const first = await ada.call("POST", `/api/stages/2/actions/${rotateId}`, { domain: "api.twilio.com" });
    expect(first.status).toBe(200);
    const r = first.json as Json;
    expect(r.domain).toBe("api.stripe.com");
    expect(r.previous).toEqual(stripe.ips);
    expect(r.ips).toHaveLength(stripe.ips.length);
    expect(r.ips.some((ip: string) => stripe.ips.includes(ip))).toBe(false);
    const again = (await ada.call("POST", `/api/stages/2/actions/${rotateId}`)).json as Json;
    expect(again.previous).toEqual(r.ips);
    // Bob's cluster was not touched: his provider still has the inventory-day addresses.
    const theirs = (await bob.call("POST", `/api/stages/2/actions/${rotateId}`)).json as Json;
    expect(theirs.previous).toEqual(stripe.ips);
  });

  it("refuses actions the stage does not declare, actions the page performs, and strangers", async () => {
    const unknown = await bob.call("POST", "/api/stages/2/actions/02-dns-allowlists-999");
    expect(unknown.status).toBe(404);
    expect(unknown.json.error.message).toBe('stage 2\'s guide has no action "02-dns-allowlists-999"');
    const long = await bob.call("POST", `/api/stages/2/actions/${"x".repeat(5000)}`);
    expect(long.status).toBe(404);
    expect(long.json.error.message).toBe(`stage 2's guide has no action "${"x".repeat(64)}"`);
    const wrongStage = await bob.call("POST", `/api/stages/1/actions/${rotateId}`);
    expect(wrongStage.status).toBe(404);
    const run = await bob.call("POST", `/api/stages/2/actions/${runId}`);
    expect(run.status).toBe(400);
    expect(run.json.error.message).toMatch(/is a run action: the page performs it/);
    const noStage = await bob.call("POST", `/api/stages/99/actions/${rotateId}`);
    expect(noStage.status).toBe(404);
    const stranger = await new Learner(server.url).call("POST", `/api/stages/2/actions/${rotateId}`);
    expect(stranger.status).toBe(401);
    // Without the JSON content type the browser sends, a cross-site form post is refused.
    const form = await bob.call("POST", `/api/stages/2/actions/${rotateId}`, "x=1", {
      "Content-Type": "application/x-www-form-urlencoded",
    });
    expect(form.status).toBeGreaterThanOrEqual(400);
    expect(form.status).not.toBe(200);
  });

  it("limits rotations per learner", async () => {
    // Bob has used one of his three; two more pass, the next is refused with the wait.
    for (let i = 0; i < 2; i++)
      expect((await bob.call("POST", `/api/stages/2/actions/${rotateId}`)).status).toBe(200);
    const limited = await bob.call("POST", `/api/stages/2/actions/${rotateId}`);
    expect(limited.status).toBe(429);
    expect(limited.json.error.message).toMatch(/rotations are limited; try again in \d+ s/);
  });
});
