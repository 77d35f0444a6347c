/**
 * F: Felix's functional test "goldmane flow log with staged policy tests" (felix/fv/flow_logs_goldmane_staged_test.go),
 * transcribed: the same tiers, policies and workloads, and the exact enforced and pending traces it expects.
 */
import { describe, expect, it } from "vitest";
import { PolicyEngine } from "./engine.ts";
import { gnp, knp, np, ns, pod, tier } from "./testdata/objects.ts";

const EP = {
  "ep1-1": "10.65.0.0",
  "ep2-1": "10.65.1.0",
  "ep2-2": "10.65.1.1",
  "ep2-3": "10.65.1.2",
} as const;
type Ep = keyof typeof EP;
const sel = (name: Ep) => `name == '${name}'`;

function fv(): PolicyEngine {
  const e = new PolicyEngine();
  e.upsert(ns("default"));
  for (const [name, ip] of Object.entries(EP)) e.upsert(pod("default", name, { name }, ip));
  e.upsert(tier("tier1", 1));
  e.upsert(tier("tier2", 2));
  e.upsert(
    gnp("default.ep1-1-allow-all", {
      order: 1,
      tier: "default",
      selector: sel("ep1-1"),
      types: ["Ingress", "Egress"],
      egress: [{ action: "Allow" }],
      ingress: [{ action: "Allow" }],
    }),
  );
  e.upsert(
    np("default", "tier1.np1-1", {
      order: 1,
      tier: "tier1",
      selector: "name in {'ep2-1', 'ep2-2'}",
      types: ["Ingress", "Egress"],
      egress: [
        { action: "Pass", source: { selector: sel("ep2-1") } },
        { action: "Deny", source: { selector: sel("ep2-2") } },
      ],
      ingress: [
        { action: "Allow", destination: { selector: sel("ep2-1") } },
        { action: "Pass", destination: { selector: sel("ep2-2") } },
      ],
    }),
  );
  e.upsert(
    np(
      "default",
      "tier2.np2-1",
      { order: 1, tier: "tier2", selector: sel("ep2-1"), types: ["Egress"], egress: [{ action: "Allow" }] },
      "StagedNetworkPolicy",
    ),
  );
  e.upsert(
    gnp("tier2.gnp2-2", {
      order: 2,
      tier: "tier2",
      selector: sel("ep2-3"),
      types: ["Egress"],
      egress: [{ action: "Deny" }],
    }),
  );
  e.upsert(
    gnp(
      "tier2.gnp2-2",
      { order: 2, tier: "tier2", selector: sel("ep2-3"), types: ["Ingress"] },
      "StagedGlobalNetworkPolicy",
    ),
  );
  e.upsert(
    np(
      "default",
      "tier2.np2-3",
      {
        order: 3,
        tier: "tier2",
        selector: "name in {'ep2-2', 'ep2-3'}",
        types: ["Ingress"],
        ingress: [
          { action: "Allow", destination: { selector: sel("ep2-2") } },
          { action: "Deny", destination: { selector: sel("ep2-3") } },
        ],
      },
      "StagedNetworkPolicy",
    ),
  );
  e.upsert(
    np("default", "tier2.np2-4", {
      order: 3,
      tier: "tier2",
      selector: sel("ep2-3"),
      types: ["Ingress"],
      ingress: [{ action: "Deny" }],
    }),
  );
  for (let i = 1; i <= 9; i++)
    e.upsert(
      knp(
        "default",
        `knp3-${i}`,
        { podSelector: { matchLabels: { name: "ep2-1" } }, policyTypes: ["Egress"] },
        "StagedKubernetesNetworkPolicy",
      ),
    );
  e.upsert(
    np(
      "default",
      "default.np3-2",
      {
        order: 1,
        tier: "default",
        selector: sel("ep2-2"),
        types: ["Ingress"],
        ingress: [{ action: "Allow" }],
      },
      "StagedNetworkPolicy",
    ),
  );
  e.upsert(
    np("default", "default.np3-3", {
      order: 2,
      tier: "default",
      selector: sel("ep2-2"),
      types: ["Ingress"],
      ingress: [{ action: "Allow" }],
    }),
  );
  e.upsert(
    np(
      "default",
      "default.np3-4",
      {
        order: 3,
        tier: "default",
        selector: sel("ep2-2"),
        types: ["Ingress"],
        ingress: [{ action: "Allow" }],
      },
      "StagedNetworkPolicy",
    ),
  );
  return e;
}

const ALLOW_ALL = "0|default|gnp:default.ep1-1-allow-all|allow|0";

describe("F: Felix FV staged-policy flow logs, transcribed", () => {
  const table: [Ep, Ep, boolean, "src" | "dst", string[], string[]][] = [
    ["ep1-1", "ep2-1", true, "src", [ALLOW_ALL], [ALLOW_ALL]],
    ["ep1-1", "ep2-2", true, "src", [ALLOW_ALL], [ALLOW_ALL]],
    ["ep1-1", "ep2-3", false, "src", [ALLOW_ALL], [ALLOW_ALL]],
    ["ep2-1", "ep1-1", true, "dst", [ALLOW_ALL], [ALLOW_ALL]],
    [
      "ep1-1",
      "ep2-3",
      false,
      "dst",
      ["0|tier2|np:default/tier2.np2-4|deny|0"],
      ["0|tier2|snp:default/tier2.np2-3|deny|1"],
    ],
    [
      "ep2-3",
      "ep1-1",
      false,
      "src",
      ["0|tier2|gnp:tier2.gnp2-2|deny|0"],
      ["0|tier2|gnp:tier2.gnp2-2|deny|0"],
    ],
    [
      "ep2-2",
      "ep1-1",
      false,
      "src",
      ["0|tier1|np:default/tier1.np1-1|deny|1"],
      ["0|tier1|np:default/tier1.np1-1|deny|1"],
    ],
    [
      "ep1-1",
      "ep2-2",
      true,
      "dst",
      ["0|tier1|np:default/tier1.np1-1|pass|1", "1|default|np:default/default.np3-3|allow|0"],
      ["0|tier1|np:default/tier1.np1-1|pass|1", "1|tier2|snp:default/tier2.np2-3|allow|0"],
    ],
    [
      "ep1-1",
      "ep2-1",
      true,
      "dst",
      ["0|tier1|np:default/tier1.np1-1|allow|0"],
      ["0|tier1|np:default/tier1.np1-1|allow|0"],
    ],
    [
      "ep2-1",
      "ep1-1",
      true,
      "src",
      ["0|tier1|np:default/tier1.np1-1|pass|0", "1|__PROFILE__|pro:kns.default|allow|0"],
      ["0|tier1|np:default/tier1.np1-1|pass|0", "1|tier2|snp:default/tier2.np2-1|allow|0"],
    ],
  ];
  const e = fv();
  it.each(table)("%s → %s (allowed %s), reporter %s", (from, to, allowed, reporter, enforced, pending) => {
    const v = e.evaluate({ srcIp: EP[from], dstIp: EP[to], protocol: "TCP", dstPort: 8055, now: 0 });
    expect(v.allowed).toBe(allowed);
    const side = reporter === "src" ? v.egress : v.ingress;
    expect(side.policies).toEqual(enforced);
    expect(side.pendingPolicies).toEqual(pending);
  });
});

describe("F: Felix FV staged end-of-tier (aggregation of flow logs with staged policy), transcribed", () => {
  const setup = (tier2Pass: boolean): PolicyEngine => {
    const e = new PolicyEngine();
    e.upsert(ns("default"));
    e.upsert(pod("default", "ep1-1", { name: "ep1-1" }, EP["ep1-1"]));
    e.upsert(pod("default", "ep2-1", { name: "ep2-1" }, EP["ep2-1"]));
    e.upsert(tier("tier1", 1));
    e.upsert(tier("tier2", 2, tier2Pass ? "Pass" : undefined));
    e.upsert(
      np("default", "tier1.np1-1", {
        order: 1,
        tier: "tier1",
        selector: "name in {'ep1-1', 'ep2-1'}",
        types: ["Ingress", "Egress"],
        egress: [{ action: "Pass" }],
        ingress: [{ action: "Pass" }],
      }),
    );
    e.upsert(
      np(
        "default",
        "tier2.np2-1",
        { order: 1, tier: "tier2", types: ["Ingress", "Egress"] },
        "StagedNetworkPolicy",
      ),
    );
    return e;
  };
  it.each([
    [false, ["0|tier1|np:default/tier1.np1-1|pass|0", "1|tier2|snp:default/tier2.np2-1|deny|-1"]],
    [
      true,
      [
        "0|tier1|np:default/tier1.np1-1|pass|0",
        "1|tier2|snp:default/tier2.np2-1|pass|-1",
        "2|__PROFILE__|pro:kns.default|allow|0",
      ],
    ],
  ])("tier2 defaultAction Pass: %s", (pass, pending) => {
    const v = setup(pass).evaluate({
      srcIp: EP["ep1-1"],
      dstIp: EP["ep2-1"],
      protocol: "TCP",
      dstPort: 8055,
      now: 0,
    });
    const enforced = ["0|tier1|np:default/tier1.np1-1|pass|0", "1|__PROFILE__|pro:kns.default|allow|0"];
    expect(v.allowed).toBe(true);
    for (const side of [v.egress, v.ingress]) {
      expect(side.policies).toEqual(enforced);
      expect(side.pendingPolicies).toEqual(pending);
    }
  });
});
