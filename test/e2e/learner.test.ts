/**
 * The learner's page in headless Chromium, on the simulated cluster: join, run a guide action, apply a solution in
 * the terminal and pass the check, survive a dropped connection and a server restart.
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
let page: Page;
let lp: LearnerPage;

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(tmpdir(), "egl-e2e-"));
  server = await startServer({ labDir, dataDir });
  browser = await launchBrowser();
  page = await browser.newPage({ viewport: { width: 1366, height: 768 } });
  lp = new LearnerPage(page);
  page.on("pageerror", (e) => console.error("page error:", e.message));
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe("the learner's page", () => {
  it("joins and runs a guide action in the terminal", async () => {
    await page.goto(server.url);
    await page.waitForSelector("#join-name");
    await lp.screenshot("00-join");
    await lp.join("Grace");
    await lp.waitForTerminal(/learner@egresslab:~\/stage-0\$/);
    await lp.runGuideAction("kubectl get pods -A");
    await lp.waitForTerminal(/coredns-[a-z0-9-]+\s+1\/1\s+Running/);
    await lp.screenshot("01-joined-get-pods");
  });

  it("Run clears what is half-typed at the prompt instead of appending to it", async () => {
    await page.locator(".xterm").click();
    await page.keyboard.insertText("echo half-typed-");
    await page.keyboard.press("ArrowLeft");
    await page.keyboard.press("ArrowLeft");
    await lp.waitForTerminal(/half-typed-$/m);
    await lp.runAndWait(
      page.locator(".guide .action", { hasText: "kubectl get pods -A" }).locator("button[data-action=run]"),
    );
    // The shell's history holds what it ran: the guide's command alone, and nothing of the half-typed text.
    await lp.type("history 4 | sed 's/^/hist:/'");
    await lp.waitForTerminal(/^hist:\s+\d+\s+history 4/m);
    const text = await lp.terminalText();
    expect(text).toMatch(/^hist:\s+\d+\s+kubectl get pods -A$/m);
    expect(text).not.toMatch(/^hist:.*half-typ/m);
    // The learner's shell (sandboxed) has nano beside vi, and jq for the guide's JSON.
    await lp.type("for p in nano vi jq; do command -v $p >/dev/null && echo has-$p; done");
    await lp.waitForTerminal(/^has-jq$/m);
    const tools = await lp.terminalText();
    expect(tools).toMatch(/^has-nano$/m);
    expect(tools).toMatch(/^has-vi$/m);
  });

  it("lists the keyboard shortcuts on ?, and closes the list with Escape", async () => {
    await page.locator("#stage-title").click();
    await page.keyboard.press("?");
    const dialog = page.locator("#shortcuts");
    await dialog.waitFor();
    expect(await dialog.innerText()).toMatch(/Alt\+1[\s\S]*Show the terminal[\s\S]*Option/);
    await page.keyboard.press("Escape");
    await dialog.waitFor({ state: "detached" });
  });

  it("applies the stage-1 solution in the terminal and passes the check", async () => {
    await lp.goToStage(1);
    const before = await lp.check();
    expect(before.passed).toBe(false);
    expect(before.text).toContain("Apply the default-deny from the guide.");
    await lp.type(
      [
        "kubectl apply -f - <<'EOF'",
        "apiVersion: projectcalico.org/v3",
        "kind: GlobalNetworkPolicy",
        "metadata:",
        "  name: default-deny",
        "spec:",
        '  namespaceSelector: projectcalico.org/name not in {"kube-system", "calico-system"}',
        "  types: [Egress]",
        "EOF",
      ].join("\n"),
    );
    await lp.waitForTerminal(/globalnetworkpolicy.projectcalico.org\/default-deny created/);
    const after = await lp.check();
    expect(after.passed).toBe(true);
    expect(await lp.stageStatus(1)).toBe("passed");
    expect(await page.locator("#check-status").innerText()).toBe("✓ Stage passed");
    // The last stage passed: the completion screen says what is still open (stage 0 was never checked).
    const done = page.locator("#completion");
    await done.waitFor();
    expect(await done.innerText()).toMatch(/1 of 2 stages passed/);
    await lp.screenshot("02-stage-1-passed");
    await done.locator("li[data-stage='0'] button").click();
    await page.locator("#stage-title", { hasText: /^0\./ }).waitFor();
    expect((await lp.check()).passed).toBe(true);
    await lp.goToStage(1);
    await page.click("#next-stage");
    expect(await done.innerText()).toMatch(/Workshop complete/);
    await page.keyboard.press("Escape");
    await done.waitFor({ state: "detached" });
  });

  it("reattaches the terminal with what it missed after the connection drops", async () => {
    await lp.type("echo before-drop-$((20+1))");
    await lp.waitForTerminal(/before-drop-21/);
    const learnerId = (await server.workshop.board()).find((r) => r.name === "Grace")!.learnerId;
    for (const s of server.io.sockets.sockets.values()) s.conn.close();
    await page.waitForSelector("#connection:not(.live)");
    server.terminals.get(learnerId)!.input("echo while-away-$((40+2))\r");
    await page.waitForSelector("#connection.live", { timeout: 20_000 });
    await lp.waitForTerminal(/while-away-42/);
    expect(await lp.terminalText()).toMatch(/before-drop-21/);
    await page.reload();
    await lp.waitForTerminal(/while-away-42/);
    expect(await lp.terminalText()).toMatch(/before-drop-21/);
    await lp.screenshot("03-reattached");
  });

  it("shows the learner's progress on the instructor's board, behind the token", async () => {
    const board = await browser.newPage({ viewport: { width: 1366, height: 768 } });
    await board.goto(server.url + "/instructor");
    await board.fill("#token", "wrong");
    await board.click("button[type=submit]");
    await board.locator(".form-error", { hasText: "not this workshop's" }).waitFor();
    await board.fill("#token", "e2e-instructor");
    await board.click("button[type=submit]");
    const row = board.locator("#board tbody tr", { hasText: "Grace" });
    await row.waitFor();
    expect(await row.locator("td.cell.passed").count()).toBeGreaterThanOrEqual(1);
    await board.screenshot({ path: path.join(artifacts, "05-instructor-board.png") });
    await board.close();
  });

  it("keeps progress and cluster state across a server restart", async () => {
    const port = server.port;
    await server.close();
    server = await startServer({ labDir, dataDir, port });
    await page.reload();
    await page.waitForSelector(".xterm-rows");
    expect(await lp.stageStatus(0)).not.toBe("not-started");
    expect(await lp.stageStatus(1)).toBe("passed");
    expect(await page.locator("#stage-title").innerText()).toMatch(/^1\./);
    await lp.waitForTerminal(/learner@egresslab:~\/stage-1\$/);
    await lp.type("kubectl get globalnetworkpolicies.projectcalico.org");
    await lp.waitForTerminal(/default-deny/);
    await lp.screenshot("04-after-restart");
  });
});
