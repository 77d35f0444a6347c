/**
 * The learner's flow view as the server feeds it: one stream per cluster through port-forward to Calico Whisker (a
 * list, then server-sent events), for 20 workshop clusters at once — time to each page's first table, the heap and RSS
 * the open streams hold, and how long a new flow takes to reach a page. Then a probe check's cost: the first one
 * starts the grader's probe pod beside the workload, the next ones reuse it.
 */
import { performance } from "node:perf_hooks";
import { SimHost } from "../../server/src/sim/host.ts";
import { FlowHub, whiskerFlowSource, type FlowListener } from "../../server/src/realtime/flows.ts";
import type { FlowView } from "../../server/src/realtime/protocol.ts";
import { createKubeClient } from "../../server/src/grading/kube-client.ts";
import { runCheck } from "../../server/src/grading/run-check.ts";
import type { ProbeCheck } from "../../server/src/labs/model/types.ts";

const CLUSTERS = Number(process.env.FLOWVIEW_CLUSTERS ?? 20);
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
};
const ms = (x: number): string => `${x.toFixed(0)} ms`;
const mib = (b: number): string => `${(b / 1024 / 1024).toFixed(1)} MiB`;
const gc = (): void => (globalThis as { gc?: () => void }).gc?.();

export async function run(): Promise<void> {
  const host = await SimHost.start({ port: 0 });
  const hub = new FlowHub({ batchMs: 50 });
  try {
    const clusters = [];
    for (let i = 0; i < CLUSTERS; i++)
      clusters.push(await host.createCluster({ id: `bench-fv-${i}`, profile: "egress-workshop", seed: i }));
    gc();
    const before = process.memoryUsage();
    const firstTable: number[] = [];
    const seen = new Map<string, (rows: FlowView[]) => void>();
    await Promise.all(
      clusters.map(
        (c) =>
          new Promise<void>((resolve) => {
            const t0 = performance.now();
            let first = true;
            const listener: FlowListener = {
              snapshot() {
                if (first) firstTable.push(performance.now() - t0);
                first = false;
                resolve();
              },
              update(rows) {
                seen.get(c.id)?.(rows);
              },
              error() {},
            };
            hub.subscribe(c.id, () => whiskerFlowSource(c.kubeconfig), listener);
          }),
      ),
    );
    gc();
    const open = process.memoryUsage();
    console.log(`${CLUSTERS} clusters, one page stream each (port-forward to Whisker, list + SSE)`);
    console.log(
      `  first table           median ${ms(median(firstTable))}, slowest ${ms(Math.max(...firstTable))}`,
    );
    console.log(
      `  held by open streams  heap ${mib(open.heapUsed - before.heapUsed)}, RSS ${mib(open.rss - before.rss)} (${CLUSTERS} streams)`,
    );
    // A new flow: an exec'd curl in one cluster, until the page's stream carries it.
    const c0 = clusters[0]!;
    const client = createKubeClient(c0.kubeconfig);
    const pods = await client.list("v1", "Pod", { namespace: "shop", labelSelector: "app=storefront" });
    const delays: number[] = [];
    for (let i = 0; i < 5; i++) {
      const domain = ["pypi.org", "github.com", "api.stripe.com", "api.twilio.com", "example.com"][i]!;
      const arrived = new Promise<void>((resolve) =>
        seen.set(c0.id, (rows) => {
          if (rows.some((r) => r.destName === domain && r.sourceName.startsWith("storefront-"))) resolve();
        }),
      );
      const t = performance.now();
      await client.exec(
        "shop",
        pods[0]!.metadata.name,
        "storefront",
        ["curl", "-s", "-m", "2", `https://${domain}/`],
        10_000,
      );
      await Promise.race([arrived, new Promise((r) => setTimeout(r, 20_000))]);
      delays.push(performance.now() - t);
    }
    console.log(
      `  new flow to the page  median ${ms(median(delays))} (curl, Whisker's 1 s flush, the page's batch)`,
    );

    const probe: ProbeCheck = {
      id: "p",
      title: "p",
      hint: "",
      guard: false,
      kind: "probe",
      from: { namespace: "shop", selector: "app=checkout" },
      to: { domain: "api.stripe.com", port: 443, protocol: "TCP" },
      expect: { outcome: "allowed" },
    };
    const times: number[] = [];
    for (let i = 0; i < 6; i++) {
      const t = performance.now();
      await runCheck(client, probe, {}, { connectTimeoutMs: 500 });
      times.push(performance.now() - t);
    }
    console.log(
      `probe check: first ${ms(times[0]!)} (starts the probe pod), then median ${ms(median(times.slice(1)))}`,
    );
  } finally {
    hub.close();
    await host.close();
  }
}
