/**
 * `kubectl port-forward` into the simulated cluster with clients nobody here wrote: the real kubectl 1.32 (WebSocket
 * tunnel, and plain SPDY when websockets are switched off), client-node's `PortForward` and Debian's
 * python3-kubernetes (`kubernetes.stream.portforward`), both on `v4.channel.k8s.io`. Forwarded connections reach the
 * pod's listeners (nginx, Whisker) and bypass network policy, as the kubelet's do.
 */
import { PassThrough, Writable } from "node:stream";
import https from "node:https";
import path from "node:path";
import { execa, type ResultPromise } from "execa";
import { KubeConfig, PortForward } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { environment } from "../../server/src/config/options.ts";
import { startKubectlEnv, type Kubectl, type KubectlEnv } from "../helpers/kubectl.ts";
import { runPython } from "../helpers/python.ts";

let env: KubectlEnv;
let k: Kubectl;

const WEB = `apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop, labels: {app: web}}
spec:
  containers: [{name: nginx, image: nginx:1.27, ports: [{containerPort: 80}]}]
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 80}]
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: shop, labels: {app: client}}
spec:
  containers: [{name: main, image: curlimages/curl:8.11.1, command: [sleep, infinity]}]
`;

const DENY_SHOP = `apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: deny-shop}
spec:
  selector: projectcalico.org/namespace == "shop"
  types: [Ingress, Egress]
`;

interface Forward {
  port: number;
  stderr(): string;
  stop(): Promise<void>;
}

/** Starts `kubectl port-forward …` and waits for the local port it prints. */
async function portForward(
  kc: Kubectl,
  args: string[],
  extraEnv: Record<string, string> = {},
): Promise<Forward> {
  const p: ResultPromise = execa("kubectl", ["port-forward", ...args], {
    env: { ...environment(), KUBECONFIG: kc.kubeconfigPath, HOME: path.join(env.dir, "home"), ...extraEnv },
    extendEnv: false,
    reject: false,
    stdin: "ignore",
  });
  let out = "";
  let err = "";
  p.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  p.stderr!.on("data", (d: Buffer) => (err += d.toString()));
  for (let i = 0; i < 200 && !/Forwarding from 127\.0\.0\.1:\d+/.test(out); i++) {
    if (p.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const m = /Forwarding from 127\.0\.0\.1:(\d+)/.exec(out);
  if (!m) {
    p.kill();
    await p;
    throw new Error(`kubectl port-forward did not start: ${out}${err}`);
  }
  return {
    port: Number(m[1]),
    stderr: () => err,
    stop: async () => {
      p.kill();
      await p;
    },
  };
}

beforeAll(async () => {
  env = await startKubectlEnv();
  k = await env.cluster({ id: "portforward" });
  const applied = await k(["apply", "-f", "-"], { input: WEB });
  expect(applied.exitCode, applied.stderr).toBe(0);
  const ready = await k([
    "wait",
    "-n",
    "shop",
    "--for=condition=Ready",
    "pod/web",
    "pod/client",
    "--timeout=30s",
  ]);
  expect(ready.exitCode, ready.stderr).toBe(0);
}, 60_000);
afterAll(async () => {
  await env?.close();
});

describe("kubectl port-forward", () => {
  it("reaches Whisker through svc/whisker (WebSocket tunnel): the UI, the flow API and its event stream", async () => {
    // Traffic to find in the flows: client → web (allowed, reported at both ends).
    const curl = await k([
      "exec",
      "-n",
      "shop",
      "client",
      "--",
      "curl",
      "-s",
      "-o",
      "/dev/null",
      "http://web.shop",
    ]);
    expect(curl.exitCode, curl.stderr).toBe(0);
    const f = await portForward(k, ["-n", "calico-system", "svc/whisker", "0:8081"]);
    try {
      const filters = encodeURIComponent(
        JSON.stringify({ source_namespaces: [{ value: "shop", type: "Exact" }] }),
      );
      const list = await fetch(
        `http://127.0.0.1:${f.port}/whisker-backend/flows?startTimeGte=-600&filters=${filters}`,
      );
      expect(list.status).toBe(200);
      const body = (await list.json()) as { total: { totalPages: number }; items: Record<string, unknown>[] };
      expect(body.total.totalPages).toBe(1);
      expect(body.items).toContainEqual(
        expect.objectContaining({
          source_name: "client",
          source_namespace: "shop",
          source_labels: "app=client",
          dest_name: "web",
          dest_namespace: "shop",
          dest_port: 80,
          protocol: "tcp",
          action: "Allow",
          reporter: "Src",
        }),
      );
      expect(body.items.every((i) => i.source_namespace === "shop")).toBe(true);
      // The event stream replays from startTimeGte, then stays open.
      const ac = new AbortController();
      const sse = await fetch(
        `http://127.0.0.1:${f.port}/whisker-backend/flows?watch=true&startTimeGte=-600`,
        {
          signal: ac.signal,
        },
      );
      expect(sse.headers.get("content-type")).toBe("text/event-stream");
      const reader = sse.body!.getReader();
      let events = "";
      while (!events.includes('"source_name":"client"')) {
        const { value, done } = await reader.read();
        if (done) break;
        events += Buffer.from(value).toString();
      }
      ac.abort();
      expect(events).toMatch(/^data: \{"start_time":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"/);
      const ui = await fetch(`http://127.0.0.1:${f.port}/`);
      expect(ui.status).toBe(200);
      expect(await ui.text()).toContain("Whisker");
      // Several connections over one port-forward session, one after another and at once.
      const many = await Promise.all(
        [1, 2, 3, 4].map((i) =>
          fetch(
            `http://127.0.0.1:${f.port}/whisker-backend/flows-filter-hints?type=SourceNamespace&page=${i}`,
          ),
        ),
      );
      expect(many.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    } finally {
      await f.stop();
    }
  });

  it("reaches an nginx pod's listener over plain SPDY (websockets off), bypassing network policy", async () => {
    expect((await k(["apply", "-f", "-"], { input: DENY_SHOP })).exitCode).toBe(0);
    try {
      // From inside the cluster the policy drops the connection…
      const inside = await k(
        ["exec", "-n", "shop", "client", "--", "curl", "-sS", "-m", "1", "http://web.shop:80"],
        {
          timeout: 20_000,
        },
      );
      expect(inside.exitCode).not.toBe(0);
      // …but port-forward enters the pod's network namespace, as the kubelet does.
      const f = await portForward(k, ["-n", "shop", "pod/web", "0:80"], {
        KUBECTL_PORT_FORWARD_WEBSOCKETS: "false",
      });
      try {
        const r = await fetch(`http://127.0.0.1:${f.port}/`);
        expect(r.status).toBe(200);
        expect(r.headers.get("server")).toBe("nginx/1.27.3");
        expect(await r.text()).toContain("<title>Welcome to nginx!</title>");
        const missing = await fetch(`http://127.0.0.1:${f.port}/nope`);
        expect(missing.status).toBe(404);
      } finally {
        await f.stop();
      }
      const logs = await k(["logs", "-n", "shop", "web"]);
      expect(logs.stdout).toMatch(/127\.0\.0\.1 - - \[.*\] "GET \/ HTTP\/1\.1" 200 /);
    } finally {
      await k(["delete", "globalnetworkpolicy", "deny-shop"]);
    }
  }, 60_000);

  it("forwards a Service's port to its pod's named target port, by number and by the Service port's name", async () => {
    const api = `apiVersion: v1
kind: Pod
metadata: {name: api, namespace: shop, labels: {app: api}}
spec:
  containers:
  - {name: app, image: registry.example/api:1, ports: [{name: http, containerPort: 8080}]}
---
apiVersion: v1
kind: Service
metadata: {name: api, namespace: shop}
spec:
  selector: {app: api}
  ports: [{name: web, port: 80, targetPort: http}]
`;
    expect((await k(["apply", "-f", "-"], { input: api })).exitCode).toBe(0);
    expect(
      (await k(["wait", "-n", "shop", "--for=condition=Ready", "pod/api", "--timeout=30s"])).exitCode,
    ).toBe(0);
    try {
      for (const remote of ["80", "web"]) {
        const f = await portForward(k, ["-n", "shop", "svc/api", `0:${remote}`]);
        try {
          const r = await fetch(`http://127.0.0.1:${f.port}/`);
          expect(r.status).toBe(200);
          expect(await r.text()).toBe("api\n");
        } finally {
          await f.stop();
        }
      }
    } finally {
      await k(["delete", "-n", "shop", "svc/api", "pod/api", "--wait=false"]);
    }
  });

  it("puts the kubelet's error on the error stream when nothing listens on the port", async () => {
    const f = await portForward(k, ["-n", "shop", "pod/web", "0:81"]);
    try {
      await fetch(`http://127.0.0.1:${f.port}/`).catch(() => undefined);
      for (let i = 0; i < 50 && !f.stderr().includes("error forwarding port"); i++)
        await new Promise((r) => setTimeout(r, 50));
    } finally {
      await f.stop();
    }
    // kubectl logs the error with its quotes escaped.
    const text = f.stderr().replace(/\\"/g, '"');
    expect(text).toMatch(
      /an error occurred forwarding \d+ -> 81: error forwarding port 81 to pod [0-9a-f]{64}, uid : failed to execute portforward in network namespace "\/var\/run\/netns\/cni-[0-9a-f-]+": failed to connect to localhost:81 inside namespace "[0-9a-f]{64}", IPv4: dial tcp4 127\.0\.0\.1:81: connect: connection refused IPv6 dial tcp6 \[::1\]:81: connect: connection refused/,
    );
  });

  it("Whisker is closed to the cluster's network by the calico-system tier's policy; port-forward still reaches it", async () => {
    const r = await k([
      "exec",
      "-n",
      "shop",
      "client",
      "--",
      "curl",
      "-sS",
      "-m",
      "2",
      "http://whisker.calico-system:8081/whisker-backend/flows-filter-hints?type=DestName&startTimeGte=-600",
    ]);
    expect(r.exitCode, r.stdout).toBe(28);
    // The denial is Whisker's destination-side verdict: the end of the calico-system tier, which
    // calico-system.whisker (Ingress, no rule) sends it to.
    const f = await portForward(k, ["-n", "calico-system", "svc/whisker", "0:8081"]);
    try {
      type Hit = { kind: string; tier: string; action: string; trigger: { name: string } | null };
      type Flow = { source_name: string; dest_namespace: string; reporter: string; action: string };
      let denied: (Flow & { policies: { enforced: Hit[] } }) | undefined;
      for (let i = 0; i < 50 && !denied; i++) {
        const list = (await (
          await fetch(`http://127.0.0.1:${f.port}/whisker-backend/flows?startTimeGte=-600`)
        ).json()) as { items: (Flow & { policies: { enforced: Hit[] } })[] };
        denied = list.items.find(
          (x) => x.dest_namespace === "calico-system" && x.reporter === "Dst" && x.action === "Deny",
        );
        if (!denied) await new Promise((res) => setTimeout(res, 200));
      }
      expect(denied).toMatchObject({ source_name: "client", action: "Deny" });
      expect(denied?.policies.enforced.at(-1)).toMatchObject({
        kind: "EndOfTier",
        tier: "calico-system",
        action: "Deny",
        trigger: { name: "calico-system.whisker" },
      });
    } finally {
      await f.stop();
    }
  });

  it("refuses a pod that does not exist, as the API server does", async () => {
    const r = await k(["port-forward", "-n", "shop", "pod/ghost", "0:80"], { timeout: 20_000 });
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toContain('pods "ghost" not found');
  });
});

/** A WebSocket port-forward upgrade sent by hand; resolves with the refusal's status, content type and body. */
async function refusedUpgrade(
  kc: Kubectl,
  ns: string,
  pod: string,
): Promise<{ status: number; type: string; body: string }> {
  const config = new KubeConfig();
  config.loadFromString(kc.kubeconfig);
  const server = new URL(config.getCurrentCluster()!.server);
  const opts: https.RequestOptions = {
    method: "GET",
    host: server.hostname,
    port: server.port,
    path: `${server.pathname.replace(/\/$/, "")}/api/v1/namespaces/${ns}/pods/${pod}/portforward?ports=80`,
    headers: {
      Connection: "Upgrade",
      Upgrade: "websocket",
      "Sec-WebSocket-Version": "13",
      "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
      "Sec-WebSocket-Protocol": "v4.channel.k8s.io",
    },
  };
  await config.applyToHTTPSOptions(opts);
  return new Promise((resolve, reject) => {
    const req = https.request(opts);
    req.on("upgrade", (_res, socket) => {
      socket.destroy();
      reject(new Error("the upgrade was accepted"));
    });
    req.on("response", (res) => {
      let body = "";
      res.on("data", (d: Buffer) => (body += d.toString()));
      res.on("end", () =>
        resolve({ status: res.statusCode ?? 0, type: String(res.headers["content-type"]), body }),
      );
    });
    req.on("error", reject);
    req.end();
  });
}

describe("port-forward to a pod that is not running", () => {
  it("kubectl refuses it itself; other clients get the API server's Status or the kubelet's plain answer", async () => {
    const pods = `apiVersion: v1
kind: Pod
metadata: {name: nowhere, namespace: shop}
spec:
  nodeSelector: {egresslab.io/no-such-node: "true"}
  containers: [{name: nginx, image: nginx:1.27}]
---
apiVersion: v1
kind: Pod
metadata: {name: done, namespace: shop}
spec:
  restartPolicy: Never
  containers: [{name: main, image: busybox:1.36, command: ["true"]}]
`;
    expect((await k(["apply", "-f", "-"], { input: pods })).exitCode).toBe(0);
    let phase = "";
    for (let i = 0; i < 100 && phase !== "Succeeded"; i++) {
      phase = (await k(["get", "pod", "-n", "shop", "done", "-o", "jsonpath={.status.phase}"])).stdout;
      if (phase !== "Succeeded") await new Promise((r) => setTimeout(r, 100));
    }
    expect(phase).toBe("Succeeded");

    for (const [pod, status] of [
      ["nowhere", "Pending"],
      ["done", "Succeeded"],
    ]) {
      const r = await k(["port-forward", "-n", "shop", `pod/${pod}`, "0:80"], { timeout: 20_000 });
      expect(r.exitCode).toBe(1);
      expect(r.stderr).toBe(
        `error: unable to forward port because pod is not running. Current status=${status}`,
      );
    }

    // No node: the API server's PortForwardLocation.
    const unscheduled = await refusedUpgrade(k, "shop", "nowhere");
    expect(unscheduled.status).toBe(400);
    expect(JSON.parse(unscheduled.body)).toMatchObject({
      kind: "Status",
      status: "Failure",
      message: "pod nowhere does not have a host assigned",
      reason: "BadRequest",
      code: 400,
    });
    // Ended: the kubelet's runtime lists no running sandbox for it; the API server passes its answer on.
    expect(await refusedUpgrade(k, "shop", "done")).toEqual({
      status: 500,
      type: "text/plain; charset=utf-8",
      body: 'pod not found ("done_shop")',
    });
    await k(["delete", "pod", "-n", "shop", "nowhere", "done", "--wait=false"]);
  }, 60_000);
});

describe("the workshop cluster", () => {
  it("forwards to a shop Service's pod and shows the shop's generated traffic in Whisker", async () => {
    const w = await env.cluster({ id: "pf-workshop", profile: "egress-workshop" });
    const ready = await w(["wait", "-n", "shop", "--for=condition=Ready", "pods", "--all", "--timeout=30s"]);
    expect(ready.exitCode, ready.stderr).toBe(0);
    const shop = await portForward(w, ["-n", "shop", "svc/catalog", "0:8080"]);
    try {
      const r = await fetch(`http://127.0.0.1:${shop.port}/products`);
      expect(r.status).toBe(200);
      expect(await r.text()).toMatch(/^catalog-[a-z0-9]+-[a-z0-9]+\n$/);
    } finally {
      await shop.stop();
    }
    const whisker = await portForward(w, ["-n", "calico-system", "svc/whisker", "0:8081"]);
    try {
      const filters = encodeURIComponent(
        JSON.stringify({
          source_names: [{ value: "storefront", type: "Fuzzy" }],
          dest_ports: [{ value: 8080 }],
        }),
      );
      let items: Record<string, unknown>[] = [];
      for (let i = 0; i < 60 && items.length === 0; i++) {
        const r = await fetch(`http://127.0.0.1:${whisker.port}/whisker-backend/flows?filters=${filters}`);
        items = ((await r.json()) as { items: Record<string, unknown>[] }).items;
        if (items.length === 0) await new Promise((res) => setTimeout(res, 500));
      }
      expect(items).toContainEqual(
        expect.objectContaining({
          source_namespace: "shop",
          dest_namespace: "shop",
          dest_port: 8080,
          action: "Allow",
        }),
      );
      expect(items.every((f) => String(f.source_name).startsWith("storefront-"))).toBe(true);
    } finally {
      await whisker.stop();
    }
  }, 60_000);
});

describe("client libraries' port-forward (v4.channel.k8s.io)", () => {
  it("client-node's PortForward reaches the pod's HTTP listener", async () => {
    const kc = new KubeConfig();
    kc.loadFromString(k.kubeconfig);
    const input = new PassThrough();
    let out = "";
    let errText = "";
    let gotResponse: () => void = () => {};
    const answered = new Promise<void>((r) => (gotResponse = r));
    const output = new Writable({
      write(chunk: Buffer, _e, cb) {
        out += chunk.toString();
        if (out.includes("</html>")) gotResponse();
        cb();
      },
    });
    const errors = new Writable({
      write(chunk: Buffer, _e, cb) {
        errText += chunk.toString();
        cb();
      },
    });
    const ws = (await new PortForward(kc).portForward("shop", "web", [80], output, errors, input)) as {
      close(): void;
    };
    input.write("GET / HTTP/1.1\r\nHost: web\r\nConnection: close\r\n\r\n");
    await Promise.race([answered, new Promise((r) => setTimeout(r, 10_000))]);
    ws.close();
    expect(errText).toBe("");
    expect(out).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(out).toContain("<title>Welcome to nginx!</title>");
  });

  it("Debian's python3-kubernetes portforward reaches Whisker's API", async () => {
    const pods = await k(["get", "pods", "-n", "calico-system", "-l", "k8s-app=whisker", "-o", "name"]);
    const pod = pods.stdout.trim().replace(/^pod\//, "");
    expect(pod).toMatch(/^whisker-/);
    const r = await runPython(
      env.dir,
      "pf.py",
      `pf = portforward(v1.connect_get_namespaced_pod_portforward, sys.argv[2], "calico-system", ports="8081")
s = pf.socket(8081)
s.setblocking(True)
s.sendall(b"GET /whisker-backend/flows?startTimeGte=-60 HTTP/1.1\\r\\nHost: whisker\\r\\nConnection: close\\r\\n\\r\\n")
data = b""
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    data += chunk
s.close()
sys.stdout.write(data.decode())
err = pf.error(8081)
if err:
    sys.stderr.write(err)
`,
      k.kubeconfigPath,
      [pod],
    );
    expect(r.stderr).toBe("");
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(r.stdout).toContain('{"total":{"totalPages":');
  }, 40_000);
});

describe("the API server's service proxy (services/{name}:{port}/proxy)", () => {
  it("reaches a Service's pod from the API server's host, with policy applied: Whisker's stays closed", async () => {
    const p = await env.cluster({ id: "svc-proxy" });
    expect((await p(["apply", "-f", "-"], { input: WEB })).exitCode).toBe(0);
    const ready = await p(["wait", "-n", "shop", "--for=condition=Ready", "pod/web", "--timeout=30s"]);
    expect(ready.exitCode, ready.stderr).toBe(0);
    const web = await p(["get", "--raw", "/api/v1/namespaces/shop/services/web:80/proxy/"]);
    expect(web.exitCode, web.stderr).toBe(0);
    expect(web.stdout).toMatch(/Welcome to nginx/);
    // Without a port (the Service has one) and by scheme:name:port, as Go's SplitSchemeNamePort reads them.
    expect((await p(["get", "--raw", "/api/v1/namespaces/shop/services/web/proxy/"])).stdout).toMatch(
      /nginx/,
    );
    expect((await p(["get", "--raw", "/api/v1/namespaces/shop/services/http:web:80/proxy/"])).exitCode).toBe(
      0,
    );

    // calico-system.whisker admits nothing: the API server's dial is dropped, as on a real cluster.
    const pod = JSON.parse(
      (await p(["get", "pods", "-n", "calico-system", "-l", "k8s-app=whisker", "-o", "json"])).stdout,
    ) as { items: { status: { podIP: string } }[] };
    const ip = pod.items[0]!.status.podIP;
    const whisker = await p([
      "get",
      "--raw",
      "/api/v1/namespaces/calico-system/services/whisker:8081/proxy/whisker-backend/flows?startTimeGte=-600",
    ]);
    expect(whisker.exitCode).toBe(1);
    expect(whisker.stderr.trim()).toBe(
      `Error from server (ServiceUnavailable): error trying to reach service: dial tcp ${ip}:8081: i/o timeout`,
    );
    // It is the policy that stops it: without it, the proxy reaches Whisker.
    const del = await p([
      "delete",
      "networkpolicies.projectcalico.org",
      "-n",
      "calico-system",
      "calico-system.whisker",
    ]);
    expect(del.exitCode, del.stderr).toBe(0);
    const open = await p([
      "get",
      "--raw",
      "/api/v1/namespaces/calico-system/services/whisker:8081/proxy/whisker-backend/flows?startTimeGte=-600",
    ]);
    expect(open.exitCode, open.stderr).toBe(0);
    expect(JSON.parse(open.stdout)).toMatchObject({
      total: { totalPages: expect.any(Number) },
      items: expect.any(Array),
    });
    // A policy denying the shop's ingress stops the proxy to the shop too.
    expect((await p(["apply", "-f", "-"], { input: DENY_SHOP })).exitCode).toBe(0);
    const denied = await p(["get", "--raw", "/api/v1/namespaces/shop/services/web:80/proxy/"]);
    expect(denied.stderr).toMatch(
      /\(ServiceUnavailable\): error trying to reach service: dial tcp [\d.]+:80: i\/o timeout/,
    );
  });

  it.each([
    {
      path: "/api/v1/namespaces/shop/services/a:b:c:d/proxy/",
      code: /BadRequest.*invalid service request "a:b:c:d"/,
    },
    {
      path: "/api/v1/namespaces/shop/services/ftp:web:80/proxy/",
      code: /BadRequest.*invalid service request/,
    },
    {
      path: "/api/v1/namespaces/shop/services/ghost:80/proxy/",
      code: /NotFound.*services "ghost" not found/,
    },
    {
      path: "/api/v1/namespaces/shop/services/web:8443/proxy/",
      code: /ServiceUnavailable.*no endpoints available for service "web"/,
    },
  ])("answers $path as the API server does", async ({ path: p0, code }) => {
    const r = await k(["get", "--raw", p0]);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(code);
  });
});
