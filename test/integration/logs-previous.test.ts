/**
 * `kubectl logs` of a restarted container, as the real kubectl 1.32, client-node and Debian's python3-kubernetes see
 * it: the current run's log (followed until the container stops), `--previous` for the last terminated run, the other
 * options with it, the API server's and kubelet's errors to the character, and the same bytes after the server
 * restarts from its saved state. The cluster runs on a virtual clock, so restarts happen when the test moves it.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import * as k8s from "@kubernetes/client-node";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { VirtualClock } from "../../server/src/shared/clock.ts";
import { createSimCluster } from "../../server/src/sim/cluster.ts";
import type { ClusterFactory } from "../../server/src/sim/host.ts";
import { startKubectlEnv, type Kubectl, type KubectlEnv } from "../helpers/kubectl.ts";
import { runPython, type PythonRun } from "../helpers/python.ts";

const clock = new VirtualClock(Date.UTC(2026, 0, 1));
const factory: ClusterFactory = (spec) =>
  createSimCluster({
    id: spec.id,
    ...(spec.dataDir !== undefined ? { dataDir: spec.dataDir } : {}),
    logger: spec.logger,
    clock,
  });
const dataDir = mkdtempSync(path.join(tmpdir(), "egresslab-logs-prev-"));
let env: KubectlEnv;
let k: Kubectl;

const POD = (name: string, restartPolicy: string, containers: string) => `apiVersion: v1
kind: Pod
metadata: {name: ${name}, namespace: logs}
spec:
  restartPolicy: ${restartPolicy}
  containers: ${containers}
`;
const SETUP = [
  "apiVersion: v1\nkind: Namespace\nmetadata: {name: logs}\n",
  POD(
    "crash",
    "Always",
    `[{name: app, image: busybox:1.36, command: [sh, -c, 'echo "start $(date)"; sleep 30; echo "fail $(date)" >&2; exit 1']}]`,
  ),
  POD("steady", "Always", "[{name: steady, image: busybox:1.36, command: [sleep, infinity]}]"),
  POD(
    "multi",
    "Never",
    "[{name: a, image: busybox:1.36, command: [echo, from a]}, {name: b, image: busybox:1.36, command: [sleep, infinity]}]",
  ),
].join("---\n");

/** `date`'s output at `hms` on the first day of 2026. */
const at = (hms: string) => `Thu Jan  1 ${hms} UTC 2026`;
const RUN1 = `start ${at("00:00:00")}\nfail ${at("00:00:30")}\n`;
const RUN2 = `start ${at("00:00:40")}\n`;

const settled = async () => {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
};
async function advance(ms: number): Promise<void> {
  for (let t = 0; t < ms; t += 1000) {
    await clock.advance(1000);
    await settled();
  }
}

function python(body: string): Promise<PythonRun> {
  return runPython(env.dir, "logs.py", body, k.kubeconfigPath);
}

beforeAll(async () => {
  env = await startKubectlEnv({ dataDir, clusterFactory: factory });
  k = await env.cluster({ id: "logs" });
  const applied = await k(["apply", "-f", "-"], { input: SETUP });
  expect(applied.exitCode, applied.stderr).toBe(0);
  await settled();
  // The first run fails at 30s; after the 10s back-off the second one starts.
  await advance(40_000);
}, 60_000);
afterAll(async () => {
  await env?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe("logs of a restarted container", () => {
  it("kubectl: the current run, and the last one with --previous", async () => {
    const pod = await k([
      "get",
      "pod",
      "-n",
      "logs",
      "crash",
      "-o",
      "jsonpath={.status.containerStatuses[0].restartCount}",
    ]);
    expect(pod.stdout).toBe("1");
    const current = await k(["logs", "-n", "logs", "crash"]);
    expect(current.exitCode, current.stderr).toBe(0);
    expect(current.stdout + "\n").toBe(RUN2);
    const previous = await k(["logs", "-n", "logs", "crash", "--previous"]);
    expect(previous.exitCode, previous.stderr).toBe(0);
    expect(previous.stdout + "\n").toBe(RUN1);

    const tail = await k(["logs", "-n", "logs", "crash", "-p", "--tail=1", "--timestamps"]);
    expect(tail.stdout).toBe(`2026-01-01T00:00:30.000000000Z fail ${at("00:00:30")}`);
    expect((await k(["logs", "-n", "logs", "crash", "-p", "--limit-bytes=5"])).stdout).toBe("start");
    const since = await k(["logs", "-n", "logs", "crash", "-p", "--since-time=2026-01-01T00:00:10Z"]);
    expect(since.stdout).toBe(`fail ${at("00:00:30")}`);
    // Following a terminated run prints it and ends.
    const follow = await k(["logs", "-n", "logs", "crash", "-p", "-f"], { timeout: 10_000 });
    expect(follow.exitCode, follow.stderr).toBe(0);
    expect(follow.stdout + "\n").toBe(RUN1);
  });

  it("kubectl: the errors of a real cluster", async () => {
    const never = await k(["logs", "-n", "logs", "steady", "--previous"]);
    expect(never.exitCode).toBe(1);
    expect(never.stderr).toBe(
      'Error from server (BadRequest): previous terminated container "steady" in pod "steady" not found',
    );
    // kubectl picks the first of several containers itself, and says so.
    const multi = await k(["logs", "-n", "logs", "multi"]);
    expect(multi.stdout).toBe("from a");
    expect(multi.stderr).toContain('Defaulted container "a" out of: a, b');
    const b = await k(["logs", "-n", "logs", "multi", "-c", "b", "--previous"]);
    expect(b.stderr).toBe(
      'Error from server (BadRequest): previous terminated container "b" in pod "multi" not found',
    );
  });

  it("client-node: previous, and the API server's container errors", async () => {
    const kc = new k8s.KubeConfig();
    kc.loadFromString(k.kubeconfig);
    const core = kc.makeApiClient(k8s.CoreV1Api);
    expect(await core.readNamespacedPodLog({ name: "crash", namespace: "logs", previous: true })).toBe(RUN1);
    expect(await core.readNamespacedPodLog({ name: "crash", namespace: "logs" })).toBe(RUN2);
    const message = async (req: k8s.CoreV1ApiReadNamespacedPodLogRequest) => {
      try {
        await core.readNamespacedPodLog(req);
      } catch (err) {
        const e = err as { code: number; body: string };
        return `${e.code} ${(JSON.parse(e.body) as { message: string }).message}`;
      }
      throw new Error("no error");
    };
    expect(await message({ name: "multi", namespace: "logs" })).toBe(
      "400 a container name must be specified for pod multi, choose one of: [a b]",
    );
    expect(await message({ name: "multi", namespace: "logs", container: "nope" })).toBe(
      "400 container nope is not valid for pod multi",
    );
    expect(await message({ name: "crash", namespace: "logs", tailLines: -1 })).toBe(
      '422 PodLogOptions "crash" is invalid: tailLines: Invalid value: -1: must be greater than or equal to 0',
    );
  });

  it("python3-kubernetes: previous=True, and the kubelet's error", async () => {
    const r = await python(`sys.stdout.write(v1.read_namespaced_pod_log("crash", "logs", previous=True))
print("--")
sys.stdout.write(v1.read_namespaced_pod_log("crash", "logs", previous=False, tail_lines=1))
print("--")
try:
    v1.read_namespaced_pod_log("steady", "logs", previous=True)
except ApiException as e:
    print(e.status, json.loads(e.body)["message"])
`);
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe(
      `${RUN1}--\n${RUN2}--\n400 previous terminated container "steady" in pod "steady" not found`,
    );
  });

  it("kubectl logs -f follows the running container and ends when it stops", async () => {
    const proc = execa("kubectl", ["logs", "-n", "logs", "crash", "-f", "--timestamps"], {
      env: { KUBECONFIG: k.kubeconfigPath, HOME: path.join(env.dir, "home"), PATH: process.env.PATH ?? "" },
      extendEnv: false,
      reject: false,
      timeout: 30_000,
    });
    let out = "";
    proc.stdout.on("data", (d: Buffer) => (out += d.toString()));
    for (let i = 0; i < 200 && !out.includes("start"); i++) await new Promise((r) => setTimeout(r, 25));
    expect(out).toBe(`2026-01-01T00:00:40.000000000Z start ${at("00:00:40")}\n`);
    // The second run fails at 1:10; the follow shows it and ends with the container.
    await advance(30_000);
    const r = await proc;
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toBe(
      `2026-01-01T00:00:40.000000000Z start ${at("00:00:40")}\n2026-01-01T00:01:10.000000000Z fail ${at("00:01:10")}`,
    );
  });

  it("come back byte for byte when the server restarts from its saved state", async () => {
    const before = {
      current: (await k(["logs", "-n", "logs", "crash", "--timestamps"])).stdout,
      previous: (await k(["logs", "-n", "logs", "crash", "-p", "--timestamps"])).stdout,
    };
    expect(before.previous).toContain("fail");
    await env.host.close();
    const second = await startKubectlEnv({ dataDir, clusterFactory: factory });
    try {
      await settled();
      expect((await k(["logs", "-n", "logs", "crash", "--timestamps"])).stdout).toBe(before.current);
      expect((await k(["logs", "-n", "logs", "crash", "-p", "--timestamps"])).stdout).toBe(before.previous);
      // The restarts go on from the saved state: after its 20s back-off the third run starts, the second is previous.
      await advance(20_000);
      expect((await k(["logs", "-n", "logs", "crash"])).stdout).toBe(`start ${at("00:01:30")}`);
      const previous = await k(["logs", "-n", "logs", "crash", "-p"]);
      expect(previous.stdout + "\n").toBe(`${RUN2}fail ${at("00:01:10")}\n`);
    } finally {
      await second.close();
    }
  });
});
