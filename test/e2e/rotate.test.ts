/**
 * The guide's Rotate button in headless Chromium, on the real lab and the simulated cluster: it rotates the provider
 * in the learner's own cluster and shows the old and the new addresses under the block; a refusal is an error toast.
 */
import { describe, expect, it } from "vitest";
import path from "node:path";
import { defaultCatalogue } from "../../server/src/net/catalogue-file.ts";
import { browserSession } from "./session.ts";

const labDir = path.resolve(import.meta.dirname, "..", "..", "labs", "egress-workshop");
const stripe = defaultCatalogue().domains.find((d) => d.name === "api.stripe.com")!;
const t = browserSession(labDir, "egl-e2e-rotate-");

describe("the guide's Rotate button", () => {
  it("rotates Stripe's addresses and shows them before and after, then says when rotations are limited", async () => {
    await t.page.goto(t.server.url);
    await t.lp.join("Rotator");
    await t.lp.goToStage(2);
    const block = t.page.locator(".guide .action-rotate");
    expect(await block.count()).toBe(1);
    const button = block.locator("button[data-action=rotate]");
    expect(await button.innerText()).toBe("Rotate");
    // No Copy button: there is nothing to paste.
    expect(await block.locator("button").count()).toBe(1);
    await button.click();
    const result = block.locator(".rotate-result");
    await result.waitFor();
    const text = await result.innerText();
    const m = /^Rotated\. api\.stripe\.com: (.+) → (.+)$/.exec(text.trim());
    expect(m, text).not.toBeNull();
    expect(m![1]!.split(", ")).toEqual(stripe.ips);
    const first = m![2]!.split(", ");
    expect(first).toHaveLength(stripe.ips.length);
    await t.lp.screenshot("20-guide-rotated");
    // Again: the result is replaced, the old addresses are the last ones.
    await button.click();
    await block.locator(".rotate-result", { hasText: `${first.join(", ")} →` }).waitFor();
    expect(await block.locator(".rotate-result").count()).toBe(1);
    // The third is allowed (three at once), the fourth is refused with an error toast.
    await button.click();
    await block.locator("button[data-action=rotate]:not([disabled])").waitFor();
    await button.click();
    const toast = t.page.locator(".toast-error", { hasText: /rotations are limited; try again in \d+ s/ });
    await toast.waitFor();
  });
});
