import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import setup, { hostTools, installCommand, missingPackages, onPath } from "./host-tools.ts";

const dir = mkdtempSync(path.join(tmpdir(), "egresslab-host-tools-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("host tools for the tests", () => {
  it("finds executables on a PATH, not plain files", () => {
    writeFileSync(path.join(dir, "tool"), "#!/bin/sh\n");
    writeFileSync(path.join(dir, "data"), "");
    chmodSync(path.join(dir, "tool"), 0o755);
    expect(onPath("tool", `/nonexistent${path.delimiter}${dir}`)).toBe(true);
    expect(onPath("data", dir)).toBe(false);
    expect(onPath("tool", "")).toBe(false);
  });
  it("names the packages of missing tools and the exact command, with sudo when not root", () => {
    const tools = [
      { apt: "a", why: "x", present: () => true },
      { apt: "b", why: "y", present: () => false },
    ];
    expect(missingPackages(tools)).toEqual(["b"]);
    expect(installCommand(["bubblewrap", "chromium"], false)).toBe(
      "sudo apt-get update && sudo apt-get install -y --no-install-recommends bubblewrap chromium",
    );
    expect(installCommand(["nano"], true)).toBe(
      "apt-get update && apt-get install -y --no-install-recommends nano",
    );
  });
  it("has provisioned every tool on this machine (the global setup ran before this file)", () => {
    expect(hostTools.map((t) => t.apt)).toEqual(
      expect.arrayContaining(["chromium", "bubblewrap", "kubectl", "nano", "jq", "python3-kubernetes"]),
    );
    expect(missingPackages()).toEqual([]);
    expect(() => setup()).not.toThrow();
  });
});
