/**
 * The kind provider against the real Docker, kind and kubectl. Runs only when EGRESSLAB_TEST_KIND=1 (it takes minutes
 * and downloads images): `EGRESSLAB_TEST_KIND=1 npx vitest run test/integration/providers-real-kind.test.ts`.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { environment } from "../../server/src/config/options.ts";
import { createCmder } from "../../server/src/providers/cmd.ts";
import { createKindProvider, type KindProvider } from "../../server/src/providers/kind/provider.ts";

const enabled = environment().EGRESSLAB_TEST_KIND === "1";
let dir: string | undefined;
let provider: KindProvider | undefined;
const id = `t${Date.now().toString(36)}`;

afterAll(async () => {
  await provider?.release(id);
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe.skipIf(!enabled)("kind provider on a real Docker engine", () => {
  it(
    "creates a cluster with Calico Available, serves kubectl, and deletes it",
    async () => {
      dir = await mkdtemp(path.join(os.tmpdir(), "egresslab-real-kind-"));
      const cmder = createCmder({ env: { HOME: dir } });
      provider = await createKindProvider({ cmder, dataDir: dir });
      const steps: string[] = [];
      const conn = await provider.acquire({ id, onProgress: (s) => steps.push(s) });
      expect(steps.at(-1)).toBe(`kind cluster egresslab-${id} is ready`);
      const file = path.join(dir, "kubeconfig");
      await writeFile(file, conn.kubeconfig);
      const ts = await cmder.run("kubectl", [
        "--kubeconfig",
        file,
        "get",
        "tigerastatus",
        "-o",
        "jsonpath={.items[*].metadata.name}",
      ]);
      expect(ts.stdout.split(" ").sort()).toEqual(["apiserver", "calico", "goldmane", "ippools", "whisker"]);
      const pools = await cmder.run("kubectl", [
        "--kubeconfig",
        file,
        "get",
        "ippools.projectcalico.org",
        "-o",
        "jsonpath={.items[*].spec.cidr}",
      ]);
      expect(pools.stdout).toContain("192.168.0.0/16");
      await provider.release(id);
      const left = await cmder.run("kind", ["get", "clusters"]);
      expect(left.stdout).not.toContain(`egresslab-${id}`);
    },
    30 * 60_000,
  );
});
