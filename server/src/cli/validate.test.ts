import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { readFileSync } from "node:fs";
import { afterAll, describe, expect, it, vi } from "vitest";
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

  it("refuses dependsOn on an unknown check or in a circle, and a wrong solution's first hint it does not fail", async () => {
    const lab = path.join(dir, "deps");
    mkdirSync(path.join(lab, "s0", "solution"), { recursive: true });
    mkdirSync(path.join(lab, "s0", "wrong", "w"), { recursive: true });
    writeFileSync(
      path.join(lab, "lab.yaml"),
      "id: deps\ntitle: D\ndescription: D\nduration: 5m\nprofile: bare\nstages: [s0]\n",
    );
    writeFileSync(path.join(lab, "s0/README.md"), "# S0\n");
    const check = (id: string, deps: string) =>
      `  - id: ${id}\n    kind: resource\n    title: t\n    hint: h\n    dependsOn: [${deps}]\n    target: { apiVersion: v1, kind: ConfigMap, namespace: default, name: ${id} }\n`;
    writeFileSync(
      path.join(lab, "s0/checks.yaml"),
      "checks:\n" + check("a", "b") + check("b", "a") + check("c", "nope"),
    );
    writeFileSync(
      path.join(lab, "s0/solution/cm.yaml"),
      "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: default}\n",
    );
    writeFileSync(path.join(lab, "s0/wrong/w/wrong.yaml"), "why: w\nfails: [a]\nfirst: c\n");
    writeFileSync(
      path.join(lab, "s0/wrong/w/cm.yaml"),
      "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b, namespace: default}\n",
    );
    const err = (await validateCommand.run([lab]).catch((e: unknown) => e)) as ValidationError;
    expect(err).toBeInstanceOf(ValidationError);
    const text = err.problems.map(
      (p) => `${path.relative(lab, p.where ?? "")}:${p.line ?? ""}: ${p.message}`,
    );
    expect(text).toEqual(
      expect.arrayContaining([
        's0/checks.yaml:18: checks[2].dependsOn: no check "nope"',
        "s0/checks.yaml:1: dependsOn goes round in a circle: a → b → a",
        's0/wrong/w/wrong.yaml:3: first: "c" is not one of the checks this wrong solution fails',
      ]),
    );
  });

  it("prints one JSON document with --output json, and writes JUnit XML beside it", async () => {
    const lab = path.join(dir, "tiny");
    mkdirSync(path.join(lab, "s0", "solution"), { recursive: true });
    writeFileSync(
      path.join(lab, "lab.yaml"),
      "id: tiny\ntitle: T\ndescription: T\nduration: 5m\nprofile: bare\nstages: [s0]\n",
    );
    writeFileSync(path.join(lab, "s0/README.md"), "# Make a config map\n\nCreate it.\n");
    writeFileSync(
      path.join(lab, "s0/checks.yaml"),
      [
        "checks:",
        "  - id: cm",
        "    kind: resource",
        "    title: the config map exists",
        "    target: { apiVersion: v1, kind: ConfigMap, namespace: default, name: made }",
        "    hint: create it",
        "",
      ].join("\n"),
    );
    writeFileSync(
      path.join(lab, "s0/solution/cm.yaml"),
      "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: made, namespace: default}\ndata: {a: b}\n",
    );
    const junit = path.join(dir, "tiny.xml");
    let printed = "";
    vi.spyOn(process.stdout, "write").mockImplementation(
      (s: string | Uint8Array) => ((printed += String(s)), true),
    );
    let code: number;
    try {
      code = await validateCommand.run([lab, "--output", "json", "--junit", junit]);
    } finally {
      vi.restoreAllMocks();
    }
    expect(code).toBe(0);
    const doc = JSON.parse(printed) as { passed: boolean; labs: { lab: string; stages: { id: string }[] }[] };
    expect(doc.passed).toBe(true);
    expect(doc.labs.map((l) => [l.lab, l.stages.map((s) => s.id)])).toEqual([["tiny", ["s0"]]]);
    expect(readFileSync(junit, "utf8")).toMatch(
      /<testsuites name="egresslab validate" tests="2" failures="0">/,
    );
  });

  it("rejects unknown options and prints help", async () => {
    await expect(validateCommand.run(["--nope"])).rejects.toThrow(ValidationError);
    await expect(validateCommand.run(["--provider", "kubeconfig", "egress-workshop"])).rejects.toThrow(
      /--kubeconfig/,
    );
  });
});
