/**
 * A learner of the egress workshop for the guide walks: their cluster connection, the server's client of it, and a
 * shell prepared as each provider's terminal prepares it.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import type { Socket } from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { execa } from "execa";
import { environment } from "../../server/src/config/options.ts";
import { createKubeClient } from "../../server/src/grading/kube-client.ts";
import type { ClusterClient } from "../../server/src/grading/cluster.ts";
import { loadLab, sessionParams, type Edition, type Lab } from "../../server/src/labs/index.ts";
import type { LabParams } from "../../server/src/labs/api.ts";
import type { ClusterConnection } from "../../server/src/providers/provider.ts";
import { pipeTo } from "../../server/src/terminal/api-socket.ts";
import { prepareHome } from "../../server/src/terminal/home.ts";
import { shellLaunch } from "../../server/src/terminal/sandbox.ts";
import { homeSyncScript } from "../../server/src/terminal/toolbox.ts";
import { LearnerShell } from "./learner-shell.ts";

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
export const hostPath = environment().PATH ?? "/usr/bin:/bin";

export function loadWorkshop(): Promise<Lab> {
  return loadLab(path.join(repoRoot, "labs", "egress-workshop"));
}

/** The stage directories the workshop writes into every learner's home (`workshop.ts` `writeHome`). */
export function stageDirs(lab: Lab): string[] {
  return lab.stages.map((_, i) => `stage-${i}`);
}

/** The API address a kubeconfig names (its first cluster's server). */
export function apiAddress(kubeconfig: string): { host: string; port: number } {
  const server = /server:\s*(\S+)/.exec(kubeconfig)?.[1];
  if (!server) throw new Error("the kubeconfig names no server");
  const url = new URL(server.replace(/^["']|["']$/g, ""));
  return { host: url.hostname, port: Number(url.port || 443) };
}

/** The objects each stage's learner writes themselves, from the reference solution, per edition. */
export const learnerWrites: Record<Edition, Record<string, string[]>> = {
  enterprise: {
    "00-map-exposure": [],
    "01-default-deny": [],
    "02-dns-allowlists": [
      "NetworkPolicy shop/allow-notifications-egress",
      "NetworkPolicy shop/allow-catalog-egress",
    ],
    "03-egress-gateway": [],
    "04-detect-and-respond": ["GlobalNetworkPolicy quarantine"],
  },
  oss: {
    "00-map-exposure": [],
    "01-default-deny": [],
    "02-dns-allowlists": [
      "NetworkPolicy ops/allow-backup-egress",
      "NetworkPolicy shop/allow-notifications-egress",
      "NetworkPolicy shop/allow-catalog-egress",
    ],
    "03-egress-gateway": [],
    "04-detect-and-respond": ["GlobalNetworkPolicy quarantine"],
  },
};

export interface Learner {
  lab: Lab;
  edition: Edition;
  params: LabParams;
  conn: ClusterConnection;
  client: ClusterClient;
  shell: LearnerShell;
  /** Which terminal the shell stands for, in the learner's terms. */
  terminal: string;
  close(): void;
}

/**
 * The simulator's terminal: HOME prepared by `prepareHome` (kubeconfig, `.bashrc`, `~/bin/flows`, stage directories)
 * and bash started from the terminal's own local launch (`shellLaunch("local")`: program, arguments, environment,
 * directory), run directly rather than inside bubblewrap, in a network namespace of its own as the sandbox's is.
 */
export async function simLearner(
  lab: Lab,
  edition: Edition,
  seed: number,
  conn: ClusterConnection,
  connectApi?: (socket: Socket) => void,
): Promise<Learner> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "egresslab-guide-sim-"));
  const home = path.join(dir, "home");
  prepareHome(home, { kubeconfig: conn.kubeconfig, clusterId: conn.id, dirs: stageDirs(lab), files: [] });
  const launch = shellLaunch("local", {
    home,
    etcDir: path.join(dir, "etc"),
    startDir: "stage-0",
    hostPath,
  });
  const api = apiAddress(conn.kubeconfig);
  const shell = await LearnerShell.start({
    launch,
    apiPort: api.port,
    connect: connectApi ?? ((s) => pipeTo(api.host, api.port, s)),
  });
  return {
    lab,
    edition,
    params: sessionParams(lab, seed, edition),
    conn,
    client: createKubeClient(conn.kubeconfig),
    shell,
    terminal: "the simulator's learner shell (bash on the host, same environment and home)",
    close() {
      shell.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The toolbox's terminal on a real cluster: HOME written by the toolbox's own sync script (`homeSyncScript`: stage
 * directories, `.bashrc`, `.bash_profile`, `~/bin/flows`), a login bash (`bash -il`, as `Toolboxes.launch` runs in
 * the pod) with the pod's environment, and the real kubectl on the host using `kubeconfig` (the toolbox's
 * ServiceAccount token, or the pool's own kubeconfig) in place of the pod's in-cluster configuration.
 */
export async function toolboxLearner(
  lab: Lab,
  edition: Edition,
  seed: number,
  conn: ClusterConnection,
  kubeconfig: string,
): Promise<Learner> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "egresslab-guide-toolbox-"));
  const home = path.join(dir, "home");
  mkdirSync(home);
  await execa("sh", ["-s"], {
    input: homeSyncScript({ dirs: stageDirs(lab), files: [] }, home),
    env: { PATH: hostPath },
    extendEnv: false,
  });
  const kubeconfigFile = path.join(dir, "kubeconfig");
  writeFileSync(kubeconfigFile, kubeconfig, { mode: 0o600 });
  // What `setStartDir` records: the login profile goes there.
  writeFileSync(path.join(home, ".egresslab-stage"), "stage-0\n");
  const api = apiAddress(kubeconfig);
  const shell = await LearnerShell.start({
    launch: {
      file: "/bin/bash",
      args: ["-il"],
      env: {
        HOME: home,
        USER: "learner",
        TERM: "xterm-256color",
        LANG: "C.UTF-8",
        PATH: hostPath,
        KUBECONFIG: kubeconfigFile,
      },
      cwd: home,
    },
    apiPort: api.port,
    connect: (s) => pipeTo(api.host, api.port, s),
  });
  return {
    lab,
    edition,
    params: sessionParams(lab, seed, edition),
    conn,
    client: createKubeClient(conn.kubeconfig),
    shell,
    terminal: "the toolbox's shell (bash -il on the host, its home and environment)",
    close() {
      shell.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
