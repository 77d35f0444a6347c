/**
 * Guides: stage README.md files, rendered with markdown-it. Fenced blocks whose info string is an action (`run`, `copy`,
 * `apply`, `check`, `rotate`) become elements the page wires up; ordinary languages (`yaml`, `sh`, …) render as code; an info
 * string that looks like a mistyped action is a load-time error rather than a silent code block.
 */
import MarkdownIt from "markdown-it";
type Token = ReturnType<InstanceType<typeof MarkdownIt>["parse"]>[number];
import type { Problem } from "../../shared/errors.ts";
import type { GuideAction, RenderedGuide } from "../api.ts";
import { parseYaml } from "./yaml.ts";

const actionKinds = ["run", "copy", "apply", "check", "rotate"] as const;
type ActionKind = (typeof actionKinds)[number];

/** Languages that are code, never actions, even when they are close to an action's name. */
const languages = new Set([
  "sh",
  "bash",
  "shell",
  "console",
  "text",
  "txt",
  "plain",
  "yaml",
  "yml",
  "json",
  "jsonc",
  "diff",
  "ini",
  "toml",
  "go",
  "ts",
  "js",
  "typescript",
  "javascript",
  "python",
  "py",
  "cpp",
  "c",
  "rust",
  "html",
  "css",
  "sql",
  "http",
  "log",
  "output",
  "none",
  "md",
  "markdown",
  "xml",
  "dockerfile",
  "make",
  "csv",
  "promql",
]);

function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++)
      d[i]![j] = Math.min(
        d[i - 1]![j]! + 1,
        d[i]![j - 1]! + 1,
        d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
  return d[a.length]![b.length]!;
}

const actionLike = new Set([
  "exec",
  "execute",
  "terminal",
  "click",
  "button",
  "paste",
  "verify",
  "grade",
  "submit",
  "kubectl-apply",
]);

/** What a fence's info string means: an action, code, or a mistyped action (the reason says why). */
export function classifyFence(
  info: string,
): { action: ActionKind } | { code: true } | { unknownAction: string } {
  const word = info.trim().split(/\s+/)[0] ?? "";
  if ((actionKinds as readonly string[]).includes(word)) return { action: word as ActionKind };
  if (word === "" || languages.has(word.toLowerCase())) return { code: true };
  const lower = word.toLowerCase();
  if ((actionKinds as readonly string[]).includes(lower))
    return { unknownAction: `"${word}": actions are lower-case ("${lower}")` };
  if (/^[a-z-]+:/.test(lower) || actionLike.has(lower))
    return { unknownAction: `"${word}" is not an action; use one of ${actionKinds.join(", ")}` };
  const near = actionKinds.find((a) => lower.length >= 3 && distance(lower, a) <= 1);
  if (near) return { unknownAction: `"${word}" is not an action; did you mean "${near}"?` };
  return { code: true };
}

const md = new MarkdownIt({ html: false, linkify: true, typographer: false });
const defaultFence = md.renderer.rules.fence!;
md.renderer.rules.fence = (tokens, idx, options, env, self) => {
  const t = tokens[idx]!;
  const meta = t.meta as { actionId?: string; kind?: ActionKind } | null;
  if (!meta?.actionId || !meta.kind) return defaultFence(tokens, idx, options, env, self);
  const body = md.utils.escapeHtml(t.content);
  const lang =
    meta.kind === "apply" ? "yaml" : meta.kind === "check" || meta.kind === "rotate" ? "text" : "sh";
  return (
    `<div class="action action-${meta.kind}" data-action-id="${meta.actionId}" data-action-kind="${meta.kind}">` +
    (t.content.trim() ? `<pre><code class="language-${lang}">${body}</code></pre>` : "") +
    `</div>\n`
  );
};

function fences(text: string): Token[] {
  return md.parse(text, {}).filter((t) => t.type === "fence");
}

export interface GuideRules {
  /** Why a domain cannot be rotated by the lab's internet (not in its catalogue, fixed addresses), or undefined. */
  cannotRotate?: (domain: string) => string | undefined;
}

/** The domain a `rotate` block names: its one line, or undefined when it holds anything else. */
export function rotateDomainOf(body: string): string | undefined {
  const words = body.trim().split(/\s+/);
  return words.length === 1 && words[0] ? words[0].toLowerCase() : undefined;
}

/**
 * Problems in a guide: mistyped actions, `apply` blocks that are not YAML objects, `rotate` blocks that do not name
 * one domain the lab's internet rotates, a missing `# Title`.
 */
export function guideProblems(text: string, file: string, rules: GuideRules = {}): Problem[] {
  const problems: Problem[] = [];
  if (!guideTitle(text))
    problems.push({ where: file, line: 1, message: 'a guide starts with a "# Title" heading' });
  for (const t of fences(text)) {
    const line = (t.map?.[0] ?? 0) + 1;
    const c = classifyFence(t.info);
    if ("unknownAction" in c)
      problems.push({ where: file, line, message: `unknown action ${c.unknownAction}` });
    else if ("action" in c && c.action === "apply") {
      const { docs, problems: yp } = parseYaml(t.content, file);
      for (const p of yp) problems.push({ ...p, line: line + (p.line ?? 1) });
      if (
        !yp.length &&
        (docs.length === 0 || docs.some((d) => typeof d.value !== "object" || d.value === null))
      )
        problems.push({ where: file, line, message: "an apply block holds Kubernetes objects in YAML" });
    } else if ("action" in c && c.action !== "check" && !t.content.trim())
      problems.push({ where: file, line, message: `an empty ${c.action} block` });
    else if ("action" in c && c.action === "rotate") {
      const domain = rotateDomainOf(t.content);
      const why = domain
        ? rules.cannotRotate?.(domain)
        : "a rotate block names one domain, such as api.stripe.com";
      if (why) problems.push({ where: file, line, message: `rotate: ${why}` });
    }
  }
  return problems;
}

/** The text of the first `# ` heading, if any. */
export function guideTitle(text: string): string | undefined {
  const tokens = md.parse(text, {});
  const i = tokens.findIndex((t) => t.type === "heading_open" && t.tag === "h1");
  return i >= 0 ? tokens[i + 1]?.content.trim() || undefined : undefined;
}

/** Renders an already-templated guide to safe HTML plus the list of its actions. */
export function renderGuideText(text: string, idPrefix: string): RenderedGuide {
  const tokens = md.parse(text, {});
  const actions: GuideAction[] = [];
  for (const t of tokens) {
    if (t.type !== "fence") continue;
    const c = classifyFence(t.info);
    if (!("action" in c)) continue;
    const id = `${idPrefix}-${actions.length + 1}`;
    t.meta = { actionId: id, kind: c.action };
    actions.push({
      id,
      kind: c.action,
      text: c.action === "rotate" ? t.content.trim().toLowerCase() : t.content,
    });
  }
  return { html: md.renderer.render(tokens, md.options, {}), actions };
}
