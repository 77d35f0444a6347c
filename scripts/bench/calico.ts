/**
 * Calico engine benchmark: decisions per second and median latency at 10, 100 and 1,000 policies over 1,000
 * endpoints (a mix of label selectors, nets, network sets and domains), and the cost of one policy update.
 */
import { PolicyEngine, type ConnectionAttempt } from "../../server/src/calico/index.ts";
import type { KubeObject } from "../../server/src/store/types.ts";
import { mulberry32 } from "../../server/src/shared/mulberry32.ts";

const ENDPOINTS = 1000;
const NAMESPACES = 20;
const APPS = 50;

/** CPU time of this process in µs (user + system): steadier than wall time on a shared machine. */
const cpuMicros = (): number => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

function cluster(r: () => number): { objs: KubeObject[]; podIps: string[] } {
  const objs: KubeObject[] = [];
  const podIps: string[] = [];
  for (let n = 0; n < NAMESPACES; n++)
    objs.push({
      apiVersion: "v1",
      kind: "Namespace",
      metadata: { name: `ns-${n}`, labels: { team: `t${n % 4}` } },
    });
  for (const t of ["security", "platform"])
    objs.push({
      apiVersion: "projectcalico.org/v3",
      kind: "Tier",
      metadata: { name: t },
      spec: { order: t === "security" ? 100 : 200 },
    });
  for (let i = 0; i < ENDPOINTS; i++) {
    const ip = `192.168.${i >> 8}.${i & 255}`;
    podIps.push(ip);
    objs.push({
      apiVersion: "v1",
      kind: "Pod",
      metadata: {
        name: `pod-${i}`,
        namespace: `ns-${i % NAMESPACES}`,
        labels: {
          app: `app-${Math.floor(r() * APPS)}`,
          tier: ["front", "back", "db"][i % 3]!,
          env: i % 2 ? "prod" : "dev",
        },
      },
      spec: { containers: [{ name: "c", ports: [{ name: "http", containerPort: 8080 }] }] },
      status: { phase: "Running", podIP: ip },
    });
  }
  for (let s = 0; s < 20; s++)
    objs.push({
      apiVersion: "projectcalico.org/v3",
      kind: "GlobalNetworkSet",
      metadata: { name: `set-${s}`, labels: { kind: s % 2 ? "partner" : "saas" } },
      spec: { nets: [`10.${s}.0.0/16`], allowedEgressDomains: [`*.svc${s}.example.com`] },
    });
  return { objs, podIps };
}

function policy(i: number, r: () => number): KubeObject {
  const ns = `ns-${Math.floor(r() * NAMESPACES)}`;
  const app = `app-${Math.floor(r() * APPS)}`;
  switch (i % 5) {
    case 0:
      return {
        apiVersion: "projectcalico.org/v3",
        kind: "NetworkPolicy",
        metadata: { name: `np-${i}`, namespace: ns },
        spec: {
          order: Math.floor(r() * 100),
          selector: `app == '${app}'`,
          types: ["Ingress", "Egress"],
          ingress: [
            {
              action: "Allow",
              protocol: "TCP",
              source: { selector: `tier == 'front'` },
              destination: { ports: ["http"] },
            },
          ],
          egress: [
            { action: "Allow", protocol: "TCP", destination: { selector: "tier == 'back'", ports: [8080] } },
          ],
        },
      };
    case 1:
      return {
        apiVersion: "projectcalico.org/v3",
        kind: "GlobalNetworkPolicy",
        metadata: { name: `gnp-nets-${i}` },
        spec: {
          tier: "security",
          order: i,
          selector: `app == '${app}' && env == 'prod'`,
          types: ["Egress"],
          egress: [{ action: "Deny", destination: { nets: [`10.${i % 250}.0.0/16`] } }, { action: "Pass" }],
        },
      };
    case 2:
      return {
        apiVersion: "projectcalico.org/v3",
        kind: "GlobalNetworkPolicy",
        metadata: { name: `gnp-dns-${i}` },
        spec: {
          tier: "platform",
          order: i,
          namespaceSelector: `team == 't${i % 4}'`,
          selector: `app == '${app}'`,
          types: ["Egress"],
          egress: [
            { action: "Allow", protocol: "UDP", destination: { ports: [53] } },
            { action: "Allow", destination: { domains: [`api${i}.example.com`, "*.cdn.example.net"] } },
            { action: "Allow", destination: { selector: "kind == 'saas'" } },
            { action: "Pass" },
          ],
        },
      };
    case 3:
      return {
        apiVersion: "networking.k8s.io/v1",
        kind: "NetworkPolicy",
        metadata: { name: `knp-${i}`, namespace: ns },
        spec: {
          podSelector: { matchLabels: { app } },
          policyTypes: ["Ingress"],
          ingress: [
            { from: [{ namespaceSelector: { matchLabels: { team: "t1" } } }], ports: [{ port: 8080 }] },
          ],
        },
      };
    default:
      return {
        apiVersion: "projectcalico.org/v3",
        kind: "StagedGlobalNetworkPolicy",
        metadata: { name: `sgnp-${i}` },
        spec: { order: 500, selector: `app == '${app}'`, types: ["Egress"] },
      };
  }
}

function connections(r: () => number, podIps: string[], n: number): ConnectionAttempt[] {
  const out: ConnectionAttempt[] = [];
  for (let i = 0; i < n; i++) {
    const src = podIps[Math.floor(r() * podIps.length)]!;
    const kind = i % 3;
    const dst =
      kind === 0
        ? podIps[Math.floor(r() * podIps.length)]!
        : kind === 1
          ? `10.${Math.floor(r() * 20)}.1.1`
          : `203.0.113.${i % 200}`;
    out.push({ srcIp: src, dstIp: dst, protocol: "TCP", dstPort: kind === 0 ? 8080 : 443, now: 1_000 });
  }
  return out;
}

export async function run(): Promise<void> {
  const rows: string[] = [];
  let base: number | undefined;
  for (const count of [10, 100, 1000]) {
    const r = mulberry32(42);
    const { objs, podIps } = cluster(r);
    const engine = new PolicyEngine();
    const t0 = performance.now();
    for (const o of objs) engine.upsert(o);
    const policies = Array.from({ length: count }, (_, i) => policy(i, r));
    for (const p of policies) engine.upsert(p);
    const loadMs = performance.now() - t0;
    for (let i = 0; i < 200; i++)
      engine.recordTrustedAnswer({
        name: `x${i}.cdn.example.net`,
        ips: [`203.0.113.${i}`],
        ttlSeconds: 3600,
        now: 0,
      });
    const conns = connections(r, podIps, 2000);
    for (const c of conns) engine.evaluate(c); // warm the per-endpoint caches
    const batches: number[] = [];
    for (let b = 0; b < 15; b++) {
      const start = cpuMicros();
      for (const c of conns) engine.evaluate(c);
      batches.push((cpuMicros() - start) / conns.length);
    }
    const us = median(batches);
    base ??= us;
    // One policy update: change the order of an existing policy, then the first decision after it.
    const updates: number[] = [];
    const after: number[] = [];
    for (let u = 0; u < 50; u++) {
      const p = structuredClone(policies[u % policies.length]!);
      (p.spec as Record<string, unknown>).order = 1 + u;
      const s = performance.now();
      engine.upsert(p);
      updates.push((performance.now() - s) * 1000);
      const c = conns[u]!;
      const s2 = performance.now();
      engine.evaluate(c);
      after.push((performance.now() - s2) * 1000);
    }
    rows.push(
      `${String(count).padStart(5)} policies: ${us.toFixed(2)} µs/decision (${Math.round(1e6 / us).toLocaleString("en")} decisions/s, ×${(us / base).toFixed(2)} vs 10), ` +
        `load ${loadMs.toFixed(0)} ms, policy update ${median(updates).toFixed(1)} µs, first decision after update ${median(after).toFixed(1)} µs`,
    );
  }
  process.stdout.write(
    `${ENDPOINTS} endpoints, ${NAMESPACES} namespaces, 20 network sets, 200 DNS names (CPU time per decision)\n${rows.join("\n")}\n`,
  );
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
