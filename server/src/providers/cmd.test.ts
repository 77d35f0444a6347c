import { describe, expect, it } from "vitest";
import { CommandError, createCmder } from "./cmd.ts";

const cmder = createCmder();

async function failureOf(p: Promise<unknown>): Promise<CommandError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof CommandError) return err;
    throw err;
  }
  throw new Error("expected the command to fail");
}

describe("createCmder", () => {
  it("returns stdout, stderr and exit code of a successful command", async () => {
    const r = await cmder.run("sh", ["-c", 'echo out; echo err >&2; echo "$1"', "sh", "arg with space"]);
    expect(r).toMatchObject({ command: "sh", exitCode: 0, stdout: "out\narg with space\n", stderr: "err\n" });
  });

  it("passes input on stdin", async () => {
    const r = await cmder.run("sh", ["-c", "tr a-z A-Z"], { input: "hello" });
    expect(r.stdout).toBe("HELLO");
  });

  it("keeps command, args, exit code, output and cause when a command fails", async () => {
    const err = await failureOf(cmder.run("sh", ["-c", "echo partial; echo 'ERROR: it broke' >&2; exit 3"]));
    expect(err).toMatchObject({
      command: "sh",
      exitCode: 3,
      stdout: "partial\n",
      failure: "exit",
      code: "internal",
    });
    expect(err.stderr).toContain("ERROR: it broke");
    expect(err.args).toEqual(["-c", "echo partial; echo 'ERROR: it broke' >&2; exit 3"]);
    expect(err.message).toContain("exited with code 3: ERROR: it broke");
    expect(err.cause).toBeDefined();
  });

  it("says when a command is not installed", async () => {
    const err = await failureOf(cmder.run("egresslab-no-such-tool", ["x"]));
    expect(err.failure).toBe("not-found");
    expect(err.message).toContain("command not found on PATH");
  });

  it("stops a command at its timeout", async () => {
    const err = await failureOf(cmder.run("sleep", ["5"], { timeoutMs: 100 }));
    expect(err.failure).toBe("timeout");
  });

  it("stops a command when the signal aborts", async () => {
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 50);
    const err = await failureOf(cmder.run("sleep", ["5"], { signal: ac.signal }));
    expect(err.failure).toBe("cancelled");
  });

  it("runs with the extra environment it was given", async () => {
    const r = await createCmder({ env: { EGRESSLAB_TEST_VALUE: "42" } }).run("sh", [
      "-c",
      "echo $EGRESSLAB_TEST_VALUE",
    ]);
    expect(r.stdout).toBe("42\n");
  });

  it("finds executables on its own PATH only", () => {
    expect(cmder.which("sh")).toMatch(/\/sh$/);
    expect(cmder.which("egresslab-no-such-tool")).toBeUndefined();
    expect(createCmder({ env: { PATH: "/nonexistent" } }).which("sh")).toBeUndefined();
  });
});
