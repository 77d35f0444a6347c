/* eslint-disable @typescript-eslint/no-explicit-any -- assertions read deep into Kubernetes JSON */
import { afterEach, describe, expect, it } from "vitest";
import { VirtualClock } from "../shared/clock.ts";
import { createSimCluster, type SimCluster } from "./cluster.ts";
import { runsToCompletion } from "./main-process.ts";

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
  ])("%j → %s", (argv, expected) => {
    expect(runsToCompletion(argv)).toBe(expected);
  });
});

describe("pods whose command ends", () => {
  let c: SimCluster | undefined;
  afterEach(async () => {
    await c?.close();
    c = undefined;
  });

  const pods = (cl: SimCluster) => cl.api.findType("pods")!;
  const run = (cl: SimCluster, name: string, command: string[], restartPolicy = "Never") =>
    cl.api.create(pods(cl), "default", {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name },
      spec: { restartPolicy, containers: [{ name, image: "busybox", command }] },
    });
  const status = (cl: SimCluster, name: string) => cl.api.get(pods(cl), "default", name).status as any;
  const settled = async () => {
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
  };

  it("end as the kubelet reports them, with their output as the log; long-running ones keep running", async () => {
    const clock = new VirtualClock(Date.UTC(2026, 0, 1));
    const cl = (c = await createSimCluster({ id: "mp", clock, seed: 1 }));
    const system = cl.api.list(pods(cl), {}).items;
    expect(system.length).toBeGreaterThan(0);
    expect(system.every((p) => (p.status as any).phase === "Running")).toBe(true);

    run(cl, "hello", ["echo", "hi"]);
    run(cl, "fails", ["sh", "-c", "echo oops >&2; exit 3"]);
    run(cl, "sleeper", ["sleep", "3600"]);
    await settled();

    const hello = status(cl, "hello");
    expect(hello.phase).toBe("Succeeded");
    expect(hello.containerStatuses[0].state.terminated).toMatchObject({ exitCode: 0, reason: "Completed" });
    expect(hello.conditions.find((x: any) => x.type === "Ready")).toMatchObject({
      status: "False",
      reason: "PodCompleted",
    });
    expect(cl.runtime.logs("default", "hello", {})).toBe("hi\n");

    const fails = status(cl, "fails");
    expect(fails.phase).toBe("Failed");
    expect(fails.containerStatuses[0].state.terminated).toMatchObject({ exitCode: 3, reason: "Error" });
    expect(cl.runtime.logs("default", "fails", {})).toBe("oops\n");

    expect(status(cl, "sleeper").phase).toBe("Running");
    expect(status(cl, "sleeper").containerStatuses[0].state.running).toBeDefined();
    expect(cl.api.list(pods(cl), {}).items.filter((p) => (p.status as any).phase !== "Running")).toHaveLength(
      2,
    );
  });

  it("restart under restartPolicy Always: CrashLoopBackOff, then running again after the back-off", async () => {
    const clock = new VirtualClock(Date.UTC(2026, 0, 1));
    const cl = (c = await createSimCluster({ id: "mp-always", clock, seed: 1 }));
    run(cl, "crash", ["sh", "-c", "echo once; exit 1"], "Always");
    await settled();
    let s = status(cl, "crash");
    expect(s.phase).toBe("Running");
    expect(s.containerStatuses[0]).toMatchObject({
      restartCount: 1,
      ready: false,
      state: { waiting: { reason: "CrashLoopBackOff" } },
      lastState: { terminated: { exitCode: 1, reason: "Error" } },
    });
    expect(s.conditions.find((x: any) => x.type === "Ready").status).toBe("False");

    await clock.advance(10_000);
    await settled();
    s = status(cl, "crash");
    // Restarted, ran again, and backs off twice as long.
    expect(s.containerStatuses[0]).toMatchObject({
      restartCount: 2,
      state: { waiting: { reason: "CrashLoopBackOff" } },
    });
    expect(s.containerStatuses[0].state.waiting.message).toContain("back-off 20s");
    expect(cl.runtime.logs("default", "crash", {})).toBe("once\nonce\n");
  });

  it("leaves containers with stdin to whoever attaches", async () => {
    const cl = (c = await createSimCluster({ id: "mp-stdin", clock: new VirtualClock(), seed: 1 }));
    cl.api.create(pods(cl), "default", {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "attached" },
      spec: {
        restartPolicy: "Never",
        containers: [{ name: "attached", image: "busybox", command: ["echo", "hi"], stdin: true }],
      },
    });
    await settled();
    expect(status(cl, "attached").phase).toBe("Running");
  });
});
