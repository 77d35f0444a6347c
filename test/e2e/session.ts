/**
 * One browser test file's setup: a workshop server on a lab with its own data directory, headless Chromium and one
 * learner page, made before the file's tests and removed after them. Fields are read inside tests (after `beforeAll`);
 * a test that restarts the server assigns `server`.
 */
import { afterAll, beforeAll } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Browser, Page } from "playwright-core";
import type { WorkshopServer } from "../../server/src/http/server.ts";
import { launchBrowser } from "./browser.ts";
import { LearnerPage } from "./learner-page.ts";
import { startServer } from "./server.ts";

export interface BrowserSession {
  labDir: string;
  dataDir: string;
  server: WorkshopServer;
  browser: Browser;
  page: Page;
  lp: LearnerPage;
}

/** Registers the setup and teardown; `prefix` names the data directory. */
export function browserSession(
  labDir: string,
  prefix: string,
  onPage?: (page: Page) => void,
): BrowserSession {
  const s = { labDir } as BrowserSession;
  beforeAll(async () => {
    s.dataDir = mkdtempSync(path.join(tmpdir(), prefix));
    s.server = await startServer({ labDir, dataDir: s.dataDir });
    s.browser = await launchBrowser();
    s.page = await s.browser.newPage({ viewport: { width: 1366, height: 768 } });
    s.lp = new LearnerPage(s.page);
    onPage?.(s.page);
  });
  afterAll(async () => {
    await s.browser?.close();
    await s.server?.close();
    if (s.dataDir) rmSync(s.dataDir, { recursive: true, force: true });
  });
  return s;
}
