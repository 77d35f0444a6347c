/**
 * An attendee's identity and the instructor's workshops, in headless Chromium: the resume code shown on the page
 * opens the same session in another browser; a name + PIN does too; the instructor opens the board from the address
 * `serve` prints, creates a workshop from the page, opens it and ends it. Screenshots in test-results/e2e.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Browser, Page } from "playwright-core";
import type { WorkshopServer } from "../../server/src/http/server.ts";
import { artifacts, launchBrowser } from "./browser.ts";
import { LearnerPage } from "./learner-page.ts";
import { startServer } from "./server.ts";

const labDir = path.join(import.meta.dirname, "fixtures", "mini-lab");
let dataDir: string;
let server: WorkshopServer;
let browser: Browser;

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(tmpdir(), "egl-e2e-id-"));
  server = await startServer({ labDir, dataDir });
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

const newPage = async (): Promise<Page> => {
  const context = await browser.newContext({ viewport: { width: 1366, height: 768 } });
  const page = await context.newPage();
  page.on("pageerror", (e) => console.error("page error:", e.message));
  return page;
};

describe("an attendee on two browsers", () => {
  it("continues on the second with the resume code from the first, or with name and PIN", async () => {
    const first = await newPage();
    await first.goto(server.url);
    await first.waitForSelector("#join-name");
    await first.fill("#join-pin", "5150");
    await new LearnerPage(first).join("Katherine");
    await first.click("#resume-button");
    const code = (await first.locator("#resume-code").innerText()).trim();
    expect(code).toMatch(/^[0-9A-Z]{4}(-[0-9A-Z]{4}){3}$/);
    await first.screenshot({ path: path.join(artifacts, "20-resume-code.png") });

    const second = await newPage();
    await second.goto(server.url);
    await second.click("#resume-toggle");
    await second.fill("#resume-with-code", code.toLowerCase());
    await second.screenshot({ path: path.join(artifacts, "21-resume-form.png") });
    await second.click("#resume-go");
    await second.waitForSelector(".xterm-rows");
    expect(await second.locator(".who .name").innerText()).toBe("Katherine");

    const third = await newPage();
    await third.goto(server.url);
    await third.click("#resume-toggle");
    await third.fill("#resume-name", "katherine");
    await third.fill("#resume-pin-in", "5150");
    await third.click("#resume-go");
    await third.waitForSelector(".xterm-rows");
    expect(await third.locator(".who .name").innerText()).toBe("Katherine");
    // One attendee on the board, whatever the number of browsers.
    expect((await server.workshop.board()).filter((r) => r.name === "Katherine")).toHaveLength(1);
  });
});

describe("the instructor's workshops", () => {
  it("opens the board from the printed address, creates a workshop, opens and ends it", async () => {
    const page = await newPage();
    await page.goto(server.boardUrl);
    await page.waitForSelector("#workshops-button");
    expect(new URL(page.url()).hash).toBe("");
    await page.click("#workshops-button");
    await page.fill("#ws-title", "Friday room");
    await page.fill("#ws-lab", server.workshop.lab.summary.id);
    await page.fill("#ws-code", "friday-42");
    await page.fill("#ws-capacity", "2");
    await page.click("#workshop-create button[type=submit]");
    await page.waitForSelector("#workshop-created code");
    const row = page.locator(".workshop-row", { hasText: "Friday room" });
    await row.waitFor();
    await page.screenshot({ path: path.join(artifacts, "22-workshop-created.png") });
    expect(await row.innerText()).toMatch(/not open yet/);
    await row.getByRole("button", { name: "Open" }).click();
    await page
      .locator(".workshop-row", { hasText: "Friday room" })
      .getByText(/· open ·/)
      .waitFor();
    page.once("dialog", (d) => void d.accept());
    await page
      .locator(".workshop-row", { hasText: "Friday room" })
      .getByRole("button", { name: "End" })
      .click();
    await page.locator(".workshop-row", { hasText: "Friday room" }).waitFor({ state: "detached" });
    await page.screenshot({ path: path.join(artifacts, "23-workshop-ended.png") });
    const titles = await Promise.all(server.workshops.all().map(async (w) => (await w.record()).title));
    expect(titles).not.toContain("Friday room");
  });
});
