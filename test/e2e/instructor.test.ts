/**
 * The instructor's board in headless Chromium, beside an attendee's page on the real workshop: the instructor sees
 * the attendee fail a check and the failing check's name appear on the board, opens their terminal read-only, resets
 * their stage (confirmed), and exports the results. Screenshots go to test-results/e2e.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Browser, Page } from "playwright-core";
import type { WorkshopServer } from "../../server/src/http/server.ts";
import { artifacts, launchBrowser } from "./browser.ts";
import { LearnerPage } from "./learner-page.ts";
import { startServer } from "./server.ts";

const labDir = path.resolve(import.meta.dirname, "..", "..", "labs", "egress-workshop");
let dataDir: string;
let server: WorkshopServer;
let browser: Browser;
let learner: Page;
let teacher: Page;
let lp: LearnerPage;

const shot = (p: Page, name: string) => p.screenshot({ path: path.join(artifacts, `${name}.png`) });

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(tmpdir(), "egl-e2e-instructor-"));
  server = await startServer({ labDir, dataDir });
  browser = await launchBrowser();
  learner = await browser.newPage({ viewport: { width: 1366, height: 768 } });
  const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1600, height: 900 } });
  teacher = await context.newPage();
  lp = new LearnerPage(learner);
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe("the instructor's console", () => {
  it("shows why an attendee is stuck, their terminal, resets their stage and exports the results", async () => {
    await learner.goto(server.url);
    await lp.join("Grace");
    await lp.waitForTerminal(/learner@egresslab:~\/stage-0\$/);

    await teacher.goto(`${server.url}/instructor#token=${server.instructorToken}`);
    const row = teacher.locator("#board tr[data-attendee]", { hasText: "Grace" });
    await row.waitFor();
    expect(await teacher.locator("#board thead th[data-stage='0'] .stage-head").innerText()).toMatch(
      /^0 · \S/,
    );

    // The attendee checks stage 0 without answering: it fails, and the board names the failing check.
    const outcome = await lp.check();
    expect(outcome.passed).toBe(false);
    const failed = learner.locator("#check-results li.fail").first();
    const checkId = (await failed.getAttribute("data-check-id"))!;
    const checked = Date.now();
    const onBoard = row.locator(`td[data-stage="0"] .failing[data-check-id="${checkId}"]`);
    await onBoard.waitFor();
    // How long the board took, for the log (machines are noisy: not asserted).
    console.log(`the failing check reached the board ${Date.now() - checked} ms after the attendee saw it`);
    expect(await onBoard.innerText()).toMatch(/^✗ \S/);
    expect(await row.locator('td[data-stage="0"]').getAttribute("data-state")).toBe("working");
    expect(await teacher.locator("#board-summary").innerText()).toMatch(/passed stage 0|stuck on stage 0/);
    await shot(teacher, "20-instructor-board-failing-check");

    // Search and filter keep Grace findable.
    await teacher.fill("#board-search", "gra");
    expect(await teacher.locator("#board tbody tr").count()).toBe(1);
    await teacher.fill("#board-search", "nobody");
    expect(await teacher.locator("#board tbody tr").count()).toBe(0);
    await teacher.fill("#board-search", "");

    // Help from the seat: her terminal, read-only and live.
    await row.locator(".attendee-open").click();
    await teacher.locator("#seat").waitFor();
    await lp.type("echo seat-marker-$((6*7))");
    await teacher
      .locator("#seat-term .xterm-rows", { hasText: "seat-marker-42" })
      .waitFor({ timeout: 15_000 });
    await teacher.locator(`#seat-detail li[data-check-id="${checkId}"]`).waitFor();
    // Typing on the instructor's copy reaches nothing.
    await teacher.locator("#seat-term").click();
    await teacher.keyboard.insertText("echo from-the-instructor");
    await teacher.keyboard.press("Enter");
    await learner.waitForTimeout(500);
    expect(await lp.terminalText()).not.toContain("from-the-instructor");
    await shot(teacher, "21-instructor-seat-terminal");

    // Reset her stage, confirmed; she is told on her page.
    const dialogs: string[] = [];
    teacher.on("dialog", (d) => {
      dialogs.push(d.message());
      void d.accept();
    });
    await teacher.selectOption("#seat-reset-stage", "0");
    await teacher.click("#seat-reset");
    await learner.locator(".room-message", { hasText: "reset stage 0" }).waitFor({ timeout: 60_000 });
    expect(dialogs[0]).toMatch(/^Reset stage 0 for Grace\?/);
    const actions = await fetch(`${server.url}/api/instructor/workshops/${server.workshop.id}/actions`, {
      headers: { Authorization: `Bearer ${server.instructorToken}` },
    }).then((r) => r.json() as Promise<{ actions: { action: string; target: string | null }[] }>);
    expect(actions.actions[0]).toMatchObject({ action: "attendee.reset-stage" });
    await shot(learner, "22-learner-told-of-reset");

    // The results: the chart, the tables, and a CSV download.
    await teacher.click("#open-results");
    // Nobody has passed yet: the line lies flat on the axis (attached, though it has no height to be "visible").
    await teacher.locator("#progress-chart path[data-stage='0']").waitFor({ state: "attached" });
    expect(await teacher.locator("#results-attendees tbody tr").count()).toBe(1);
    const [download] = await Promise.all([teacher.waitForEvent("download"), teacher.click("#export-csv")]);
    expect(download.suggestedFilename()).toMatch(
      /^egresslab-attendees-egress-workshop-\d{4}-\d\d-\d\d\.csv$/,
    );
    const csv = readFileSync((await download.path())!, "utf8").split("\r\n");
    expect(csv[0]).toMatch(/^attendee,attendee_id,stage,stage_title,/);
    expect(csv.find((l) => l.startsWith("Grace,") && /,0,/.test(l))).toMatch(new RegExp(checkId));
    await shot(teacher, "23-instructor-results");
  }, 180_000);
});
