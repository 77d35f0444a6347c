/* eslint-disable @typescript-eslint/no-explicit-any -- assertions read deep into Kubernetes JSON */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { VirtualClock } from "../../shared/clock.ts";
import { createSimCluster, type SimCluster } from "../cluster.ts";
import { dataplaneStateFile } from "../persistence.ts";
import type { ExecIO, LogOptions } from "../types.ts";

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const settled = async () => {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
};
const pods = (cl: SimCluster) => cl.api.findType("pods")!;
const status = (cl: SimCluster, name: string) =>
  (cl.api.get(pods(cl), "default", name).status as any).containerStatuses[0];
const logs = (cl: SimCluster, name: string, opts: LogOptions = {}) => cl.runtime.logs("default", name, opts);
/** Advances the cluster clock in steps, letting the kubelet act at each. */
const advance = async (clock: VirtualClock, ms: number) => {
  for (let t = 0; t < ms; t += 1000) {
    await clock.advance(1000);
    await settled();
  }
};
const pod = (name: string, command: string, restartPolicy = "Always") => ({
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name },
  spec: { restartPolicy, containers: [{ name, image: "busybox", command: ["sh", "-c", command] }] },
});

/** Prints when it starts, then fails 30s later saying when. */
const CRASHER = 'echo "start $(date)"; sleep 30; echo "fail $(date)" >&2; exit 1';
/** `date`'s output at `hms` on the first day of 2026. */
const at = (hms: string) => `Thu Jan  1 ${hms} UTC 2026`;

describe("container logs per run", () => {
  let c: SimCluster | undefined;
  afterEach(async () => {
    await c?.close();
    c = undefined;
  });

  it("shows the current run, keeps the last terminated one for --previous, and forgets older ones", async () => {
    const clock = new VirtualClock(Date.UTC(2026, 0, 1));
    const cl = (c = await createSimCluster({ id: "runs", clock, seed: 1 }));
    cl.api.create(pods(cl), "default", pod("crash", CRASHER));
    await settled();
    expect(logs(cl, "crash")).toBe(`start ${at("00:00:00")}\n`);
    expect(() => logs(cl, "crash", { previous: true })).toThrow(
      expect.objectContaining({
        code: 400,
        message: 'previous terminated container "crash" in pod "crash" not found',
      }),
    );

    // Following the running attempt: its lines as they come, and the end when the container stops.
    const followed: string[] = [];
    let ended = false;
    cl.runtime.followLogs!(
      "default",
      "crash",
      {},
      (d) => followed.push(d),
      () => (ended = true),
    );
    await advance(clock, 30_000);
    expect(followed.join("")).toBe(`fail ${at("00:00:30")}\n`);
    expect(ended).toBe(true);
    const firstId = status(cl, "crash").containerID;
    expect(status(cl, "crash")).toMatchObject({
      restartCount: 1,
      state: { waiting: { reason: "CrashLoopBackOff" } },
      lastState: { terminated: { exitCode: 1, containerID: firstId } },
    });
    // Backing off: the kubelet shows the run that ended, for both.
    expect(logs(cl, "crash")).toBe(`start ${at("00:00:00")}\nfail ${at("00:00:30")}\n`);
    expect(logs(cl, "crash", { previous: true })).toBe(`start ${at("00:00:00")}\nfail ${at("00:00:30")}\n`);
    let endedAtOnce = false;
    cl.runtime.followLogs!(
      "default",
      "crash",
      {},
      () => {},
      () => (endedAtOnce = true),
    );
    expect(endedAtOnce).toBe(true);

    await advance(clock, 10_000);
    const s = status(cl, "crash");
    expect(s.restartCount).toBe(1);
    expect(s.state.running).toBeDefined();
    expect(s.containerID).not.toBe(firstId);
    expect(s.lastState.terminated.containerID).toBe(firstId);
    expect(logs(cl, "crash")).toBe(`start ${at("00:00:40")}\n`);
    expect(logs(cl, "crash", { previous: true })).toBe(`start ${at("00:00:00")}\nfail ${at("00:00:30")}\n`);
    expect(logs(cl, "crash", { previous: true, tailLines: 1, timestamps: true })).toBe(
      `2026-01-01T00:00:30.000000000Z fail ${at("00:00:30")}\n`,
    );
    expect(logs(cl, "crash", { previous: true, limitBytes: 5 })).toBe("start");
    expect(logs(cl, "crash", { previous: true, sinceTime: Date.UTC(2026, 0, 1, 0, 0, 10) })).toBe(
      `fail ${at("00:00:30")}\n`,
    );
    // A follow of the previous run returns it and ends.
    const prev: string[] = [];
    let prevEnded = false;
    cl.runtime.followLogs!(
      "default",
      "crash",
      { previous: true },
      (d) => prev.push(d),
      () => (prevEnded = true),
    );
    expect(prevEnded).toBe(true);
    expect(prev).toEqual([]);

    // Two restarts later the first run is gone: only the last terminated one is kept.
    await advance(clock, 30_000 + 20_000);
    expect(status(cl, "crash").restartCount).toBe(2);
    expect(logs(cl, "crash")).toBe(`start ${at("00:01:30")}\n`);
    expect(logs(cl, "crash", { previous: true })).toBe(`start ${at("00:00:40")}\nfail ${at("00:01:10")}\n`);
  });

  it("logs what an attached main process prints; its restart starts a new log", async () => {
    const clock = new VirtualClock(Date.UTC(2026, 0, 1));
    const cl = (c = await createSimCluster({ id: "attached", clock, seed: 1 }));
    cl.api.create(pods(cl), "default", {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "box" },
      spec: {
        restartPolicy: "Always",
        containers: [{ name: "box", image: "busybox", stdin: true, command: ["sh"] }],
      },
    });
    await settled();
    const io: ExecIO = {
      stdout: () => {},
      stderr: () => {},
      onStdin: (cb) => cb(Buffer.from("echo said-$((6*7))\nexit 0\n")),
      onStdinEnd: (cb) => cb(),
      onResize: () => {},
      signal: new AbortController().signal,
    };
    await cl.runtime.attach!({ namespace: "default", pod: "box", command: [], tty: false, stdin: true }, io);
    expect(status(cl, "box").restartCount).toBe(1);
    expect(logs(cl, "box")).toBe("");
    expect(logs(cl, "box", { previous: true })).toBe("said-42\n");
  });

  it("answers for the container asked for, with the API server's messages", async () => {
    const clock = new VirtualClock(Date.UTC(2026, 0, 1));
    const cl = (c = await createSimCluster({ id: "multi", clock, seed: 1 }));
    cl.api.create(pods(cl), "default", {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "multi" },
      spec: {
        restartPolicy: "Never",
        containers: [
          { name: "a", image: "busybox", command: ["echo", "from a"] },
          { name: "b", image: "nginx:1.27" },
        ],
      },
    });
    await settled();
    expect(() => logs(cl, "multi")).toThrow(
      expect.objectContaining({
        code: 400,
        message: "a container name must be specified for pod multi, choose one of: [a b]",
      }),
    );
    expect(() => logs(cl, "multi", { container: "c" })).toThrow("container c is not valid for pod multi");
    expect(logs(cl, "multi", { container: "a" })).toBe("from a\n");
    expect(logs(cl, "multi", { container: "b" })).toContain("/docker-entrypoint.sh: Configuration complete");
    expect(logs(cl, "multi", { container: "b" })).not.toContain("from a");
    expect(() => cl.runtime.logs("default", "ghost", {})).toThrow(expect.objectContaining({ code: 404 }));
  });

  it("lists init containers first, and reads a completed init container's log", async () => {
    const clock = new VirtualClock(Date.UTC(2026, 0, 1));
    const cl = (c = await createSimCluster({ id: "init", clock, seed: 1 }));
    cl.api.create(pods(cl), "default", {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "web" },
      spec: {
        initContainers: [{ name: "setup", image: "busybox", command: ["true"] }],
        containers: [
          { name: "web", image: "nginx:1.27" },
          { name: "side", image: "busybox", command: ["sleep", "infinity"] },
        ],
      },
    });
    await settled();
    const init = (cl.api.get(pods(cl), "default", "web").status as any).initContainerStatuses;
    expect(init).toMatchObject([
      { name: "setup", state: { terminated: { exitCode: 0, reason: "Completed" } } },
    ]);
    expect(() => logs(cl, "web")).toThrow(
      "a container name must be specified for pod web, choose one of: [setup web side]",
    );
    expect(logs(cl, "web", { container: "setup" })).toBe("");
    let ended = false;
    cl.runtime.followLogs!(
      "default",
      "web",
      { container: "setup" },
      () => {},
      () => (ended = true),
    );
    expect(ended).toBe(true);
    expect(() => logs(cl, "web", { container: "setup", previous: true })).toThrow(
      'previous terminated container "setup" in pod "web" not found',
    );
  });

  it("answers an empty log for a pod no node runs yet", async () => {
    const clock = new VirtualClock(Date.UTC(2026, 0, 1));
    const cl = (c = await createSimCluster({ id: "pending", clock, seed: 1 }));
    cl.api.create(pods(cl), "default", {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "nowhere" },
      spec: { nodeSelector: { "no-such": "node" }, containers: [{ name: "c", image: "busybox" }] },
    });
    await settled();
    expect((cl.api.get(pods(cl), "default", "nowhere").spec as any).nodeName).toBeUndefined();
    expect(logs(cl, "nowhere", { previous: true })).toBe("");
  });
});

describe("container logs across a server restart", () => {
  it("are saved when a run ends and come back byte for byte, with the restarts going on from there", async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), "egresslab-logs-"));
    dirs.push(dataDir);
    const clock = new VirtualClock(Date.UTC(2026, 0, 1));
    const a = await createSimCluster({ id: "kept", dataDir, clock, seed: 1 });
    a.api.create(pods(a), "default", pod("crash", CRASHER));
    await settled();
    await advance(clock, 30_000 + 10_000 + 30_000);
    expect(status(a, "crash")).toMatchObject({
      restartCount: 2,
      state: { waiting: { reason: "CrashLoopBackOff" } },
    });
    const current = logs(a, "crash", { timestamps: true });
    const previous = logs(a, "crash", { previous: true, timestamps: true });
    expect(current).toContain(`fail ${at("00:01:10")}`);

    // Saved without waiting for the cluster to close: a replica taking over after a crash finds it.
    const file = dataplaneStateFile(dataDir, "kept");
    for (
      let i = 0;
      i < 100 && !(existsSync(file) && readFileSync(file, "utf8").includes(`fail ${at("00:01:10")}`));
      i++
    )
      await new Promise((r) => setTimeout(r, 100));
    expect(readFileSync(file, "utf8")).toContain(`fail ${at("00:01:10")}`);
    await a.close();

    const b = await createSimCluster({ id: "kept", dataDir, clock, seed: 1 });
    try {
      expect(logs(b, "crash", { timestamps: true })).toBe(current);
      expect(logs(b, "crash", { previous: true, timestamps: true })).toBe(previous);
      await advance(clock, 20_000);
      expect(status(b, "crash")).toMatchObject({ restartCount: 2, state: { running: {} } });
      expect(logs(b, "crash")).toBe(`start ${at("00:01:30")}\n`);
      expect(logs(b, "crash", { previous: true, timestamps: true })).toBe(current);
    } finally {
      await b.close();
    }
  });
});
