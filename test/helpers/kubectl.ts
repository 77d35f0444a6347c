/**
 * Drives the real `kubectl` against a simulated cluster: a temp HOME (fresh discovery cache) and a kubeconfig file per
 * cluster; every call returns what the user would see (stdout, stderr, exit code).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { execa } from "execa";
import { SimHost, type ClusterFactory } from "../../server/src/sim/host.ts";
import { environment } from "../../server/src/config/options.ts";

export interface KubectlResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

export interface KubectlEnv {
  host: SimHost;
  dir: string;
  /** Writes the kubeconfig of a new cluster and returns a kubectl runner bound to it. */
  cluster(opts?: { id?: string; edition?: "enterprise" | "oss"; profile?: string }): Promise<Kubectl>;
  close(): Promise<void>;
}

export type Kubectl = ((
  args: string[],
  opts?: { input?: string; env?: Record<string, string>; timeout?: number },
) => Promise<KubectlResult>) & {
  kubeconfig: string;
  kubeconfigPath: string;
  token: string;
  id: string;
};

export async function startKubectlEnv(
  opts: { clusterFactory?: ClusterFactory; dataDir?: string } = {},
): Promise<KubectlEnv> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "egresslab-kubectl-"));
  const host = await SimHost.start({
    ...(opts.dataDir ? {} : { port: 0 }),
    ...(opts.clusterFactory ? { clusterFactory: opts.clusterFactory } : {}),
    ...(opts.dataDir ? { dataDir: opts.dataDir } : {}),
  });
  const home = path.join(dir, "home");
  return {
    host,
    dir,
    async cluster(copts = {}) {
      const created = await host.createCluster(copts);
      const kubeconfigPath = path.join(dir, `${created.id}.kubeconfig`);
      writeFileSync(kubeconfigPath, created.kubeconfig);
      return kubectlFor(kubeconfigPath, home, created);
    },
    async close() {
      await host.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function kubectlFor(
  kubeconfigPath: string,
  home: string,
  created: { id: string; token: string; kubeconfig: string },
): Kubectl {
  const run = async (
    args: string[],
    o: { input?: string; env?: Record<string, string>; timeout?: number } = {},
  ): Promise<KubectlResult> => {
    const r = await execa("kubectl", args, {
      env: { ...environment(), KUBECONFIG: kubeconfigPath, HOME: home, ...o.env },
      extendEnv: false,
      reject: false,
      ...(o.input !== undefined ? { input: o.input } : { stdin: "ignore" }),
      timeout: o.timeout ?? 30_000,
      cwd: path.dirname(kubeconfigPath),
    });
    return { stdout: String(r.stdout), stderr: String(r.stderr), exitCode: r.exitCode ?? -1 };
  };
  return Object.assign(run, {
    kubeconfig: created.kubeconfig,
    kubeconfigPath,
    token: created.token,
    id: created.id,
  });
}
