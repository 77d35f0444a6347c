import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ValidationError } from "../shared/errors.ts";
import { loadLab, listLabs } from "./loader.ts";
import { renderStage } from "./model/stage.ts";
import { renderGuide, sessionParams } from "./index.ts";

const root = mkdtempSync(path.join(tmpdir(), "egresslab-labs-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function write(dir: string, files: Record<string, string>): string {
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    writeFileSync(path.join(dir, rel), text);
  }
  return dir;
}

const good = {
  "lab.yaml": [
    "id: tiny",
    "title: Tiny",
    "description: A tiny lab",
    "duration: 1h30m",
    "profile: bare",
    "params:",
    "  c2Domain: {oneOf: [a.evil.test, b.evil.test]}",
    "stages: [s0]",
  ].join("\n"),
  "s0/README.md": "# Block {{ c2Domain }}\n\n```run\ncurl https://{{ c2Domain }}\n```\n",
  "s0/checks.yaml": [
    "checks:",
    "  - id: c2-blocked",
    "    kind: probe",
    "    title: the C2 domain is blocked",
    "    hint: deny it",
    "    from: {namespace: ops, selector: app=backup}",
    "    to: {domain: '{{ c2Domain }}', port: 443}",
    "    expect: blocked",
  ].join("\n"),
  "s0/solution/policy.yaml":
    "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: deny}\nspec: {}\n",
  "s0/wrong/nothing/wrong.yaml":
    "why: allowing everything blocks nothing\nfails: [c2-blocked]\nfirst: c2-blocked\n",
  "s0/wrong/nothing/policy.yaml":
    "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: allow}\nspec: {egress: [{action: Allow}]}\n",
};

describe("loadLab", () => {
  it("loads a lab and renders it per session", async () => {
    const lab = await loadLab(write(path.join(root, "good"), good));
    expect(lab).toMatchObject({
      id: "tiny",
      durationMinutes: 90,
      profile: "bare",
      requirements: { edition: "oss", editions: ["oss"] },
    });
    const params = sessionParams(lab, 7);
    const stage = renderStage(lab, 0, params);
    expect(stage.title).toBe("Block {{ c2Domain }}");
    expect(stage.checks[0]).toMatchObject({
      kind: "probe",
      to: { domain: params.c2Domain, protocol: "TCP" },
      expect: { outcome: "blocked" },
    });
    expect(stage.wrong[0]).toMatchObject({ name: "nothing", fails: ["c2-blocked"] });
    expect(renderGuide(lab, 0, params).actions[0]!.text).toBe(`curl https://${params.c2Domain}\n`);
    expect(await listLabs(root)).toEqual([expect.objectContaining({ id: "tiny", stageCount: 1 })]);
  });

  it("lists every problem with file and line", async () => {
    const dir = write(path.join(root, "bad"), {
      ...good,
      "lab.yaml": good["lab.yaml"].replace("stages: [s0]", "stages: [s0, s1]"),
      "s0/README.md": "# Block\n\n```runn\ncurl https://{{ c2domain }}\n```\n",
      "s0/checks.yaml": good["s0/checks.yaml"]
        .replace("expect: blocked", "expect: blockd")
        .replace("hint: deny it", "hint: deny it\n    colour: red"),
      "s0/wrong/nothing/wrong.yaml": "why: x\nfails: [c2-blocked, nope]\nfirst: c2-blocked\n",
      "s0/wrong/nothing/policy.yaml": "kind: GlobalNetworkPolicy\nmetadata: {name: allow}\n",
    });
    const err = await loadLab(dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ValidationError);
    const lines = (err as ValidationError).problems.map(
      (p) => `${path.relative(dir, p.where ?? "")}:${p.line ?? ""}: ${p.message}`,
    );
    expect(lines).toEqual(
      expect.arrayContaining([
        "lab.yaml:: stage directory s1/ does not exist",
        expect.stringMatching(/^s0\/README.md:4: unknown parameter "\{\{ c2domain \}\}"/),
        expect.stringMatching(/^s0\/README.md:3: unknown action "runn"/),
      ]),
    );
    // Template problems are reported first; once they are fixed, the rendered files are checked.
    write(dir, { "s0/README.md": "# Block\n", "lab.yaml": good["lab.yaml"] });
    const err2 = (await loadLab(dir).catch((e: unknown) => e)) as ValidationError;
    const lines2 = err2.problems.map(
      (p) => `${path.relative(dir, p.where ?? "")}:${p.line ?? ""}: ${p.message}`,
    );
    expect(lines2).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^s0\/checks.yaml:9: checks\[0\].expect: expect is one of allowed/),
        expect.stringMatching(/^s0\/checks.yaml:6: checks\[0\]: Unrecognized key: "colour"/),
        's0/wrong/nothing/wrong.yaml:2: no check "nope" in ' + path.join(dir, "s0/checks.yaml"),
        "s0/wrong/nothing/policy.yaml:1: a Kubernetes object needs apiVersion",
      ]),
    );
  });

  it("loads rotations only of domains the lab's internet rotates, in guides and in checks", async () => {
    const rotating = {
      ...good,
      "s0/README.md": "# Rotate\n\n```rotate\napi.stripe.com\n```\n",
      "s0/checks.yaml": good["s0/checks.yaml"].replace(
        "expect: blocked",
        "expect: blocked\n    before: {rotate: api.stripe.com}",
      ),
    };
    const lab = await loadLab(write(path.join(root, "rotating"), rotating));
    expect(renderStage(lab, 0, sessionParams(lab, 1)).checks[0]).toMatchObject({
      before: { rotate: "api.stripe.com" },
    });
    const dir = write(path.join(root, "not-rotating"), {
      ...rotating,
      "s0/README.md": "# Rotate\n\n```rotate\napi.paypal.com\n```\n",
      "s0/checks.yaml": rotating["s0/checks.yaml"].replace("api.stripe.com", "nowhere.example.org"),
    });
    const err = (await loadLab(dir).catch((e: unknown) => e)) as ValidationError;
    expect(err).toBeInstanceOf(ValidationError);
    expect(
      err.problems.map((p) => `${path.relative(dir, p.where ?? "")}:${p.line ?? ""}: ${p.message}`),
    ).toEqual([
      's0/README.md:3: rotate: "api.paypal.com" has fixed addresses (no rotate.pool in clusters/internet.yaml)',
    ]);
    write(dir, {
      "s0/README.md": rotating["s0/README.md"],
      "s0/setup/commands.yaml": "- rotate: api.twilio.com\n- rotate: github.com\n",
    });
    const err2 = (await loadLab(dir).catch((e: unknown) => e)) as ValidationError;
    expect(err2.problems.map((p) => `${path.relative(dir, p.where ?? "")}: ${p.message}`)).toEqual([
      's0/setup/commands.yaml: setup: rotate: "github.com" has fixed addresses (no rotate.pool in clusters/internet.yaml)',
      's0/checks.yaml: c2-blocked: before.rotate: "nowhere.example.org" is not a domain of the lab\'s internet (clusters/internet.yaml)',
    ]);
    write(dir, {
      "s0/checks.yaml": rotating["s0/checks.yaml"],
      "s0/setup/commands.yaml": "- rotate: API.Twilio.com\n",
    });
    expect(renderStage(await loadLab(dir), 0, sessionParams(lab, 1)).commands).toEqual([
      { kind: "rotate", domain: "api.twilio.com" },
    ]);
  });

  it("gives each edition its variant: files of <stage>/<edition>/ over the stage's, guide-only stages, wrong solutions per edition", async () => {
    const dir = write(path.join(root, "editions"), {
      ...good,
      "lab.yaml": good["lab.yaml"].replace(
        "stages: [s0]",
        "requirements: {editions: [enterprise, oss]}\nstages: [s0, {id: s1, editions: [enterprise]}]",
      ),
      "s0/solution/extra.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: extra, namespace: ops}\n",
      "s0/wrong/enterprise-only/wrong.yaml":
        "why: a domain rule\nfails: [c2-blocked]\nfirst: c2-blocked\neditions: [enterprise]\n",
      "s0/wrong/enterprise-only/policy.yaml":
        "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: deny}\nspec: {order: 5}\n",
      "s0/wrong/no-extra/wrong.yaml":
        "why: forgot the extra\nfails: [c2-blocked]\nfirst: c2-blocked\nwithout: [extra.yaml]\n",
      "s0/oss/README.md": "# Block by address on {{ edition }}\n\n```check\n```\n",
      "s0/oss/solution/policy.yaml":
        "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: deny-by-net}\nspec: {}\n",
      "s1/README.md": "# Gateways\n",
      "s1/checks.yaml": good["s0/checks.yaml"],
      "s1/solution/policy.yaml": good["s0/solution/policy.yaml"],
      "s1/wrong/nothing/wrong.yaml": good["s0/wrong/nothing/wrong.yaml"],
      "s1/wrong/nothing/policy.yaml": good["s0/wrong/nothing/policy.yaml"],
      "s1/oss/README.md": "# Gateways need Calico Enterprise\n",
    });
    const lab = await loadLab(dir);
    expect(lab.requirements).toMatchObject({ edition: "enterprise", editions: ["enterprise", "oss"] });
    expect(sessionParams(lab, 7).edition).toBe("enterprise");
    const ent = sessionParams(lab, 7, "enterprise");
    const oss = sessionParams(lab, 7, "oss");
    expect(oss.c2Domain).toBe(ent.c2Domain);

    const e0 = renderStage(lab, 0, ent);
    expect(e0).toMatchObject({ edition: "enterprise", guideOnly: false, title: "Block {{ c2Domain }}" });
    expect(e0.solution.map((m) => m.object.metadata.name)).toEqual(["extra", "deny"]);
    expect(e0.wrong.map((w) => w.name)).toEqual(["enterprise-only", "no-extra", "nothing"]);
    // A wrong solution is the whole attempt: the solution's objects it does not replace or go without, then its own.
    const byName = (n: string) =>
      e0.wrong.find((w) => w.name === n)!.manifests.map((m) => m.object.metadata.name);
    expect(byName("enterprise-only")).toEqual(["extra", "deny"]);
    expect(byName("no-extra")).toEqual(["deny"]);
    expect(byName("nothing")).toEqual(["extra", "deny", "allow"]);

    const o0 = renderStage(lab, 0, oss);
    expect(o0.edition).toBe("oss");
    expect(o0.title).toBe("Block by address on {{ edition }}");
    expect(renderGuide(lab, 0, oss).html).toContain("Block by address on oss");
    // The variant's policy.yaml replaces the stage's; extra.yaml is the stage's own.
    expect(o0.solution.map((m) => m.object.metadata.name)).toEqual(["extra", "deny-by-net"]);
    expect(o0.wrong.map((w) => w.name)).toEqual(["no-extra", "nothing"]);

    const e1 = renderStage(lab, 1, ent);
    expect(e1.guideOnly).toBe(false);
    const o1 = renderStage(lab, 1, oss);
    expect(o1).toMatchObject({ guideOnly: true, checks: [], setup: [], solution: [], wrong: [] });
    expect(renderGuide(lab, 1, oss).html).toContain("Gateways need Calico Enterprise");
    expect(() => renderStage(lab, 0, { ...ent, edition: "nope" })).not.toThrow();
  });

  it("rejects what editions cannot mean", async () => {
    const dir = write(path.join(root, "bad-editions"), {
      ...good,
      "lab.yaml": good["lab.yaml"]
        .replace("stages: [s0]", "requirements: {edition: oss}\nstages: [{id: s0, editions: [enterprise]}]")
        .replace("c2Domain:", "edition:"),
      "s0/enterprise/README.md": "# E\n",
      "s0/wrong/nothing/wrong.yaml": "why: x\nfails: [c2-blocked]\nfirst: c2-blocked\nwithout: [nope.yaml]\n",
    });
    const err = (await loadLab(dir).catch((e: unknown) => e)) as ValidationError;
    expect(err).toBeInstanceOf(ValidationError);
    expect(err.problems.map((p) => p.message)).toEqual(
      expect.arrayContaining([expect.stringMatching(/"edition" is reserved/)]),
    );
    write(dir, {
      "lab.yaml": good["lab.yaml"].replace(
        "stages: [s0]",
        "requirements: {edition: oss}\nstages: [{id: s0, editions: [enterprise]}]",
      ),
    });
    const err2 = (await loadLab(dir).catch((e: unknown) => e)) as ValidationError;
    expect(err2.problems.map((p) => `${path.relative(dir, p.where ?? "")}: ${p.message}`)).toEqual(
      expect.arrayContaining([
        "lab.yaml: stage s0 names edition enterprise, which requirements.editions does not list",
        "s0/enterprise: a variant for edition enterprise, which the lab's requirements.editions does not list",
      ]),
    );
    write(dir, { "lab.yaml": good["lab.yaml"] });
    rmSync(path.join(dir, "s0/enterprise"), { recursive: true });
    const err3 = (await loadLab(dir).catch((e: unknown) => e)) as ValidationError;
    expect(err3.problems.map((p) => `${path.relative(dir, p.where ?? "")}:${p.line}: ${p.message}`)).toEqual([
      "s0/wrong/nothing/wrong.yaml:4: without: no file nope.yaml in the reference solution",
    ]);
  });
});
