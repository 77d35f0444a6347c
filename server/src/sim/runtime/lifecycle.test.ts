/** Main processes: which run to completion (read with the pod shell's parser and commands), and what attach runs. */
import { describe, expect, it } from "vitest";
import { attachCommand, mainCommand, runsToCompletion } from "./lifecycle.ts";

describe("runsToCompletion", () => {
  it.each([
    [["echo", "hi"], true],
    [["/bin/echo", "hi"], true],
    [["sh", "-c", "exit 3"], true],
    [["sh", "-c", "echo a; echo b && false"], true],
    [["sh", "-c", "echo oops >&2; exit 3"], true],
    [["sh", "-c", "for i in 1 2; do echo $i; done"], true],
    [["wget", "-qO-", "http://example.com"], true],
    [["sleep", "5"], true],
    [["ping", "-c", "1", "10.0.0.1"], true],
    [[], false],
    [["sleep", "3600"], false],
    [["sleep", "infinity"], false],
    [["tail", "-f", "/dev/null"], false],
    [["ping", "10.0.0.1"], false],
    [["nc", "-lk", "8080"], false],
    [["sh", "-c", "while true; do sleep 1; done"], false],
    [["sh", "-c", "echo start; sleep infinity"], false],
    [["sh"], false],
    [["nginx", "-g", "daemon off;"], false],
    [["etcd", "--data-dir=/var/lib/etcd"], false],
    [["/usr/local/bin/kube-proxy", "--config=/x"], false],
    // Read as the shell reads them, not split on characters.
    [["sh", "-c", "echo 'while true; do sleep 1; done'"], true],
    [["sh", "-c", 'echo "a; sleep infinity"'], true],
    [["sh", "-c", "if wget -qO- http://web; then echo up; else echo down; fi"], true],
    [["sh", "-c", "if true; then sleep infinity; fi"], false],
    [["sh", "-c", "(echo a; tail -f /dev/null)"], false],
    [["sh", "-c", "echo $(sleep infinity)"], false],
    [["sh", "-c", "until false; do echo; done"], false],
    [["sh", "-c", "X=1 echo $X | grep 1"], true],
    [["sh", "-c", "$PROGRAM --serve"], false],
    [["sh", "-c", "sleep $DELAY"], false],
    [["sh", "-c", "sh -c 'sleep infinity'"], false],
    [["sh", "-c", "sh -c 'echo nested'"], true],
    [["sh", "-c", "echo start && my-server --port 8080"], false],
    // A script the shell cannot parse ends at once with busybox's syntax error (exit 2).
    [["sh", "-c", "echo ("], true],
  ])("%j → %s", (argv, expected) => {
    expect(runsToCompletion(argv)).toBe(expected);
  });
});

describe("runsToCompletion on hostile commands", () => {
  it("answers at once for scripts the shell refuses: too long, too deeply nested, unbalanced", () => {
    expect(runsToCompletion(["sh", "-c", "echo a; ".repeat(20_000)])).toBe(true);
    expect(runsToCompletion(["sh", "-c", "(".repeat(50_000) + "echo" + ")".repeat(50_000)])).toBe(true);
    expect(runsToCompletion(["sh", "-c", "$(".repeat(10_000)])).toBe(true);
    // Nested past the shell's depth: the pod shell refuses it, so it ends.
    const nested = "echo $(".repeat(5000) + "sleep infinity" + ")".repeat(5000);
    expect(runsToCompletion(["sh", "-c", nested])).toBe(true);
    expect(runsToCompletion(["sh", "-c", "echo $(".repeat(5) + "sleep infinity" + ")".repeat(5)])).toBe(
      false,
    );
  });
});

describe("mainCommand", () => {
  it("is command then args, as the kubelet starts them", () => {
    expect(mainCommand({ command: ["sh", "-c"], args: ["echo hi"] })).toEqual(["sh", "-c", "echo hi"]);
    expect(mainCommand({ args: ["--port", 80] })).toEqual(["--port", "80"]);
    expect(mainCommand({})).toEqual([]);
  });
});

describe("attachCommand", () => {
  const pod = (containers: unknown[]) => ({ spec: { containers } });
  it.each([
    [[{ name: "a", stdin: true, args: ["sh"] }], undefined, ["sh"]],
    [[{ name: "a", stdin: true }], undefined, ["sh"]],
    [[{ name: "a", stdin: true, command: ["python"], args: ["-i"] }], "a", ["python", "-i"]],
    [[{ name: "a" }], undefined, undefined],
    [[{ name: "a" }, { name: "b", stdin: true, args: ["ash"] }], "b", ["ash"]],
  ])("%j (container %s) → %j", (containers, container, want) => {
    expect(attachCommand(pod(containers), container)).toEqual(want);
  });
});
