import { describe, expect, it } from "vitest";
import { CommandError, type Cmder, type CommandResult } from "../cmd.ts";
import { VirtualClock } from "../../shared/clock.ts";
import { describeReadiness, waitForCalico } from "./install.ts";

/** A runner that answers `kubectl get <resource> -o json` from a script of responses, one per call. */
function scripted(responses: Record<string, (string | Error)[]>): Cmder & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    which: () => "/bin/true",
    run(command, args): Promise<CommandResult> {
      const resource = args[3]!;
      calls.push(resource);
      const queue = responses[resource]!;
      const next = queue.length > 1 ? queue.shift()! : queue[0]!;
      if (next instanceof Error) return Promise.reject(next);
      return Promise.resolve({ command, args, exitCode: 0, stdout: next, stderr: "" });
    },
  };
}

const list = (...items: object[]) => JSON.stringify({ items });
const node = (ready: boolean) => ({
  status: { conditions: [{ type: "Ready", status: ready ? "True" : "False" }] },
});
const ts = (name: string, ok: boolean) => ({
  metadata: { name },
  status: { conditions: [{ type: "Available", status: ok ? "True" : "False" }] },
});
const refused = new CommandError({
  command: "kubectl",
  args: [],
  exitCode: 1,
  stdout: "",
  stderr:
    "The connection to the server 127.0.0.1:40123 was refused - did you specify the right host or port?\n",
  failure: "exit",
});

describe("waitForCalico", () => {
  it("waits on the clock with growing pauses until everything is ready, reporting only changes", async () => {
    const clock = new VirtualClock(0);
    const cmder = scripted({
      nodes: [list(node(false)), list(node(false)), list(node(true))],
      tigerastatus: [refused, list(ts("calico", false)), list(ts("calico", true))],
    });
    const steps: string[] = [];
    const done = waitForCalico({
      cmder,
      kubeconfig: "k",
      components: ["calico"],
      clock,
      pollMs: 1000,
      timeoutMs: 60_000,
      onProgress: (s) => steps.push(s),
    });
    let finished = false;
    void done.finally(() => (finished = true));
    for (let i = 0; i < 100 && !finished; i++) {
      await new Promise((r) => setImmediate(r));
      await clock.advance(250);
    }
    const state = await done;
    expect(state).toMatchObject({ nodesReady: 1, nodesTotal: 1, available: ["calico"], waiting: [] });
    expect(steps).toEqual([
      "waiting: nodes Ready 0/1; Calico components Available 0/1 (waiting for calico)",
      "waiting: nodes Ready 1/1; Calico components Available 1/1",
    ]);
    expect(clock.now()).toBeGreaterThanOrEqual(750);
  });

  it("names the last kubectl error when it gives up", async () => {
    const cmder = scripted({ nodes: [refused], tigerastatus: [refused] });
    const err = await waitForCalico({
      cmder,
      kubeconfig: "k",
      components: ["calico"],
      clock: new VirtualClock(0),
      pollMs: 1,
      timeoutMs: 0,
      onProgress: () => {},
    }).catch((e: Error) => e);
    expect((err as Error).message).toBe(
      "Calico did not become ready within 0s: 0/0 nodes Ready; not Available: calico; last kubectl error: The connection to the server 127.0.0.1:40123 was refused - did you specify the right host or port?",
    );
  });
});

describe("describeReadiness", () => {
  it("says what is still awaited", () => {
    expect(
      describeReadiness({
        nodesReady: 2,
        nodesTotal: 3,
        available: ["calico"],
        waiting: [{ name: "whisker" }],
      }),
    ).toBe("waiting: nodes Ready 2/3; Calico components Available 1/2 (waiting for whisker)");
  });
});
