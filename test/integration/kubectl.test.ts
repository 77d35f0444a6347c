/**
 * A new user's session with the real kubectl against `SimHost` and the real simulated cluster (store, controllers,
 * dataplane): what they see must be what a kind cluster with Calico shows them.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeFileSync, readFileSync, existsSync } from "node:fs";
import path from "node:path";
import pty from "node-pty";
import { startKubectlEnv, type Kubectl, type KubectlEnv } from "../helpers/kubectl.ts";
import { environment } from "../../server/src/config/options.ts";

const SHARED = path.join(import.meta.dirname, "..", "..", "..", "shared", "realworld-yaml");

let env: KubectlEnv;
let k: Kubectl;

beforeAll(async () => {
  env = await startKubectlEnv();
  k = await env.cluster({ id: "learner" });
});
afterAll(async () => {
  await env?.close();
});

describe("kubectl against a simulated cluster", () => {
  it("shows the kind-like system namespaces and pods", async () => {
    const ns = await k(["get", "ns"]);
    expect(ns.stdout).toMatch(/^NAME\s+STATUS\s+AGE\n/);
    for (const n of ["calico-system", "kube-system", "default"])
      expect(ns.stdout).toMatch(new RegExp(`\\n${n}\\s+Active\\s`));
    const pods = await k(["get", "pods", "-A"]);
    expect(pods.stdout).toMatch(/^NAMESPACE\s+NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE\n/);
    expect(pods.stdout).toMatch(/kube-system\s+coredns-[a-z0-9]+-[a-z0-9]{5}\s+1\/1\s+Running/);
  });

  it("applies Calico policy from the docs, lists it with the short name, and deletes it", async () => {
    const file = path.join(SHARED, "tigera-docs__calico-kubernetes-default-deny__deny-app-policy.yaml");
    const doc = existsSync(file)
      ? readFileSync(file, "utf8")
      : "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata:\n  name: deny-app-policy\nspec:\n  selector: all()\n  types: [Egress]\n";
    const local = path.join(env.dir, "gnp.yaml");
    writeFileSync(local, doc);
    expect((await k(["apply", "-f", local])).stdout.trim()).toBe(
      "globalnetworkpolicy.projectcalico.org/deny-app-policy created",
    );
    expect((await k(["apply", "-f", local])).stdout.trim()).toBe(
      "globalnetworkpolicy.projectcalico.org/deny-app-policy unchanged",
    );
    expect((await k(["get", "gnp"])).stdout).toMatch(/\ndeny-app-policy\s/);
    expect((await k(["delete", "-f", local])).stdout.trim()).toBe(
      'globalnetworkpolicy.projectcalico.org "deny-app-policy" deleted',
    );
    expect((await k(["get", "gnp", "deny-app-policy"])).stderr.trim()).toBe(
      'Error from server (NotFound): globalnetworkpolicies.projectcalico.org "deny-app-policy" not found',
    );
  });

  it("applies a custom resource twice with a change (kubectl's client-side apply falls back to a merge patch)", async () => {
    const local = path.join(env.dir, "goldmane.yaml");
    const doc = (team: string) =>
      `apiVersion: operator.tigera.io/v1\nkind: Goldmane\nmetadata:\n  name: default\n  labels:\n    team: ${team}\n`;
    writeFileSync(local, doc("red"));
    const first = await k(["apply", "-f", local]);
    expect(first.stderr).not.toMatch(/UnsupportedMediaType/);
    writeFileSync(local, doc("blue"));
    const second = await k(["apply", "-f", local]);
    expect(second.stderr).toBe("");
    expect(second.stdout.trim()).toBe("goldmane.operator.tigera.io/default configured");
    expect((await k(["get", "goldmane", "default", "-o", "jsonpath={.metadata.labels.team}"])).stdout).toBe(
      "blue",
    );
  });

  it("rejects what a real cluster rejects: unknown fields, invalid names, unserved kinds", async () => {
    const unknown = await k(["apply", "-f", "-"], {
      input: "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\nspec:\n  foo: 1\n",
    });
    expect(unknown.exitCode).toBe(1);
    expect(unknown.stderr).toContain('unknown field "spec"');
    const badName = await k(["create", "ns", "Bad_Name"]);
    expect(badName.exitCode).toBe(1);
    expect(badName.stderr).toContain(
      "a lowercase RFC 1123 label must consist of lower case alphanumeric characters",
    );
    const alert = await k(["apply", "-f", "-"], {
      input: "apiVersion: projectcalico.org/v3\nkind: GlobalAlert\nmetadata:\n  name: a\nspec: {}\n",
    });
    expect(alert.stderr).toContain('no matches for kind "GlobalAlert" in version "projectcalico.org/v3"');
    const malformed = await k(["apply", "-f", "-"], {
      input: "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [oops\n",
    });
    expect(malformed.exitCode).toBe(1);
    expect(malformed.stderr).toContain("error converting YAML to JSON");
  });

  it("runs a deployment to completion, scales it and describes its pods with events", async () => {
    expect((await k(["create", "deployment", "web", "--image=nginx", "--replicas=2"])).stdout.trim()).toBe(
      "deployment.apps/web created",
    );
    const rollout = await k(["rollout", "status", "deploy/web", "--timeout=20s"]);
    expect(rollout.stdout).toContain('deployment "web" successfully rolled out');
    expect((await k(["scale", "deploy/web", "--replicas=3"])).stdout.trim()).toBe(
      "deployment.apps/web scaled",
    );
    await k(["rollout", "status", "deploy/web", "--timeout=20s"]);
    expect((await k(["get", "deploy", "web"])).stdout).toMatch(/\nweb\s+3\/3\s+3\s+3\s/);
    const pod = (await k(["get", "pods", "-l", "app=web", "-o", "name"])).stdout.split("\n")[0]!;
    const desc = await k(["describe", pod]);
    expect(desc.stdout).toMatch(/Status:\s+Running/);
    expect(desc.stdout).toMatch(/Normal\s+Scheduled/);
  });

  it("explains Calico fields, shows logs and rejects invalid selectors", async () => {
    const explain = await k(["explain", "gnp.spec"]);
    expect(explain.stdout).toMatch(/GROUP:\s+projectcalico.org\nKIND:\s+GlobalNetworkPolicy\nVERSION:\s+v3/);
    expect(explain.stdout).toMatch(/\n {2}egress\t<\[\]Object>/);
    const pod = (
      await k(["-n", "kube-system", "get", "pods", "-l", "k8s-app=kube-dns", "-o", "name"])
    ).stdout.split("\n")[0]!;
    const logs = await k(["-n", "kube-system", "logs", pod, "--tail=2"]);
    expect(logs.exitCode).toBe(0);
    expect(logs.stdout.split("\n").length).toBeLessThanOrEqual(2);
    const all = (await k(["-n", "kube-system", "logs", pod])).stdout;
    const follow = await k(["-n", "kube-system", "logs", "-f", pod], { timeout: 2500 });
    expect(follow.exitCode).not.toBe(0); // still following when stopped
    expect(follow.stdout).toContain(all.split("\n")[0]!);
    const sel = await k(["get", "pods", "-l", "app in ("]);
    expect(sel.exitCode).toBe(1);
    expect(sel.stderr).toMatch(/^Error from server \(BadRequest\): .*unable to parse requirement/);
  });

  /** A pod with a shell (CoreDNS, distroless, has none), made once. */
  let shellPod: Promise<string> | undefined;
  const withShell = (): Promise<string> =>
    (shellPod ??= (async () => {
      await k(["run", "shell", "--image=busybox:1.36", "--", "sleep", "infinity"]);
      await k(["wait", "--for=condition=Ready", "pod/shell", "--timeout=20s"]);
      return "pod/shell";
    })());

  it("execs into a pod and passes exit codes through; CoreDNS has no shell, as on a real cluster", async () => {
    const pod = await withShell();
    const host = await k(["exec", pod, "--", "hostname"]);
    expect(host.stdout.trim()).toBe(pod.slice("pod/".length));
    const fail = await k(["exec", pod, "--", "sh", "-c", "exit 3"]);
    expect(fail.exitCode).toBe(3);
    expect(fail.stderr).toContain("command terminated with exit code 3");
    const dns = (
      await k(["-n", "kube-system", "get", "pods", "-l", "k8s-app=kube-dns", "-o", "name"])
    ).stdout.split("\n")[0]!;
    expect(dns).toMatch(/^pod\/coredns-/);
    const none = await k(["-n", "kube-system", "exec", dns, "--", "sh", "-c", "exit 3"]);
    expect(none.exitCode).toBe(1);
    expect(none.stderr).toContain('exec: "sh": executable file not found in $PATH: unknown');
  });

  it("runs an interactive shell with -it in a terminal, and exits with its code", async () => {
    const pod = await withShell();
    const term = pty.spawn("kubectl", ["exec", "-it", pod, "--", "sh"], {
      cols: 100,
      rows: 30,
      cwd: env.dir,
      env: { ...environment(), KUBECONFIG: k.kubeconfigPath, HOME: path.join(env.dir, "home") } as Record<
        string,
        string
      >,
    });
    let out = "";
    term.onData((d) => (out += d));
    const exited = new Promise<number>((resolve) => term.onExit(({ exitCode }) => resolve(exitCode)));
    const waitFor = async (re: RegExp): Promise<void> => {
      for (let i = 0; i < 200 && !re.test(out); i++) await new Promise((r) => setTimeout(r, 50));
      expect(out).toMatch(re);
    };
    await waitFor(/# $/m);
    term.write("hostname\r");
    await waitFor(new RegExp(pod.slice("pod/".length)));
    term.write("exit 5\r");
    expect(await exited).toBe(5);
    expect(out).toContain("command terminated with exit code 5");
  });

  it("runs a throw-away pod with kubectl run --rm -i and returns its exit code", async () => {
    const r = await k(["run", "tmp", "--rm", "-i", "--image=busybox", "--restart=Never", "--", "sh"], {
      input: "hostname\nexit 3\n",
      timeout: 30_000,
    });
    expect(r.stdout).toMatch(/^tmp$/m);
    expect(r.stdout).toContain('pod "tmp" deleted');
    expect(r.stderr).toContain("pod default/tmp terminated (Error)");
    expect(r.exitCode).toBe(3);
  });

  it("runs a pod's command to its end: Completed or Error, with what it printed as its log", async () => {
    const names = ["hello", "fails", "sleeper"];
    await k(["run", "hello", "--image=busybox", "--restart=Never", "--", "echo", "hi"]);
    await k(["run", "fails", "--image=busybox", "--restart=Never", "--", "sh", "-c", "exit 3"]);
    await k(["run", "sleeper", "--image=busybox", "--restart=Never", "--", "sleep", "3600"]);
    let get = "";
    for (let i = 0; i < 20 && !/\nfails\s+0\/1\s+Error/.test(get); i++) {
      if (i) await new Promise((r) => setTimeout(r, 100));
      get = (await k(["get", "pods", ...names])).stdout;
    }
    expect(get).toMatch(/\nhello\s+0\/1\s+Completed\s+0\s/);
    expect(get).toMatch(/\nfails\s+0\/1\s+Error\s+0\s/);
    expect(get).toMatch(/\nsleeper\s+1\/1\s+Running\s+0\s/);
    expect((await k(["logs", "hello"])).stdout).toBe("hi");
    const code = await k([
      "get",
      "pod",
      "fails",
      "-o",
      "jsonpath={.status.phase} {.status.containerStatuses[0].state.terminated.exitCode}",
    ]);
    expect(code.stdout).toBe("Failed 3");
    await k(["delete", "pod", ...names, "--wait=false"]);
  });

  it("watches changes with get -w", async () => {
    const watching = k(["get", "cm", "-w", "--request-timeout=3s"], { timeout: 10_000 });
    await new Promise((r) => setTimeout(r, 1500));
    await k(["create", "cm", "watched", "--from-literal=a=b"]);
    const r = await watching;
    expect(r.stdout).toMatch(/\nwatched\s+1\s/);
  });

  it("rejects a flow query with bad filters with a 400, also when it asks to watch", async () => {
    for (const q of ["action=maybe", "watch=true&action=maybe"]) {
      const r = await k(["get", "--raw", `/egresslab/v1/flows?${q}`], { timeout: 10_000 });
      expect(r.exitCode).not.toBe(0);
      expect(r.stderr).toContain("BadRequest");
    }
  });
});

describe("an oss cluster", () => {
  it("serves fewer kinds: Enterprise-only kinds are unknown to kubectl, as on Calico Open Source", async () => {
    const oss = await env.cluster({ id: "oss", edition: "oss" });
    expect((await oss(["get", "egressgateways"])).stderr.trim()).toBe(
      'error: the server doesn\'t have a resource type "egressgateways"',
    );
    const r = await oss(["apply", "-f", "-"], {
      input: "apiVersion: projectcalico.org/v3\nkind: EgressGatewayPolicy\nmetadata:\n  name: p\nspec: {}\n",
    });
    expect(r.stderr).toContain('no matches for kind "EgressGatewayPolicy" in version "projectcalico.org/v3"');
    expect((await oss(["get", "gnp"])).exitCode).toBe(0);
  });
});

describe("SimHost persistence", () => {
  it("keeps the cluster and its kubeconfig working across a restart", async () => {
    const dataDir = path.join(env.dir, "data");
    const first = await startKubectlEnv({ dataDir });
    const kc = await first.cluster({ id: "kept" });
    await kc(["create", "cm", "survivor", "--from-literal=x=y"]);
    await first.host.close();
    const second = await startKubectlEnv({ dataDir });
    try {
      expect(second.host.url).toBe(first.host.url);
      const r = await kc(["get", "cm", "survivor", "-o", "jsonpath={.data.x}"]);
      expect(r.stdout).toBe("y");
    } finally {
      await second.close();
      await first.close();
    }
  });
});
