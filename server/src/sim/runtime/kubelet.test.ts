/* eslint-disable @typescript-eslint/no-explicit-any -- assertions read deep into Kubernetes JSON */
import { afterEach, describe, expect, it } from "vitest";
import { VirtualClock } from "../../shared/clock.ts";
import { createSimCluster, type SimCluster } from "../cluster.ts";
import type { ExecIO } from "../types.ts";

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
    // Each run has its own log: the current one, and the last terminated one for --previous.
    expect(cl.runtime.logs("default", "crash", {})).toBe("once\n");
    expect(cl.runtime.logs("default", "crash", { previous: true })).toBe("once\n");
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

  /** Streams of one attach: input sent at once and closed; output collected. */
  const attachIO = (input: string | undefined, signal = new AbortController().signal) => {
    const out: string[] = [];
    const io: ExecIO = {
      stdout: (d) => out.push(typeof d === "string" ? d : Buffer.from(d).toString()),
      stderr: (d) => out.push(typeof d === "string" ? d : Buffer.from(d).toString()),
      onStdin: (cb) => {
        if (input !== undefined) cb(Buffer.from(input));
      },
      onStdinEnd: (cb) => {
        if (input !== undefined) cb();
      },
      onResize: () => {},
      signal,
    };
    return { io, out };
  };
  const interactive = (cl: SimCluster, name: string, restartPolicy: string) =>
    cl.api.create(pods(cl), "default", {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name },
      spec: { restartPolicy, containers: [{ name, image: "busybox", stdin: true, command: ["sh"] }] },
    });

  it("attach runs the main process of a container with stdin; its end is the container's", async () => {
    const cl = (c = await createSimCluster({
      id: "attach",
      clock: new VirtualClock(Date.UTC(2026, 0, 1)),
      seed: 1,
    }));
    interactive(cl, "once", "Never");
    interactive(cl, "again", "Always");
    await settled();

    const a = attachIO("echo attached-$((40+2))\nexit 3\n");
    const req = { namespace: "default", pod: "once", command: [], tty: false, stdin: true };
    await expect(cl.runtime.attach!(req, a.io)).resolves.toBe(3);
    expect(a.out.join("")).toContain("attached-42");
    const once = status(cl, "once");
    expect(once.phase).toBe("Failed");
    expect(once.containerStatuses[0].state.terminated).toMatchObject({ exitCode: 3, reason: "Error" });

    // restartPolicy Always: the kubelet starts it again at once (the attached client saw it end).
    await cl.runtime.attach!({ ...req, pod: "again" }, attachIO("exit 0\n").io);
    const again = status(cl, "again");
    expect(again.phase).toBe("Running");
    expect(again.containerStatuses[0]).toMatchObject({
      restartCount: 1,
      lastState: { terminated: { exitCode: 0, reason: "Completed" } },
    });
    expect(again.containerStatuses[0].state.running).toBeDefined();
  });

  it("attach to a container without stdin streams its output until the pod is gone; a missing pod is a 404", async () => {
    const cl = (c = await createSimCluster({
      id: "attach-out",
      clock: new VirtualClock(Date.UTC(2026, 0, 1)),
      seed: 1,
    }));
    cl.api.create(pods(cl), "default", {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "web" },
      spec: { containers: [{ name: "web", image: "nginx:1.27" }] },
    });
    await settled();
    const a = attachIO(undefined);
    const req = { namespace: "default", pod: "web", command: [], tty: false, stdin: false };
    const ended = cl.runtime.attach!(req, a.io);
    await settled();
    expect(a.out.join("")).toContain("/docker-entrypoint.sh: Configuration complete; ready for start up");
    expect(status(cl, "web").phase).toBe("Running");
    cl.api.delete(pods(cl), "default", "web");
    await expect(ended).resolves.toBe(0);

    await expect(cl.runtime.attach!({ ...req, pod: "nope" }, attachIO(undefined).io)).rejects.toMatchObject({
      code: 404,
    });

    // The client leaving ends the stream too.
    cl.api.create(pods(cl), "default", {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "quiet" },
      spec: { containers: [{ name: "quiet", image: "busybox", command: ["sleep", "infinity"] }] },
    });
    await settled();
    const leave = new AbortController();
    const left = cl.runtime.attach!({ ...req, pod: "quiet" }, attachIO(undefined, leave.signal).io);
    leave.abort();
    await expect(left).resolves.toBe(0);
  });
});
