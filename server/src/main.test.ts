import { readFileSync } from "node:fs";
import { afterEach, describe, expect, it, vi } from "vitest";
import { main } from "./main.ts";

/** Runs the CLI in-process and captures what it printed. */
async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  vi.spyOn(process.stdout, "write").mockImplementation(
    (s: string | Uint8Array) => ((out += String(s)), true),
  );
  vi.spyOn(process.stderr, "write").mockImplementation(
    (s: string | Uint8Array) => ((err += String(s)), true),
  );
  const code = await main(argv);
  vi.restoreAllMocks();
  return { code, out, err };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("egresslab", () => {
  it("prints the version of package.json for --version, -V and version", async () => {
    const want = (JSON.parse(readFileSync("package.json", "utf8")) as { version: string }).version;
    for (const flag of ["--version", "-V", "version"]) {
      const r = await run(flag);
      expect(r.code).toBe(0);
      expect(r.out).toBe(`egresslab ${want}\n`);
    }
  });
  it("shows a command's help for `help <command>`, the same as `<command> --help`", async () => {
    const viaHelp = await run("help", "serve");
    const viaFlag = await run("serve", "--help");
    expect(viaHelp.code).toBe(0);
    expect(viaHelp.out).toContain("Usage: egresslab serve");
    expect(viaHelp.out).toContain("--join-code CODE");
    expect(viaHelp.out).toBe(viaFlag.out);
    const policy = await run("help", "policy", "check");
    expect(policy.code).toBe(0);
    expect(policy.out).toContain("--expect");
  });
  it("lists the commands for `help`, and suggests the nearest command for a typo", async () => {
    const top = await run("help");
    expect(top.code).toBe(0);
    expect(top.out).toContain("--version");
    const typo = await run("serv");
    expect(typo.code).toBe(2);
    expect(typo.err).toContain('unknown command "serv"');
    expect(typo.err).toContain("did you mean `egresslab serve`?");
    const far = await run("deploy");
    expect(far.err).not.toContain("did you mean");
  });
  it("suggests the nearest option of a command", async () => {
    const r = await run("serve", "--hots", "0.0.0.0");
    expect(r.code).toBe(2);
    expect(r.err).toContain("--hots: unknown option; did you mean --host?");
  });
});
