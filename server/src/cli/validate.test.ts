import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { NotFoundError, ValidationError } from "../shared/errors.ts";
import { resolveLabDir, validateCommand } from "./validate.ts";

const dir = mkdtempSync(path.join(tmpdir(), "egresslab-validate-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("egresslab validate", () => {
  it("finds shipped labs by name and directories by path", () => {
    expect(resolveLabDir("egress-workshop")).toMatch(/labs[/\\]egress-workshop$/);
    expect(() => resolveLabDir("no-such-lab")).toThrow(NotFoundError);
  });

  it("lists every loading problem with file and line before touching a cluster", async () => {
    const lab = path.join(dir, "broken");
    mkdirSync(path.join(lab, "s0"), { recursive: true });
    writeFileSync(
      path.join(lab, "lab.yaml"),
      "id: broken\ntitle: B\ndescription: B\nduration: 5m\nprofile: bare\nstages: [s0, s1]\n",
    );
    writeFileSync(path.join(lab, "s0/README.md"), "# S0\n\n```chek\n```\n");
    writeFileSync(path.join(lab, "s0/checks.yaml"), "checks: []\n");
    const err = (await validateCommand.run([lab]).catch((e: unknown) => e)) as ValidationError;
    expect(err).toBeInstanceOf(ValidationError);
    const text = err.problems.map(
      (p) => `${path.relative(lab, p.where ?? "")}:${p.line ?? ""}: ${p.message}`,
    );
    expect(text).toEqual(
      expect.arrayContaining([
        "lab.yaml:: stage directory s1/ does not exist",
        's0/README.md:3: unknown action "chek" is not an action; did you mean "check"?',
        "s0/solution:: missing: a reference solution (manifests or answers.yaml)",
      ]),
    );
  });

  it("rejects unknown options and prints help", async () => {
    await expect(validateCommand.run(["--nope"])).rejects.toThrow(ValidationError);
    await expect(validateCommand.run(["--provider", "kubeconfig", "egress-workshop"])).rejects.toThrow(
      /--kubeconfig/,
    );
  });
});
