/**
 * Dataplane figures: `kubectl exec … curl` (allowed, and denied with `-m 1`) against `kubectl exec … true`; flow
 * records per second per cluster; memory of 100 clusters generating background traffic for 10 minutes of virtual time.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { execa } from "execa";
import { environment } from "../../server/src/config/options.ts";
import { SimHost } from "../../server/src/sim/host.ts";
import { createTestCluster, type TestCluster } from "../../server/src/net/testkit.ts";
import { fire } from "../../server/src/traffic/generator.ts";
import { parseTraffic } from "../../server/src/traffic/spec.ts";

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function kubectlExec(): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "egresslab-bench-dp-"));
  const host = await SimHost.start({ port: 0 });
  try {
    const created = await host.createCluster({ id: "bench-dp" });
    const kc = path.join(dir, "kubeconfig");
    writeFileSync(kc, created.kubeconfig);
    const k = (args: string[], input?: string) =>
      execa("kubectl", args, {
        env: { ...environment(), KUBECONFIG: kc, HOME: dir },
        extendEnv: false,
        reject: false,
        ...(input ? { input } : {}),
      });
    await k(
      ["apply", "-f", "-"],
      "apiVersion: v1\nkind: Pod\nmetadata: {name: shoot, labels: {app: shoot}}\nspec:\n  containers: [{name: main, image: nicolaka/netshoot}]\n",
    );
    await k(["wait", "--for=condition=Ready", "pod/shoot", "--timeout=30s"]);
    const time = async (args: string[], n: number): Promise<number> => {
      const xs: number[] = [];
      for (let i = 0; i < n; i++) {
        const t = performance.now();
        await k(["exec", "shoot", "--", ...args]);
        xs.push(performance.now() - t);
      }
      return median(xs);
    };
    await time(["true"], 2);
    const base = await time(["true"], 9);
    const allowed = await time(["curl", "-s", "-o", "/dev/null", "https://api.stripe.com"], 9);
    await k(
      ["apply", "-f", "-"],
      "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: deny-stripe}\nspec:\n  selector: app == 'shoot'\n  types: [Egress]\n  egress:\n  - {action: Allow, protocol: UDP, destination: {ports: [53]}}\n",
    );
    const denied = await time(["curl", "-s", "-m", "1", "https://api.stripe.com"], 5);
    console.log(`kubectl exec true:                 median ${base.toFixed(0)} ms`);
    console.log(
      `kubectl exec curl (allowed):       median ${allowed.toFixed(0)} ms  (${(allowed / base).toFixed(2)}x true)`,
    );
    console.log(
      `kubectl exec curl -m 1 (denied):   median ${denied.toFixed(0)} ms  (${(denied / base).toFixed(2)}x true; 1000 ms is the client's timeout)`,
    );
  } finally {
    await host.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function addWorkloads(c: TestCluster, pods: number): void {
  c.apply({
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: {
      name: "shop",
      namespace: "default",
      annotations: {
        "egresslab.io/traffic":
          "[{to: api.stripe.com, every: 10s}, {to: api.twilio.com, every: 20s}, {to: shop-assets.s3.amazonaws.com, every: 5s}, {to: beacon.darkhollow-c2.net, every: 30s}]",
      },
    },
    spec: { selector: { matchLabels: { app: "shop" } } },
  });
  for (let i = 0; i < pods; i++)
    c.addPod({
      name: `shop-6d4f-${i}`,
      ip: `192.168.3.${10 + i}`,
      labels: { app: "shop" },
      generateName: "shop-6d4f-",
    });
}

async function flowRate(): Promise<void> {
  const c = createTestCluster({ traffic: false });
  c.addPod({ name: "client", ip: "192.168.1.10", labels: { app: "client" } });
  c.apply({
    apiVersion: "projectcalico.org/v3",
    kind: "GlobalNetworkPolicy",
    metadata: { name: "deny-c2" },
    spec: {
      selector: "all()",
      types: ["Egress"],
      egress: [{ action: "Deny", destination: { nets: ["198.51.100.0/24"] } }, { action: "Allow" }],
    },
  });
  const items = parseTraffic("[{to: api.stripe.com, every: 1s}, {to: beacon.darkhollow-c2.net, every: 1s}]");
  const podNet = c.dataplane.podNet("default", "client")!;
  const count = (): number =>
    (
      c.dataplane.api.queryFlows(new URLSearchParams("limit=100000")) as { items: { num_flows: number }[] }
    ).items.reduce((n, f) => n + f.num_flows, 0);
  let i = 0;
  const burst = async (ms: number): Promise<void> => {
    const until = performance.now() + ms;
    while (performance.now() < until) {
      fire(podNet, items[i++ % 2]!);
      if (i % 200 === 0) await c.clock.advance(1000);
    }
  };
  await burst(500);
  const n0 = count();
  const i0 = i;
  const t = performance.now();
  await burst(2000);
  const secs = (performance.now() - t) / 1000;
  console.log(
    `flow attempts recorded: ${((count() - n0) / secs).toFixed(0)} per second per cluster (${((i - i0) / secs).toFixed(0)} requests/s; each = search-list DNS queries, CoreDNS upstream, connection)`,
  );
  c.close();
}

async function memory(): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const heap0 = process.memoryUsage().heapUsed;
  const clusters: TestCluster[] = [];
  for (let i = 0; i < 100; i++) {
    const c = createTestCluster({ seed: i, flowCapacity: 100 });
    addWorkloads(c, 3);
    clusters.push(c);
  }
  const report = (label: string): void => {
    gc?.();
    const mb = (process.memoryUsage().heapUsed - heap0) / 1048576;
    const records = clusters.reduce(
      (n, c) =>
        n +
        (c.dataplane.api.queryFlows(new URLSearchParams("limit=100000")) as { items: unknown[] }).items
          .length,
      0,
    );
    console.log(
      `100 clusters, ${label.padEnd(6)}: heap +${mb.toFixed(0)} MiB, ${(records / 100).toFixed(0)} flow records per cluster`,
    );
  };
  report("0 min");
  const t = performance.now();
  for (let minute = 1; minute <= 10; minute++) {
    for (let s = 0; s < 60; s += 5) for (const c of clusters) await c.advance(5000, 5000);
    if (minute === 2 || minute === 5 || minute === 10) report(`${minute} min`);
  }
  console.log(
    `10 virtual minutes × 100 clusters took ${((performance.now() - t) / 1000).toFixed(1)} s of wall time${gc ? "" : " (run node with --expose-gc for steadier heap figures)"}`,
  );
  for (const c of clusters) c.close();
}

export async function run(): Promise<void> {
  await flowRate();
  await memory();
  await kubectlExec();
}
