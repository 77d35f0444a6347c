/** The learner's page, as the end-to-end tests drive it. */
import type { Locator, Page } from "playwright-core";
import path from "node:path";
import { artifacts } from "./browser.ts";

export class LearnerPage {
  constructor(readonly page: Page) {}

  async join(name: string, code?: string): Promise<void> {
    await this.page.fill("#join-name", name);
    if (code) await this.page.fill("#join-code", code);
    await this.page.click("#join-button");
    await this.page.waitForSelector(".xterm-rows");
  }

  /** The terminal's visible text. */
  terminalText(): Promise<string> {
    return this.page.locator(".xterm-rows").innerText();
  }

  async waitForTerminal(re: RegExp, timeout = 20_000): Promise<void> {
    const t0 = Date.now();
    for (;;) {
      const text = await this.terminalText();
      // A line longer than the terminal is wide continues on the next row.
      if (re.test(text) || re.test(text.replace(/\n/g, ""))) return;
      if (Date.now() - t0 > timeout)
        throw new Error(`the terminal never showed ${re}; it shows:\n${text.slice(-1500)}`);
      await this.page.waitForTimeout(100);
    }
  }

  /** Clicks the guide's "Run" button on the block holding `text`. */
  async runGuideAction(text: string): Promise<void> {
    const block = this.page.locator(".guide .action", { hasText: text }).first();
    await block.locator("button[data-action=run]").click();
  }

  /** Clicks a guide action button and waits until the shell shows its prompt again. */
  async runAndWait(button: Locator, timeout = 60_000): Promise<void> {
    const marker = `done-${Math.random().toString(36).slice(2, 8)}`;
    await button.click();
    // A marker command queued behind the action shows when the shell is back at its prompt.
    await this.page.keyboard.insertText(`echo ${marker}`);
    await this.page.keyboard.press("Enter");
    await this.waitForTerminal(new RegExp(`^${marker}$`, "m"), timeout);
  }

  /** Types into the terminal as a learner would. */
  async type(text: string): Promise<void> {
    await this.page.locator(".xterm").click();
    for (const line of text.split("\n")) {
      await this.page.keyboard.insertText(line);
      await this.page.keyboard.press("Enter");
    }
  }

  async goToStage(i: number): Promise<void> {
    await this.page.click(`.stage-pill[data-stage="${i}"]`);
    await this.page.locator("#stage-title", { hasText: new RegExp(`^${i}\\.`) }).waitFor();
  }

  /** Clicks Check and waits for a new outcome (not the one already shown). */
  async check(): Promise<{ passed: boolean; text: string }> {
    const shown = this.page.locator("#check-results .summary");
    const before = (await shown.count()) ? await shown.getAttribute("data-at") : null;
    await this.page.click("#check-button");
    const summary = before
      ? this.page.locator(`#check-results .summary:not([data-at="${before}"])`)
      : this.page.locator("#check-results .summary");
    await summary.waitFor({ timeout: 60_000 });
    return {
      passed: (await summary.getAttribute("data-passed")) === "true",
      text: await this.page.locator("#check-results").innerText(),
    };
  }

  /** True when the element is wholly visible: inside the window and inside every scrolling box around it. */
  inView(locator: Locator): Promise<boolean> {
    return locator.evaluate((el) => {
      // Runs in the page; this file is type-checked without the DOM library.
      const win = globalThis as unknown as {
        innerHeight: number;
        getComputedStyle(e: unknown): { overflowY: string };
      };
      const r = el.getBoundingClientRect();
      if (r.height === 0 || r.top < 0 || r.bottom > win.innerHeight) return false;
      for (let p = el.parentElement; p; p = p.parentElement) {
        if (!/(auto|scroll|hidden)/.test(win.getComputedStyle(p).overflowY)) continue;
        const b = p.getBoundingClientRect();
        if (r.top < b.top - 0.5 || r.bottom > b.bottom + 0.5) return false;
      }
      return true;
    });
  }

  stageStatus(i: number): Promise<string | null> {
    return this.page.locator(`.stage-pill[data-stage="${i}"]`).getAttribute("data-status");
  }

  async screenshot(name: string): Promise<void> {
    await this.page.screenshot({ path: path.join(artifacts, `${name}.png`) });
  }
}
