/**
 * Property tests over seeded random clusters: staged policies never change enforcement, unrelated policies change
 * nothing, insertion order does not matter (ties resolve by name as in Calico), and incremental updates agree with a
 * fresh engine built from the final objects.
 */
import { describe, expect, it } from "vitest";
import { PolicyEngine, type ConnectionAttempt, type Verdict } from "./engine.ts";
import type { KubeObject } from "../store/types.ts";
import { gnp, gns, knp, np, ns, pod, tier } from "./testdata/objects.ts";
import { mulberry32 } from "../shared/mulberry32.ts";

class Gen {
  constructor(readonly r: () => number) {}
  int(n: number): number {
    return Math.floor(this.r() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  chance(p: number): boolean {
    return this.r() < p;
  }
  shuffle<T>(xs: readonly T[]): T[] {
    const out = [...xs];
    for (let i = out.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [out[i], out[j]] = [out[j]!, out[i]!];
    }
    return out;
  }
}

const NAMESPACES = ["ns-a", "ns-b", "ns-c"];
const APPS = ["web", "db", "api", "worker"];
const TIERS = ["security", "platform", "default"];
const SELECTORS = [
  "app == 'web'",
  "app == 'db'",
  "app in {'api', 'worker'}",
  "all()",
  "has(role)",
  "role == 'edge'",
  "app != 'db'",
  "",
];
const EXTERNAL = ["8.8.8.8", "93.184.216.34", "10.10.10.10"];

function genRule(g: Gen): Record<string, unknown> {
  const rule: Record<string, unknown> = { action: g.pick(["Allow", "Allow", "Deny", "Pass", "Log"]) };
  if (g.chance(0.4)) {
    rule.protocol = g.pick(["TCP", "UDP"]);
    if (g.chance(0.6)) rule.destination = { ports: [g.pick([53, 80, 443, "8000:9000"])] };
  }
  const dest = (rule.destination ?? {}) as Record<string, unknown>;
  if (g.chance(0.3)) dest.selector = g.pick(SELECTORS.filter(Boolean));
  else if (g.chance(0.2)) dest.nets = [g.pick(["8.8.8.0/24", "10.0.0.0/8", "192.168.0.0/16"])];
  else if (g.chance(0.1)) dest.notSelector = g.pick(SELECTORS.filter(Boolean));
  if (g.chance(0.15)) dest.namespaceSelector = g.pick(["team == 'blue'", "all()"]);
  if (Object.keys(dest).length) rule.destination = dest;
  return rule;
}

function genPolicy(g: Gen, i: number, staged = false): KubeObject {
  const tierName = g.pick(TIERS);
  const spec: Record<string, unknown> = {
    selector: g.pick(SELECTORS),
    ...(tierName !== "default" ? { tier: tierName } : {}),
    ...(g.chance(0.7) ? { order: g.pick([1, 5, 5, 100, 1000]) } : {}),
  };
  const types = g.pick([["Egress"], ["Ingress"], ["Ingress", "Egress"], undefined]);
  if (types) spec.types = types;
  if (!types || types.includes("Egress")) spec.egress = Array.from({ length: g.int(3) }, () => genRule(g));
  if (!types || types.includes("Ingress")) spec.ingress = Array.from({ length: g.int(3) }, () => genRule(g));
  const kind = g.int(3);
  if (kind === 0) return gnp(`p${i}`, spec, staged ? "StagedGlobalNetworkPolicy" : "GlobalNetworkPolicy");
  if (kind === 1)
    return np(g.pick(NAMESPACES), `p${i}`, spec, staged ? "StagedNetworkPolicy" : "NetworkPolicy");
  const app = g.pick(APPS);
  return knp(
    g.pick(NAMESPACES),
    `p${i}`,
    {
      podSelector: g.chance(0.5) ? {} : { matchLabels: { app } },
      policyTypes: g.pick([["Egress"], ["Ingress"], ["Ingress", "Egress"]]),
      egress: g.chance(0.5) ? [{ to: [{ podSelector: { matchLabels: { app: g.pick(APPS) } } }] }] : [],
      ingress: g.chance(0.5) ? [{}] : [],
    },
    staged ? "StagedKubernetesNetworkPolicy" : "NetworkPolicy",
  );
}

function genCluster(seed: number): {
  base: KubeObject[];
  policies: KubeObject[];
  conns: ConnectionAttempt[];
  g: Gen;
} {
  const g = new Gen(mulberry32(seed));
  const base: KubeObject[] = [
    tier("security", 100),
    tier("platform", 200, "Pass"),
    ...NAMESPACES.map((n) => ns(n, g.chance(0.5) ? { team: "blue" } : {})),
    gns("partners", { role: "edge" }, { nets: ["10.10.10.0/24"] }),
  ];
  const ips: string[] = [];
  for (let i = 0; i < 24; i++) {
    const ip = `192.168.${Math.floor(i / 8)}.${10 + (i % 8)}`;
    ips.push(ip);
    const labels: Record<string, string> = { app: g.pick(APPS) };
    if (g.chance(0.3)) labels.role = g.pick(["edge", "core"]);
    base.push(
      pod(g.pick(NAMESPACES), `pod-${i}`, labels, ip, { ports: [{ name: "http", containerPort: 80 }] }),
    );
  }
  const policies = Array.from({ length: 25 }, (_, i) => genPolicy(g, i));
  const conns: ConnectionAttempt[] = Array.from({ length: 60 }, () => ({
    srcIp: g.chance(0.85) ? g.pick(ips) : g.pick(EXTERNAL),
    dstIp: g.chance(0.6) ? g.pick(ips) : g.pick(EXTERNAL),
    protocol: g.pick(["TCP", "UDP"] as const),
    dstPort: g.pick([53, 80, 443, 8080]),
    now: 0,
  }));
  return { base, policies, conns, g };
}

function build(objs: KubeObject[]): PolicyEngine {
  const e = new PolicyEngine();
  for (const o of objs) e.upsert(o);
  return e;
}

const enforced = (v: Verdict) => ({
  allowed: v.allowed,
  egress: [v.egress.action, ...v.egress.policies],
  ingress: [v.ingress.action, ...v.ingress.policies],
});

const SEEDS = Array.from({ length: 12 }, (_, i) => i + 1);

describe("properties", () => {
  it.each(SEEDS)("A.9: staged policies never change what is enforced (seed %i)", (seed) => {
    const { base, policies, conns, g } = genCluster(seed);
    const e = build([...base, ...policies]);
    const before = conns.map((c) => enforced(e.evaluate(c)));
    for (let i = 0; i < 10; i++) e.upsert(genPolicy(g, 100 + i, true));
    const after = conns.map((c) => enforced(e.evaluate(c)));
    expect(after).toEqual(before);
  });

  it.each(SEEDS)("adding a policy that selects nothing never changes a verdict (seed %i)", (seed) => {
    const { base, policies, conns } = genCluster(seed);
    const e = build([...base, ...policies]);
    const before = conns.map((c) => e.evaluate(c));
    e.upsert(
      gnp("unrelated", {
        tier: "security",
        order: 0,
        selector: "unrelated == 'x'",
        types: ["Ingress", "Egress"],
      }),
    );
    e.upsert(
      np("ns-a", "unrelated", { order: 0, selector: "app == 'nothing'", egress: [{ action: "Deny" }] }),
    );
    expect(conns.map((c) => e.evaluate(c))).toEqual(before);
  });

  it.each(SEEDS)("A.3: insertion order does not matter; order ties resolve by name (seed %i)", (seed) => {
    const { base, policies, conns, g } = genCluster(seed);
    const a = build([...base, ...policies]);
    const b = build(g.shuffle([...base, ...policies]));
    expect(conns.map((c) => b.evaluate(c))).toEqual(conns.map((c) => a.evaluate(c)));
  });

  it("A.3: of two policies with the same order, the name that sorts first decides", () => {
    for (const names of [
      ["a-first", "b-second"],
      ["b-second", "a-first"],
    ]) {
      const e = new PolicyEngine();
      e.upsert(ns("ns-a"));
      e.upsert(pod("ns-a", "p", { app: "web" }, "192.168.0.1"));
      for (const n of names)
        e.upsert(
          gnp(n, { order: 10, selector: "all()", egress: [{ action: n === "a-first" ? "Deny" : "Allow" }] }),
        );
      expect(
        e.evaluate({ srcIp: "192.168.0.1", dstIp: "8.8.8.8", protocol: "TCP", dstPort: 1, now: 0 }).egress
          .policies,
      ).toEqual(["0|default|gnp:a-first|deny|0"]);
    }
  });

  it.each(SEEDS)("incremental updates agree with a fresh engine (seed %i)", (seed) => {
    const { base, policies, conns, g } = genCluster(seed);
    const live = new Map<string, KubeObject>();
    const keyOf = (o: KubeObject) =>
      `${o.apiVersion}/${o.kind}/${o.metadata.namespace ?? ""}/${o.metadata.name}`;
    const e = new PolicyEngine();
    for (const o of [...base, ...policies]) {
      e.upsert(o);
      live.set(keyOf(o), o);
    }
    conns.forEach((c) => e.evaluate(c)); // warm the caches
    for (let step = 0; step < 40; step++) {
      const choice = g.int(4);
      if (choice === 0) {
        const p = genPolicy(g, g.int(30));
        e.upsert(p);
        live.set(keyOf(p), p);
      } else if (choice === 1) {
        const victim = g.pick([...live.values()].filter((o) => o.kind.includes("Policy")));
        if (victim) {
          e.remove(victim);
          live.delete(keyOf(victim));
        }
      } else if (choice === 2) {
        const p = g.pick([...live.values()].filter((o) => o.kind === "Pod"));
        const relabelled = {
          ...p,
          metadata: {
            ...p.metadata,
            labels: { app: g.pick(APPS), ...(g.chance(0.5) ? { role: "edge" } : {}) },
          },
        };
        e.upsert(relabelled);
        live.set(keyOf(relabelled), relabelled);
      } else {
        const n = ns(g.pick(NAMESPACES), g.chance(0.5) ? { team: "blue" } : {});
        e.upsert(n);
        live.set(keyOf(n), n);
      }
      if (step % 10 === 9) {
        const fresh = build([...live.values()]);
        expect(conns.map((c) => e.evaluate(c))).toEqual(conns.map((c) => fresh.evaluate(c)));
      }
    }
  });
});
