/**
 * The grader's probe pods on a cluster that outlives its session: a kubeconfig pool cluster (a simulated cluster
 * behind the kubeconfig provider) is graded with the workshop's lab, the probe pods it started stay for the next
 * check, and when the session ends (the cluster goes back to the pool) none is left — as the real `kubectl` sees it.
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as grading from "../../server/src/grading/index.ts";
import { loadLab } from "../../server/src/labs/index.ts";
import { createKubeconfigProvider } from "../../server/src/providers/kubeconfig/provider.ts";
import { openDb } from "../../server/src/sessions/db.ts";
import { labRunner, type LabRunner } from "../../server/src/sessions/lab-runner.ts";
import { sqlitePoolRecords } from "../../server/src/sessions/pool-records.ts";
import { ClusterPool } from "../../server/src/sessions/pool.ts";
import { startKubectlEnv, type Kubectl, type KubectlEnv } from "../helpers/kubectl.ts";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
let dir: string;
let env: KubectlEnv;
let k: Kubectl;
let lab: LabRunner;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "egresslab-probe-pods-"));
  env = await startKubectlEnv();
  k = await env.cluster({ profile: "egress-workshop" });
  await mkdir(path.join(dir, "pool"));
  await writeFile(path.join(dir, "pool", "c1.yaml"), k.kubeconfig);
  lab = labRunner(await loadLab(path.join(root, "labs", "egress-workshop")), grading);
}, 120_000);

afterAll(async () => {
  await env?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const probePods = async (): Promise<string[]> => {
  const r = await k(["get", "pods", "-A", "-l", "egresslab.io/probe=true", "-o", "name"]);
  expect(r.stderr).toBe("");
  return r.stdout.split("\n").filter(Boolean);
};

describe("probe pods on a kubeconfig pool cluster", () => {
  it("are kept between checks and all deleted when the session's cluster goes back to the pool", async () => {
    const provider = await createKubeconfigProvider({ dir: path.join(dir, "pool"), dataDir: dir });
    expect(provider.capabilities.canCreate).toBe(false);
    const pool = new ClusterPool(provider, sqlitePoolRecords(openDb(":memory:")), {
      size: 0,
      labId: lab.summary.id,
      clear: (conn) => lab.end!(conn),
    });
    const conn = await pool.connect("ada");
    const params = lab.params(7);
    await lab.setup(conn, 0, params);
    await lab.solve!(conn, 0, params);
    await lab.setup(conn, 1, params);
    const first = await lab.grade(conn, 1, params, {});
    expect(first.checks.some((c) => /egresslab-probe|could not start/.test(c.seen))).toBe(false);
    const started = await probePods();
    expect(started.length).toBeGreaterThan(0);
    for (const p of started) expect(p).toMatch(/^pod\/egresslab-probe-/);
    // The next check reuses them.
    await lab.grade(conn, 1, params, {});
    expect(await probePods()).toEqual(started);
    // The session ends: the cluster is returned to the pool without a probe pod in it, and the workloads stay.
    await pool.release("ada");
    expect(await probePods()).toEqual([]);
    const workloads = await k(["get", "pods", "-n", "shop", "-o", "name"]);
    expect(workloads.stdout).toMatch(/pod\/catalog-/);
    pool.close();
  });
});
