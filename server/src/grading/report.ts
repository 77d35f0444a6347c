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
  const out = [
    `stage ${r.index} ${r.id}: ${r.title} — ${r.problems.length ? `${r.problems.length} problem(s)` : "ok"} (${r.seconds.toFixed(1)}s)`,
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
    `${r.passed ? "PASSED" : "FAILED"}: ${r.lab} in ${r.seconds.toFixed(1)}s`,
  ].join("\n");
}

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

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
          `    <testcase classname="${esc(`${lab.lab}.${s.id}`)}" name="${esc(name)}">${body}</testcase>`,
        );
      }
      const other = s.problems.filter((p) => !s.expectations.some((e) => !e.ok && p.includes(e.checkId)));
      if (other.length)
        cases.push(
          `    <testcase classname="${esc(`${lab.lab}.${s.id}`)}" name="stage"><failure message="${esc(other[0]!)}">${esc(other.join("\n"))}</failure></testcase>`,
        );
      const f = cases.filter((c) => c.includes("<failure")).length;
      tests += cases.length;
      failures += f;
      suites.push(
        `  <testsuite name="${esc(`${lab.lab}/${s.id}`)}" tests="${cases.length}" failures="${f}" time="${s.seconds.toFixed(3)}">\n${cases.join("\n")}\n  </testsuite>`,
      );
    }
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="egresslab validate" tests="${tests}" failures="${failures}">\n${suites.join("\n")}\n</testsuites>\n`;
}
