import { describe, expect, it } from "vitest";
import { lineAt, renderTemplate, unknownPlaceholders } from "./template.ts";

describe("renderTemplate", () => {
  it.each([
    ["curl https://{{ c2Domain }}/", { c2Domain: "x.example" }, "curl https://x.example/"],
    [
      "{{compromised.app}} in {{ compromised.ns }}",
      { "compromised.app": "catalog", "compromised.ns": "shop" },
      "catalog in shop",
    ],
    [
      "kubectl get po -o go-template='{{ .metadata.name }}'",
      {},
      "kubectl get po -o go-template='{{ .metadata.name }}'",
    ],
    ["{{ missing }}", {}, "{{ missing }}"],
    [
      "to: {{ compromised.beacon }}",
      { "compromised.beacon": "{{ c2Domain }}", c2Domain: "c2.test" },
      "to: c2.test",
    ],
  ])("renders %s", (text, params, want) => {
    expect(renderTemplate(text, params)).toBe(want);
  });
});

describe("unknownPlaceholders", () => {
  it("reports each unknown name with its line", () => {
    const problems = unknownPlaceholders(
      "a\n{{ c2Domain }}\n{{ nope }} {{ other.x }}\n",
      new Set(["c2Domain"]),
      "f.yaml",
    );
    expect(problems.map((p) => [p.line, p.message.split(";")[0]])).toEqual([
      [3, 'unknown parameter "{{ nope }}"'],
      [3, 'unknown parameter "{{ other.x }}"'],
    ]);
  });
  it("counts lines from 1", () => {
    expect(lineAt("a\nb\nc", 4)).toBe(3);
  });
});
