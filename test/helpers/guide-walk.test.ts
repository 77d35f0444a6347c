/** How the guide walk reads a guide's blocks and "Expected:" lines and judges a command's result. */
import { describe, expect, it } from "vitest";
import { renderGuideText } from "../../server/src/labs/model/guide.ts";
import { expectedAfter, expectedBefore, judgeCommand, judgeOutput, splitCommands } from "./guide-walk.ts";

describe("splitCommands", () => {
  it.each([
    ["one line", "kubectl get pods\n", ["kubectl get pods"]],
    ["two lines, a blank between", "a\n\nb\n", ["a", "b"]],
    [
      "a heredoc stays with its command",
      "kubectl apply -f - <<'YAML'\nkind: X\nYAML\necho done\n",
      ["kubectl apply -f - <<'YAML'\nkind: X\nYAML", "echo done"],
    ],
    [
      "a here-string is one line",
      "kubectl create --raw /x -f - <<< '{}'; echo\n",
      ["kubectl create --raw /x -f - <<< '{}'; echo"],
    ],
  ])("%s", (_, text, commands) => {
    expect(splitCommands(text)).toEqual(commands);
  });
});

const guide = renderGuideText(
  [
    "# T",
    "```run",
    "curl a",
    "curl b",
    "```",
    "",
    "Expected: `200`, then `000` (timed out).",
    "",
    "```run",
    'curl c; echo "exit $?"',
    "```",
    "",
    'Expected: `000` and exit code 28, from `10.10.10.x`; `strict decoding error: unknown field "spec.x"`.',
    "",
    "```run",
    "true",
    "```",
    "",
    "Nothing expected here. Then (expected: exit code 28, timed out):",
    "",
    "```copy",
    'curl https://LEGITIMATE-DOMAIN/; echo "exit $?"',
    "```",
  ].join("\n"),
  "s",
);

describe("expectedAfter", () => {
  it("reads the values of the Expected: line right after a block, and only there", () => {
    const first = expectedAfter(guide, "s-1")!;
    expect(first.values.map((v) => [v.span, v.failure])).toEqual([
      ["200", false],
      ["000", true],
    ]);
    const second = expectedAfter(guide, "s-2")!;
    expect(second.exitCodes).toEqual([28]);
    expect(second.values.map((v) => v.span)).toEqual([
      "000",
      "10.10.10.x",
      'strict decoding error: unknown field "spec.x"',
    ]);
    expect(second.values[1]!.match!.test("10.10.10.1")).toBe(true);
    expect(second.values[1]!.match!.test("10.10.11.1")).toBe(false);
    expect(expectedAfter(guide, "s-3")).toBeUndefined();
  });

  it("reads the exit code the paragraph right before a block expects", () => {
    expect(expectedBefore(guide, "s-4")).toEqual([28]);
    // The Expected: line before it belongs to the block before that.
    expect(expectedBefore(guide, "s-3")).toEqual([]);
    expect(expectedBefore(guide, "s-1")).toEqual([]);
  });
});

describe("judging a command", () => {
  const [ok, timedOut] = expectedAfter(guide, "s-1")!.values;
  it.each([
    ["exit 0, clean output", { exitCode: 0, output: "fine\n" }, [], undefined],
    ["a non-zero exit", { exitCode: 1, output: "" }, [], "exited 1"],
    [
      "bash's command not found",
      { exitCode: 0, output: "bash: flows: command not found\n" },
      [],
      'printed "command not found"',
    ],
    ["kubectl's error:", { exitCode: 0, output: "error: unknown command\n" }, [], 'printed "error:"'],
    [
      "a log line that reports an error",
      { exitCode: 0, output: "GET https://x/ error: timed out\n" },
      [],
      undefined,
    ],
    [
      "an API error",
      { exitCode: 0, output: "Error from server (Forbidden): no\n" },
      [],
      'printed "Error from server"',
    ],
    ["an expected failure that happened", { exitCode: 28, output: "000\n" }, [timedOut!], undefined],
    ["an expected failure that did not happen", { exitCode: 7, output: "" }, [timedOut!], "exited 7"],
    ["an expected success that failed", { exitCode: 28, output: "000\n" }, [ok!], "exited 28"],
  ])("%s", (_, result, values, problem) => {
    expect(judgeCommand(result, values)).toBe(problem);
  });

  it("finds expected values in order, and the exit codes the guide names", () => {
    expect(judgeOutput("200\n000\n", [ok!, timedOut!], [])).toBeUndefined();
    expect(judgeOutput("000\n200\n", [ok!, timedOut!], [])).toBe(
      "expected `000` in the output after the earlier expected values",
    );
    expect(judgeOutput("000\nexit 28\n", [timedOut!], [28])).toBeUndefined();
    expect(judgeOutput("000\nexit 7\n", [timedOut!], [28])).toBe("expected exit code 28");
  });
});
