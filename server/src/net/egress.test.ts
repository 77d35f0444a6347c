import { describe, expect, it } from "vitest";
import { egressRoute } from "./egress.ts";
import { createTestCluster, podObject } from "./testkit.ts";

type Mode = "Disabled" | "EnabledPerNamespace" | "EnabledPerNamespaceOrPerPod";

function setup(mode: Mode, nsAnn: Record<string, string>, podAnn: Record<string, string>) {
  const c = createTestCluster({ traffic: false });
  c.apply({
    apiVersion: "projectcalico.org/v3",
    kind: "FelixConfiguration",
    metadata: { name: "default" },
    spec: { egressIPSupport: mode },
  });
  c.apply({
    apiVersion: "v1",
    kind: "Namespace",
    metadata: { name: "app", labels: { team: "a" }, annotations: nsAnn },
  });
  c.apply({ apiVersion: "v1", kind: "Namespace", metadata: { name: "egw", labels: { role: "egress" } } });
  for (const [ns, name, code, ip] of [
    ["app", "gw-red", "red", "10.10.10.1"],
    ["app", "gw-blue", "blue", "10.10.10.2"],
    ["egw", "gw-green", "green", "10.10.10.3"],
  ] as const) {
    c.apply({
      apiVersion: "operator.tigera.io/v1",
      kind: "EgressGateway",
      metadata: { name, namespace: ns },
      spec: { template: { metadata: { labels: { "egress-code": code } } } },
    });
    c.addPod({ namespace: ns, name: `${name}-0`, ip, labels: { "egress-code": code } });
  }
  const client = c.addPod({ namespace: "app", name: "client", ip: "192.168.5.5", annotations: podAnn });
  return { c, client };
}

const A = "egress.projectcalico.org/";

describe("egressRoute", () => {
  it.each<[string, Mode, Record<string, string>, Record<string, string>, string, string]>([
    [
      "disabled: annotations do nothing",
      "Disabled",
      { [A + "selector"]: "egress-code == 'red'" },
      {},
      "8.8.8.8",
      "direct",
    ],
    [
      "per namespace",
      "EnabledPerNamespace",
      { [A + "selector"]: "egress-code == 'red'" },
      {},
      "8.8.8.8",
      "gw-red-0",
    ],
    [
      "per namespace ignores pod annotations",
      "EnabledPerNamespace",
      { [A + "selector"]: "egress-code == 'red'" },
      { [A + "selector"]: "egress-code == 'blue'" },
      "8.8.8.8",
      "gw-red-0",
    ],
    [
      "per pod overrides the namespace",
      "EnabledPerNamespaceOrPerPod",
      { [A + "selector"]: "egress-code == 'red'" },
      { [A + "selector"]: "egress-code == 'blue'" },
      "8.8.8.8",
      "gw-blue-0",
    ],
    [
      "selector alone matches only the client's namespace",
      "EnabledPerNamespace",
      { [A + "selector"]: "egress-code == 'green'" },
      {},
      "8.8.8.8",
      "blocked",
    ],
    [
      "namespaceSelector reaches other namespaces",
      "EnabledPerNamespace",
      { [A + "selector"]: "egress-code == 'green'", [A + "namespaceSelector"]: "role == 'egress'" },
      {},
      "8.8.8.8",
      "gw-green-0",
    ],
    [
      "a bad selector blocks",
      "EnabledPerNamespace",
      { [A + "selector"]: "egress-code ==" },
      {},
      "8.8.8.8",
      "blocked",
    ],
    [
      "a missing EgressGatewayPolicy blocks",
      "EnabledPerNamespace",
      { [A + "egressGatewayPolicy"]: "nope" },
      {},
      "8.8.8.8",
      "blocked",
    ],
  ])("%s", (_name, mode, nsAnn, podAnn, dst, want) => {
    const { c, client } = setup(mode, nsAnn, podAnn);
    const r = egressRoute(c.store, c.store.get("core/pods", "app", "client") ?? client, dst);
    expect(r.kind === "gateway" ? r.gateway.metadata.name : r.kind).toBe(want);
    c.close();
  });

  it("EgressGatewayPolicy routes by longest prefix; a rule without a gateway exits directly", () => {
    const { c } = setup("EnabledPerNamespace", { [A + "egressGatewayPolicy"]: "p" }, {});
    c.store.commit("projectcalico.org/egressgatewaypolicies", "ADDED", {
      apiVersion: "projectcalico.org/v3",
      kind: "EgressGatewayPolicy",
      metadata: { name: "p", resourceVersion: c.store.nextVersion() },
      spec: {
        rules: [
          { destination: { cidr: "10.0.0.0/8" } },
          { destination: { cidr: "11.0.0.0/8" }, gateway: { selector: "egress-code == 'blue'" } },
          {
            destination: { cidr: "11.1.0.0/16" },
            gateway: { selector: "egress-code == 'green'", namespaceSelector: "role == 'egress'" },
          },
          { gateway: { selector: "egress-code == 'red'" } },
        ],
      },
    });
    const pod = c.store.get("core/pods", "app", "client")!;
    const via = (ip: string) => {
      const r = egressRoute(c.store, pod, ip);
      return r.kind === "gateway" ? r.gateway.metadata.name : r.kind;
    };
    expect([via("10.9.9.9"), via("11.2.2.2"), via("11.1.2.3"), via("8.8.8.8")]).toEqual([
      "direct",
      "gw-blue-0",
      "gw-green-0",
      "gw-red-0",
    ]);
    c.close();
  });

  it("gateway pods themselves always exit directly", () => {
    const { c } = setup("EnabledPerNamespace", { [A + "selector"]: "egress-code == 'red'" }, {});
    expect(
      egressRoute(
        c.store,
        podObject({ namespace: "app", name: "gw-red-0", ip: "10.10.10.1", labels: { "egress-code": "red" } }),
        "8.8.8.8",
      ).kind,
    ).toBe("direct");
    c.close();
  });
});
