/**
 * `{{ name }}` templating for lab files. Names are parameter names, optionally with a field (`{{ compromised.app }}`).
 * `{{ .field }}` (Go templates in kubectl commands) is left alone. Values never contain newlines, so line numbers in a
 * rendered file are those of its source.
 */
import type { Problem } from "../../shared/errors.ts";
import type { LabParams } from "../api.ts";

const placeholder = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)?)\s*\}\}/g;

/** The 1-based line of `offset` in `text`. */
export function lineAt(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

/** Every placeholder in `text` whose name is not in `known`, as problems located in `file`. */
export function unknownPlaceholders(text: string, known: ReadonlySet<string>, file: string): Problem[] {
  const problems: Problem[] = [];
  for (const m of text.matchAll(placeholder)) {
    const name = m[1]!;
    if (!known.has(name))
      problems.push({
        where: file,
        line: lineAt(text, m.index),
        message: `unknown parameter "{{ ${name} }}"; lab.yaml declares: ${[...known].sort().join(", ") || "none"}`,
      });
  }
  return problems;
}

/**
 * Replaces every placeholder with its value; a value may itself hold placeholders (a choice's field that names
 * another parameter), rendered in turn. A name without a value is left as written (the loader rejects those).
 */
export function renderTemplate(text: string, params: LabParams): string {
  let out = text;
  for (let pass = 0; pass < 4; pass++) {
    const next = out.replace(placeholder, (all, name: string) => params[name] ?? all);
    if (next === out) break;
    out = next;
  }
  return out;
}
