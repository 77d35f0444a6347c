import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { FlowRecord } from "../net/flows.ts";
import { VirtualClock } from "../shared/clock.ts";
import type { Logger, LogMeta } from "../shared/logger.ts";
import type { ExecIO } from "./types.ts";
import { createSimCluster, type SimCluster } from "./cluster.ts";
import { CoalescingSaver, dataplaneStateFile } from "./persistence.ts";

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const tmp = () => {
  const d = mkdtempSync(path.join(tmpdir(), "egresslab-dp-"));
  dirs.push(d);
  return d;
};

/** Runs a command in a pod, advancing the virtual clock until it finishes. */
async function exec(c: SimCluster, clock: VirtualClock, pod: string, cmd: string): Promise<string> {
  let stdout = "";
  const io: ExecIO = {
    stdout: (d) => void (stdout += d.toString()),
    stderr: () => {},
    onStdin: () => {},
    onStdinEnd: () => {},
    onResize: () => {},
    signal: new AbortController().signal,
  };
  let done = false;
  const p = c.runtime.exec(
    { namespace: "default", pod, command: ["sh", "-c", cmd], tty: false, stdin: false },
    io,
  );
  void p.finally(() => (done = true));
  for (let i = 0; i < 1000 && !done; i++) {
    await new Promise<void>((r) => setImmediate(r));
    if (!done) await clock.advance(250);
  }
  await p;
  return stdout;
}

const flows = (c: SimCluster, q: string): FlowRecord[] =>
  (c.dataplane.queryFlows(new URLSearchParams(q)) as { items: FlowRecord[] }).items;

function recordingLogger(warnings: { msg: string; meta?: LogMeta }[]): Logger {
  const l: Logger = {
    debug: () => {},
    info: () => {},
    warn: (msg, meta) => void warnings.push({ msg, ...(meta ? { meta } : {}) }),
    error: () => {},
    child: () => l,
  };
  return l;
}

const client = {
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name: "client", labels: { app: "client" } },
  spec: { containers: [{ name: "main", image: "nicolaka/netshoot" }] },
};

describe("the dataplane across a restart", () => {
  it("keeps rotated addresses and the flow log", async () => {
    const dataDir = tmp();
    const clock = new VirtualClock(Date.UTC(2026, 0, 1));
    const a = await createSimCluster({ id: "dp", dataDir, clock, seed: 5 });
    a.api.create(a.api.findType("pods")!, "default", client);
    const first = (await exec(a, clock, "client", "dig +short api.stripe.com")).trim().split("\n").sort();
    const r = a.dataplane.rotate({ domain: "api.stripe.com" }) as { ips: string[]; previous: string[] };
    expect(r.previous.sort()).toEqual(first);
    expect(
      await exec(a, clock, "client", "curl -s -m 3 -o /dev/null -w '%{http_code}' https://api.stripe.com"),
    ).toBe("200");
    const before = flows(a, "workload=client&port=443");
    expect(before.length).toBeGreaterThan(0);
    await a.close();

    const warnings: { msg: string }[] = [];
    const b = await createSimCluster({ id: "dp", dataDir, clock, logger: recordingLogger(warnings) });
    expect(warnings).toEqual([]);
    expect(flows(b, "workload=client&port=443")).toEqual(before);
    await clock.advance(120_000); // past the answer's TTL
    const after = (await exec(b, clock, "client", "dig +short api.stripe.com")).trim().split("\n").sort();
    expect(after).toEqual([...r.ips].sort());
    await b.close();
  });

  it("comes up without the state when the file is corrupt or malformed", async () => {
    const dataDir = tmp();
    const clock = new VirtualClock(Date.UTC(2026, 0, 1));
    const a = await createSimCluster({ id: "bad", dataDir, clock });
    a.dataplane.rotate({ domain: "api.stripe.com" });
    await a.close();
    const file = dataplaneStateFile(dataDir, "bad");
    const saved = JSON.parse(readFileSync(file, "utf8")) as {
      internet: { rotations: Record<string, number> };
    };
    expect(saved.internet.rotations).toEqual({ "api.stripe.com": 1 });

    const corrupt = ["{not json", JSON.stringify({ version: 1, internet: 7, flows: [{ nope: 1 }] })];
    for (const [i, content] of corrupt.entries()) {
      writeFileSync(file, content);
      const warnings: { msg: string }[] = [];
      const b = await createSimCluster({ id: "bad", dataDir, clock, logger: recordingLogger(warnings) });
      expect(warnings).toHaveLength(1);
      b.api.create(b.api.findType("pods")!, "default", { ...client, metadata: { name: `c${i}` } });
      expect(await exec(b, clock, `c${i}`, "dig +short api.stripe.com")).toContain("54.187.174.169");
      await b.close();
    }
  });

  it("saves what each exec wrote before the exec reports its end, and restores it byte for byte", async () => {
    const dataDir = tmp();
    const clock = new VirtualClock(Date.UTC(2026, 0, 1));
    const a = await createSimCluster({ id: "files", dataDir, clock });
    a.api.create(a.api.findType("pods")!, "default", client);
    const uid = a.api.get(a.api.findType("pods")!, "default", "client").metadata.uid;
    /** The pod's files as saved on disk now (without closing the cluster). */
    const saved = (): Record<string, string> => {
      const s = JSON.parse(readFileSync(dataplaneStateFile(dataDir, "files"), "utf8")) as {
        pods?: Record<string, { uid: string; files: Record<string, string> }>;
      };
      expect(s.pods?.["default/client"]?.uid).toBe(uid);
      return Object.fromEntries(
        Object.entries(s.pods?.["default/client"]?.files ?? {}).map(([p, b]) => [
          p,
          Buffer.from(b, "base64").toString("utf8"),
        ]),
      );
    };
    const want: Record<string, string> = {};
    // Small appends, overwrites and a truncation, one exec at a time: each on disk when its exec has ended.
    for (let i = 0; i < 12; i++) {
      const line = `line ${i} ${"x".repeat(i)}`;
      await exec(a, clock, "client", `echo '${line}' >> /tmp/log`);
      want["/tmp/log"] = (want["/tmp/log"] ?? "") + line + "\n";
      if (i % 4 === 0) {
        await exec(a, clock, "client", `echo v${i} > /tmp/v`);
        want["/tmp/v"] = `v${i}\n`;
      }
      if (i === 7) {
        await exec(a, clock, "client", ": > /tmp/log");
        want["/tmp/log"] = "";
      }
      expect(saved()).toEqual(want);
    }
    // Execs that end together: each is on disk when it reports its end.
    await Promise.all(
      Array.from({ length: 8 }, async (_, i) => {
        await exec(a, clock, "client", `echo ${i} > /tmp/p${i}`);
        expect(saved()[`/tmp/p${i}`]).toBe(`${i}\n`);
      }),
    );
    for (let i = 0; i < 8; i++) want[`/tmp/p${i}`] = `${i}\n`;
    expect(saved()).toEqual(want);
    // Stopped without saving anything more (as by a crash): what the execs reported done comes back.
    await a.close({ save: false });
    const b = await createSimCluster({ id: "files", dataDir, clock });
    for (const [p, text] of Object.entries(want))
      expect(await exec(b, clock, "client", `cat ${p}`)).toBe(text);
    await b.close();
  });
});

describe("CoalescingSaver", () => {
  it("runs one save at a time, shares the next among those who ask meanwhile, and answers after a save that started later", async () => {
    let state = 0;
    const started: number[] = [];
    const ends: (() => void)[] = [];
    const saver = new CoalescingSaver(
      () =>
        new Promise<void>((r) => {
          started.push(state);
          ends.push(r);
        }),
    );
    const turn = () => new Promise<void>((r) => setImmediate(r));
    const done: string[] = [];
    state = 1;
    const first = saver.request().then(() => done.push("first"));
    await turn();
    await turn();
    expect(started).toEqual([1]);
    // Asked while that save runs: neither is answered by it, both by the next one, which sees their changes.
    state = 2;
    const second = saver.request().then(() => done.push("second"));
    state = 3;
    const third = saver.request().then(() => done.push("third"));
    await turn();
    expect(started).toEqual([1]);
    ends[0]!();
    await first;
    expect(done).toEqual(["first"]);
    await turn();
    await turn();
    expect(started).toEqual([1, 3]);
    expect(done).toEqual(["first"]);
    ends[1]!();
    await Promise.all([second, third]);
    expect(done).toEqual(["first", "second", "third"]);
    expect(saver.saves).toBe(2);
  });

  it("reports a failed save and goes on; saves nothing once stopped", async () => {
    const errors: unknown[] = [];
    let fail = true;
    let saves = 0;
    const saver = new CoalescingSaver(
      async () => {
        saves++;
        if (fail) throw new Error("disk full");
      },
      (e) => errors.push(e),
    );
    await saver.request();
    expect(errors).toHaveLength(1);
    fail = false;
    await saver.request();
    expect(saves).toBe(2);
    saver.stop();
    await saver.request();
    expect(saves).toBe(2);
  });
});
