/**
 * The real workshop in headless Chromium, as a newcomer does it: join, go to stage 1 (default-deny), press every
 * action of the guide in order (run, apply), then Check, and see the stage pass.
 */
import { describe, expect, it } from "vitest";
import path from "node:path";
import { readFileSync } from "node:fs";
import { browserSession } from "./session.ts";

const labDir = path.resolve(import.meta.dirname, "..", "..", "labs", "egress-workshop");
const t = browserSession(labDir, "egl-e2e-ws-");

describe("the egress workshop", () => {
  it("completes stage 1 with nothing but the guide", async () => {
    await t.page.goto(t.server.url);
    await t.lp.join("Newcomer");
    await t.lp.waitForTerminal(/learner@egresslab:~\/stage-0\$/);
    // Stage 0 asks questions: the page shows a field for each.
    expect(await t.page.locator(".answers input").count()).toBeGreaterThan(0);
    await t.lp.screenshot("09-workshop-stage-0");
    // On a 1280×720 screen, a check's outcome shows where the learner looks: beside the Check button, and the
    // results scrolled into sight below the stage's answer fields.
    await t.page.setViewportSize({ width: 1280, height: 720 });
    const unanswered = await t.lp.check();
    expect(unanswered.passed).toBe(false);
    expect(await t.page.locator("#check-status").innerText()).toMatch(/^✗ \d+ of \d+ checks fail$/);
    expect(await t.lp.inView(t.page.locator("#check-status"))).toBe(true);
    expect(await t.lp.inView(t.page.locator("#check-results .summary"))).toBe(true);
    expect(await t.lp.inView(t.page.locator("#check-results li.fail").first())).toBe(true);
    await t.lp.screenshot("09b-workshop-stage-0-checked-1280x720");
    await t.page.setViewportSize({ width: 1366, height: 768 });
    await t.lp.goToStage(1);

    // Root cause first: with a default-deny that forgot DNS, the DNS check is the first hint, and the probes to
    // domains say they were not checked instead of blaming the policy ("the connection still went through").
    const wrong = path.join(labDir, "01-default-deny", "wrong", "no-dns");
    for (const f of ["default-deny.yaml", "allow-shop-internal.yaml"]) {
      await t.lp.type(
        `kubectl apply -f - <<'EOF'\n${readFileSync(path.join(wrong, f), "utf8").trimEnd()}\nEOF`,
      );
    }
    await t.lp.waitForTerminal(/globalnetworkpolicy.projectcalico.org\/default-deny (created|configured)/);
    const broken = await t.lp.check();
    expect(broken.passed).toBe(false);
    const first = t.page.locator("#check-results .check-list li").first();
    expect(await first.getAttribute("data-check-id")).toBe("dns-resolves");
    expect(await first.innerText()).toMatch(/Hint: Names no longer resolve/);
    const blocked = t.page.locator('#check-results li[data-check-id="shop-egress-denied"]');
    expect(await blocked.getAttribute("class")).toBe("blocked");
    expect(await blocked.innerText()).toMatch(
      /not checked: “Pods still resolve external names through kube-dns” fails first/,
    );
    expect(await blocked.innerText()).not.toMatch(/Hint:/);
    await t.lp.screenshot("09c-workshop-stage-1-root-cause-first");

    const actions = t.page.locator(
      ".guide .action button[data-action=run], .guide .action button[data-action=apply]",
    );
    const count = await actions.count();
    expect(count).toBeGreaterThan(0);
    for (let i = 0; i < count; i++) {
      await t.lp.runAndWait(actions.nth(i));
    }
    await t.lp.screenshot("10-workshop-stage-1-applied");
    const result = await t.lp.check();
    await t.lp.screenshot("11-workshop-stage-1-checked");
    expect(result.text).toContain("Stage passed");
    expect(result.passed).toBe(true);
  });

  it("shows the cluster's flows in the flow view and the egress map", async () => {
    // From the keyboard: Alt+2 opens the flow view.
    await t.page.keyboard.press("Alt+2");
    expect(await t.page.locator("#tab-flows").getAttribute("aria-selected")).toBe("true");
    await t.page.locator("#flow-table tbody tr:not(:has(td.empty))").first().waitFor({ timeout: 60_000 });
    await t.page.selectOption("#flow-action", "deny");
    await t.page.locator("#flow-table .badge-deny").first().waitFor({ timeout: 60_000 });
    expect(await t.page.locator("#flow-table .badge-allow:not(.badge-staged)").count()).toBe(0);
    expect(await t.page.locator("#egress-map svg path").count()).toBeGreaterThan(0);
    await t.lp.screenshot("12-workshop-flows");
    // Staged policies: the Staged column shows what the staged default-deny would do, and filters on it.
    await t.page.selectOption("#flow-action", "");
    await t.page.selectOption("#flow-pending", "deny");
    await t.page
      .locator("#flow-table td.pending .badge-deny.badge-staged")
      .first()
      .waitFor({ timeout: 60_000 });
    const rows = t.page.locator("#flow-table tbody tr");
    const staged = t.page.locator("#flow-table tbody tr td.pending .badge-deny.badge-staged");
    expect(await staged.count()).toBe(await rows.count());
    // The window: the last 5 minutes by default; everything kept is at least as much.
    expect(await t.page.locator("#flow-window").inputValue()).toBe("5m");
    await t.page.selectOption("#flow-pending", "");
    const recent = await rows.count();
    await t.page.selectOption("#flow-window", "all");
    expect(await rows.count()).toBeGreaterThanOrEqual(recent);
    expect(await t.page.locator("#egress-map .legend-note").innerText()).toMatch(
      /pub.*internet.*pvt.*private/s,
    );
    await t.lp.screenshot("13-workshop-flows-staged");

    // The map shows what is allowed or denied now: the shop's egress was allowed before the default-deny and is
    // denied since, so its edges are denied, marked as changed, and say so when hovered.
    const changed = t.page.locator("#egress-map svg path.edge.denied.changed");
    await changed.first().waitFor({ timeout: 60_000 });
    expect(await changed.first().getAttribute("data-verdict")).toBe("deny");
    expect(await changed.first().locator("title").textContent()).toMatch(/: denied now .*; allowed before/);
    expect(await t.page.locator("#egress-map .legend").innerText()).toMatch(/allowed now.*denied now/s);

    // Stage 1's checks probed from the grader's own pods: hidden by default, shown marked on request, never drawn.
    const probeRows = t.page.locator("#flow-table tr.flow-probe");
    expect(await probeRows.count()).toBe(0);
    expect(await t.page.locator("#flow-table").innerText()).not.toContain("egresslab-probe-");
    await t.page.check("#flow-probes");
    await probeRows.first().waitFor({ timeout: 10_000 });
    expect(await probeRows.first().locator(".badge-probe").textContent()).toBe("probe");
    expect(await probeRows.first().innerText()).toMatch(/egresslab-probe-/);
    expect(await t.page.locator("#egress-map").innerHTML()).not.toContain("egresslab-probe-");
    await t.lp.screenshot("13b-workshop-flows-probes-marked");
    await t.page.uncheck("#flow-probes");
    expect(await probeRows.count()).toBe(0);
  });
});
