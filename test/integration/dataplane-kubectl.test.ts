/**
 * The dataplane as a learner meets it: the real kubectl against `SimHost` and the real simulated cluster (store,
 * controllers, Calico engine), on the wall clock. Pods that must fail DNS use `dnsConfig` (timeout:1 attempts:1) so a
 * blocked lookup costs one second, as it would on a real cluster with those options.
 */
import path from "node:path";
import pty from "node-pty";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { environment } from "../../server/src/config/options.ts";
import { startKubectlEnv, type Kubectl, type KubectlEnv } from "../helpers/kubectl.ts";

let env: KubectlEnv;
let k: Kubectl;

const pod = (name: string, image: string, labels: Record<string, string>) => `apiVersion: v1
kind: Pod
metadata: {name: ${name}, labels: ${JSON.stringify(labels)}}
spec:
  dnsConfig: {options: [{name: timeout, value: "1"}, {name: attempts, value: "1"}]}
  containers: [{name: main, image: ${image}, command: [sleep, infinity]}]
`;

const DEFAULT_DENY = `apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: default-deny}
spec:
  selector: projectcalico.org/namespace not in {'kube-system', 'calico-system', 'calico-apiserver'}
  types: [Ingress, Egress]
`;

const ALLOW_DNS = `apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: allow-dns}
spec:
  order: 10
  selector: projectcalico.org/namespace not in {'kube-system', 'calico-system', 'calico-apiserver'}
  types: [Egress]
  egress:
  - {action: Allow, protocol: UDP, destination: {selector: k8s-app == "kube-dns", namespaceSelector: all(), ports: [53]}}
  - {action: Allow, protocol: TCP, destination: {selector: k8s-app == "kube-dns", namespaceSelector: all(), ports: [53]}}
`;

const ALLOW_STRIPE = `apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: allow-stripe}
spec:
  order: 20
  selector: app == "shoot"
  types: [Egress]
  egress:
  - {action: Allow, destination: {domains: [api.stripe.com]}}
`;

beforeAll(async () => {
  env = await startKubectlEnv();
  k = await env.cluster({ id: "dataplane" });
  const created = await k(["apply", "-f", "-"], {
    input: `${pod("shoot", "nicolaka/netshoot", { app: "shoot" })}---\n${pod("access", "busybox:1.36", { run: "access" })}`,
  });
  expect(created.exitCode).toBe(0);
  const ready = await k(["wait", "--for=condition=Ready", "pod/shoot", "pod/access", "--timeout=30s"]);
  expect(ready.exitCode).toBe(0);
});
afterAll(async () => {
  await env?.close();
});

describe("kubectl exec in a simulated pod", () => {
  it("runs the tools with their real output; the outside sees the node address", async () => {
    const ip = await k(["exec", "shoot", "--", "curl", "-s", "ifconfig.me"]);
    expect(ip.exitCode).toBe(0);
    expect(ip.stdout).toMatch(/^172\.18\.0\.\d+$/);
    const ns = await k(["exec", "access", "--", "nslookup", "kubernetes.default"]);
    expect(ns.stdout).toContain("Name:\tkubernetes.default.svc.cluster.local\nAddress: 10.96.0.1");
    const sh = await k(["exec", "access", "--", "sh", "-c", "hostname && cat /etc/resolv.conf | head -n 1"]);
    expect(sh.stdout).toBe("access\nsearch default.svc.cluster.local svc.cluster.local cluster.local");
  });

  it("reports missing commands and exit codes as kubectl does", async () => {
    const missing = await k(["exec", "access", "--", "sh", "-c", "curl http://x"]);
    expect(missing.exitCode).toBe(127);
    expect(missing.stderr).toContain("sh: curl: not found");
    expect(missing.stderr).toContain("command terminated with exit code 127");
  });

  it("a default-deny without DNS: could not resolve / bad address; with DNS: timeouts; a domain rule opens one name", async () => {
    expect((await k(["apply", "-f", "-"], { input: DEFAULT_DENY })).exitCode).toBe(0);
    const curl = await k(["exec", "shoot", "--", "curl", "-sS", "-m", "5", "https://api.stripe.com"]);
    expect(curl.exitCode).toBe(6);
    expect(curl.stderr).toContain("curl: (6) Could not resolve host: api.stripe.com");
    const wget = await k(["exec", "access", "--", "wget", "-qO-", "-T", "1", "http://kubernetes"]);
    expect(wget.stderr).toContain("wget: bad address 'kubernetes'");

    expect((await k(["apply", "-f", "-"], { input: ALLOW_DNS })).exitCode).toBe(0);
    const timedOut = await k(["exec", "shoot", "--", "curl", "-sS", "-m", "1", "https://api.stripe.com"]);
    expect(timedOut.exitCode).toBe(28);
    expect(timedOut.stderr).toMatch(/curl: \(28\) Connection timed out after 10\d\d milliseconds/);

    expect((await k(["apply", "-f", "-"], { input: ALLOW_STRIPE })).exitCode).toBe(0);
    const ok = await k([
      "exec",
      "shoot",
      "--",
      "curl",
      "-s",
      "-m",
      "1",
      "-o",
      "/dev/null",
      "-w",
      "%{http_code}",
      "https://api.stripe.com",
    ]);
    expect(ok.stdout).toBe("200");
    const other = await k(["exec", "shoot", "--", "curl", "-s", "-m", "1", "https://www.google.com"]);
    expect(other.exitCode).toBe(28);
  });
});

describe("kubectl exec -it", () => {
  it("gives an interactive shell with a prompt, echo and exit codes", async () => {
    const term = pty.spawn("kubectl", ["exec", "-it", "access", "--", "sh"], {
      cols: 100,
      rows: 30,
      cwd: path.dirname(k.kubeconfigPath),
      env: { ...environment(), KUBECONFIG: k.kubeconfigPath, HOME: path.join(env.dir, "home") },
    });
    let screen = "";
    const waitFor = (re: RegExp): Promise<void> =>
      new Promise((resolve, reject) => {
        const t = setTimeout(
          () => reject(new Error(`timed out waiting for ${re}; saw ${JSON.stringify(screen)}`)),
          15_000,
        );
        const check = (): void => {
          if (re.test(screen)) {
            clearTimeout(t);
            resolve();
          } else setTimeout(check, 50);
        };
        check();
      });
    term.onData((d) => (screen += d));
    const exited = new Promise<number>((resolve) => term.onExit((e) => resolve(e.exitCode)));
    await waitFor(/\/ # $/);
    term.write("hostname; wget -qO- -T 1 http://10.96.0.1:443 ; echo rc=$?\r");
    await waitFor(/rc=\d+\r\n\/ # $/);
    expect(screen).toContain("access\r\n");
    term.write("exit 3\r");
    expect(await exited).toBe(3);
  });
});
