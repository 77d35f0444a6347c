/**
 * Test doubles for the web server's integration tests: a provider whose clusters have only Calico Whisker's flows (one
 * HTTP port, the bearer token picks the cluster, as on the simulator; the flows are handed to the server as the
 * Whisker client would, through `flowSource`), and a two-stage lab whose checks read the test's own state.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { randomBytes } from "node:crypto";
import type {
  AcquireOptions,
  ClusterConnection,
  ClusterProvider,
} from "../../server/src/providers/provider.ts";
import type { LabRunner } from "../../server/src/sessions/lab-runner.ts";
import type { FlowSource } from "../../server/src/realtime/flows.ts";
import { endpointOf } from "../../server/src/realtime/kubeconfig.ts";
import type { StageResult } from "../../server/src/labs/api.ts";

export interface FakeCluster {
  id: string;
  token: string;
  /** Whisker's flows (whisker-backend's JSON). */
  records: unknown[];
  watchers: Set<(flow: unknown) => void>;
  /** Set by tests: the "solution" of stage 1 is in place. */
  solved: boolean;
  setups: number[];
}

export class FakeProvider implements ClusterProvider {
  readonly name = "sim" as const;
  readonly capabilities = {
    canCreate: true,
    realDataplane: false,
    calicoEdition: "enterprise" as const,
    typicalReadySeconds: 0,
  };
  readonly clusters = new Map<string, FakeCluster>();
  private readonly byToken = new Map<string, FakeCluster>();
  private server: http.Server | undefined;
  private port = 0;
  acquired: string[] = [];

  private async listen(): Promise<void> {
    if (this.server) return;
    this.server = http.createServer((req, res) => {
      const token = req.headers.authorization?.replace(/^Bearer /, "") ?? "";
      const c = this.byToken.get(token);
      if (!c) return void res.writeHead(401).end('{"kind":"Status","code":401}');
      res.writeHead(404).end();
    });
    await new Promise<void>((r) => this.server!.listen(0, "127.0.0.1", r));
    this.port = (this.server.address() as AddressInfo).port;
  }

  async acquire(opts: AcquireOptions): Promise<ClusterConnection> {
    await this.listen();
    this.acquired.push(opts.id);
    let c = this.clusters.get(opts.id);
    if (!c) {
      c = {
        id: opts.id,
        token: randomBytes(12).toString("hex"),
        records: [],
        watchers: new Set(),
        solved: false,
        setups: [],
      };
      this.clusters.set(opts.id, c);
      this.byToken.set(c.token, c);
    }
    const kubeconfig = `apiVersion: v1
kind: Config
current-context: ${c.id}
clusters:
- name: ${c.id}
  cluster:
    server: http://127.0.0.1:${this.port}
contexts:
- name: ${c.id}
  context: { cluster: ${c.id}, user: ${c.id} }
users:
- name: ${c.id}
  user: { token: ${c.token} }
`;
    return { id: c.id, provider: "sim", kubeconfig, edition: "enterprise" };
  }

  /** Adds a Whisker flow to a cluster and streams it to its watchers. */
  push(clusterId: string, flow: unknown): void {
    const c = this.clusters.get(clusterId)!;
    c.records.push(flow);
    for (const w of c.watchers) w(flow);
  }

  /** The server's flow source for a kubeconfig: the cluster its token names, as Whisker would answer for it. */
  readonly flowSource = (kubeconfig: string): FlowSource => {
    const c = this.byToken.get(endpointOf(kubeconfig).token ?? "");
    return {
      list: async () => {
        if (!c) throw new Error("no Service calico-system/whisker");
        return [...c.records];
      },
      watch: (onRecord, signal, onOpen) =>
        new Promise<void>((resolve, reject) => {
          if (!c) return reject(new Error("no Service calico-system/whisker"));
          c.watchers.add(onRecord);
          signal.addEventListener("abort", () => (c.watchers.delete(onRecord), resolve()), { once: true });
          onOpen?.();
        }),
    };
  };

  async release(): Promise<void> {}

  async close(): Promise<void> {
    for (const c of this.clusters.values()) c.watchers.clear();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
    this.server = undefined;
  }
}

/** A two-stage lab: stage 0 asks which workload is compromised (truth: a per-seed value); stage 1 passes once `solved`. */
export function fakeLab(provider: FakeProvider): LabRunner {
  const workloads = ["shop/checkout", "blog/wordpress", "crm/sync"];
  return {
    summary: {
      id: "test-lab",
      title: "Test lab",
      description: "A lab for tests",
      durationMinutes: 10,
      stageCount: 2,
    },
    profile: "bare",
    edition: "enterprise",
    params: (seed) => ({ compromised: workloads[seed % workloads.length]! }),
    stages: () => [
      {
        index: 0,
        id: "00-map",
        title: "Map exposure",
        questions: [{ id: "compromised", prompt: "Which workload?", placeholder: "namespace/workload" }],
      },
      { index: 1, id: "01-deny", title: "Default deny", questions: [] },
    ],
    guide: (i) => ({
      html: `<h1>Stage ${i}</h1><div class="action action-run" data-action-id="s${i}-1" data-action-kind="run"><pre><code>echo guide-${i}</code></pre></div>`,
      actions: [{ id: `s${i}-1`, kind: "run", text: `echo guide-${i}\n` }],
    }),
    async setup(conn, i) {
      provider.clusters.get(conn.id)!.setups.push(i);
    },
    async grade(conn, i, params, answers): Promise<StageResult> {
      const c = provider.clusters.get(conn.id)!;
      const passed = i === 0 ? answers.compromised === params.compromised : c.solved;
      return {
        stageIndex: i,
        passed,
        at: new Date().toISOString(),
        checks: [
          {
            id: `c${i}`,
            title: i === 0 ? "the compromised workload is named" : "external egress is denied",
            passed,
            seen: passed ? "as expected" : "not yet",
            hint: "look again",
          },
        ],
      };
    },
    async reset(conn, i) {
      const c = provider.clusters.get(conn.id)!;
      c.solved = false;
      c.setups.push(i);
    },
  };
}

/** A lab whose first stage cannot be set up (a broken cluster). */
export function brokenLab(provider: FakeProvider): LabRunner {
  return {
    ...fakeLab(provider),
    async setup() {
      throw new Error("connect ECONNREFUSED 127.0.0.1:6443");
    },
  };
}

/** A flow as Calico Whisker answers it (whisker-backend's `FlowResponse`), with `over` applied. */
export function whiskerFlow(over: Record<string, unknown>): Record<string, unknown> {
  return {
    start_time: "2026-01-01T00:00:00Z",
    end_time: "2026-01-01T00:00:15Z",
    action: "Allow",
    source_name: "checkout-*",
    source_namespace: "shop",
    source_labels: "app=checkout",
    dest_name: "PUBLIC NETWORK",
    dest_namespace: "",
    dest_labels: "",
    protocol: "tcp",
    dest_port: 443,
    reporter: "Src",
    policies: { enforced: [], pending: [] },
    packets_in: 1,
    packets_out: 1,
    bytes_in: 100,
    bytes_out: 100,
    ...over,
  };
}
