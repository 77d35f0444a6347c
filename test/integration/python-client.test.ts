/**
 * Debian's python3-kubernetes against the simulated API server: its query parameters are Python's `str(True)`
 * (`watch=True`, `stdout=True`, `follow=True`), which the real server decodes as true. A watch streams events, exec
 * runs the command, a followed log streams.
 */
import { writeFileSync } from "node:fs";
import path from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startKubectlEnv, type Kubectl, type KubectlEnv } from "../helpers/kubectl.ts";

let env: KubectlEnv;
let k: Kubectl;

const SETUP = `apiVersion: v1
kind: Namespace
metadata: {name: py}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: first, namespace: py}
data: {a: "1"}
---
apiVersion: v1
kind: Pod
metadata: {name: box, namespace: py}
spec:
  containers: [{name: main, image: busybox:1.36, command: [sleep, infinity]}]
`;

async function python(
  name: string,
  body: string,
): Promise<{ stdout: string; stderr: string; exitCode?: number }> {
  const script = path.join(env.dir, name);
  writeFileSync(
    script,
    `import sys
from kubernetes import client, config, watch
from kubernetes.stream import stream
config.load_kube_config(config_file=sys.argv[1])
v1 = client.CoreV1Api()
${body}`,
  );
  return execa("/usr/bin/python3", [script, k.kubeconfigPath], {
    reject: false,
    timeout: 30_000,
    env: { HOME: path.join(env.dir, "home") },
  });
}

beforeAll(async () => {
  env = await startKubectlEnv();
  k = await env.cluster({ id: "python" });
  const applied = await k(["apply", "-f", "-"], { input: SETUP });
  expect(applied.exitCode, applied.stderr).toBe(0);
  const ready = await k(["wait", "-n", "py", "--for=condition=Ready", "pod/box", "--timeout=30s"]);
  expect(ready.exitCode, ready.stderr).toBe(0);
}, 60_000);
afterAll(async () => {
  await env?.close();
});

describe("python3-kubernetes", () => {
  it("watch.Watch().stream (watch=True) receives ADDED events, not a list", async () => {
    const r = await python(
      "watch.py",
      `w = watch.Watch()
for ev in w.stream(v1.list_namespaced_config_map, "py", timeout_seconds=5):
    print(ev["type"], ev["object"].metadata.name)
    if ev["object"].metadata.name == "first":
        w.stop()
`,
    );
    expect(r.stderr).toBe("");
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain("ADDED first");
  }, 40_000);

  it("stream(connect_get_namespaced_pod_exec, stdout=True, stderr=True) runs the command", async () => {
    const r = await python(
      "exec.py",
      `out = stream(v1.connect_get_namespaced_pod_exec, "box", "py", command=["sh", "-c", "echo hello-from-$HOSTNAME"],
             stdout=True, stderr=True, stdin=False, tty=False)
sys.stdout.write(out)
ws = stream(v1.connect_get_namespaced_pod_exec, "box", "py", command=["sh", "-c", "exit 3"],
            stdout=True, stderr=True, _preload_content=False)
ws.run_forever(timeout=10)
print("returncode", ws.returncode)
`,
    );
    expect(r.stderr).toBe("");
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain("hello-from-box");
    expect(r.stdout).toContain("returncode 3");
  }, 40_000);

  it("read_namespaced_pod_log(follow=True) streams the log", async () => {
    const r = await python(
      "logs.py",
      `resp = v1.read_namespaced_pod_log("box", "py", follow=True, _preload_content=False, _request_timeout=3)
print("status", resp.status)
print("chunked", resp.headers.get("Transfer-Encoding"))
resp.release_conn()
`,
    );
    expect(r.stderr).toBe("");
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain("status 200");
    expect(r.stdout).toContain("chunked chunked");
  }, 40_000);
});
