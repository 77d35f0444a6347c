import { describe, expect, it } from "vitest";
import type { FlowView } from "../../server/src/realtime/protocol.ts";
import { egressEdges, emptyFilter, matches, mergeFlows, windowStart } from "./flow-filter.ts";

const flow = (over: Partial<FlowView>): FlowView => ({
  key: Math.random().toString(36),
  sourceNamespace: "shop",
  sourceName: "checkout-*",
  destNamespace: "-",
  destName: "api.payments.example",
  destType: "domain",
  destPort: 443,
  proto: "tcp",
  action: "allow",
  reporter: "src",
  policies: [],
  connections: 1,
  lastSeen: "2026-01-01T00:00:00.000Z",
  ...over,
});

describe("flow filters", () => {
  it.each([
    { filter: { namespace: "shop" }, want: true },
    { filter: { namespace: "blog" }, want: false },
    { filter: { workload: "CHECK" }, want: true },
    { filter: { action: "deny" as const }, want: false },
    { filter: { destination: "payments" }, want: true },
    { filter: { destination: ":80" }, want: false },
  ])("$filter → $want", ({ filter, want }) => {
    expect(matches(flow({}), { ...emptyFilter, ...filter })).toBe(want);
  });
});

describe("the staged verdict and the time window", () => {
  it("keeps the flows a staged policy would deny", () => {
    const wouldDeny = flow({ action: "allow", pendingAction: "deny" });
    expect(matches(wouldDeny, { ...emptyFilter, pending: "deny" })).toBe(true);
    expect(matches(flow({ action: "allow" }), { ...emptyFilter, pending: "deny" })).toBe(false);
    expect(matches(flow({ pendingAction: "allow" }), { ...emptyFilter, pending: "deny" })).toBe(false);
  });
  it("keeps only flows seen inside the window: 5 or 15 minutes, since the stage, or all", () => {
    const now = Date.parse("2026-01-01T00:10:00.000Z");
    const stage = Date.parse("2026-01-01T00:08:00.000Z");
    const old = flow({ lastSeen: "2026-01-01T00:04:00.000Z" });
    const recent = flow({ lastSeen: "2026-01-01T00:09:00.000Z" });
    const at = (w: "5m" | "15m" | "stage" | "all") => windowStart(w, now, stage);
    expect([old, recent].map((f) => matches(f, emptyFilter, at("5m")))).toEqual([false, true]);
    expect([old, recent].map((f) => matches(f, emptyFilter, at("15m")))).toEqual([true, true]);
    expect([old, recent].map((f) => matches(f, emptyFilter, at("stage")))).toEqual([false, true]);
    expect([old, recent].map((f) => matches(f, emptyFilter, at("all")))).toEqual([true, true]);
  });
});

describe("egressEdges", () => {
  const at = (min: number): string => new Date(Date.UTC(2026, 0, 1, 0, min)).toISOString();

  it("gives each workload → destination edge the verdict of its latest flow, ignoring destination-side reports", () => {
    const edges = egressEdges([
      flow({ action: "allow", lastSeen: at(1) }),
      flow({ action: "deny", lastSeen: at(3) }),
      flow({ action: "allow", reporter: "dst", lastSeen: at(9) }),
      flow({
        sourceName: "web-*",
        destNamespace: "shop",
        destName: "api-*",
        destType: "wep",
        destPort: 8080,
        lastSeen: at(2),
      }),
    ]);
    expect(edges).toEqual([
      {
        source: "shop/checkout-*",
        dest: "api.payments.example:443",
        external: true,
        verdict: "deny",
        lastSeen: at(3),
        previous: { verdict: "allow", lastSeen: at(1) },
      },
      { source: "shop/web-*", dest: "shop/api-*:8080", external: false, verdict: "allow", lastSeen: at(2) },
    ]);
  });

  it.each([
    {
      order: "oldest first",
      flows: [
        ["deny", 1],
        ["allow", 5],
      ] as const,
    },
    {
      order: "newest first",
      flows: [
        ["allow", 5],
        ["deny", 1],
      ] as const,
    },
  ])(
    "an edge denied before and allowed now is allowed ($order), many old denials notwithstanding",
    ({ flows }) => {
      const [edge] = egressEdges(
        flows.map(([action, min]) => flow({ action, lastSeen: at(min), connections: 99 })),
      );
      expect(edge).toMatchObject({
        verdict: "allow",
        lastSeen: at(5),
        previous: { verdict: "deny", lastSeen: at(1) },
      });
    },
  );

  it("keeps the pending verdict of the latest flow and leaves the grader's probes out", () => {
    const edges = egressEdges([
      flow({ action: "allow", pendingAction: "deny", lastSeen: at(2) }),
      flow({ sourceName: "egresslab-probe-checkout-1a2b3c4d", probe: true, action: "deny", lastSeen: at(4) }),
    ]);
    expect(edges).toEqual([expect.objectContaining({ verdict: "allow", pending: "deny" })]);
    expect(edges[0]?.previous).toBeUndefined();
  });
});

describe("probe flows", () => {
  it("are hidden unless the filter asks for them", () => {
    const probe = flow({ probe: true });
    expect(matches(probe, emptyFilter)).toBe(false);
    expect(matches(probe, { ...emptyFilter, probes: true })).toBe(true);
    expect(matches(flow({}), emptyFilter)).toBe(true);
  });
});

describe("mergeFlows", () => {
  it("replaces by key and keeps the newest max rows", () => {
    const m = new Map<string, FlowView>();
    mergeFlows(m, [flow({ key: "a" }), flow({ key: "b" }), flow({ key: "c" })], 2);
    expect([...m.keys()]).toEqual(["b", "c"]);
    mergeFlows(m, [flow({ key: "b", connections: 9 })], 2);
    expect([...m.keys()]).toEqual(["c", "b"]);
    expect(m.get("b")!.connections).toBe(9);
  });
});
