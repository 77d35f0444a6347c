/**
 * Runs a script with Debian's python3-kubernetes (the official Python client, as `/usr/bin/python3` has it; the first
 * `python3` on PATH may be another one without it). The script starts with `sys`, `json`, the client's `client`,
 * `config`, `watch`, `stream`, `portforward` and `ApiException` imported, the kubeconfig (argv[1]) loaded and
 * `v1 = client.CoreV1Api()`; further arguments follow as argv[2]…
 */
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { execa } from "execa";

export interface PythonRun {
  stdout: string;
  stderr: string;
  exitCode?: number;
}

const prelude = `import json, sys
from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException
from kubernetes.stream import portforward, stream
config.load_kube_config(config_file=sys.argv[1])
v1 = client.CoreV1Api()
`;

/** Writes `<dir>/<name>` and runs it with HOME `<dir>/home`; a hang fails after 30 s. */
export async function runPython(
  dir: string,
  name: string,
  body: string,
  kubeconfig: string,
  args: string[] = [],
): Promise<PythonRun> {
  const script = path.join(dir, name);
  writeFileSync(script, prelude + body);
  const home = path.join(dir, "home");
  mkdirSync(home, { recursive: true });
  return execa("/usr/bin/python3", [script, kubeconfig, ...args], {
    reject: false,
    timeout: 30_000,
    env: { HOME: home },
  });
}
