/**
 * The kubelet side of port-forward: the in-memory connection, HTTP over it to a simulated peer, the kubelet's error;
 * `PodRuntime.portForward` of a cluster: policy bypassed, sidecars' ports, the refusals of the API server, kubelet
 * and containerd, many connections at once.
 */
import type { Duplex } from "node:stream";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Peer } from "../../net/podnet.ts";
import { createTestCluster, podObject, type TestCluster } from "../../net/testkit.ts";
import type { KubeObject } from "../../store/types.ts";
import { connectListener, duplexPair, noListenerMessage, peerListener, sandboxId } from "./port-forward.ts";

const peer: Peer = {
  description: "web",
  speaksHttp: true,
  certificateValidFor: () => false,
  http: (req) => ({
    status: 200,
    reason: "OK",
    headers: { "content-type": "text/plain", "content-length": String(req.path.length + req.body.length) },
    body: req.path + req.body,
  }),
};

function roundTrip(raw: string, done: (t: string) => boolean): Promise<string> {
  const conn = connectListener(peerListener(peer, 80));
  return new Promise((resolve, reject) => {
    let text = "";
    const t = setTimeout(() => reject(new Error(`timed out: ${text}`)), 5000);
    conn.on("data", (d: Buffer) => {
      text += d.toString();
      if (done(text)) {
        clearTimeout(t);
        conn.destroy();
        resolve(text);
      }
    });
    conn.write(raw);
  });
}

describe("port-forward into a pod", () => {
  it("holds a writer back while its reader does not read", async () => {
    const [a, b] = duplexPair();
    let accepted = 0;
    while (a.write(Buffer.alloc(64 * 1024)) && accepted < 1000) accepted++;
    expect(accepted).toBeLessThan(10); // the writer saw backpressure almost at once
    expect(b.readableLength).toBeLessThanOrEqual(b.readableHighWaterMark + 64 * 1024);
    let got = 0;
    b.on("data", (d: Buffer) => (got += d.length));
    await new Promise((r) => a.once("drain", r));
    a.end();
    await new Promise((r) => b.once("end", r));
    expect(got).toBe((accepted + 1) * 64 * 1024);
  });

  it("delivers what was written before a close to a reader that was paused, then ends it; an error closes at once", async () => {
    const [a, b] = duplexPair();
    b.pause();
    a.write("first ");
    a.write("second");
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    a.destroy();
    expect(b.destroyed).toBe(false);
    let got = "";
    b.on("data", (d: Buffer) => (got += d.toString()));
    const closed = new Promise((r) => b.once("close", r));
    b.resume();
    await closed;
    expect(got).toBe("first second");

    const [c, d] = duplexPair();
    d.pause();
    d.on("error", () => {});
    c.on("error", () => {});
    c.write("lost");
    await new Promise((r) => setImmediate(r));
    c.destroy(new Error("reset"));
    expect(d.destroyed).toBe(true);
  });

  it("serves a simulated peer over HTTP/1.1: keep-alive, HEAD, bodies, oversized bodies", async () => {
    const two = await roundTrip(
      "GET /a HTTP/1.1\r\nHost: x\r\n\r\nPOST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nxyz",
      (t) => t.split("HTTP/1.1 200 OK").length === 3 && t.endsWith("/bxyz"),
    );
    expect(two).toContain("\r\n\r\n/aHTTP/1.1 200 OK");
    const head = await roundTrip("HEAD /abc HTTP/1.1\r\nHost: x\r\n\r\n", (t) => t.includes("\r\n\r\n"));
    expect(head).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*content-length: 4\r\n[\s\S]*\r\n\r\n$/);
    const big = await roundTrip(
      `POST / HTTP/1.1\r\nHost: x\r\nContent-Length: ${2 << 20}\r\n\r\n${"z".repeat(2 << 20)}`,
      (t) => t.includes("413"),
    );
    expect(big).toMatch(/^HTTP\/1\.1 413 /);
    const garbage = await roundTrip("\x16\x03\x01 not http\r\n\r\n", (t) => t.includes("400"));
    expect(garbage).toMatch(/^HTTP\/1\.1 400 Bad Request/);
  });

  it("words a closed port as the kubelet around containerd 2.0 does", () => {
    const pod = { metadata: { name: "web", namespace: "shop", uid: "u-1" } } as KubeObject;
    const m = noListenerMessage(pod, 81);
    expect(m).toMatch(
      /^error forwarding port 81 to pod ([0-9a-f]{64}), uid : failed to execute portforward in network namespace "\/var\/run\/netns\/cni-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}": failed to connect to localhost:81 inside namespace "\1", IPv4: dial tcp4 127\.0\.0\.1:81: connect: connection refused IPv6 dial tcp6 \[::1\]:81: connect: connection refused $/,
    );
    expect(noListenerMessage(pod, 81)).toBe(m);
  });
});

/** One HTTP/1.1 GET over a forwarded connection; resolves with the whole response once the server closes it. */
function get(conn: Duplex, path = "/"): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = "";
    const t = setTimeout(() => reject(new Error(`no answer: ${text}`)), 10_000);
    conn.on("data", (d: Buffer) => (text += d.toString()));
    conn.on("error", reject);
    conn.on("close", () => {
      clearTimeout(t);
      resolve(text);
    });
    conn.on("end", () => conn.destroy());
    conn.write(`GET ${path} HTTP/1.1\r\nHost: localhost\r\nUser-Agent: test\r\nConnection: close\r\n\r\n`);
  });
}

const failure = async (p: () => unknown): Promise<{ code?: number; name: string; message: string }> => {
  try {
    await p();
  } catch (err) {
    const e = err as Error & { code?: number };
    return { name: e.name, message: e.message, ...(e.code !== undefined ? { code: e.code } : {}) };
  }
  throw new Error("did not fail");
};

describe("PodRuntime.portForward: what the kubelet connects a forwarded stream to", () => {
  let tc: TestCluster;
  const pf = (name: string, ns = "shop") => tc.dataplane.runtime.portForward!(ns, name);
  const withStatus = (p: KubeObject, spec: Record<string, unknown>, status: Record<string, unknown>) => ({
    ...p,
    spec: { ...(p.spec as object), ...spec },
    status,
  });

  beforeEach(() => {
    tc = createTestCluster({ traffic: false });
    tc.apply({
      apiVersion: "v1",
      kind: "Namespace",
      metadata: { name: "shop", labels: { "kubernetes.io/metadata.name": "shop" } },
    });
    tc.addPod({
      namespace: "shop",
      name: "web",
      ip: "192.168.1.10",
      image: "nginx:1.27",
      labels: { app: "web" },
      ports: [{ containerPort: 80 }],
    });
    tc.addPod({ namespace: "shop", name: "client", ip: "192.168.1.11", labels: { app: "client" } });
  });
  afterEach(() => tc.close());

  it("reaches the pod's listener from inside its network namespace: a default-deny that drops the same port from another pod does not apply, and no flow is recorded", async () => {
    tc.apply({
      apiVersion: "projectcalico.org/v3",
      kind: "GlobalNetworkPolicy",
      metadata: { name: "deny-shop" },
      spec: { selector: 'projectcalico.org/namespace == "shop"', types: ["Ingress", "Egress"] },
    });
    const inside = await tc.exec("shop", "client", "curl -sS -m 1 http://192.168.1.10:80/");
    expect(inside.code).toBe(28);
    const toWeb = () =>
      (tc.dataplane.api.queryFlows(new URLSearchParams({ dest: "web" })) as { items: unknown[] }).items
        .length;
    const flowsBefore = toWeb();
    expect(flowsBefore).toBeGreaterThan(0); // the denied attempt from the client

    const answer = await get(await pf("web")(80));
    expect(answer).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(answer).toContain("server: nginx/1.27.3");
    expect(answer).toContain("<title>Welcome to nginx!</title>");
    expect(toWeb()).toBe(flowsBefore);
    expect(tc.dataplane.runtime.logs("shop", "web", {})).toMatch(
      /^127\.0\.0\.1 - - \[.+\] "GET \/ HTTP\/1\.1" 200 615 "-" "test" "-"$/m,
    );
  });

  it("reaches a port served by another container of the pod (they share the network namespace)", async () => {
    const pod = podObject({ namespace: "shop", name: "sidecars", ip: "192.168.1.12" });
    (pod.spec as { containers: unknown[] }).containers = [
      { name: "app", image: "busybox:1.36", command: ["sleep", "infinity"] },
      { name: "proxy", image: "nginx:1.27" },
      { name: "metrics", image: "registry.example/exporter:1", ports: [{ containerPort: 9102 }] },
    ];
    (pod.status as { containerStatuses: unknown[] }).containerStatuses = ["app", "proxy", "metrics"].map(
      (name) => ({
        name,
        ready: true,
        restartCount: 0,
        state: { running: { startedAt: "2026-01-01T00:00:00Z" } },
      }),
    );
    tc.apply(pod);
    const open = pf("sidecars");
    expect(await get(await open(80))).toContain("<title>Welcome to nginx!</title>");
    // nginx's access log is the log of the container running it.
    const log = (container: string) => tc.dataplane.runtime.logs("shop", "sidecars", { container });
    expect(log("proxy")).toMatch(/^127\.0\.0\.1 - - \[.+\] "GET \/ HTTP\/1\.1" 200 615 /m);
    expect(log("app")).not.toContain("127.0.0.1 - -");
    const metrics = await get(await open(9102));
    expect(metrics).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\nsidecars\n$/);
    expect((await failure(() => open(8080))).message).toBe(noListenerMessage(pod, 8080));
  });

  it("refuses as the API server, the kubelet and containerd word it", async () => {
    const web = tc.store.get("core/pods", "shop", "web")!;
    const id = sandboxId(web);
    const netns = `/var/run/netns/cni-${id.slice(0, 8)}-${id.slice(8, 12)}-${id.slice(12, 16)}-${id.slice(16, 20)}-${id.slice(20, 32)}`;
    // Nothing listens: containerd 2.0's dial error inside the kubelet's httpstream wrapping, on the error stream.
    expect(await failure(() => pf("web")(81))).toEqual({
      name: "Error",
      message:
        `error forwarding port 81 to pod ${id}, uid : failed to execute portforward in network namespace "${netns}": ` +
        `failed to connect to localhost:81 inside namespace "${id}", IPv4: dial tcp4 127.0.0.1:81: connect: connection refused ` +
        `IPv6 dial tcp6 [::1]:81: connect: connection refused `,
    });

    // No such pod, no node assigned, a node that does not exist: the API server's Status.
    expect(await failure(() => pf("ghost"))).toEqual({
      name: "ApiError",
      code: 404,
      message: 'pods "ghost" not found',
    });
    const base = podObject({ namespace: "shop", name: "x", ip: "" });
    tc.apply({
      ...withStatus(base, { nodeName: undefined }, { phase: "Pending" }),
      metadata: { ...base.metadata, name: "unscheduled", uid: "u-unscheduled" },
    });
    expect(await failure(() => pf("unscheduled"))).toEqual({
      name: "ApiError",
      code: 400,
      message: "pod unscheduled does not have a host assigned",
    });
    tc.apply({
      ...withStatus(base, { nodeName: "gone-node" }, { phase: "Pending" }),
      metadata: { ...base.metadata, name: "orphan", uid: "u-orphan" },
    });
    expect(await failure(() => pf("orphan"))).toEqual({
      name: "ApiError",
      code: 404,
      message: 'nodes "gone-node" not found',
    });

    // On a node, but no running sandbox (not created yet, or its pod ended): the kubelet's runtime has no such pod.
    for (const [name, status] of [
      ["starting", { phase: "Pending", hostIP: "172.18.0.3" }],
      ["finished", { phase: "Succeeded", hostIP: "172.18.0.3", podIP: "192.168.1.20" }],
    ] as const) {
      tc.apply({ ...withStatus(base, {}, status), metadata: { ...base.metadata, name, uid: `u-${name}` } });
      expect(await failure(() => pf(name))).toEqual({
        name: "KubeletError",
        code: 500,
        message: `pod not found ("${name}_shop")`,
      });
    }

    // A session whose pod ends or goes: containerd's sandbox checks, per connection.
    const open = pf("web");
    tc.apply(withStatus(web, {}, { ...(web.status as object), phase: "Failed" }));
    expect((await failure(() => open(80))).message).toBe(
      `error forwarding port 80 to pod ${id}, uid : network namespace for sandbox "${id}" is closed`,
    );
    tc.remove(web);
    expect((await failure(() => open(80))).message).toBe(
      `error forwarding port 80 to pod ${id}, uid : failed to find sandbox "${id}" in store: not found`,
    );
    // A pod of the same name created since is another sandbox: the session does not reach it.
    tc.addPod({ namespace: "shop", name: "web", ip: "192.168.1.30", image: "nginx:1.27" });
    (tc.store.get("core/pods", "shop", "web")!.metadata as { uid: string }).uid = "u-new-web";
    expect((await failure(() => open(80))).message).toContain("failed to find sandbox");

    // A host-network pod is forwarded to in the node's namespace, which containerd calls "host".
    const host = podObject({ namespace: "shop", name: "hostnet", ip: "172.18.0.3" });
    tc.apply({ ...host, spec: { ...(host.spec as object), hostNetwork: true } });
    expect((await failure(() => pf("hostnet")(81))).message).toContain(
      'failed to execute portforward in network namespace "host": failed to connect to localhost:81 inside namespace',
    );
  });

  it("moves many concurrent connections without holding the event loop", async () => {
    const open = pf("web");
    let ticks = 0;
    let running = true;
    const tick = (): void => {
      ticks++;
      if (running) setImmediate(tick);
    };
    setImmediate(tick);
    let ticksAtFirstAnswer = -1;
    const answers = await Promise.all(
      Array.from({ length: 300 }, async () => {
        const a = await get(await open(80));
        if (ticksAtFirstAnswer < 0) ticksAtFirstAnswer = ticks;
        return a;
      }),
    );
    running = false;
    expect(answers.filter((a) => a.startsWith("HTTP/1.1 200 OK\r\n"))).toHaveLength(300);
    // Other work (here: an immediate that re-arms itself) ran while the 300 exchanges were under way.
    expect(ticksAtFirstAnswer).toBeGreaterThan(0);
    expect(
      tc.dataplane.runtime
        .logs("shop", "web", {})
        .split("\n")
        .filter((l) => l.startsWith("127.0.0.1 - - ")),
    ).toHaveLength(300);
  });
});
