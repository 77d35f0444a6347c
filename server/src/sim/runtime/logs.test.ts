import { describe, expect, it } from "vitest";
import type { KubeObject } from "../../store/types.ts";
import { logAttempt, logContainer } from "./log-request.ts";
import { ContainerLogs, lineSplitter, MAX_ATTEMPT_BYTES, MAX_LINE_BYTES, parseSavedLogs } from "./logs.ts";

const T0 = Date.UTC(2026, 0, 1);
const store = () =>
  new ContainerLogs({ defaultContainer: (_ns, pod) => (pod === "gone" ? undefined : "app") });

describe("ContainerLogs", () => {
  it("keeps the current attempt and the one before it; a new attempt starts empty", () => {
    const l = store();
    l.write("ns", "p", T0, "first run");
    expect(l.read("ns", "p", "app", 0, {}, T0)).toBe("first run\n");
    l.begin("ns", "p", "app", 1);
    l.write("ns", "p", T0 + 1000, "second run");
    expect(l.read("ns", "p", "app", 1, {}, T0)).toBe("second run\n");
    expect(l.read("ns", "p", "app", 0, {}, T0)).toBe("first run\n");
    l.begin("ns", "p", "app", 2);
    l.write("ns", "p", T0 + 2000, "third run");
    // Only the last terminated attempt is kept, as the kubelet keeps one dead container.
    expect(l.read("ns", "p", "app", 0, {}, T0)).toBe("");
    expect(l.read("ns", "p", "app", 1, {}, T0)).toBe("second run\n");
    expect(l.read("ns", "p", "app", 2, {}, T0)).toBe("third run\n");
    // An older attempt cannot start again; a fresh one drops what it had.
    l.begin("ns", "p", "app", 1);
    expect(l.latest("ns", "p", "app")).toBe(2);
    l.begin("ns", "p", "app", 2, { fresh: true });
    expect(l.read("ns", "p", "app", 2, {}, T0)).toBe("");
  });

  it("keeps containers apart; writes without a container go to the pod's default one, or nowhere", () => {
    const l = store();
    l.write("ns", "p", T0, "to app");
    l.write("ns", "p", T0, "to side", "side");
    l.write("ns", "gone", T0, "lost");
    expect(l.read("ns", "p", "app", 0, {}, T0)).toBe("to app\n");
    expect(l.read("ns", "p", "side", 0, {}, T0)).toBe("to side\n");
    expect(l.snapshot().map((x) => x.pod)).toEqual(["p"]);
  });

  it("applies tailLines, then the since time, then limitBytes, and prints the kubelet's timestamps", () => {
    const l = store();
    for (let i = 0; i < 5; i++) l.write("ns", "p", T0 + i * 1000, `line ${i}`);
    const now = T0 + 10_000;
    expect(l.read("ns", "p", "app", 0, { tailLines: 2 }, now)).toBe("line 3\nline 4\n");
    expect(l.read("ns", "p", "app", 0, { tailLines: 0 }, now)).toBe("");
    expect(l.read("ns", "p", "app", 0, { sinceSeconds: 7 }, now)).toBe("line 3\nline 4\n");
    expect(l.read("ns", "p", "app", 0, { sinceTime: T0 + 4000 }, now)).toBe("line 4\n");
    // The tail is taken first: the last 3 lines, of which those since the time.
    expect(l.read("ns", "p", "app", 0, { tailLines: 3, sinceTime: T0 + 3000 }, now)).toBe("line 3\nline 4\n");
    expect(l.read("ns", "p", "app", 0, { limitBytes: 9 }, now)).toBe("line 0\nli");
    expect(l.read("ns", "p", "app", 0, { tailLines: 1, timestamps: true }, now)).toBe(
      "2026-01-01T00:00:04.000000000Z line 4\n",
    );
  });

  it("cuts limitBytes at a character boundary", () => {
    const l = store();
    l.write("ns", "p", T0, "héllo");
    expect(l.read("ns", "p", "app", 0, { limitBytes: 2 }, T0)).toBe("h");
    expect(l.read("ns", "p", "app", 0, { limitBytes: 3 }, T0)).toBe("hé");
  });

  it(`keeps at most ${MAX_ATTEMPT_BYTES} bytes per attempt, dropping the oldest lines`, () => {
    const l = store();
    const line = "x".repeat(1023);
    for (let i = 0; i < 100; i++) l.write("ns", "p", T0, `${String(i).padStart(3, "0")}${line}`);
    const text = l.read("ns", "p", "app", 0, {}, T0);
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(MAX_ATTEMPT_BYTES);
    expect(text.startsWith("037")).toBe(true);
    expect(text.endsWith(`099${line}\n`)).toBe(true);
  });

  it("splits a process's output into lines, a long one into parts printed back as one line", () => {
    const l = store();
    const out = lineSplitter((text, partial) => l.write("ns", "p", T0, text, "app", partial));
    const e = Buffer.from("é");
    out.write(Buffer.concat([Buffer.from("one\ntw"), e.subarray(0, 1)]));
    out.write(Buffer.concat([e.subarray(1), Buffer.from("o\n")]));
    const long = "y".repeat(MAX_LINE_BYTES * 2 + 10);
    out.write(long);
    out.write("\nlast without newline");
    out.flush();
    const saved = l.snapshot()[0]!.containers[0]!.attempts[0]!.lines;
    expect(saved.map((x) => x.length)).toEqual([2, 2, 3, 3, 2, 2]);
    expect(l.read("ns", "p", "app", 0, {}, T0)).toBe(`one\ntwéo\n${long}\nlast without newline\n`);
    const stamped = l.read("ns", "p", "app", 0, { timestamps: true }, T0).split("\n");
    expect(stamped[2]).toBe(`2026-01-01T00:00:00.000000000Z ${long}`);
    const back = new ContainerLogs({
      defaultContainer: () => "app",
      restore: parseSavedLogs(l.snapshot()).logs,
    });
    expect(back.read("ns", "p", "app", 0, {}, T0)).toBe(l.read("ns", "p", "app", 0, {}, T0));

    // Output that never ends a line holds no more than the cap, in the splitter or the log.
    const flood = store();
    const f = lineSplitter((text, partial) => flood.write("ns", "p", T0, text, "app", partial));
    for (let i = 0; i < 300; i++) f.write("z".repeat(1024));
    expect(Buffer.byteLength(flood.read("ns", "p", "app", 0, {}, T0))).toBeLessThanOrEqual(MAX_ATTEMPT_BYTES);
  });

  it("follows an attempt until it ends, a newer one begins, the pod goes or the byte limit is reached", () => {
    const l = store();
    const got: string[] = [];
    let ended = 0;
    l.follow(
      "ns",
      "p",
      "app",
      0,
      {},
      (c) => got.push(c),
      () => ended++,
    );
    l.write("ns", "p", T0, "a");
    l.end("ns", "p", "app", 0);
    l.write("ns", "p", T0, "after end");
    expect(got).toEqual(["a\n"]);
    expect(ended).toBe(1);

    l.follow(
      "ns",
      "p",
      "app",
      0,
      {},
      (c) => got.push(c),
      () => ended++,
    );
    l.begin("ns", "p", "app", 2);
    expect(ended).toBe(2);

    const limited: string[] = [];
    l.follow(
      "ns",
      "p",
      "app",
      2,
      { limitBytes: 5 },
      (c) => limited.push(c),
      () => ended++,
    );
    l.write("ns", "p", T0, "abc");
    l.write("ns", "p", T0, "defg");
    l.write("ns", "p", T0, "hij");
    expect(limited.join("")).toBe("abc\nd");
    expect(ended).toBe(3);

    l.follow(
      "ns",
      "p",
      "app",
      2,
      {},
      () => {},
      () => ended++,
    );
    l.forget("ns", "p");
    expect(ended).toBe(4);
    expect(l.snapshot()).toEqual([]);
  });

  it("round-trips through its saved form; malformed saved pods are skipped", () => {
    const l = store();
    l.write("ns", "p", T0, "old");
    l.begin("ns", "p", "app", 1);
    l.write("ns", "p", T0 + 1, "new");
    l.write("ns", "p", T0 + 2, "side", "side");
    const saved = JSON.parse(JSON.stringify(l.snapshot())) as unknown;
    const parsed = parseSavedLogs(saved);
    expect(parsed.bad).toBe(0);
    const back = new ContainerLogs({ defaultContainer: () => "app", restore: parsed.logs });
    expect(back.snapshot()).toEqual(l.snapshot());
    expect(back.read("ns", "p", "app", 0, {}, T0)).toBe("old\n");
    expect(back.read("ns", "p", "app", 1, { timestamps: true }, T0)).toBe(
      "2026-01-01T00:00:00.001000000Z new\n",
    );

    const bad = parseSavedLogs([
      { namespace: "ns", pod: "q", containers: [{ name: "c", attempts: [{ n: -1, lines: [] }] }] },
      { namespace: "ns", pod: "r", containers: [{ name: "c", attempts: [{ n: 0, lines: [[0, 1]] }] }] },
      "junk",
      {
        namespace: "ns",
        pod: "ok",
        containers: [{ name: "__proto__", attempts: [{ n: 0, lines: [[1, "x"]] }] }],
      },
    ]);
    expect(bad.bad).toBe(3);
    expect(bad.logs.map((p) => p.pod)).toEqual(["ok"]);
    const odd = new ContainerLogs({ defaultContainer: () => "__proto__", restore: bad.logs });
    expect(odd.read("ns", "ok", "__proto__", 0, {}, 0)).toBe("x\n");
    // Attempts out of order: the older one is not kept; reading what is not there keeps nothing.
    const shuffled = parseSavedLogs([
      {
        namespace: "ns",
        pod: "s",
        containers: [
          {
            name: "c",
            attempts: [
              { n: 3, lines: [[1, "three"]] },
              { n: 1, lines: [[0, "one"]] },
            ],
          },
        ],
      },
    ]);
    const s2 = new ContainerLogs({ defaultContainer: () => "c", restore: shuffled.logs });
    expect(s2.read("ns", "s", "c", 3, {}, 0)).toBe("three\n");
    expect(s2.read("ns", "s", "c", 1, {}, 0)).toBe("");
    expect(s2.read("ns", "other", "c", 0, {}, 0)).toBe("");
    expect(s2.snapshot().map((x) => x.pod)).toEqual(["s"]);
  });
});

const pod = (spec: Record<string, unknown>, status: Record<string, unknown> = {}): KubeObject => ({
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name: "p", namespace: "ns" },
  spec,
  status,
});

describe("which log a request reads", () => {
  // pkg/registry/core/pod/strategy.go validateContainer
  it("the API server's container: the one named, or the only one", () => {
    const one = pod({ containers: [{ name: "c" }] });
    expect(logContainer(one, undefined)).toBe("c");
    expect(logContainer(one, "")).toBe("c");
    expect(() => logContainer(one, "nope")).toThrow(
      expect.objectContaining({ code: 400, message: "container nope is not valid for pod p" }),
    );
    const many = pod({ initContainers: [{ name: "init" }], containers: [{ name: "a" }, { name: "b" }] });
    expect(() => logContainer(many, undefined)).toThrow(
      expect.objectContaining({
        code: 400,
        message: "a container name must be specified for pod p, choose one of: [init a b]",
      }),
    );
    expect(logContainer(many, "init")).toBe("init");
    expect(() => logContainer(pod({ containers: [] }), undefined)).toThrow(
      "a container name must be specified for pod p",
    );
  });

  // pkg/kubelet/kubelet_pods.go validateContainerLogStatus
  it("the kubelet's attempt, from the container's status", () => {
    const spec = { containers: [{ name: "c" }] };
    const withStatus = (cs: Record<string, unknown>) =>
      pod(spec, { containerStatuses: [{ name: "c", ...cs }] });
    const term = { terminated: { exitCode: 1, containerID: "containerd://old" } };
    const never = withStatus({ restartCount: 0, state: { running: {} }, lastState: {} });
    expect(logAttempt(never, "c", false)).toEqual({ attempt: 0, running: true });
    expect(() => logAttempt(never, "c", true)).toThrow(
      expect.objectContaining({
        code: 400,
        message: 'previous terminated container "c" in pod "p" not found',
      }),
    );
    const restarted = withStatus({ restartCount: 2, state: { running: {} }, lastState: term });
    expect(logAttempt(restarted, "c", false)).toEqual({ attempt: 2, running: true });
    expect(logAttempt(restarted, "c", true)).toEqual({ attempt: 1, running: false });
    const backingOff = withStatus({
      restartCount: 2,
      state: { waiting: { reason: "CrashLoopBackOff" } },
      lastState: term,
    });
    expect(logAttempt(backingOff, "c", false)).toEqual({ attempt: 1, running: false });
    expect(logAttempt(backingOff, "c", true)).toEqual({ attempt: 1, running: false });
    const done = withStatus({ restartCount: 0, state: { terminated: { containerID: "x" } }, lastState: {} });
    expect(logAttempt(done, "c", false)).toEqual({ attempt: 0, running: false });
    expect(() =>
      logAttempt(withStatus({ state: { waiting: { reason: "ContainerCreating" } } }), "c", false),
    ).toThrow('container "c" in pod "p" is waiting to start: ContainerCreating');
    expect(() =>
      logAttempt(withStatus({ state: { waiting: { reason: "ErrImagePull" } } }), "c", false),
    ).toThrow("is waiting to start: image can't be pulled");
    expect(() => logAttempt(pod(spec), "c", false)).toThrow('container "c" in pod "p" is not available');
    expect(() =>
      logAttempt(withStatus({ state: { terminated: {} }, lastState: { terminated: {} } }), "c", false),
    ).toThrow('container "c" in pod "p" is terminated');
  });
});
