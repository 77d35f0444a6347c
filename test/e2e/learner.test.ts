/**
 * The learner's page in headless Chromium, on the simulated cluster: join, run a guide action, apply a solution in
 * the terminal and pass the check, survive a dropped connection and a server restart.
 */
import { describe, expect, it } from "vitest";
import path from "node:path";
import { artifacts } from "./browser.ts";
import { startServer } from "./server.ts";
import { browserSession } from "./session.ts";

const t = browserSession(path.join(import.meta.dirname, "fixtures", "mini-lab"), "egl-e2e-", (page) =>
  page.on("pageerror", (e) => console.error("page error:", e.message)),
);

describe("the learner's page", () => {
  it("joins and runs a guide action in the terminal", async () => {
    await t.page.goto(t.server.url);
    await t.page.waitForSelector("#join-name");
    await t.lp.screenshot("00-join");
    await t.lp.join("Grace");
    await t.lp.waitForTerminal(/learner@egresslab:~\/stage-0\$/);
    await t.lp.runGuideAction("kubectl get pods -A");
    await t.lp.waitForTerminal(/coredns-[a-z0-9-]+\s+1\/1\s+Running/);
    await t.lp.screenshot("01-joined-get-pods");
  });

  it("Run clears what is half-typed at the prompt instead of appending to it", async () => {
    await t.page.locator(".xterm").click();
    await t.page.keyboard.insertText("echo half-typed-");
    await t.page.keyboard.press("ArrowLeft");
    await t.page.keyboard.press("ArrowLeft");
    await t.lp.waitForTerminal(/half-typed-$/m);
    await t.lp.runAndWait(
      t.page.locator(".guide .action", { hasText: "kubectl get pods -A" }).locator("button[data-action=run]"),
    );
    // The shell's history holds what it ran: the guide's command alone, and nothing of the half-typed text.
    await t.lp.type("history 4 | sed 's/^/hist:/'");
    await t.lp.waitForTerminal(/^hist:\s+\d+\s+history 4/m);
    const text = await t.lp.terminalText();
    expect(text).toMatch(/^hist:\s+\d+\s+kubectl get pods -A$/m);
    expect(text).not.toMatch(/^hist:.*half-typ/m);
    // The learner's shell (sandboxed) has nano beside vi, and jq for the guide's JSON.
    await t.lp.type("for p in nano vi jq; do command -v $p >/dev/null && echo has-$p; done");
    await t.lp.waitForTerminal(/^has-jq$/m);
    const tools = await t.lp.terminalText();
    expect(tools).toMatch(/^has-nano$/m);
    expect(tools).toMatch(/^has-vi$/m);
  });

  it("lists the keyboard shortcuts on ?, and closes the list with Escape", async () => {
    await t.page.locator("#stage-title").click();
    await t.page.keyboard.press("?");
    const dialog = t.page.locator("#shortcuts");
    await dialog.waitFor();
    expect(await dialog.innerText()).toMatch(/Alt\+1[\s\S]*Show the terminal[\s\S]*Option/);
    await t.page.keyboard.press("Escape");
    await dialog.waitFor({ state: "detached" });
  });

  it("applies the stage-1 solution in the terminal and passes the check", async () => {
    await t.lp.goToStage(1);
    const before = await t.lp.check();
    expect(before.passed).toBe(false);
    expect(before.text).toContain("Apply the default-deny from the guide.");
    await t.lp.type(
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
    await t.lp.waitForTerminal(/globalnetworkpolicy.projectcalico.org\/default-deny created/);
    const after = await t.lp.check();
    expect(after.passed).toBe(true);
    expect(await t.lp.stageStatus(1)).toBe("passed");
    expect(await t.page.locator("#check-status").innerText()).toBe("✓ Stage passed");
    // The last stage passed: the completion screen says what is still open (stage 0 was never checked).
    const done = t.page.locator("#completion");
    await done.waitFor();
    expect(await done.innerText()).toMatch(/1 of 2 stages passed/);
    await t.lp.screenshot("02-stage-1-passed");
    await done.locator("li[data-stage='0'] button").click();
    await t.page.locator("#stage-title", { hasText: /^0\./ }).waitFor();
    expect((await t.lp.check()).passed).toBe(true);
    await t.lp.goToStage(1);
    await t.page.click("#next-stage");
    expect(await done.innerText()).toMatch(/Workshop complete/);
    await t.page.keyboard.press("Escape");
    await done.waitFor({ state: "detached" });
  });

  it("reattaches the terminal with what it missed after the connection drops", async () => {
    await t.lp.type("echo before-drop-$((20+1))");
    await t.lp.waitForTerminal(/before-drop-21/);
    const learnerId = (await t.server.workshop.board()).find((r) => r.name === "Grace")!.learnerId;
    for (const s of t.server.io.sockets.sockets.values()) s.conn.close();
    await t.page.waitForSelector("#connection:not(.live)");
    t.server.terminals.get(learnerId)!.input("echo while-away-$((40+2))\r");
    await t.page.waitForSelector("#connection.live", { timeout: 20_000 });
    await t.lp.waitForTerminal(/while-away-42/);
    expect(await t.lp.terminalText()).toMatch(/before-drop-21/);
    await t.page.reload();
    await t.lp.waitForTerminal(/while-away-42/);
    expect(await t.lp.terminalText()).toMatch(/before-drop-21/);
    await t.lp.screenshot("03-reattached");
  });

  it("shows the learner's progress on the instructor's board, behind the token", async () => {
    const board = await t.browser.newPage({ viewport: { width: 1366, height: 768 } });
    await board.goto(t.server.url + "/instructor");
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
    const port = t.server.port;
    await t.server.close();
    t.server = await startServer({ labDir: t.labDir, dataDir: t.dataDir, port });
    await t.page.reload();
    await t.page.waitForSelector(".xterm-rows");
    expect(await t.lp.stageStatus(0)).not.toBe("not-started");
    expect(await t.lp.stageStatus(1)).toBe("passed");
    expect(await t.page.locator("#stage-title").innerText()).toMatch(/^1\./);
    await t.lp.waitForTerminal(/learner@egresslab:~\/stage-1\$/);
    await t.lp.type("kubectl get globalnetworkpolicies.projectcalico.org");
    await t.lp.waitForTerminal(/default-deny/);
    await t.lp.screenshot("04-after-restart");
  });
});
