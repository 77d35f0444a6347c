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
import { ApiSockets, pipeTo, sandboxKubeconfig } from "../../server/src/terminal/api-socket.ts";
import { prepareHome } from "../../server/src/terminal/home.ts";
import { shellLaunch, writeIdentity } from "../../server/src/terminal/sandbox.ts";
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
    "04-detect-and-respond": [],
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
    "04-detect-and-respond": [],
  },
};

/**
 * What a learner of the egress workshop writes into a copy block's placeholders: the workload they found (stage 0's
 * and stage 4's answers) and its destinations. A block with none of them is not for the terminal (it runs elsewhere,
 * such as `npm start` on the learner's own machine): undefined.
 */
export function fillPlaceholders(params: LabParams): (text: string) => string | undefined {
  const values: Record<string, string | undefined> = {
    "LEGITIMATE-DOMAIN": params["compromised.legit"],
    NAMESPACE: params["compromised.ns"],
    NAME: params["compromised.app"],
    APP: params["compromised.app"],
    DOMAIN: params.c2Domain,
  };
  const placeholder = /\b(LEGITIMATE-DOMAIN|NAMESPACE|NAME|APP|DOMAIN)\b/;
  return (text) => {
    if (!placeholder.test(text)) return undefined;
    return text.replace(new RegExp(placeholder, "g"), (p) => {
      const v = values[p];
      if (v === undefined) throw new Error(`no value for the placeholder ${p}`);
      return v;
    });
  };
}

/** The copy blocks of each edition's guide that are not for the terminal (by their first line). */
export const notForTheTerminal: Record<Edition, string[]> = {
  enterprise: [],
  // Stage 3 on Open Source: running the simulator on the learner's own machine.
  oss: ["npm install && npm start"],
};

export interface Learner {
  lab: Lab;
  edition: Edition;
  params: LabParams;
  conn: ClusterConnection;
  client: ClusterClient;
  shell: LearnerShell;
  /** Fills in a copy block as the learner does (`fillPlaceholders`). */
  fill: (text: string) => string | undefined;
  /** Which terminal the shell stands for, in the learner's terms. */
  terminal: string;
  close(): void;
}

/**
 * The simulator's terminal in multi-user mode, as `TerminalManager` starts it in bwrap mode: HOME prepared by
 * `prepareHome` with the sandbox's kubeconfig (`sandboxKubeconfig`: the API at 127.0.0.1:6443 inside), the learner's
 * passwd and group (`writeIdentity`), the API socket (`ApiSockets`) handed to the provider's `connectApi`, and the
 * sandbox's own launch (`shellLaunch("bwrap")`: bubblewrap, its network namespace and forwarder, its limits, the
 * interactive bash) on pipes instead of a pty.
 */
export async function simLearner(
  lab: Lab,
  edition: Edition,
  seed: number,
  conn: ClusterConnection,
  connectApi: (socket: Socket) => void,
): Promise<Learner> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "egresslab-guide-sim-"));
  const home = path.join(dir, "home");
  const etcDir = path.join(dir, "etc");
  prepareHome(home, {
    kubeconfig: sandboxKubeconfig(conn.kubeconfig).kubeconfig,
    clusterId: conn.id,
    dirs: stageDirs(lab),
    files: [],
  });
  writeIdentity(etcDir);
  const sockets = new ApiSockets((_id, s) => connectApi(s));
  const socketDir = await sockets.open("learner");
  const launch = shellLaunch("bwrap", { home, etcDir, startDir: "stage-0", hostPath, socketDir });
  let shell: LearnerShell;
  try {
    shell = await LearnerShell.start({ launch });
  } catch (err) {
    sockets.closeAll();
    throw err;
  }
  return {
    lab,
    edition,
    params: sessionParams(lab, seed, edition),
    fill: fillPlaceholders(sessionParams(lab, seed, edition)),
    conn,
    client: createKubeClient(conn.kubeconfig),
    shell,
    terminal: "the simulator's sandboxed learner shell (bubblewrap, on pipes)",
    close() {
      shell.close();
      sockets.closeAll();
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
    network: { apiPort: api.port, connect: (s) => pipeTo(api.host, api.port, s) },
  });
  return {
    lab,
    edition,
    params: sessionParams(lab, seed, edition),
    fill: fillPlaceholders(sessionParams(lab, seed, edition)),
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
