import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { junitXml, xmlText } from "./report.ts";
import type { ValidateReport } from "./validate-lab.ts";

/** Parses with Python's expat (a conforming XML 1.0 parser) and returns the failure messages it read back. */
function parseWithExpat(xml: string): string[] {
  const script = [
    "import sys, json, xml.dom.minidom as m",
    "d = m.parseString(sys.stdin.buffer.read())",
    "print(json.dumps([f.getAttribute('message') + '|' + ''.join(n.data for n in f.childNodes) for f in d.getElementsByTagName('failure')]))",
  ].join("\n");
  return JSON.parse(
    execFileSync("python3", ["-c", script], { input: xml, encoding: "utf8", stdio: "pipe" }),
  ) as string[];
}

const hostile =
  'curl: (7) \x1b[31mrefused\x1b[0m\x00\x07 \x1b]0;title\x07<b>&"x"</b>\r\nline two\ttab \ud800 \uffff 😀';

function report(seen: string, hint: string): ValidateReport {
  return {
    lab: "lab",
    edition: "oss",
    params: {},
    passed: false,
    seconds: 1,
    stages: [
      {
        index: 0,
        id: "s0",
        title: "S0",
        edition: "oss",
        checks: ["c1"],
        phases: ["before"],
        seconds: 0.5,
        problems: ["c1 passes before the solution"],
        expectations: [
          {
            phase: "before",
            checkId: "c1",
            expected: "fail",
            ok: false,
            result: { id: "c1", title: "t", passed: true, seen, hint },
            why: hint,
          },
        ],
      },
    ],
  };
}

describe("JUnit XML", () => {
  it("is well-formed whatever a check printed: terminal sequences dropped, other forbidden characters shown", () => {
    const xml = junitXml([report(hostile, hostile)]);
    const [failure] = parseWithExpat(xml);
    const [message, body] = failure!.split("|");
    const want = 'curl: (7) refused\\u0000\\u0007 <b>&"x"</b>\r\nline two\ttab \\ud800 \\uffff 😀';
    expect(message).toBe(want);
    expect(body).toBe(want);
  });
  it("would be refused by the parser without the escaping (the test can fail)", () => {
    const raw = `<?xml version="1.0"?><a m="${"\x1b[31m"}"/>`;
    expect(() => parseWithExpat(raw)).toThrow();
  });
  it("escapes markup and keeps printable text", () => {
    expect(xmlText("a<b>&c\"d'e")).toBe("a&lt;b&gt;&amp;c&quot;d'e");
    expect(xmlText("\x1b[1;32mok\x1b[0m")).toBe("ok");
    expect(xmlText("é ✓ 😀")).toBe("é ✓ 😀");
  });
});
