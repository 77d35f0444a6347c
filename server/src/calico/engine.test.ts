import { describe, expect, it } from "vitest";
import { PolicyEngine, type ConnectionAttempt } from "./engine.ts";
import { gnp, gns, knp, netset, np, ns, pod, sa, svc, tier } from "./testdata/objects.ts";

const WEB = "192.168.0.10";
const CLIENT = "192.168.0.11";
const CENTOS = "192.168.1.10";
const DNS_POD = "192.168.2.2";
const EXT = "93.184.216.34";
const T0 = Date.UTC(2026, 0, 1);

function cluster(edition: "enterprise" | "oss" = "enterprise"): PolicyEngine {
  const e = new PolicyEngine({ edition });
  for (const o of [
    ns("default"),
    ns("dev", { env: "dev" }),
    ns("kube-system"),
    sa("default", "builder", { team: "ci" }),
    pod("default", "web", { app: "web" }, WEB, { ports: [{ name: "http", containerPort: 80 }] }),
    pod("default", "client", { app: "client" }, CLIENT, { sa: "builder" }),
    pod("dev", "centos", { app: "centos" }, CENTOS),
    pod("kube-system", "coredns", { "k8s-app": "kube-dns" }, DNS_POD, {
      ports: [
        { name: "dns", containerPort: 53, protocol: "UDP" },
        { name: "dns-tcp", containerPort: 53, protocol: "TCP" },
      ],
    }),
    svc("kube-system", "kube-dns", { "k8s-app": "kube-dns" }, [
      { name: "dns", port: 53, protocol: "UDP", targetPort: 53 },
      { name: "dns-tcp", port: 53, protocol: "TCP", targetPort: 53 },
    ]),
  ])
    e.upsert(o);
  return e;
}

const conn = (
  srcIp: string,
  dstIp: string,
  dstPort = 80,
  protocol: ConnectionAttempt["protocol"] = "TCP",
): ConnectionAttempt => ({
  srcIp,
  dstIp,
  protocol,
  dstPort,
  now: T0,
});

const learn = (e: PolicyEngine, name: string, ips: string[], ttlSeconds = 60, now = T0) =>
  e.learnDns({ name, ips, ttlSeconds, now, server: { ip: "10.96.0.10", port: 53 } });

describe("A.4 evaluation order", () => {
  it("A.4: with no policy, the namespace profile allows both directions", () => {
    const v = cluster().evaluate(conn(CLIENT, WEB));
    expect(v.allowed).toBe(true);
    expect(v.egress.policies).toEqual(["0|__PROFILE__|pro:kns.default|allow|0"]);
    expect(v.ingress.policies).toEqual(["0|__PROFILE__|pro:kns.default|allow|0"]);
    expect(v.egress.explanation).toMatch(
      /no policy in any tier selects pod default\/client for egress, so the namespace profile kns.default allowed it/,
    );
  });

  it("A.4: a tier applies only if a policy selects the endpoint for that direction", () => {
    const e = cluster();
    e.upsert(gnp("ingress-only", { selector: "app == 'client'", types: ["Ingress"] }));
    expect(e.evaluate(conn(CLIENT, EXT)).egress.policies).toEqual(["0|__PROFILE__|pro:kns.default|allow|0"]);
  });

  it("A.4: an applicable tier with no matching rule ends in a deny (-1)", () => {
    const e = cluster();
    e.upsert(gnp("deny-egress", { selector: "app == 'client'", types: ["Egress"] }));
    const v = e.evaluate(conn(CLIENT, EXT, 443));
    expect(v.allowed).toBe(false);
    expect(v.egress.action).toBe("deny");
    expect(v.egress.policies).toEqual(["0|default|gnp:deny-egress|deny|-1"]);
    expect(v.egress.decidedBy).toMatchObject({ tier: "default", name: "deny-egress", ruleIndex: -1 });
    expect(v.egress.explanation).toMatch(/denied at the end of tier "default"/);
    expect(v.ingress.action).toBe("none");
  });

  it("explanations hint at the usual mistakes: DNS, and tiers without a trailing Pass", () => {
    const e = cluster();
    e.upsert(tier("security", 10));
    e.upsert(
      gnp("apis", {
        tier: "security",
        selector: "app == 'client'",
        types: ["Egress"],
        egress: [{ action: "Allow", protocol: "TCP", destination: { ports: [443] } }],
      }),
    );
    const v = e.evaluate(conn(CLIENT, DNS_POD, 53, "UDP"));
    expect(v.egress.explanation).toMatch(/No rule allows this DNS query/);
    expect(v.egress.explanation).toMatch(/end the tier with a Pass rule/);
    expect(e.evaluate(conn(CLIENT, EXT, 443)).egress.explanation).not.toMatch(/DNS|Pass rule/);
  });

  it("A.4: Allow and Deny are final; the first matching rule wins", () => {
    const e = cluster();
    e.upsert(
      gnp("a", {
        order: 1,
        selector: "app == 'client'",
        egress: [{ action: "Deny", protocol: "TCP", destination: { ports: [443] } }, { action: "Allow" }],
      }),
    );
    e.upsert(gnp("b", { order: 2, selector: "app == 'client'", egress: [{ action: "Allow" }] }));
    expect(e.evaluate(conn(CLIENT, EXT, 443)).egress.policies).toEqual(["0|default|gnp:a|deny|0"]);
    expect(e.evaluate(conn(CLIENT, EXT, 80)).egress.policies).toEqual(["0|default|gnp:a|allow|1"]);
  });

  it("A.4: Pass skips the rest of the tier and continues with the next applicable tier", () => {
    const e = cluster();
    e.upsert(tier("security", 100));
    e.upsert(
      gnp("pass-all", {
        tier: "security",
        order: 1,
        selector: "all()",
        types: ["Egress"],
        egress: [{ action: "Pass" }],
      }),
    );
    e.upsert(
      gnp("deny-late", {
        tier: "security",
        order: 2,
        selector: "all()",
        types: ["Egress"],
        egress: [{ action: "Deny" }],
      }),
    );
    e.upsert(gnp("allow-client", { selector: "app == 'client'", egress: [{ action: "Allow" }] }));
    const v = e.evaluate(conn(CLIENT, EXT));
    expect(v.egress.policies).toEqual([
      "0|security|gnp:pass-all|pass|0",
      "1|default|gnp:allow-client|allow|0",
    ]);
  });

  it("A.4: Pass in the last applicable tier falls to the profile (Pass is not Deny)", () => {
    const e = cluster();
    e.upsert(tier("security", 100));
    e.upsert(
      gnp("pass", { tier: "security", selector: "all()", types: ["Egress"], egress: [{ action: "Pass" }] }),
    );
    const v = e.evaluate(conn(CLIENT, EXT));
    expect(v.allowed).toBe(true);
    expect(v.egress.policies).toEqual([
      "0|security|gnp:pass|pass|0",
      "1|__PROFILE__|pro:kns.default|allow|0",
    ]);
    expect(v.egress.explanation).toMatch(/passed it on and no later tier applied/);
  });

  it("A.2: a tier with defaultAction Pass passes unmatched traffic on (-1)", () => {
    const e = cluster();
    e.upsert(tier("devops", 300, "Pass"));
    e.upsert(
      gnp("stage-env", {
        tier: "devops",
        selector: "app == 'client'",
        types: ["Egress"],
        egress: [{ action: "Deny", protocol: "TCP", destination: { ports: [22] } }],
      }),
    );
    const v = e.evaluate(conn(CLIENT, EXT, 443));
    expect(v.allowed).toBe(true);
    expect(v.egress.policies).toEqual([
      "0|devops|gnp:stage-env|pass|-1",
      "1|__PROFILE__|pro:kns.default|allow|0",
    ]);
    expect(e.evaluate(conn(CLIENT, EXT, 22)).allowed).toBe(false);
  });

  it("A.2: tiers run in order; lower order first, unordered tiers last, ties by name", () => {
    const e = cluster();
    e.upsert(tier("zeta", 100));
    e.upsert(tier("alpha", 100));
    e.upsert(tier("last"));
    for (const t of ["zeta", "alpha", "last"])
      e.upsert(
        gnp(`${t}-pass`, {
          tier: t,
          selector: "app == 'client'",
          types: ["Egress"],
          egress: [{ action: "Pass" }],
        }),
      );
    expect(e.evaluate(conn(CLIENT, EXT)).egress.policies.map((s) => s.split("|")[1])).toEqual([
      "alpha",
      "zeta",
      "last",
      "__PROFILE__",
    ]);
  });

  it("A.3: within a tier, lower order first; no order runs last, after Kubernetes policies at 1000", () => {
    const e = cluster();
    e.upsert(gnp("unordered-deny", { selector: "app == 'client'", egress: [{ action: "Deny" }] }));
    e.upsert(
      knp("default", "allow-all-egress", {
        podSelector: { matchLabels: { app: "client" } },
        policyTypes: ["Egress"],
        egress: [{}],
      }),
    );
    expect(e.evaluate(conn(CLIENT, EXT)).egress.policies).toEqual([
      "0|default|knp:default/allow-all-egress|allow|0",
    ]);
    e.upsert(
      gnp("unordered-deny", { order: 999, selector: "app == 'client'", egress: [{ action: "Deny" }] }),
    );
    expect(e.evaluate(conn(CLIENT, EXT)).egress.policies).toEqual(["0|default|gnp:unordered-deny|deny|0"]);
  });

  it("A.3: order ties are broken by name, then namespace, then kind (3.32+)", () => {
    const e = cluster();
    e.upsert(gnp("b-allow", { order: 5, selector: "app == 'client'", egress: [{ action: "Allow" }] }));
    e.upsert(
      np("default", "a-deny", { order: 5, selector: "app == 'client'", egress: [{ action: "Deny" }] }),
    );
    expect(e.evaluate(conn(CLIENT, EXT)).egress.policies).toEqual(["0|default|np:default/a-deny|deny|0"]);
  });

  it("A.4: Log continues with the next rule; Log alone ends in the tier's deny", () => {
    const e = cluster();
    e.upsert(gnp("log", { selector: "app == 'client'", types: ["Egress"], egress: [{ action: "Log" }] }));
    expect(e.evaluate(conn(CLIENT, EXT)).egress.policies).toEqual(["0|default|gnp:log|deny|-1"]);
    e.upsert(
      gnp("log", {
        selector: "app == 'client'",
        types: ["Egress"],
        egress: [{ action: "Log" }, { action: "Allow" }],
      }),
    );
    expect(e.evaluate(conn(CLIENT, EXT)).egress.policies).toEqual(["0|default|gnp:log|allow|1"]);
  });

  it("A.2: policies in a tier without a Tier object sort after every valid tier", () => {
    const e = cluster();
    e.upsert(gnp("ghost", { tier: "ghost", selector: "app == 'client'", egress: [{ action: "Deny" }] }));
    e.upsert(gnp("allow", { selector: "app == 'client'", egress: [{ action: "Allow" }] }));
    expect(e.evaluate(conn(CLIENT, EXT)).egress.policies).toEqual(["0|default|gnp:allow|allow|0"]);
  });

  it("C.1: a connection needs the source's egress and the destination's ingress", () => {
    const e = cluster();
    e.upsert(
      knp("default", "web-ingress", {
        podSelector: { matchLabels: { app: "web" } },
        ingress: [{ from: [{ podSelector: { matchLabels: { app: "other" } } }] }],
      }),
    );
    const v = e.evaluate(conn(CLIENT, WEB));
    expect(v.egress.action).toBe("allow");
    expect(v.ingress.action).toBe("deny");
    expect(v.allowed).toBe(false);
    expect(v.ingress.policies).toEqual(["0|default|knp:default/web-ingress|deny|-1"]);
  });
});

describe("A.9 staged policies", () => {
  it("A.9: a staged policy is never enforced but appears in the pending trace", () => {
    const e = cluster();
    e.upsert(
      gnp("default-deny", { selector: "all()", types: ["Ingress", "Egress"] }, "StagedGlobalNetworkPolicy"),
    );
    const v = e.evaluate(conn(CLIENT, EXT));
    expect(v.allowed).toBe(true);
    expect(v.egress.policies).toEqual(["0|__PROFILE__|pro:kns.default|allow|0"]);
    expect(v.egress.pendingAction).toBe("deny");
    expect(v.egress.pendingPolicies).toEqual(["0|default|sgnp:default-deny|deny|-1"]);
  });

  it("A.9: a tier whose applicable policies are all staged has no end-of-tier drop", () => {
    const e = cluster();
    e.upsert(tier("security", 10));
    e.upsert(
      gnp("s", { tier: "security", selector: "all()", types: ["Egress"] }, "StagedGlobalNetworkPolicy"),
    );
    e.upsert(gnp("allow", { selector: "app == 'client'", egress: [{ action: "Allow" }] }));
    const v = e.evaluate(conn(CLIENT, EXT));
    expect(v.egress.policies).toEqual(["0|default|gnp:allow|allow|0"]);
    expect(v.egress.pendingPolicies).toEqual(["0|security|sgnp:s|deny|-1"]);
  });

  it("A.9: staged namespaced and Kubernetes kinds use snp and sknp", () => {
    const e = cluster();
    e.upsert(np("default", "x", { selector: "app == 'client'", types: ["Egress"] }, "StagedNetworkPolicy"));
    expect(e.evaluate(conn(CLIENT, EXT)).egress.pendingPolicies).toEqual(["0|default|snp:default/x|deny|-1"]);
    const k = cluster();
    k.upsert(
      knp("default", "y", { podSelector: {}, policyTypes: ["Egress"] }, "StagedKubernetesNetworkPolicy"),
    );
    expect(k.evaluate(conn(CLIENT, EXT)).egress.pendingPolicies).toEqual([
      "0|default|sknp:default/y|deny|-1",
    ]);
    expect(k.evaluate(conn(CLIENT, EXT)).allowed).toBe(true);
  });

  it("A.9: a staged policy with stagedAction Ignore stays out of the pending view", () => {
    const e = cluster();
    e.upsert(
      gnp(
        "ignored",
        { selector: "all()", types: ["Egress"], stagedAction: "Ignore" },
        "StagedGlobalNetworkPolicy",
      ),
    );
    expect(e.evaluate(conn(CLIENT, EXT)).egress.pendingAction).toBe("allow");
    e.upsert(
      gnp(
        "ignored",
        { selector: "all()", types: ["Egress"], stagedAction: "Set" },
        "StagedGlobalNetworkPolicy",
      ),
    );
    expect(e.evaluate(conn(CLIENT, EXT)).egress.pendingAction).toBe("deny");
  });

  it("A.9: a staged Delete is not sent to Felix: it changes neither view", () => {
    const e = cluster();
    e.upsert(np("default", "deny", { selector: "app == 'client'", types: ["Egress"] }));
    e.upsert(np("default", "deny", { stagedAction: "Delete" }, "StagedNetworkPolicy"));
    const v = e.evaluate(conn(CLIENT, EXT));
    expect(v.egress.action).toBe("deny");
    expect(v.egress.pendingAction).toBe("deny");
    expect(v.egress.pendingPolicies).toEqual(["0|default|np:default/deny|deny|-1"]);
  });
});

describe("A.5/A.6 endpoints and selection", () => {
  it("A.6: a namespaced policy selects only endpoints of its own namespace", () => {
    const e = cluster();
    e.upsert(np("dev", "deny-all", { selector: "all()", types: ["Egress"] }));
    expect(e.evaluate(conn(CLIENT, EXT)).allowed).toBe(true);
    expect(e.evaluate(conn(CENTOS, EXT)).allowed).toBe(false);
  });

  it("A.6: namespaceSelector of a GlobalNetworkPolicy matches namespace labels", () => {
    const e = cluster();
    e.upsert(gnp("dev-deny", { namespaceSelector: "env == 'dev'", types: ["Egress"] }));
    expect(e.evaluate(conn(CENTOS, EXT)).allowed).toBe(false);
    expect(e.evaluate(conn(CLIENT, EXT)).allowed).toBe(true);
  });

  it("A.5: namespace labels are inherited as pcns.* and follow label changes", () => {
    const e = cluster();
    e.upsert(gnp("by-pcns", { selector: "pcns.env == 'prod'", types: ["Egress"] }));
    expect(e.evaluate(conn(CLIENT, EXT)).allowed).toBe(true);
    e.upsert(ns("default", { env: "prod" }));
    expect(e.evaluate(conn(CLIENT, EXT)).allowed).toBe(false);
  });

  it("A.5: projectcalico.org/name selects a namespace by name; the system-namespace exemption works", () => {
    const e = cluster();
    e.upsert(
      gnp("default-deny", {
        selector: "projectcalico.org/namespace not in {'kube-system', 'calico-system'}",
        types: ["Ingress", "Egress"],
      }),
    );
    expect(e.evaluate(conn(DNS_POD, EXT, 53, "UDP")).allowed).toBe(true);
    expect(e.evaluate(conn(CLIENT, DNS_POD, 53, "UDP")).egress.action).toBe("deny");
  });

  it("A.6: serviceAccountSelector matches service-account labels (pcsa.*)", () => {
    const e = cluster();
    e.upsert(gnp("ci", { serviceAccountSelector: "team == 'ci'", types: ["Egress"] }));
    expect(e.evaluate(conn(CLIENT, EXT)).allowed).toBe(false);
    expect(e.evaluate(conn(WEB, EXT)).allowed).toBe(true);
    e.upsert(sa("default", "builder", { team: "other" }));
    expect(e.evaluate(conn(CLIENT, EXT)).allowed).toBe(true);
  });

  it("A.1: preDNAT and doNotTrack policies apply to host endpoints only, never to pods", () => {
    const e = cluster();
    e.upsert(
      gnp("raw", {
        selector: "all()",
        doNotTrack: true,
        applyOnForward: true,
        types: ["Ingress"],
        ingress: [{ action: "Deny" }],
      }),
    );
    e.upsert(
      gnp("pre", {
        selector: "all()",
        preDNAT: true,
        applyOnForward: true,
        types: ["Ingress"],
        ingress: [{ action: "Deny" }],
      }),
    );
    expect(e.evaluate(conn(CLIENT, WEB)).allowed).toBe(true);
  });

  it("A.5: host-networked pods are not endpoints", () => {
    const e = cluster();
    e.upsert(pod("default", "hostnet", { app: "client" }, "172.18.0.2", { hostNetwork: true }));
    e.upsert(gnp("deny", { selector: "app == 'client'", types: ["Egress"] }));
    expect(e.evaluate(conn("172.18.0.2", EXT)).egress.action).toBe("none");
  });

  it("A.5: a pod's labels changing moves it in and out of policies", () => {
    const e = cluster();
    e.upsert(gnp("deny", { selector: "quarantine == 'true'", types: ["Egress", "Ingress"] }));
    expect(e.evaluate(conn(CLIENT, EXT)).allowed).toBe(true);
    e.upsert(pod("default", "client", { app: "client", quarantine: "true" }, CLIENT, { sa: "builder" }));
    expect(e.evaluate(conn(CLIENT, EXT)).allowed).toBe(false);
    e.remove(gnp("deny", {}));
    expect(e.evaluate(conn(CLIENT, EXT)).allowed).toBe(true);
  });
});

describe("A.7 types defaulting", () => {
  const table: [string, Record<string, unknown>, boolean, boolean][] = [
    ["no rules → Ingress", {}, true, false],
    ["ingress rules → Ingress", { ingress: [{ action: "Deny" }] }, true, false],
    ["egress rules → Egress", { egress: [{ action: "Deny" }] }, false, true],
    ["both → both", { ingress: [{ action: "Deny" }], egress: [{ action: "Deny" }] }, true, true],
  ];
  it.each(table)("A.7: %s", (_n, spec, ingressApplies, egressApplies) => {
    const e = cluster();
    e.upsert(gnp("p", { selector: "app == 'web' || app == 'client'", ...spec }));
    const v = e.evaluate(conn(CLIENT, WEB));
    expect(v.ingress.action === "deny").toBe(ingressApplies);
    expect(v.egress.action === "deny").toBe(egressApplies);
  });
});

describe("A.8 rules", () => {
  const egressRule = (rule: Record<string, unknown>, nsName?: string) =>
    nsName
      ? np(nsName, "r", { selector: "all()", types: ["Egress"], egress: [rule] })
      : gnp("r", { selector: "app == 'client' || app == 'centos'", types: ["Egress"], egress: [rule] });

  const table: [string, Record<string, unknown>, ConnectionAttempt, boolean, string?][] = [
    ["nets match", { action: "Allow", destination: { nets: ["93.184.0.0/16"] } }, conn(CLIENT, EXT), true],
    [
      "nets mask host bits",
      { action: "Allow", destination: { nets: ["93.184.216.1/24"] } },
      conn(CLIENT, EXT),
      true,
    ],
    ["nets miss", { action: "Allow", destination: { nets: ["10.0.0.0/8"] } }, conn(CLIENT, EXT), false],
    [
      "notNets exclude",
      { action: "Allow", destination: { notNets: ["93.184.216.0/24"] } },
      conn(CLIENT, EXT),
      false,
    ],
    [
      "notNets allow others",
      { action: "Allow", destination: { notNets: ["10.0.0.0/8"] } },
      conn(CLIENT, EXT),
      true,
    ],
    ["protocol", { action: "Allow", protocol: "UDP" }, conn(CLIENT, EXT, 53, "UDP"), true],
    ["protocol mismatch", { action: "Allow", protocol: "UDP" }, conn(CLIENT, EXT, 53, "TCP"), false],
    ["protocol by number", { action: "Allow", protocol: 6 }, conn(CLIENT, EXT, 53, "TCP"), true],
    ["notProtocol", { action: "Allow", notProtocol: "TCP" }, conn(CLIENT, EXT, 53, "TCP"), false],
    [
      "port range",
      { action: "Allow", protocol: "TCP", destination: { ports: ["8000:9000"] } },
      conn(CLIENT, EXT, 8443),
      true,
    ],
    [
      "port range miss",
      { action: "Allow", protocol: "TCP", destination: { ports: ["8000:9000"] } },
      conn(CLIENT, EXT, 9001),
      false,
    ],
    [
      "notPorts",
      { action: "Allow", protocol: "TCP", destination: { notPorts: [22] } },
      conn(CLIENT, EXT, 22),
      false,
    ],
    [
      "named port on the destination pod",
      { action: "Allow", destination: { ports: ["http"] } },
      conn(CLIENT, WEB, 80),
      true,
    ],
    [
      "named port does not match another number",
      { action: "Allow", destination: { ports: ["http"] } },
      conn(CLIENT, WEB, 81),
      false,
    ],
    [
      "named port cannot match an external IP",
      { action: "Allow", destination: { ports: ["http"] } },
      conn(CLIENT, EXT, 80),
      false,
    ],
    [
      "named port with the wrong protocol",
      { action: "Allow", protocol: "UDP", destination: { ports: ["http"] } },
      conn(CLIENT, WEB, 80, "UDP"),
      false,
    ],
    [
      "ICMP type",
      { action: "Allow", protocol: "ICMP", icmp: { type: 8 } },
      { ...conn(CLIENT, EXT), protocol: "ICMP", icmp: { type: 8, code: 0 } },
      true,
    ],
    [
      "ICMP type mismatch",
      { action: "Allow", protocol: "ICMP", icmp: { type: 8 } },
      { ...conn(CLIENT, EXT), protocol: "ICMP", icmp: { type: 13 } },
      false,
    ],
    [
      "ICMP code",
      { action: "Allow", protocol: "ICMP", icmp: { type: 3, code: 4 } },
      { ...conn(CLIENT, EXT), protocol: "ICMP", icmp: { type: 3, code: 1 } },
      false,
    ],
    [
      "notICMP",
      { action: "Allow", protocol: "ICMP", notICMP: { type: 8 } },
      { ...conn(CLIENT, EXT), protocol: "ICMP", icmp: { type: 8 } },
      false,
    ],
    [
      "selector matches pods anywhere in a global policy",
      { action: "Allow", destination: { selector: "app == 'web'" } },
      conn(CENTOS, WEB),
      true,
    ],
    [
      "selector in a namespaced policy is namespace-scoped",
      { action: "Allow", destination: { selector: "k8s-app == 'kube-dns'" } },
      conn(CLIENT, DNS_POD, 53, "UDP"),
      false,
      "default",
    ],
    [
      "namespaceSelector widens a namespaced rule",
      {
        action: "Allow",
        destination: {
          selector: "k8s-app == 'kube-dns'",
          namespaceSelector: "projectcalico.org/name == 'kube-system'",
        },
      },
      conn(CLIENT, DNS_POD, 53, "UDP"),
      true,
      "default",
    ],
    [
      "namespaceSelector all() means every namespace",
      { action: "Allow", destination: { namespaceSelector: "all()" } },
      conn(CLIENT, DNS_POD, 53, "UDP"),
      true,
      "default",
    ],
    [
      "a rule with only nets is not namespace-limited",
      { action: "Allow", destination: { nets: ["192.168.2.0/24"] } },
      conn(CLIENT, DNS_POD, 53, "UDP"),
      true,
      "default",
    ],
    [
      "selector all() does not match external IPs",
      { action: "Allow", destination: { selector: "all()" } },
      conn(CLIENT, EXT),
      false,
    ],
    [
      "notSelector matches anywhere except the selected",
      { action: "Allow", destination: { notSelector: "app == 'web'" } },
      conn(CLIENT, EXT),
      true,
    ],
    [
      "notSelector excludes the selected",
      { action: "Allow", destination: { notSelector: "app == 'web'" } },
      conn(CLIENT, WEB),
      false,
    ],
    [
      "a namespaced notSelector alone still scopes to the namespace",
      { action: "Allow", destination: { notSelector: "app == 'web'" } },
      conn(CLIENT, EXT),
      false,
      "default",
    ],
    [
      "serviceAccounts names",
      { action: "Allow", source: { serviceAccounts: { names: ["builder"] } } },
      conn(CLIENT, EXT),
      true,
      "default",
    ],
    [
      "serviceAccounts names mismatch",
      { action: "Allow", source: { serviceAccounts: { names: ["other"] } } },
      conn(CLIENT, EXT),
      false,
      "default",
    ],
    [
      "source selector sees the sending pod",
      { action: "Allow", source: { selector: "app == 'client'" } },
      conn(CLIENT, EXT),
      true,
    ],
    [
      "services: egress to the kube-dns backends",
      { action: "Allow", destination: { services: { name: "kube-dns", namespace: "kube-system" } } },
      conn(CLIENT, DNS_POD, 53, "UDP"),
      true,
    ],
    [
      "services: other ports are not the service",
      { action: "Allow", destination: { services: { name: "kube-dns", namespace: "kube-system" } } },
      conn(CLIENT, DNS_POD, 80),
      false,
    ],
    ["ipVersion 6 never matches IPv4", { action: "Allow", ipVersion: 6 }, conn(CLIENT, EXT), false],
  ];
  it.each(table)("A.8: %s", (_n, rule, c, allowed, nsName) => {
    const e = cluster();
    e.upsert(egressRule(rule, nsName));
    expect(e.evaluate(c).egress.action).toBe(allowed ? "allow" : "deny");
  });

  it("A.8: rule selectors match network sets by their CIDRs; global() means non-namespaced sets only", () => {
    const e = cluster();
    e.upsert(gns("partners", { role: "partner" }, { nets: ["10.10.10.10/32"] }));
    e.upsert(netset("default", "local", { role: "partner" }, { nets: ["10.20.0.0/16"] }));
    e.upsert(
      np("default", "r", {
        selector: "all()",
        types: ["Egress"],
        egress: [
          { action: "Allow", destination: { selector: "role == 'partner'", namespaceSelector: "global()" } },
        ],
      }),
    );
    expect(e.evaluate(conn(CLIENT, "10.10.10.10")).egress.action).toBe("allow");
    expect(e.evaluate(conn(CLIENT, "10.20.1.1")).egress.action).toBe("deny");
    e.upsert(
      np("default", "r", {
        selector: "all()",
        types: ["Egress"],
        egress: [{ action: "Allow", destination: { selector: "role == 'partner'" } }],
      }),
    );
    expect(e.evaluate(conn(CLIENT, "10.20.1.1")).egress.action).toBe("allow");
    expect(e.evaluate(conn(CLIENT, "10.10.10.10")).egress.action).toBe("deny");
    e.remove(netset("default", "local", {}, {}));
    expect(e.evaluate(conn(CLIENT, "10.20.1.1")).egress.action).toBe("deny");
  });

  it("A.8: a rule can target a port range of a Kubernetes endPort", () => {
    const e = cluster();
    e.upsert(
      knp("default", "range", {
        podSelector: {},
        policyTypes: ["Egress"],
        egress: [{ ports: [{ port: 30000, endPort: 30010 }] }],
      }),
    );
    expect(e.evaluate(conn(CLIENT, EXT, 30005)).egress.action).toBe("allow");
    expect(e.evaluate(conn(CLIENT, EXT, 30011)).egress.action).toBe("deny");
  });
});

describe("C.1 Kubernetes NetworkPolicy peers", () => {
  it("C.1: namespaceSelector and podSelector in one peer are ANDed; in two peers ORed", () => {
    const and = cluster();
    and.upsert(
      knp("default", "dns", {
        podSelector: {},
        policyTypes: ["Egress"],
        egress: [
          {
            to: [
              {
                namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kube-system" } },
                podSelector: { matchLabels: { "k8s-app": "kube-dns" } },
              },
            ],
          },
        ],
      }),
    );
    expect(and.evaluate(conn(CLIENT, DNS_POD, 53, "UDP")).egress.action).toBe("allow");
    expect(and.evaluate(conn(CLIENT, WEB)).egress.action).toBe("deny");
    const or = cluster();
    or.upsert(
      knp("default", "dns", {
        podSelector: {},
        policyTypes: ["Egress"],
        egress: [
          {
            to: [
              { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kube-system" } } },
              { podSelector: { matchLabels: { app: "web" } } },
            ],
          },
        ],
      }),
    );
    expect(or.evaluate(conn(CLIENT, DNS_POD, 53, "UDP")).egress.action).toBe("allow");
    expect(or.evaluate(conn(CLIENT, WEB)).egress.action).toBe("allow");
    expect(or.evaluate(conn(CLIENT, EXT)).egress.action).toBe("deny");
  });

  it("C.1: ipBlock except carves holes, and applies to pod IPs too", () => {
    const e = cluster();
    e.upsert(
      knp("default", "cidr", {
        podSelector: {},
        policyTypes: ["Egress"],
        egress: [{ to: [{ ipBlock: { cidr: "192.168.0.0/16", except: ["192.168.2.0/24"] } }] }],
      }),
    );
    expect(e.evaluate(conn(CLIENT, CENTOS)).egress.action).toBe("allow");
    expect(e.evaluate(conn(CLIENT, DNS_POD, 53, "UDP")).egress.action).toBe("deny");
  });

  it("C.1: policies are additive; allow-all wins", () => {
    const e = cluster();
    e.upsert(knp("default", "deny-all", { podSelector: {}, policyTypes: ["Egress"] }));
    expect(e.evaluate(conn(CLIENT, EXT)).allowed).toBe(false);
    e.upsert(knp("default", "allow-all", { podSelector: {}, policyTypes: ["Egress"], egress: [{}] }));
    expect(e.evaluate(conn(CLIENT, EXT)).allowed).toBe(true);
  });

  it("C.1: a named container port resolves on the destination pod", () => {
    const e = cluster();
    e.upsert(
      knp("default", "named", {
        podSelector: { matchLabels: { app: "client" } },
        policyTypes: ["Egress"],
        egress: [{ ports: [{ port: "http" }] }],
      }),
    );
    expect(e.evaluate(conn(CLIENT, WEB, 80)).egress.action).toBe("allow");
    expect(e.evaluate(conn(CLIENT, EXT, 80)).egress.action).toBe("deny");
  });
});

describe("D DNS policy", () => {
  const domainPolicy = (domains: string[]) =>
    gnp("domains", {
      order: 1,
      selector: "app == 'client'",
      types: ["Egress"],
      egress: [
        { action: "Allow", protocol: "UDP", destination: { ports: [53] } },
        { action: "Allow", destination: { domains } },
      ],
    });

  it("D: exact and wildcard names; the wildcard needs at least one label", () => {
    const e = cluster();
    e.upsert(domainPolicy(["api.alice.com", "*.example.com"]));
    expect(learn(e, "bob.example.com", ["1.1.1.1"])).toBe(true);
    learn(e, "a.b.example.com", ["1.1.1.2"]);
    learn(e, "example.com", ["1.1.1.3"]);
    learn(e, "api.alice.com", ["1.1.1.4"]);
    learn(e, "www.alice.com", ["1.1.1.5"]);
    expect(e.evaluate(conn(CLIENT, "1.1.1.1", 443)).allowed).toBe(true);
    expect(e.evaluate(conn(CLIENT, "1.1.1.2", 443)).allowed).toBe(true);
    expect(e.evaluate(conn(CLIENT, "1.1.1.3", 443)).allowed).toBe(false);
    expect(e.evaluate(conn(CLIENT, "1.1.1.4", 443)).allowed).toBe(true);
    expect(e.evaluate(conn(CLIENT, "1.1.1.5", 443)).allowed).toBe(false);
  });

  it("D: a middle wildcard matches one or more labels", () => {
    const e = cluster();
    e.upsert(domainPolicy(["update.*.mycompany.com"]));
    learn(e, "update.secure.suite.mycompany.com", ["2.2.2.2"]);
    learn(e, "update.mycompany.com", ["2.2.2.3"]);
    expect(e.evaluate(conn(CLIENT, "2.2.2.2", 443)).allowed).toBe(true);
    expect(e.evaluate(conn(CLIENT, "2.2.2.3", 443)).allowed).toBe(false);
  });

  it("D: answers from untrusted servers teach nothing", () => {
    const e = cluster();
    e.upsert(domainPolicy(["api.alice.com"]));
    expect(
      e.learnDns({
        name: "api.alice.com",
        ips: ["3.3.3.3"],
        ttlSeconds: 60,
        now: T0,
        server: { ip: "8.8.8.8", port: 53 },
      }),
    ).toBe(false);
    expect(e.evaluate(conn(CLIENT, "3.3.3.3", 443)).allowed).toBe(false);
    expect(
      e.learnDns({
        name: "api.alice.com",
        ips: ["3.3.3.3"],
        ttlSeconds: 60,
        now: T0,
        server: { ip: DNS_POD, port: 53 },
      }),
    ).toBe(true);
    expect(e.evaluate(conn(CLIENT, "3.3.3.3", 443)).allowed).toBe(true);
  });

  it("D: learned IPs expire after the TTL plus dnsExtraTTL", () => {
    const e = cluster();
    e.upsert(domainPolicy(["api.alice.com"]));
    learn(e, "api.alice.com", ["4.4.4.4"], 30);
    expect(e.evaluate({ ...conn(CLIENT, "4.4.4.4", 443), now: T0 + 29_000 }).allowed).toBe(true);
    expect(e.evaluate({ ...conn(CLIENT, "4.4.4.4", 443), now: T0 + 31_000 }).allowed).toBe(false);
    e.upsert({
      apiVersion: "projectcalico.org/v3",
      kind: "FelixConfiguration",
      metadata: { name: "default" },
      spec: { dnsExtraTTL: "1m" },
    });
    learn(e, "api.alice.com", ["4.4.4.5"], 30);
    expect(e.evaluate({ ...conn(CLIENT, "4.4.4.5", 443), now: T0 + 80_000 }).allowed).toBe(true);
    expect(e.evaluate({ ...conn(CLIENT, "4.4.4.5", 443), now: T0 + 91_000 }).allowed).toBe(false);
  });

  it("D: dnsTrustedServers can name other resolvers", () => {
    const e = cluster();
    e.upsert({
      apiVersion: "projectcalico.org/v3",
      kind: "FelixConfiguration",
      metadata: { name: "default" },
      spec: { dnsTrustedServers: ["1.1.1.1", "k8s-service:kube-system/kube-dns"] },
    });
    expect(
      e.learnDns({
        name: "a.com",
        ips: ["5.5.5.5"],
        ttlSeconds: 60,
        now: T0,
        server: { ip: "1.1.1.1", port: 53 },
      }),
    ).toBe(true);
    expect(
      e.learnDns({
        name: "a.com",
        ips: ["5.5.5.5"],
        ttlSeconds: 60,
        now: T0,
        server: { ip: "1.1.1.1", port: 5353 },
      }),
    ).toBe(false);
  });

  it("D: domains sharing an IP are allowed together", () => {
    const e = cluster();
    e.upsert(domainPolicy(["allowed.example.org"]));
    learn(e, "allowed.example.org", ["6.6.6.6"]);
    learn(e, "other.example.net", ["6.6.6.6"]);
    expect(e.evaluate(conn(CLIENT, "6.6.6.6", 443)).allowed).toBe(true);
    expect(e.domainsForIp("6.6.6.6", T0).sort()).toEqual(["allowed.example.org", "other.example.net"]);
  });

  it("D: allowedEgressDomains of a network set count in egress Allow rules only", () => {
    const e = cluster();
    e.upsert(gns("apis", { type: "external-apis" }, { allowedEgressDomains: ["*.twilio.com"] }));
    e.upsert(
      gnp("allow", {
        order: 1,
        selector: "app == 'client'",
        types: ["Egress"],
        egress: [{ action: "Allow", destination: { selector: "type == 'external-apis'" } }],
      }),
    );
    learn(e, "api.twilio.com", ["7.7.7.7"]);
    learn(e, "www.google.com", ["7.7.7.8"]);
    expect(e.evaluate(conn(CLIENT, "7.7.7.7", 443)).allowed).toBe(true);
    expect(e.evaluate(conn(CLIENT, "7.7.7.8", 443)).allowed).toBe(false);
    const deny = cluster();
    deny.upsert(gns("apis", { type: "external-apis" }, { allowedEgressDomains: ["*.twilio.com"] }));
    deny.upsert(
      gnp("deny", {
        order: 1,
        selector: "app == 'client'",
        types: ["Egress"],
        egress: [
          { action: "Deny", destination: { selector: "type == 'external-apis'" } },
          { action: "Allow" },
        ],
      }),
    );
    learn(deny, "api.twilio.com", ["7.7.7.7"]);
    expect(deny.evaluate(conn(CLIENT, "7.7.7.7", 443)).allowed).toBe(true);
  });

  it("D: Calico Open Source has no DNS policy", () => {
    const e = cluster("oss");
    e.upsert(domainPolicy(["api.alice.com"]));
    expect(learn(e, "api.alice.com", ["8.8.4.4"])).toBe(false);
    expect(e.evaluate(conn(CLIENT, "8.8.4.4", 443)).allowed).toBe(false);
  });
});

describe("engine robustness", () => {
  it("skips invalid objects without throwing and keeps the previous version", () => {
    const e = cluster();
    e.upsert(gnp("p", { selector: "app == 'client'", types: ["Egress"] }));
    expect(() => e.upsert(gnp("p", { selector: "app == ", types: ["Egress"] }))).not.toThrow();
    expect(e.evaluate(conn(CLIENT, EXT)).allowed).toBe(false);
    expect(() => e.upsert({ apiVersion: "v1", kind: "Pod" } as never)).not.toThrow();
  });

  it("rejects a malformed connection with a validation error", () => {
    expect(() => cluster().evaluate(conn("nope", EXT))).toThrow(/not an IP address/);
  });

  it("traffic from a pod to itself is not policed", () => {
    const e = cluster();
    e.upsert(gnp("deny", { selector: "all()", types: ["Ingress", "Egress"] }));
    expect(e.evaluate(conn(CLIENT, CLIENT)).allowed).toBe(true);
  });

  it("applicablePolicies lists a pod's policies in evaluation order", () => {
    const e = cluster();
    e.upsert(tier("security", 10));
    e.upsert(gnp("b", { tier: "security", order: 2, selector: "app == 'client'", types: ["Egress"] }));
    e.upsert(
      gnp(
        "a",
        { tier: "security", order: 1, selector: "all()", types: ["Egress"] },
        "StagedGlobalNetworkPolicy",
      ),
    );
    e.upsert(knp("default", "k", { podSelector: {}, policyTypes: ["Ingress"] }));
    expect(e.applicablePolicies("default", "client")).toEqual({
      egress: [
        { tier: "security", kind: "sgnp", name: "a", staged: true },
        { tier: "security", kind: "gnp", name: "b", staged: false },
      ],
      ingress: [{ tier: "default", kind: "knp", namespace: "default", name: "k", staged: false }],
    });
    expect(e.applicablePolicies("default", "nope")).toBeUndefined();
  });

  it("endpointForIp and networkSetsForIp describe what an IP is", () => {
    const e = cluster();
    e.upsert(gns("g", { a: "b" }, { nets: ["10.0.0.0/8"] }));
    expect(e.endpointForIp(WEB)).toMatchObject({ namespace: "default", name: "web" });
    expect(e.endpointForIp(EXT)).toBeUndefined();
    expect(e.networkSetsForIp("10.1.2.3")).toEqual([{ name: "g", labels: { a: "b" } }]);
  });
});

describe("A.3 ClusterNetworkPolicy (3.32+)", () => {
  const cnp = (name: string, spec: Record<string, unknown>) =>
    ({
      apiVersion: "policy.networking.k8s.io/v1alpha2",
      kind: "ClusterNetworkPolicy",
      metadata: { name },
      spec,
    }) as never;

  it("A.3: Admin tier at order = priority; its tier passes what no rule decides", () => {
    const e = cluster();
    e.upsert(
      cnp("block-ext", {
        tier: "Admin",
        priority: 10,
        subject: { namespaces: {} },
        egress: [{ name: "r", action: "Deny", to: [{ networks: ["93.184.0.0/16"] }] }],
      }),
    );
    expect(e.evaluate(conn(CLIENT, EXT)).egress.policies).toEqual(["0|kube-admin|kcnp:block-ext|deny|0"]);
    expect(e.evaluate(conn(CLIENT, "8.8.8.8")).egress.policies).toEqual([
      "0|kube-admin|kcnp:block-ext|pass|-1",
      "1|__PROFILE__|pro:kns.default|allow|0",
    ]);
  });

  it("A.3: Accept in the Admin tier is final; Baseline runs after the default tier", () => {
    const e = cluster();
    e.upsert(gnp("deny-all", { selector: "app == 'client'", types: ["Egress"] }));
    e.upsert(
      cnp("allow-dns", {
        tier: "Admin",
        priority: 1,
        subject: { pods: { namespaceSelector: {}, podSelector: { matchLabels: { app: "client" } } } },
        egress: [
          {
            action: "Accept",
            to: [
              { pods: { namespaceSelector: {}, podSelector: { matchLabels: { "k8s-app": "kube-dns" } } } },
            ],
            protocols: [{ udp: { destinationPort: { number: 53 } } }],
          },
        ],
      }),
    );
    expect(e.evaluate(conn(CLIENT, DNS_POD, 53, "UDP")).egress.policies).toEqual([
      "0|kube-admin|kcnp:allow-dns|allow|0",
    ]);
    expect(e.evaluate(conn(CLIENT, DNS_POD, 53, "TCP")).egress.policies).toEqual([
      "0|kube-admin|kcnp:allow-dns|pass|-1",
      "1|default|gnp:deny-all|deny|-1",
    ]);
    const b = cluster();
    b.upsert(
      cnp("baseline-deny", {
        tier: "Baseline",
        priority: 5,
        subject: { namespaces: { matchLabels: { env: "dev" } } },
        egress: [{ action: "Deny", to: [{ networks: ["0.0.0.0/0"] }] }],
      }),
    );
    expect(b.evaluate(conn(CENTOS, EXT)).egress.policies).toEqual([
      "0|kube-baseline|kcnp:baseline-deny|deny|0",
    ]);
    expect(b.evaluate(conn(CLIENT, EXT)).allowed).toBe(true);
    b.upsert(np("dev", "allow", { selector: "all()", egress: [{ action: "Allow" }] }));
    expect(b.evaluate(conn(CENTOS, EXT)).egress.policies).toEqual(["0|default|np:dev/allow|allow|0"]);
  });

  it("A.3: a rule that cannot be converted fails closed for Deny/Pass and is dropped for Accept", () => {
    const e = cluster();
    e.upsert(
      cnp("named", {
        tier: "Admin",
        priority: 1,
        subject: { namespaces: {} },
        egress: [
          {
            action: "Pass",
            to: [{ networks: ["10.0.0.0/8"] }],
            protocols: [{ destinationNamedPort: "http" }],
          },
        ],
      }),
    );
    expect(e.evaluate(conn(CLIENT, EXT)).egress.policies).toEqual(["0|kube-admin|kcnp:named|deny|0"]);
    e.upsert(
      cnp("named", {
        tier: "Admin",
        priority: 1,
        subject: { namespaces: {} },
        egress: [
          {
            action: "Accept",
            to: [{ networks: ["10.0.0.0/8"] }],
            protocols: [{ destinationNamedPort: "http" }],
          },
        ],
      }),
    );
    expect(e.evaluate(conn(CLIENT, EXT)).egress.policies).toEqual(["0|__PROFILE__|pro:kns.default|allow|0"]);
  });
});
