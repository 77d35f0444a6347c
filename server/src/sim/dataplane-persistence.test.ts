import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { FlowRecord } from "../net/flows.ts";
import { VirtualClock } from "../shared/clock.ts";
import type { Logger, LogMeta } from "../shared/logger.ts";
import type { ExecIO } from "./types.ts";
import { createSimCluster, type SimCluster } from "./cluster.ts";
import { dataplaneStateFile } from "./persistence.ts";

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
});
