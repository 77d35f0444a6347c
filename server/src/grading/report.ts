/**
 * How `egresslab validate` shows its results: a table per stage for people, JUnit XML for CI.
 */
import type { StageReport, ValidateReport } from "./validate-lab.ts";

function cell(r: StageReport, phase: string, check: string): string {
  const e = r.expectations.find((x) => x.phase === phase && x.checkId === check);
  if (!e) return "·";
  const what = e.result.passed ? "pass" : "fail";
  return e.ok ? what : `${what.toUpperCase()}!`;
}

/** A table: one row per check, one column per phase; `fail`/`pass` as expected, `PASS!`/`FAIL!` where not. */
export function formatStage(r: StageReport): string {
  const header = ["check", ...r.phases];
  const rows = r.checks.map((c) => [c, ...r.phases.map((p) => cell(r, p, c))]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cols: string[]): string =>
    "  " +
    cols
      .map((c, i) => c.padEnd(widths[i]!))
      .join("  ")
      .trimEnd();
  const status = r.problems.length ? `${r.problems.length} problem(s)` : "ok";
  if (r.guideOnly)
    return [
      `stage ${r.index} ${r.id}: ${r.title} — guide only on ${r.edition} (nothing to set up or check)`,
      ...r.problems.map((p) => `  ✗ ${p}`),
    ].join("\n");
  const out = [
    `stage ${r.index} ${r.id}: ${r.title} — ${status} (${r.seconds.toFixed(1)}s)`,
    line(header),
    ...rows.map(line),
  ];
  for (const p of r.problems) out.push(`  ✗ ${p}`);
  return out.join("\n");
}

export function formatReport(r: ValidateReport): string {
  const params = Object.entries(r.params)
    .filter(([k]) => !k.includes("."))
    .map(([k, v]) => `${k}=${v}`)
    .join(" ");
  return [
    `lab ${r.lab}${params ? ` (${params})` : ""}`,
    ...r.stages.map(formatStage),
    `${r.passed ? "PASSED" : "FAILED"}: ${r.lab} on ${r.edition} in ${r.seconds.toFixed(1)}s`,
  ].join("\n");
}

/** Terminal control sequences (CSI such as colours and cursor moves, OSC such as titles) as a check's output carries them. */
// eslint-disable-next-line no-control-regex
const TERMINAL_SEQUENCE = /\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]/g;
/** What XML 1.0 forbids anywhere in a document (even as a character reference): C0 controls but tab, LF and CR; U+FFFE/U+FFFF; lone surrogates. */
const NOT_XML =
  // eslint-disable-next-line no-control-regex
  /[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/**
 * Text made safe for XML 1.0 text and attribute values, whatever a check printed: terminal sequences are dropped, other
 * forbidden characters are shown as `\uXXXX`, markup characters are escaped, and line breaks in attributes survive as
 * character references (a parser would otherwise fold them into spaces).
 */
export function xmlText(s: string): string {
  return s
    .replace(TERMINAL_SEQUENCE, "")
    .replace(NOT_XML, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`)
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/\n/g, "&#10;")
    .replace(/\r/g, "&#13;")
    .replace(/\t/g, "&#9;");
}
const esc = xmlText;

/** JUnit XML: a suite per stage, a case per expectation (plus a case for stage-level problems). */
export function junitXml(reports: readonly ValidateReport[]): string {
  const suites: string[] = [];
  let tests = 0;
  let failures = 0;
  for (const lab of reports)
    for (const s of lab.stages) {
      const cases: string[] = [];
      for (const e of s.expectations) {
        const name = `${e.checkId} ${e.expected === "fail" ? "fails" : "passes"} ${e.phase === "before" ? "before the solution" : e.phase === "solution" ? "with the solution" : `with ${e.phase}`}`;
        const body = e.ok
          ? ""
          : `<failure message="${esc(e.result.seen)}">${esc(e.why ?? e.result.title)}</failure>`;
        cases.push(
          `    <testcase classname="${esc(`${lab.lab}.${lab.edition}.${s.id}`)}" name="${esc(name)}">${body}</testcase>`,
        );
      }
      const other = s.problems.filter((p) => !s.expectations.some((e) => !e.ok && p.includes(e.checkId)));
      if (other.length)
        cases.push(
          `    <testcase classname="${esc(`${lab.lab}.${lab.edition}.${s.id}`)}" name="stage"><failure message="${esc(other[0]!)}">${esc(other.join("\n"))}</failure></testcase>`,
        );
      const f = cases.filter((c) => c.includes("<failure")).length;
      tests += cases.length;
      failures += f;
      suites.push(
        `  <testsuite name="${esc(`${lab.lab}/${lab.edition}/${s.id}`)}" tests="${cases.length}" failures="${f}" time="${s.seconds.toFixed(3)}">\n${cases.join("\n")}\n  </testsuite>`,
      );
    }
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="egresslab validate" tests="${tests}" failures="${failures}">\n${suites.join("\n")}\n</testsuites>\n`;
}
