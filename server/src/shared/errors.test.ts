import { describe, expect, it } from "vitest";
import { ValidationError, exitCodeFor, formatProblems } from "./errors.ts";

describe("formatProblems", () => {
  it("puts location and line before each message", () => {
    expect(formatProblems([{ where: "a.yaml", line: 3, message: "bad" }, { message: "worse" }])).toBe(
      "a.yaml:3: bad\nworse",
    );
  });
  it("gives exit code 2 for invalid input and 1 otherwise", () => {
    expect(exitCodeFor(new ValidationError([{ message: "x" }]))).toBe(2);
    expect(exitCodeFor(new Error("x"))).toBe(1);
  });
});
