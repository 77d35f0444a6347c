import { describe, expect, it } from "vitest";
import { execRequest, exitStatus } from "./exec.ts";
import { ApiError } from "../store/types.ts";

describe("execRequest", () => {
  it("reads repeated commands, streams and tty", () => {
    const q = new URLSearchParams(
      "command=sh&command=-c&command=exit%203&stdin=true&stdout=true&tty=true&container=app",
    );
    expect(execRequest(q, "ns", "p", false)).toEqual({
      namespace: "ns",
      pod: "p",
      command: ["sh", "-c", "exit 3"],
      tty: true,
      stdin: true,
      container: "app",
    });
  });
  it.each([
    ["stdout=true", "you must specify at least 1 command"],
    ["command=ls", "you must specify at least 1 of stdin, stdout, stderr"],
  ])("rejects %s", (q, msg) => {
    expect(() => execRequest(new URLSearchParams(q), "ns", "p", false)).toThrow(
      new ApiError(400, "BadRequest", msg),
    );
  });
});

describe("exitStatus", () => {
  it("is Success for 0 and NonZeroExitCode with the code otherwise", () => {
    expect(exitStatus(0, ["true"])).toEqual({ metadata: {}, status: "Success" });
    expect(exitStatus(3, ["sh", "-c", "exit 3"])).toEqual({
      metadata: {},
      status: "Failure",
      message:
        "command terminated with non-zero exit code: error executing command [sh -c exit 3], exit code 3",
      reason: "NonZeroExitCode",
      details: { causes: [{ reason: "ExitCode", message: "3" }] },
    });
  });
});
