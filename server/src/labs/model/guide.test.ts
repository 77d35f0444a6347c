import { describe, expect, it } from "vitest";
import { classifyFence, guideProblems, guideTitle, renderGuideText } from "./guide.ts";

const guide = [
  "# Lock it down",
  "",
  "Why: <script>alert(1)</script>",
  "",
  "```run",
  "kubectl get pods -A",
  "```",
  "",
  "```yaml",
  "kind: Thing",
  "```",
  "",
  "```apply",
  "apiVersion: v1",
  "kind: Namespace",
  "metadata: {name: x}",
  "```",
  "",
  "```check",
  "```",
  "",
].join("\n");

describe("renderGuideText", () => {
  it("turns action fences into elements and keeps code blocks as code", () => {
    const r = renderGuideText(guide, "01");
    expect(r.actions.map((a) => [a.id, a.kind])).toEqual([
      ["01-1", "run"],
      ["01-2", "apply"],
      ["01-3", "check"],
    ]);
    expect(r.actions[0]!.text).toBe("kubectl get pods -A\n");
    expect(r.html).toContain('data-action-id="01-1" data-action-kind="run"');
    expect(r.html).toContain('<code class="language-yaml">kind: Thing');
    expect(r.html).not.toContain("<script>");
  });
});

describe("classifyFence", () => {
  it.each([
    ["run", "action"],
    ["copy", "action"],
    ["sh", "code"],
    ["yaml", "code"],
    ["cpp", "code"],
    ["", "code"],
    ["rnu", "code"],
    ["runn", "unknown"],
    ["chek", "unknown"],
    ["Run", "unknown"],
    ["terminal:execute", "unknown"],
    ["execute", "unknown"],
  ])("%s is %s", (info, want) => {
    const c = classifyFence(info);
    expect("action" in c ? "action" : "code" in c ? "code" : "unknown").toBe(want);
  });
});

describe("guideProblems", () => {
  it("lists every problem with its line", () => {
    const text = "no title\n\n```runn\nx\n```\n\n```apply\nkey: [\n```\n\n```copy\n```\n";
    const lines = guideProblems(text, "README.md").map((p) =>
      `${p.line}: ${p.message.slice(0, 22)}`.trimEnd(),
    );
    expect(lines).toEqual([
      "1: a guide starts with a",
      '3: unknown action "runn"',
      expect.stringMatching(/^9: YAML/),
      "11: an empty copy block",
    ]);
  });
  it("finds the title", () => {
    expect(guideTitle(guide)).toBe("Lock it down");
  });
});
