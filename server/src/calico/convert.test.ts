import { describe, expect, it } from "vitest";
import {
  compileK8sPolicy,
  entitySelectorString,
  k8sPolicySelectorString,
  policySelectorString,
} from "./convert.ts";
import { loadVectors } from "./testdata/vectors.ts";

interface Vector {
  level: "entityRule" | "policy";
  kind?: string;
  namespace?: string | null;
  policyNamespace?: string;
  entityRule?: Record<string, unknown>;
  spec?: Record<string, unknown>;
  outputField: string;
  expected: string;
}
const vectors = loadVectors<{ vectors: Vector[] }>("calico-selector-translation-vectors.json").vectors;

describe("A.6/A.8: selector translation vectors (exact upstream strings)", () => {
  it("has the upstream vectors", () => expect(vectors.length).toBeGreaterThanOrEqual(31));
  it.each(
    vectors.map(
      (v) => [v.level, v.kind ?? v.outputField, JSON.stringify(v.entityRule ?? v.spec), v] as const,
    ),
  )("%s %s %s", (_l, _k, _s, v) => {
    if (v.level === "entityRule") {
      expect(entitySelectorString(v.entityRule as never, v.policyNamespace || undefined)).toBe(v.expected);
    } else if (v.kind === "KubernetesNetworkPolicy") {
      expect(k8sPolicySelectorString(v.namespace ?? "default", v.spec?.podSelector)).toBe(v.expected);
    } else {
      const s = v.spec as { selector?: string; namespaceSelector?: string; serviceAccountSelector?: string };
      expect(policySelectorString(v.kind as "NetworkPolicy", v.namespace ?? undefined, s)).toBe(v.expected);
    }
  });
});

describe("A.10: Kubernetes NetworkPolicy conversion", () => {
  const conv = (spec: Record<string, unknown>) =>
    compileK8sPolicy({ kind: "NetworkPolicy", metadata: { name: "k", namespace: "ns1" }, spec });

  it("A.3: lands in the default tier at order 1000", () => {
    const p = conv({ podSelector: {} });
    expect([p.tier, p.order, p.kind]).toEqual(["default", 1000, "knp"]);
  });
  it("A.7: policyTypes default to Ingress, plus Egress when an egress section exists", () => {
    expect(conv({ podSelector: {} }).applies).toEqual({ ingress: true, egress: false });
    expect(conv({ podSelector: {}, egress: [{}] }).applies).toEqual({ ingress: true, egress: true });
    expect(conv({ podSelector: {}, policyTypes: ["Egress"] }).applies).toEqual({
      ingress: false,
      egress: true,
    });
  });
  it("A.10: one rule per (protocol, peer) pair, TCP by default, endPort as a range", () => {
    const p = conv({
      podSelector: {},
      policyTypes: ["Egress"],
      egress: [
        {
          to: [
            { podSelector: { matchLabels: { a: "b" } } },
            { ipBlock: { cidr: "10.0.0.0/8", except: ["10.1.0.0/16"] } },
          ],
          ports: [
            { port: 53, protocol: "UDP" },
            { port: 80 },
            { port: 81 },
            { port: 30000, endPort: 30010 },
            { port: "http" },
          ],
        },
      ],
    });
    expect(p.egress).toHaveLength(4);
    const [udpPods, , tcpPods, tcpNets] = p.egress;
    expect(udpPods!.protocol).toBe(17);
    expect(udpPods!.destination.ports).toEqual([{ min: 53, max: 53 }]);
    expect(tcpPods!.protocol).toBe(6);
    expect(tcpPods!.destination.ports).toEqual([
      { min: 80, max: 81 },
      { min: 30000, max: 30010 },
      { name: "http" },
    ]);
    expect(tcpPods!.destination.selector?.toString()).toBe(
      '(projectcalico.org/namespace == "ns1" && (projectcalico.org/orchestrator == "k8s" && a == "b"))',
    );
    expect(tcpNets!.destination.nets?.[0]?.text).toBe("10.0.0.0/8");
    expect(tcpNets!.destination.notNets?.[0]?.text).toBe("10.1.0.0/16");
    expect(tcpNets!.destination.selector).toBeUndefined();
  });
  it("C.1: a bare namespaceSelector peer matches only pods, in the selected namespaces", () => {
    const p = conv({
      podSelector: {},
      policyTypes: ["Egress"],
      egress: [{ to: [{ namespaceSelector: {} }] }],
    });
    expect(p.egress[0]!.destination.selector?.toString()).toBe(
      '(has(projectcalico.org/namespace) && projectcalico.org/orchestrator == "k8s")',
    );
  });
});
