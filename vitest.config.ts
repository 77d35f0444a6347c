import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["server/src/**/*.test.ts", "test/**/*.test.ts", "web/src/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    // Installs (as root) or names (otherwise) the host programs the tests need: Chromium, bubblewrap, kubectl, …
    globalSetup: ["test/setup/host-tools.ts"],
    // Integration and e2e tests drive real kubectl, ptys and Chromium on a shared 2-core machine; on CI a test that
    // fails is run once more before it counts as failed (a broken test fails both times).
    retry: process.env.CI ? 1 : 0,
    reporters: ["default"],
  },
});
