/**
 * The simulated API's cost: kubectl round trips against it vs kubectl's own start-up, cluster creation time, the
 * server's own time per request, and memory per idle cluster (1, 10, 100 clusters on one host).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import https from "node:https";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { execa } from "execa";
import { SimHost } from "../../server/src/sim/host.ts";
import { environment } from "../../server/src/config/options.ts";

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
};
const ms = (x: number): string => `${x.toFixed(1)} ms`;

function gcFn(): () => void {
  setFlagsFromString("--expose-gc");
  return runInNewContext("gc") as () => void;
}

async function timeIt(n: number, f: () => Promise<unknown>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await f();
    out.push(performance.now() - t);
  }
  return out;
}

export async function run(): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "egresslab-bench-api-"));
  const host = await SimHost.start({ port: 0 });
  try {
    const first = await host.createCluster({ id: "bench" });
    const kubeconfig = path.join(dir, "kubeconfig");
    writeFileSync(kubeconfig, first.kubeconfig);
    const env = { ...environment(), KUBECONFIG: kubeconfig, HOME: path.join(dir, "home") };
    const kubectl = (args: string[]) => execa("kubectl", args, { env, extendEnv: false });
    await kubectl(["get", "pods", "-A"]); // warm the discovery cache, as a user's second command would find it
    const client = await timeIt(9, () => kubectl(["version", "--client"]));
    const getPods = await timeIt(9, () => kubectl(["get", "pods", "-A"]));
    console.log(`kubectl version --client          median ${ms(median(client))}`);
    console.log(`kubectl get pods -A (simulated)   median ${ms(median(getPods))}`);
    console.log(`  difference: ${ms(median(getPods) - median(client))}`);
    // What kubectl itself measures for its API round trips (-v=6 logs "… 200 OK in N milliseconds").
    const roundTrips: number[] = [];
    for (let i = 0; i < 9; i++) {
      const r = await execa("kubectl", ["get", "pods", "-A", "-v=6"], { env, extendEnv: false });
      const times = [...String(r.stderr).matchAll(/ in (\d+) milliseconds/g)].map((m) => Number(m[1]));
      roundTrips.push(times.reduce((a, b) => a + b, 0));
    }
    console.log(`  API time inside kubectl get pods -A (kubectl -v=6) median ${ms(median(roundTrips))}`);

    const agent = new https.Agent({ keepAlive: true, ca: host.caCert });
    const get = (p: string, accept: string) =>
      new Promise<void>((resolve, reject) => {
        https
          .get(
            new URL(p, host.url),
            { agent, headers: { Authorization: `Bearer ${first.token}`, Accept: accept } },
            (res) => {
              res.resume();
              res.on("end", () => resolve());
            },
          )
          .on("error", reject);
      });
    const tableAccept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json";
    await timeIt(20, () => get("/api/v1/pods", tableAccept));
    const perReq = await timeIt(200, () => get("/api/v1/pods", tableAccept));
    const disc = await timeIt(100, () =>
      get("/apis", "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"),
    );
    console.log(`GET /api/v1/pods as Table (keep-alive) median ${ms(median(perReq))}`);
    console.log(`GET /apis aggregated discovery         median ${ms(median(disc))}`);
    agent.destroy();

    const creates = await timeIt(15, () => host.createCluster());
    console.log(`create cluster                     median ${ms(median(creates))}`);
  } finally {
    await host.close();
  }

  const gc = gcFn();
  for (const n of [1, 10, 100]) {
    const h = await SimHost.start({ port: 0 });
    gc();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < n; i++) await h.createCluster({ id: `m${i}` });
    await new Promise((r) => setTimeout(r, 200));
    gc();
    const after = process.memoryUsage().heapUsed;
    console.log(
      `idle clusters: ${String(n).padStart(3)}  heap per cluster ${((after - before) / n / 1024 / 1024).toFixed(2)} MB`,
    );
    await h.close();
  }
  rmSync(dir, { recursive: true, force: true });
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
