/**
 * Debian's python3-kubernetes against the simulated API server: its query parameters are Python's `str(True)`
 * (`watch=True`, `stdout=True`, `follow=True`), which the real server decodes as true. A watch streams events, exec
 * runs the command, a followed log streams.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startKubectlEnv, type Kubectl, type KubectlEnv } from "../helpers/kubectl.ts";
import { runPython, type PythonRun } from "../helpers/python.ts";

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

function python(name: string, body: string): Promise<PythonRun> {
  return runPython(env.dir, name, body, k.kubeconfigPath);
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

/**
 * The end of an exec or attach stream, as python3-kubernetes' WSClient reads it: it polls the raw socket before each
 * frame, so the status (channel 3) and the close frame must each arrive where its poll sees them. Each script waits
 * without a timeout of its own (`run_forever()`); the harness's timeout is what fails a hang.
 */
describe("python3-kubernetes exec and attach streams end", () => {
  const PY_POD = `apiVersion: v1
kind: Pod
metadata: {name: NAME, namespace: py}
spec:
  containers: [{name: main, image: busybox:1.36, command: [sh], stdin: true}]
`;
  beforeAll(async () => {
    for (const name of ["interactive", "doomed"]) {
      const r = await k(["apply", "-f", "-"], { input: PY_POD.replace("NAME", name) });
      expect(r.exitCode, r.stderr).toBe(0);
    }
    const ready = await k([
      "wait",
      "-n",
      "py",
      "--for=condition=Ready",
      "pod/interactive",
      "pod/doomed",
      "--timeout=30s",
    ]);
    expect(ready.exitCode, ready.stderr).toBe(0);
  }, 60_000);

  const ends = async (name: string, body: string): Promise<string> => {
    const r = await python(name, body);
    expect(r.exitCode, `${name}: ${r.stderr}`).toBe(0);
    expect(r.stderr).toBe("");
    return r.stdout;
  };

  it("stdin commands then exit, with and without a tty: the status then the close, every time", async () => {
    const out = await ends(
      "exec-stdin.py",
      `for tty in (False, True, False, True):
    ws = stream(v1.connect_get_namespaced_pod_exec, "box", "py", command=["sh"], stdin=True, stdout=True,
                stderr=True, tty=tty, _preload_content=False)
    ws.write_stdin("echo in-$((6*7))\\nexit 7\\n")
    ws.run_forever()
    print("tty", tty, "returncode", ws.returncode, "out", "in-42" in ws.read_all())
`,
    );
    expect(out.match(/returncode 7 out True/g)).toHaveLength(4);
  }, 40_000);

  it("a large output, and many short commands in a row, all end", async () => {
    const out = await ends(
      "exec-many.py",
      `ws = stream(v1.connect_get_namespaced_pod_exec, "box", "py", command=["seq", "1", "60000"],
            stdout=True, stderr=True, _preload_content=False)
ws.run_forever()
code = ws.returncode
print("lines", len(ws.read_all().split()), "returncode", code)
n = 0
for i in range(40):
    ws = stream(v1.connect_get_namespaced_pod_exec, "box", "py", command=["sh", "-c", "echo " + str(i) + "; exit " + str(i % 3)],
                stdout=True, stderr=True, _preload_content=False)
    ws.run_forever()
    n += ws.returncode == i % 3 and ws.read_all().strip() == str(i)
print("ok", n)
ws = stream(v1.connect_get_namespaced_pod_exec, "box", "py", command=["no-such-command"], stdout=True, stderr=True,
            _preload_content=False)
ws.run_forever()
print(ws.read_channel(3))
`,
    );
    expect(out).toContain("lines 60000 returncode 0");
    expect(out).toContain("ok 40");
    expect(out).toContain("executable file not found in $PATH");
  }, 60_000);

  it("attach to the main process: input, exit, then the end of the stream", async () => {
    const out = await ends(
      "attach.py",
      `ws = stream(v1.connect_get_namespaced_pod_attach, "interactive", "py", stdin=True, stdout=True, stderr=True,
            tty=False, _preload_content=False)
ws.write_stdin("echo attached-$((40+2))\\nexit 3\\n")
ws.run_forever()
print("closed", not ws.is_open(), "out", "attached-42" in ws.read_all())
`,
    );
    expect(out).toContain("closed True out True");
  }, 40_000);

  it("a command still running when its pod is deleted, or when the client leaves", async () => {
    const out = await ends(
      "exec-gone.py",
      `import threading, time
ws = stream(v1.connect_get_namespaced_pod_exec, "doomed", "py", command=["sleep", "1000"],
            stdout=True, stderr=True, _preload_content=False)
ws.update(timeout=1)
threading.Thread(target=lambda: (time.sleep(0.5), v1.delete_namespaced_pod("doomed", "py", grace_period_seconds=0))).start()
ws.run_forever()
print("pod gone: closed", not ws.is_open(), "returncode", ws.returncode is not None)
ws = stream(v1.connect_get_namespaced_pod_exec, "box", "py", command=["sleep", "1000"],
            stdout=True, stderr=True, _preload_content=False)
ws.update(timeout=0.5)
ws.close()
print("client left: closed", not ws.is_open())
ws = stream(v1.connect_get_namespaced_pod_exec, "box", "py", command=["sh", "-c", "echo still-$((1+1))"], stdout=True)
print(ws.strip())
`,
    );
    expect(out).toContain("pod gone: closed True returncode True");
    expect(out).toContain("client left: closed True");
    expect(out).toContain("still-2");
  }, 40_000);

  it("an attach to a container without stdin, and a followed log, end when the pod is deleted", async () => {
    const made = await k([
      "run",
      "-n",
      "py",
      "quiet",
      "--image=busybox:1.36",
      "--restart=Never",
      "--",
      "sleep",
      "infinity",
    ]);
    expect(made.exitCode, made.stderr).toBe(0);
    const ready = await k(["wait", "-n", "py", "--for=condition=Ready", "pod/quiet", "--timeout=30s"]);
    expect(ready.exitCode, ready.stderr).toBe(0);
    const out = await ends(
      "attach-gone.py",
      `import threading, time
ws = stream(v1.connect_get_namespaced_pod_attach, "quiet", "py", stdout=True, stderr=True, tty=False,
            _preload_content=False)
log = v1.read_namespaced_pod_log("quiet", "py", follow=True, _preload_content=False)
ws.update(timeout=500)
threading.Thread(target=lambda: (time.sleep(0.5), v1.delete_namespaced_pod("quiet", "py", grace_period_seconds=0))).start()
ws.run_forever()
print("attach closed", not ws.is_open())
for chunk in log.stream():
    pass
print("log ended")
`,
    );
    expect(out).toContain("attach closed True");
    expect(out).toContain("log ended");
  }, 40_000);
});
