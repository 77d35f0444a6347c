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

describe("rotate actions", () => {
  const text =
    "# Rotate\n\n```rotate\nAPI.Stripe.com\n```\n\n```rotate\napi.stripe.com api.twilio.com\n```\n\n```rotate\n```\n\n```rotate\napi.paypal.com\n```\n";

  it("render as an action naming the domain, lower-cased", () => {
    const r = renderGuideText("# R\n\n```rotate\nAPI.Stripe.com\n```\n", "02");
    expect(r.actions).toEqual([{ id: "02-1", kind: "rotate", text: "api.stripe.com" }]);
    expect(r.html).toContain('data-action-id="02-1" data-action-kind="rotate"');
    expect(r.html).toContain('<code class="language-text">API.Stripe.com');
  });

  it("must name one domain the lab's internet rotates", () => {
    const cannotRotate = (d: string) =>
      d === "api.stripe.com"
        ? undefined
        : d === "api.paypal.com"
          ? "fixed addresses"
          : "not in the catalogue";
    expect(guideProblems(text, "README.md", { cannotRotate }).map((p) => `${p.line}: ${p.message}`)).toEqual([
      "7: rotate: a rotate block names one domain, such as api.stripe.com",
      "11: an empty rotate block",
      "14: rotate: fixed addresses",
    ]);
  });
});
