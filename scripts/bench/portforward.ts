/**
 * `kubectl port-forward` into the simulated cluster: time until kubectl prints its local port, and per-request latency
 * through it to Whisker's API — a new forwarded connection per request (a new SPDY stream pair each) and a kept-alive
 * one — over kubectl's WebSocket tunnel and over plain SPDY; requests per second over 16 parallel connections. Below the
 * API server: 1000 connections opened at once through a cluster's `PodRuntime.portForward` to nginx, the time they
 * take and the longest the event loop was held meanwhile.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { monitorEventLoopDelay, performance } from "node:perf_hooks";
import type { Duplex } from "node:stream";
import { execa } from "execa";
import { SimHost } from "../../server/src/sim/host.ts";
import { environment } from "../../server/src/config/options.ts";
import { createTestCluster } from "../../server/src/net/testkit.ts";

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
};
const ms = (x: number): string => `${x.toFixed(2)} ms`;

function get(port: number, p: string, agent: http.Agent | false): Promise<number> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: "127.0.0.1", port, path: p, agent }, (res) => {
        let n = 0;
        res.on("data", (d: Buffer) => (n += d.length));
        res.on("end", () => resolve(n));
      })
      .on("error", reject);
  });
}

/** One GET over a forwarded connection; resolves with the response's size once the pod closes it. */
function exchange(conn: Duplex): Promise<number> {
  return new Promise((resolve, reject) => {
    let n = 0;
    conn.on("data", (d: Buffer) => (n += d.length));
    conn.on("error", reject);
    conn.on("end", () => conn.destroy());
    conn.on("close", () => resolve(n));
    conn.write("GET / HTTP/1.1\r\nHost: web\r\nConnection: close\r\n\r\n");
  });
}

async function runtimeForwards(): Promise<void> {
  const tc = createTestCluster({ traffic: false });
  try {
    tc.addPod({ name: "web", ip: "192.168.1.10", image: "nginx:1.27", ports: [{ containerPort: 80 }] });
    const open = tc.dataplane.runtime.portForward!("default", "web");
    for (let round = 0; round < 3; round++) {
      const h = monitorEventLoopDelay({ resolution: 1 });
      h.enable();
      const t = performance.now();
      const sizes = await Promise.all(Array.from({ length: 1000 }, async () => exchange(await open(80))));
      const took = performance.now() - t;
      h.disable();
      if (sizes.some((n) => n < 600)) throw new Error("a forwarded request got no page");
      if (round === 2)
        console.log(
          `PodRuntime.portForward: 1000 connections at once to nginx in ${ms(took)}; event loop held at most ${ms(h.max / 1e6)} (p99 ${ms(h.percentile(99) / 1e6)})`,
        );
    }
  } finally {
    tc.close();
  }
}

export async function run(): Promise<void> {
  await runtimeForwards();
  const dir = mkdtempSync(path.join(os.tmpdir(), "egresslab-bench-pf-"));
  const host = await SimHost.start({ port: 0 });
  try {
    const c = await host.createCluster({ id: "bench-pf" });
    const kubeconfig = path.join(dir, "kubeconfig");
    writeFileSync(kubeconfig, c.kubeconfig);
    for (const [label, extra] of [
      ["WebSocket tunnel", {}],
      ["plain SPDY", { KUBECTL_PORT_FORWARD_WEBSOCKETS: "false" }],
    ] as const) {
      const started = performance.now();
      const p = execa("kubectl", ["port-forward", "-n", "calico-system", "svc/whisker", "0:8081"], {
        env: { ...environment(), KUBECONFIG: kubeconfig, HOME: path.join(dir, "home"), ...extra },
        extendEnv: false,
        reject: false,
      });
      let out = "";
      p.stdout.on("data", (d: Buffer) => (out += d.toString()));
      while (!/Forwarding from 127\.0\.0\.1:\d+/.test(out)) await new Promise((r) => setTimeout(r, 5));
      const ready = performance.now() - started;
      const port = Number(/Forwarding from 127\.0\.0\.1:(\d+)/.exec(out)![1]);
      const hints = "/whisker-backend/flows-filter-hints?type=SourceNamespace";
      const fresh: number[] = [];
      for (let i = 0; i < 100; i++) {
        const t = performance.now();
        await get(port, hints, false);
        fresh.push(performance.now() - t);
      }
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      const kept: number[] = [];
      for (let i = 0; i < 200; i++) {
        const t = performance.now();
        await get(port, hints, agent);
        kept.push(performance.now() - t);
      }
      // Requests in flight at once, each on its own forwarded connection.
      const t = performance.now();
      const parallel = new http.Agent({ keepAlive: true, maxSockets: 16 });
      await Promise.all(Array.from({ length: 2000 }, () => get(port, "/", parallel)));
      const rps = 2000 / ((performance.now() - t) / 1000);
      parallel.destroy();
      agent.destroy();
      p.kill();
      await p;
      console.log(`${label}: ready after ${ms(ready)} (kubectl start-up included)`);
      console.log(`  request on a new forwarded connection  median ${ms(median(fresh))}`);
      console.log(`  request on a kept-alive connection     median ${ms(median(kept))}`);
      console.log(`  16 connections in parallel             ${rps.toFixed(0)} requests/s`);
    }
  } finally {
    await host.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
