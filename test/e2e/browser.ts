/** Headless Chromium for the end-to-end tests, with a scratch HOME; fails with install instructions when missing. */
import { existsSync, mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { chromium, type Browser } from "playwright-core";

export const chromiumPath = "/usr/bin/chromium";
export const artifacts = path.resolve("test-results", "e2e");

export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(chromiumPath))
    throw new Error(
      `the end-to-end tests need Chromium at ${chromiumPath}: install it with \`apt-get update && apt-get install -y chromium\``,
    );
  mkdirSync(artifacts, { recursive: true });
  const home = mkdtempSync(path.join(tmpdir(), "egl-chromium-"));
  return chromium.launch({
    executablePath: chromiumPath,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--no-first-run",
      "--disable-dev-shm-usage",
    ],
    env: { HOME: home, PATH: "/usr/bin:/bin" },
  });
}
