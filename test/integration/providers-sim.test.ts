/**
 * The sim provider on a real SimHost: the returned kubeconfig drives the real `kubectl`; the same id gets the same
 * cluster; release deletes it; a restart with the same data directory keeps attendees' clusters.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCmder } from "../../server/src/providers/cmd.ts";
import { createSimProvider, type SimProvider } from "../../server/src/providers/sim/provider.ts";
import type { ClusterConnection } from "../../server/src/providers/provider.ts";

let dir: string;
let provider: SimProvider | undefined;
let cmder: ReturnType<typeof createCmder>;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "egresslab-simprov-"));
  // kubectl's discovery cache goes to a temporary HOME.
  cmder = createCmder({ env: { HOME: dir } });
});
afterAll(async () => {
  await provider?.close();
  await rm(dir, { recursive: true, force: true });
});

async function kubectl(
  conn: ClusterConnection,
  ...args: string[]
): Promise<{ stdout: string; stderr: string; exitCode: number }> {
  const file = path.join(dir, `${conn.id}.kubeconfig`);
  await writeFile(file, conn.kubeconfig);
  const r = await cmder
    .run("kubectl", ["--kubeconfig", file, ...args], { timeoutMs: 30_000 })
    .then((x) => ({ ...x, exitCode: 0 }))
    .catch((e: { stdout: string; stderr: string; exitCode?: number }) => ({
      stdout: e.stdout,
      stderr: e.stderr,
      exitCode: e.exitCode ?? -1,
    }));
  return r;
}

describe("sim provider on a real SimHost", () => {
  it("serves kubectl, keeps one cluster per id, survives a restart and deletes on release", async () => {
    const dataDir = path.join(dir, "data");
    provider = await createSimProvider({ hostOptions: { port: 0, dataDir } });
    const alice = await provider.acquire({ id: "alice", profile: "bare" });
    expect(alice).toMatchObject({ id: "alice", provider: "sim", edition: "enterprise" });
    const ns = await kubectl(alice, "get", "ns", "-o", "name", "--request-timeout=20s");
    expect(ns.stderr).toBe("");
    expect(ns.stdout).toContain("namespace/kube-system");

    await kubectl(alice, "create", "namespace", "shop");
    const again = await provider.acquire({ id: "alice", profile: "bare" });
    expect(again.kubeconfig).toBe(alice.kubeconfig);
    const oss = await provider.acquire({ id: "Bob@example.com", edition: "oss" });
    expect(oss.edition).toBe("oss");
    expect((await kubectl(oss, "get", "ns", "shop")).exitCode).not.toBe(0);

    await provider.close();
    provider = await createSimProvider({ hostOptions: { dataDir } });
    const restored = await provider.acquire({ id: "alice" });
    const shop = await kubectl(restored, "get", "ns", "shop", "-o", "name");
    expect(shop.stdout.trim()).toBe("namespace/shop");
    expect((await provider.list()).map((c) => c.id).sort()).toEqual(["Bob@example.com", "alice"]);

    await provider.release("alice");
    expect((await provider.list()).map((c) => c.id)).toEqual(["Bob@example.com"]);
    const gone = await kubectl(restored, "get", "ns", "--request-timeout=10s");
    expect(gone.exitCode).not.toBe(0);
    expect(gone.stderr).toMatch(/Unauthorized|must be logged in/i);
  });
});
