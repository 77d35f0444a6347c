/** `egresslab sim` as a child process (the real entry point through tsx), and raw requests to its clusters. */
import { readFileSync } from "node:fs";
import path from "node:path";
import { execa, type ResultPromise } from "execa";
import { parse } from "yaml";
import { environment } from "../../server/src/config/options.ts";
import { rawRequest, type RawResponse } from "./https.ts";

const root = path.join(import.meta.dirname, "..", "..");

export interface SimChild {
  process: ResultPromise;
  /** Everything the child wrote to stderr so far. */
  stderr(): string;
}

/** Starts `egresslab sim` and resolves once it printed its ready line; rejects with its stderr if it exits first. */
export async function startSim(cwd: string, args: string[]): Promise<SimChild> {
  const child = execa(process.execPath, [path.join(root, "scripts", "egresslab.mjs"), "sim", ...args], {
    cwd,
    env: { ...environment(), HOME: path.join(cwd, "home") },
    extendEnv: false,
    reject: false,
    stdin: "ignore",
  });
  let err = "";
  child.stderr!.on("data", (c: Buffer) => (err += c.toString()));
  await new Promise<void>((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (c: Buffer) => {
      out += c.toString();
      if (out.includes("cluster ready")) resolve();
    });
    void child.then((r) => reject(new Error(`sim exited early (${r.exitCode}): ${err}`)));
  });
  return { process: child, stderr: () => err };
}

/** Kills the child with SIGKILL and waits until it is gone. */
export async function killHard(child: SimChild): Promise<void> {
  child.process.kill("SIGKILL");
  await child.process;
}

/** What a kubeconfig `egresslab sim` wrote says: the cluster's URL, its CA and token. */
export interface Target {
  server: string;
  ca: string;
  token: string;
}

export function readTarget(kubeconfig: string): Target {
  const k = parse(readFileSync(kubeconfig, "utf8")) as {
    clusters: { cluster: { server: string; "certificate-authority-data": string } }[];
    users: { user: { token: string } }[];
  };
  return {
    server: k.clusters[0]!.cluster.server,
    ca: Buffer.from(k.clusters[0]!.cluster["certificate-authority-data"], "base64").toString(),
    token: k.users[0]!.user.token,
  };
}

/** One request to the cluster; `apiPath` starts with `/api` or `/apis`. */
export function call(
  t: Target,
  method: string,
  apiPath: string,
  body?: unknown,
  contentType = "application/json",
): Promise<RawResponse> {
  return rawRequest(t.server, t.ca, {
    method,
    path: `${new URL(t.server).pathname}${apiPath}`,
    token: t.token,
    // No kept-alive connections: the server behind the address is killed and restarted.
    headers: { Connection: "close", ...(body !== undefined ? { "Content-Type": contentType } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
}
