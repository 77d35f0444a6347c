import { describe, expect, it } from "vitest";
import { validateCalicoObject } from "./validate.ts";
import { loadRealworld } from "./testdata/vectors.ts";

const gnp = (spec: Record<string, unknown>, name = "p") => ({
  apiVersion: "projectcalico.org/v3",
  kind: "GlobalNetworkPolicy",
  metadata: { name },
  spec,
});
const np = (spec: Record<string, unknown>, name = "p") => ({
  apiVersion: "projectcalico.org/v3",
  kind: "NetworkPolicy",
  metadata: { name, namespace: "default" },
  spec,
});
const knp = (spec: Record<string, unknown>) => ({
  apiVersion: "networking.k8s.io/v1",
  kind: "NetworkPolicy",
  metadata: { name: "k", namespace: "default" },
  spec,
});
const ee = { edition: "enterprise" } as const;

describe("validateCalicoObject: invalid objects, every problem with its path", () => {
  const table: [string, unknown, string, RegExp][] = [
    ["A.8: bad selector points at the error", gnp({ selector: "app == web" }), "spec.selector", /position 7/],
    [
      "A.8: rule selector",
      gnp({ egress: [{ action: "Allow" }, { action: "Allow", destination: { selector: "a = 'b'" } }] }),
      "spec.egress[1].destination.selector",
      /expected ==/,
    ],
    [
      "A.8: action case matters",
      gnp({ egress: [{ action: "allow" }] }),
      "spec.egress[0].action",
      /Allow, Deny, Pass, Log/,
    ],
    [
      "A.8: ports need a protocol",
      gnp({ egress: [{ action: "Allow", destination: { ports: [443] } }] }),
      "spec.egress[0].destination.ports",
      /rules that specify ports must set protocol to TCP or UDP or SCTP/,
    ],
    [
      "A.8: ports with ICMP",
      gnp({ egress: [{ action: "Allow", protocol: "ICMP", destination: { ports: [443] } }] }),
      "spec.egress[0].destination.ports",
      /must set protocol/,
    ],
    [
      "A.8: ICMP fields need protocol ICMP",
      gnp({ egress: [{ action: "Allow", protocol: "TCP", icmp: { type: 8 } }] }),
      "spec.egress[0].icmp",
      /ICMP fields must set protocol to ICMP/,
    ],
    [
      "A.8: ICMP code needs a type",
      gnp({ egress: [{ action: "Allow", protocol: "ICMP", icmp: { code: 0 } }] }),
      "spec.egress[0].icmp.code",
      /without an ICMP type/,
    ],
    [
      "A.8: ICMP type range",
      gnp({ egress: [{ action: "Allow", protocol: "ICMP", icmp: { type: 255 } }] }),
      "spec.egress[0].icmp.type",
      /0 and 254/,
    ],
    [
      "A.8: bad CIDR",
      gnp({ egress: [{ action: "Allow", destination: { nets: ["10.0.0.0/33"] } }] }),
      "spec.egress[0].destination.nets[0]",
      /invalid CIDR/,
    ],
    [
      "A.8: notNets 0.0.0.0/0",
      gnp({ egress: [{ action: "Allow", destination: { notNets: ["0.0.0.0/0"] } }] }),
      "spec.egress[0].destination.notNets[0]",
      /matches no packet/,
    ],
    [
      "A.8: mixed IPv4/IPv6",
      gnp({ egress: [{ action: "Allow", destination: { nets: ["10.0.0.0/8", "fd00::/8"] } }] }),
      "spec.egress[0].destination.nets",
      /both IPv4 and IPv6/,
    ],
    [
      "A.8: global() in a rule selector",
      gnp({ egress: [{ action: "Allow", destination: { selector: "global()" } }] }),
      "spec.egress[0].destination.selector",
      /global\(\) can only be used in an EntityRule namespaceSelector/,
    ],
    [
      "A.8: global() combined",
      np({ egress: [{ action: "Allow", destination: { namespaceSelector: "global() && a == 'b'" } }] }),
      "spec.egress[0].destination.namespaceSelector",
      /cannot be combined/,
    ],
    ["A.8: global() as policy selector", gnp({ selector: "global()" }), "spec.selector", /global\(\)/],
    [
      "A.7: duplicate types",
      gnp({ types: ["Egress", "Egress"] }),
      "spec.types",
      /'Egress' type specified more than once/,
    ],
    [
      "A.8: services in egress source",
      gnp({ egress: [{ action: "Allow", source: { services: { name: "x", namespace: "y" } } }] }),
      "spec.egress[0].source.services",
      /not allowed in egress rule source/,
    ],
    [
      "A.8: services in ingress destination",
      np({ ingress: [{ action: "Allow", destination: { services: { name: "x" } } }] }),
      "spec.ingress[0].destination.services",
      /not allowed in ingress rule destination/,
    ],
    [
      "A.8: services with a selector",
      np({ egress: [{ action: "Allow", destination: { services: { name: "x" }, selector: "a == 'b'" } }] }),
      "spec.egress[0].destination.services",
      /Selector\/NotSelector and Services/,
    ],
    [
      "A.8: services with ports",
      np({
        egress: [{ action: "Allow", protocol: "TCP", destination: { services: { name: "x" }, ports: [80] } }],
      }),
      "spec.egress[0].destination.ports",
      /cannot specify ports with a service selector/,
    ],
    [
      "A.8: GNP services need a namespace",
      gnp({ egress: [{ action: "Allow", destination: { services: { name: "x" } } }] }),
      "spec.egress[0].destination.services.namespace",
      /must specify a namespace/,
    ],
    [
      "D: domains only on Allow",
      gnp({ egress: [{ action: "Deny", destination: { domains: ["a.com"] } }] }),
      "spec.egress[0].destination.domains",
      /action Allow/,
    ],
    [
      "D: domains not with nets",
      gnp({ egress: [{ action: "Allow", destination: { domains: ["a.com"], nets: ["1.2.3.4/32"] } }] }),
      "spec.egress[0].destination.domains",
      /nets/,
    ],
    [
      "D: domains not with a selector",
      gnp({ egress: [{ action: "Allow", destination: { domains: ["a.com"], selector: "a == 'b'" } }] }),
      "spec.egress[0].destination.domains",
      /selector/,
    ],
    [
      "D: domains only in egress",
      gnp({ ingress: [{ action: "Allow", source: { domains: ["a.com"] } }] }),
      "spec.ingress[0].source.domains",
      /egress/,
    ],
    [
      "D: two wildcards",
      gnp({ egress: [{ action: "Allow", destination: { domains: ["*.*.a.com"] } }] }),
      "spec.egress[0].destination.domains[0]",
      /one wildcard/,
    ],
    [
      "D: partial wildcard",
      gnp({ egress: [{ action: "Allow", destination: { domains: ["www.g*.com"] } }] }),
      "spec.egress[0].destination.domains[0]",
      /whole label/,
    ],
    [
      "D: trailing wildcard",
      gnp({ egress: [{ action: "Allow", destination: { domains: ["www.mycompany.*"] } }] }),
      "spec.egress[0].destination.domains[0]",
      /last label/,
    ],
    [
      "D: network set domains",
      {
        apiVersion: "projectcalico.org/v3",
        kind: "GlobalNetworkSet",
        metadata: { name: "s" },
        spec: { allowedEgressDomains: ["a.*"] },
      },
      "spec.allowedEgressDomains[0]",
      /last label/,
    ],
    [
      "A.8: protocol name",
      gnp({ egress: [{ action: "Allow", protocol: "HTTP" }] }),
      "spec.egress[0].protocol",
      /protocol name invalid/,
    ],
    [
      "A.8: protocol number",
      gnp({ egress: [{ action: "Allow", protocol: 256 }] }),
      "spec.egress[0].protocol",
      /protocol number invalid/,
    ],
    [
      "A.8: port range order",
      gnp({ egress: [{ action: "Allow", protocol: "TCP", destination: { ports: ["90:80"] } }] }),
      "spec.egress[0].destination.ports[0]",
      /port range invalid/,
    ],
    [
      "A.2: tier name with a dot",
      { apiVersion: "projectcalico.org/v3", kind: "Tier", metadata: { name: "a.b" }, spec: { order: 1 } },
      "metadata.name",
      /lower case alphanumeric/,
    ],
    [
      "A.2: default tier order is fixed",
      { apiVersion: "projectcalico.org/v3", kind: "Tier", metadata: { name: "default" }, spec: { order: 5 } },
      "spec.order",
      /1000000/,
    ],
    [
      "A.2: tier default action",
      {
        apiVersion: "projectcalico.org/v3",
        kind: "Tier",
        metadata: { name: "t" },
        spec: { order: 1, defaultAction: "Allow" },
      },
      "spec.defaultAction",
      /Deny or Pass/,
    ],
    ["A.2: policy name with two dots", gnp({}, "a.b.c"), "metadata.name", /lower case/],
    ["A.2: spec.tier must be a tier name", np({ tier: "Sec.x" }), "spec.tier", /tier name/],
    [
      "IPPool: CIDR",
      {
        apiVersion: "projectcalico.org/v3",
        kind: "IPPool",
        metadata: { name: "p" },
        spec: { cidr: "10.0.0.0/33" },
      },
      "spec.cidr",
      /valid subnet/,
    ],
    [
      "IPPool: not masked",
      {
        apiVersion: "projectcalico.org/v3",
        kind: "IPPool",
        metadata: { name: "p" },
        spec: { cidr: "10.0.0.1/24" },
      },
      "spec.cidr",
      /strictly masked/,
    ],
    [
      "IPPool: block size",
      {
        apiVersion: "projectcalico.org/v3",
        kind: "IPPool",
        metadata: { name: "p" },
        spec: { cidr: "10.0.0.0/16", blockSize: 33 },
      },
      "spec.blockSize",
      /between 20 and 32/,
    ],
    [
      "IPPool: pool smaller than a block",
      {
        apiVersion: "projectcalico.org/v3",
        kind: "IPPool",
        metadata: { name: "p" },
        spec: { cidr: "10.10.10.0/30" },
      },
      "spec.cidr",
      /too small/,
    ],
    [
      "EgressGatewayPolicy: duplicate destinations",
      {
        apiVersion: "projectcalico.org/v3",
        kind: "EgressGatewayPolicy",
        metadata: { name: "e" },
        spec: {
          rules: [
            { destination: { cidr: "8.8.8.8" }, gateway: { selector: "a == 'b'" } },
            { destination: { cidr: "8.8.8.8/32" } },
          ],
        },
      },
      "spec.rules[1].destination.cidr",
      /already used/,
    ],
    [
      "EgressGatewayPolicy: empty selector",
      {
        apiVersion: "projectcalico.org/v3",
        kind: "EgressGatewayPolicy",
        metadata: { name: "e" },
        spec: { rules: [{ gateway: { selector: "" } }] },
      },
      "spec.rules[0].gateway.selector",
      /must not be empty/,
    ],
    [
      "EgressGateway: needs pools",
      {
        apiVersion: "operator.tigera.io/v1",
        kind: "EgressGateway",
        metadata: { name: "g", namespace: "default" },
        spec: { replicas: 1 },
      },
      "spec.ipPools",
      /at least one/,
    ],
    [
      "C.1: endPort needs a numeric port",
      knp({ podSelector: {}, egress: [{ ports: [{ port: "dns", endPort: 60 }] }] }),
      "spec.egress[0].ports[0].endPort",
      /non-numeric/,
    ],
    [
      "C.1: endPort below port",
      knp({ podSelector: {}, egress: [{ ports: [{ port: 80, endPort: 60 }] }] }),
      "spec.egress[0].ports[0].endPort",
      /greater than or equal/,
    ],
    [
      "C.1: except outside cidr",
      knp({
        podSelector: {},
        egress: [{ to: [{ ipBlock: { cidr: "10.0.0.0/8", except: ["11.0.0.0/16"] } }] }],
      }),
      "spec.egress[0].to[0].ipBlock.except[0]",
      /strict subset/,
    ],
    [
      "C.1: bad protocol",
      knp({ podSelector: {}, egress: [{ ports: [{ protocol: "ICMP" }] }] }),
      "spec.egress[0].ports[0].protocol",
      /Unsupported value/,
    ],
    [
      "C.1: boolean label value",
      knp({ podSelector: { matchLabels: { "egress-node": true } } }),
      "spec.podSelector.matchLabels.egress-node",
      /strings/,
    ],
    ["C.1: podSelector is required", knp({ policyTypes: ["Egress"] }), "spec.podSelector", /Required value/],
    [
      "C.1: In needs values",
      knp({ podSelector: { matchExpressions: [{ key: "a", operator: "In" }] } }),
      "spec.podSelector.matchExpressions[0].values",
      /must be specified/,
    ],
  ];
  it.each(table)("%s", (_name, obj, where, message) => {
    const problems = validateCalicoObject(obj, ee);
    const hit = problems.find((p) => p.where === where && message.test(p.message));
    expect(hit, JSON.stringify(problems)).toBeDefined();
  });

  it("reports every problem at once", () => {
    const problems = validateCalicoObject(
      gnp({
        selector: "a ==",
        types: ["Egress", "Egress"],
        egress: [{ action: "Nope", destination: { ports: [1] } }],
      }),
      ee,
    );
    expect(problems.map((p) => p.where).sort()).toEqual(
      ["spec.egress[0].action", "spec.egress[0].destination.ports", "spec.selector", "spec.types"].sort(),
    );
  });
});

describe("validateCalicoObject: valid objects", () => {
  const table: [string, unknown][] = [
    [
      "a full egress policy",
      gnp({
        tier: "security",
        order: 10,
        selector: "app == 'x'",
        types: ["Egress"],
        egress: [
          { action: "Allow", protocol: "UDP", destination: { ports: [53, "dns"] } },
          { action: "Allow", destination: { domains: ["api.alice.com", "*.example.com", "www.*.com"] } },
          { action: "Pass" },
        ],
      }),
    ],
    [
      "named ports without protocol",
      gnp({ egress: [{ action: "Allow", destination: { ports: ["http"] } }] }),
    ],
    [
      "a numeric protocol",
      gnp({ egress: [{ action: "Allow", protocol: 6, destination: { ports: ["80:90"] } }] }),
    ],
    ["a tier-prefixed name", np({ tier: "security" }, "security.allow")],
    ["a plain name in a non-default tier (3.32)", np({ tier: "security" }, "allow")],
    [
      "global() alone in a rule namespaceSelector",
      np({ egress: [{ action: "Allow", destination: { namespaceSelector: "global()" } }] }),
    ],
    [
      "ICMP with type and code",
      gnp({ ingress: [{ action: "Allow", protocol: "ICMP", icmp: { type: 8, code: 0 } }] }),
    ],
    ["notProtocol", gnp({ egress: [{ action: "Deny", notProtocol: "TCP" }] })],
    [
      "services in egress destination",
      np({
        egress: [
          { action: "Allow", destination: { services: { name: "kube-dns", namespace: "kube-system" } } },
        ],
      }),
    ],
    [
      "a staged delete",
      {
        apiVersion: "projectcalico.org/v3",
        kind: "StagedNetworkPolicy",
        metadata: { name: "x", namespace: "a" },
        spec: { stagedAction: "Delete" },
      },
    ],
    [
      "a kubernetes policy",
      knp({
        podSelector: { matchLabels: { app: "a" } },
        policyTypes: ["Egress"],
        egress: [
          {
            to: [
              { namespaceSelector: {}, podSelector: { matchLabels: { k: "v" } } },
              { ipBlock: { cidr: "10.0.0.0/8", except: ["10.1.0.0/16"] } },
            ],
            ports: [
              { port: 53, protocol: "UDP" },
              { port: 30000, endPort: 32767 },
            ],
          },
        ],
      }),
    ],
    [
      "an IP pool for gateways",
      {
        apiVersion: "projectcalico.org/v3",
        kind: "IPPool",
        metadata: { name: "e" },
        spec: { cidr: "10.10.10.0/30", blockSize: 32, nodeSelector: "!all()" },
      },
    ],
    ["an unrelated kind", { apiVersion: "v1", kind: "Pod", metadata: { name: "x" }, spec: { whatever: 1 } }],
  ];
  it.each(table)("%s", (_name, obj) => {
    expect(validateCalicoObject(obj, ee)).toEqual([]);
  });
});

const realworld = loadRealworld();
describe("validateCalicoObject on the real-world documents", () => {
  const docs = [...realworld.docs].flatMap(([file, list]) =>
    list.map((d, i) => [`${file} #${i + 1}`, d] as const),
  );
  it("has the documents", () => expect(docs.length).toBeGreaterThanOrEqual(realworld.complete ? 42 : 9));
  it.each(docs)("%s", (name, doc) => {
    const problems = validateCalicoObject(doc, ee);
    if (name.includes("log-everything")) expect(problems.map((p) => p.where)).toEqual(["metadata.name"]);
    else expect(problems).toEqual([]);
  });
});
