/** The grader's probe pods are kept for the next check, deleted when idle, and none is left when grading ends. */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { ProbeCheck } from "../labs/model/types.ts";
import { FakeClient, pod } from "./fake-client.ts";
import { deleteProbePods, withProbePod } from "./probe-keeper.ts";
import { probePodOf } from "./probe-pod.ts";
import { runCheck } from "./run-check.ts";

const check = (namespace: string, selector: string): ProbeCheck => ({
  id: `from-${namespace}`,
  title: "t",
  hint: "h",
  guard: false,
  kind: "probe",
  from: { namespace, selector },
  to: { domain: "api.stripe.com", port: 443, protocol: "TCP" },
  expect: { outcome: "allowed" },
});

const probePods = async (c: FakeClient): Promise<string[]> =>
  (await c.list("v1", "Pod", { labelSelector: "egresslab.io/probe=true" })).map(
    (p) => `${p.metadata.namespace}/${p.metadata.name}`,
  );

/** The grader's timers run on a fake clock: `pass(ms)` moves it and runs what fell due. */
const pass = (ms: number): Promise<unknown> => vi.advanceTimersByTimeAsync(ms);

/** Waits for `p` while the fake clock runs (a probe pod's start polls its phase), 50 ms a step. */
async function settled<T>(p: Promise<T>): Promise<T> {
  let done = false;
  void p.finally(() => (done = true)).catch(() => undefined);
  for (let i = 0; i < 1000 && !done; i++) await pass(50);
  return p;
}

describe("probe pods' lifetime", () => {
  beforeEach(() => void vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] }));
  afterEach(() => void vi.useRealTimers());

  it("keeps a probe pod for the next check and deletes it once no check used it for the idle time", async () => {
    const c = new FakeClient(() => ({ code: 0, stdout: "ok\n200", stderr: "" }));
    await c.apply(pod("shop", "checkout-1", { app: "checkout" }));
    const opts = { probeIdleMs: 60_000 };
    expect((await settled(runCheck(c, check("shop", "app=checkout"), {}, opts))).passed).toBe(true);
    expect(await probePods(c)).toEqual([expect.stringMatching(/^shop\/egresslab-probe-checkout-1-/)]);
    // Checked again within the idle time: the same pod, started once, and its idle time starts again.
    await pass(40_000);
    expect((await settled(runCheck(c, check("shop", "app=checkout"), {}, opts))).passed).toBe(true);
    await pass(59_000);
    expect(await probePods(c)).toHaveLength(1);
    expect(c.calls.filter((x) => x.startsWith("apply Pod/egresslab-probe-"))).toHaveLength(1);
    await pass(2_000);
    expect(await probePods(c)).toEqual([]);
    // The workload is untouched; a later check starts a new probe pod.
    expect(
      await c.get({ apiVersion: "v1", kind: "Pod", namespace: "shop", name: "checkout-1" }),
    ).toBeDefined();
    expect((await settled(runCheck(c, check("shop", "app=checkout"), {}, opts))).passed).toBe(true);
    expect(await probePods(c)).toHaveLength(1);
    await deleteProbePods(c);
  });

  it("never deletes a probe pod while a check uses it", async () => {
    const c = new FakeClient();
    const source = pod("shop", "web-1", { app: "web" });
    await c.apply(source);
    let release!: () => void;
    const held = withProbePod(
      c,
      source,
      "main",
      () => new Promise<string>((r) => (release = () => r("done"))),
      20_000,
    );
    await pass(1_000);
    expect(await probePods(c)).toHaveLength(1);
    // A second, short use ends; its idle timer must not take the pod from under the first.
    expect(await settled(withProbePod(c, source, "main", async (p) => p.name, 20_000))).toMatch(
      /^egresslab-probe-web-1-/,
    );
    await pass(30_000);
    expect(await probePods(c)).toHaveLength(1);
    release();
    expect(await held).toBe("done");
    await pass(19_000);
    expect(await probePods(c)).toHaveLength(1);
    await pass(2_000);
    expect(await probePods(c)).toEqual([]);
  });

  it("deletes probe pods an earlier server process left, after the idle time of the first check", async () => {
    const c = new FakeClient(() => ({ code: 0, stdout: "ok\n200", stderr: "" }));
    const other = pod("ops", "backup-1", { app: "backup" });
    await c.apply(other);
    await c.apply(probePodOf(other, "main")); // left behind: no timer of this process knows it
    await c.apply(pod("shop", "checkout-1", { app: "checkout" }));
    expect(await probePods(c)).toHaveLength(1);
    await settled(runCheck(c, check("shop", "app=checkout"), {}, { probeIdleMs: 30_000 }));
    expect(await probePods(c)).toHaveLength(2);
    await pass(31_000);
    expect(await probePods(c)).toEqual([]);
  });

  it("leaves no probe pod when grading ends, whatever their timers", async () => {
    const c = new FakeClient(() => ({ code: 0, stdout: "ok\n200", stderr: "" }));
    for (const [ns, name, app] of [
      ["shop", "checkout-1", "checkout"],
      ["ops", "backup-1", "backup"],
      ["crm", "sync-1", "sync"],
    ] as const)
      await c.apply(pod(ns, name, { app }));
    await settled(
      Promise.all([
        runCheck(c, check("shop", "app=checkout"), {}),
        runCheck(c, check("ops", "app=backup"), {}),
        runCheck(c, check("crm", "app=sync"), {}),
      ]),
    );
    await c.apply(probePodOf(pod("shop", "old-1", { app: "old" }), "main")); // from an earlier process
    expect(await probePods(c)).toHaveLength(4);
    expect(await deleteProbePods(c)).toBe(4);
    expect(await probePods(c)).toEqual([]);
    expect((await c.list("v1", "Pod")).map((p) => p.metadata.name).sort()).toEqual([
      "backup-1",
      "checkout-1",
      "sync-1",
    ]);
  });

  it("reports a probe pod that cannot start as the check's failure, and keeps nothing", async () => {
    const c = new FakeClient();
    const source = pod("shop", "web-1", { app: "web" });
    await c.apply(source);
    const apply = c.apply.bind(c);
    c.apply = async (o) => {
      if (o.metadata.name.startsWith("egresslab-probe-"))
        throw new Error('pods is forbidden: quota "pods" exceeded');
      return apply(o);
    };
    const r = await settled(withProbePod(c, source, "main", async () => "ran", 10));
    expect(r).toEqual({
      failed: expect.stringMatching(/could not start its probe pod .*quota "pods" exceeded/),
    });
    expect(await probePods(c)).toEqual([]);
  });
});
