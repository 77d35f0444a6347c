/**
 * Whisker's API contract. Shapes come from projectcalico/calico:
 * - the flow: `whisker-backend/pkg/apis/v1/flows.go` (`FlowResponse`, `PolicyTrace`, `PolicyHit` and their JSON tags),
 *   converted as `whisker-backend/pkg/handlers/v1/protoconvert.go` does (`time.Unix`, labels joined by " | ",
 *   pub/pvt → "PUBLIC NETWORK"/"PRIVATE NETWORK", nil slices → null);
 * - policy hits: `goldmane/proto/methods.go` `HitFromString` (rule index -1 → `EndOfTier` with a `trigger`);
 * - enum names: `goldmane/proto/api.proto` (Action, Reporter, PolicyKind, SortBy, FilterType);
 * - the list: `{"total":{"totalPages","totalResults"},"items"}` (goldmane's `ListMetadata`), errors `{"error": …}`.
 */
import { describe, expect, it } from "vitest";
import type { FlowRecord } from "./flows.ts";
import {
  WhiskerBadRequest,
  filterHints,
  listFlows,
  parseHit,
  parseListParams,
  toWhiskerFlow,
} from "./whisker.ts";

const record = (over: Partial<FlowRecord> = {}): FlowRecord => ({
  start_time: 1_764_900_000,
  end_time: 1_764_900_015,
  source_name: "checkout-7d4b9c8f6-*",
  source_namespace: "shop",
  source_type: "wep",
  source_labels: ["app=checkout", "pod-template-hash=7d4b9c8f6"],
  dest_name: "pub",
  dest_namespace: "-",
  dest_type: "net",
  dest_labels: [],
  dest_port: 443,
  dest_service_name: "",
  dest_service_namespace: "",
  dest_service_port: 0,
  dest_domains: ["api.stripe.com"],
  proto: "tcp",
  reporter: "src",
  action: "deny",
  policies: {
    enforced_policies: ["0|default|gnp:default.default-deny|deny|-1"],
    pending_policies: ["0|default|gnp:default.default-deny|deny|-1"],
  },
  packets_in: 0,
  packets_out: 3,
  bytes_in: 0,
  bytes_out: 60,
  num_flows: 1,
  num_flows_started: 1,
  num_flows_completed: 1,
  ...over,
});

/** The exact key set of whisker-backend's FlowResponse, in its declaration order. */
const FLOW_KEYS = [
  "start_time",
  "end_time",
  "action",
  "source_name",
  "source_namespace",
  "source_labels",
  "dest_name",
  "dest_namespace",
  "dest_labels",
  "protocol",
  "dest_port",
  "reporter",
  "policies",
  "packets_in",
  "packets_out",
  "bytes_in",
  "bytes_out",
];

describe("Whisker flow JSON", () => {
  it("has exactly FlowResponse's fields, values as protoconvert.go writes them", () => {
    const f = toWhiskerFlow(record());
    expect(Object.keys(f)).toEqual(FLOW_KEYS);
    expect(f).toEqual({
      start_time: "2025-12-05T02:00:00Z",
      end_time: "2025-12-05T02:00:15Z",
      action: "Deny",
      source_name: "checkout-7d4b9c8f6-*",
      source_namespace: "shop",
      source_labels: "app=checkout | pod-template-hash=7d4b9c8f6",
      dest_name: "PUBLIC NETWORK",
      dest_namespace: "-",
      dest_labels: "",
      protocol: "tcp",
      dest_port: 443,
      reporter: "Src",
      policies: {
        enforced: [
          {
            kind: "EndOfTier",
            name: "",
            namespace: "",
            tier: "default",
            action: "Deny",
            policy_index: 0,
            rule_index: -1,
            trigger: {
              kind: "GlobalNetworkPolicy",
              name: "default.default-deny",
              namespace: "",
              tier: "default",
              action: "ActionUnspecified",
              policy_index: 0,
              rule_index: 0,
              trigger: null,
            },
          },
        ],
        pending: [expect.objectContaining({ kind: "EndOfTier" })],
      },
      packets_in: 0,
      packets_out: 3,
      bytes_in: 0,
      bytes_out: 60,
    });
    // No IPs and no Enterprise-only fields in the Open Source API.
    expect(JSON.stringify(f)).not.toMatch(/\d+\.\d+\.\d+\.\d+|dest_domains/);
  });

  it("names private networks and network sets; empty traces are null as a nil Go slice", () => {
    expect(toWhiskerFlow(record({ dest_name: "pvt" })).dest_name).toBe("PRIVATE NETWORK");
    const set = toWhiskerFlow(
      record({ dest_name: "api-stripe", dest_type: "ns", dest_labels: ["egress=stripe"] }),
    );
    expect([set.dest_name, set.dest_labels]).toEqual(["api-stripe", "egress=stripe"]);
    const bare = toWhiskerFlow(record({ policies: { enforced_policies: [], pending_policies: [] } }));
    expect(bare.policies).toEqual({ enforced: null, pending: null });
  });

  it("parses every kind of hit as goldmane's HitFromString", () => {
    expect(parseHit("1|security|np:shop/allow-web|allow|2")).toEqual({
      kind: "CalicoNetworkPolicy",
      name: "allow-web",
      namespace: "shop",
      tier: "security",
      action: "Allow",
      policy_index: 1,
      rule_index: 2,
      trigger: null,
    });
    expect(parseHit("0|default|knp:shop/default-deny|deny|-1")?.trigger?.kind).toBe("NetworkPolicy");
    expect(parseHit("0|default|sgnp:default.staged-deny|deny|0")?.kind).toBe("StagedGlobalNetworkPolicy");
    expect(parseHit("2|__PROFILE__|pro:kns.shop|allow|0")).toMatchObject({
      kind: "Profile",
      name: "kns.shop",
      tier: "",
    });
    expect(parseHit("0|kube-admin|kcnp:block|pass|0")?.kind).toBe("ClusterNetworkPolicyAdminTier");
    expect(parseHit("not|a|trace")).toBeUndefined();
  });
});

describe("GET /flows", () => {
  const now = 1_764_900_100;
  const records = [
    record({ start_time: now - 600, end_time: now - 585 }),
    record({
      start_time: now - 30,
      end_time: now - 15,
      source_name: "frontend-6f9-*",
      action: "allow",
      dest_name: "api-stripe",
      dest_type: "ns",
      policies: { enforced_policies: ["0|security|np:shop/allow-stripe|allow|0"], pending_policies: [] },
    }),
    record({
      start_time: now - 15,
      end_time: now,
      source_namespace: "payments",
      dest_port: 53,
      proto: "udp",
    }),
  ];
  const q = (s: string) => parseListParams(new URLSearchParams(s));

  it("lists newest first with the list metadata; relative and absolute start times", () => {
    const all = listFlows(records, q(""), now);
    expect(all.total).toEqual({ totalPages: 1, totalResults: 3 });
    expect(all.items.map((f) => f.start_time)).toEqual([
      "2025-12-05T02:01:25Z",
      "2025-12-05T02:01:10Z",
      "2025-12-05T01:51:40Z",
    ]);
    expect(listFlows(records, q("startTimeGte=-60"), now).total.totalResults).toBe(2);
    expect(
      listFlows(records, q(`startTimeGte=${now - 600}&startTimeLt=${now - 15}`), now).total.totalResults,
    ).toBe(2);
    expect(listFlows(records, q("startTimeLt=-20"), now).total.totalResults).toBe(2);
    expect(listFlows([], q(""), now)).toEqual({ total: { totalPages: 0, totalResults: 0 }, items: [] });
  });

  it("filters as goldmane's Filter: lists ORed, fields ANDed, names and namespaces as Whisker shows them", () => {
    const filters = (f: unknown) => q(`filters=${encodeURIComponent(JSON.stringify(f))}`);
    const got = (f: unknown) => listFlows(records, filters(f), now).items.map((i) => i.source_name);
    expect(got({ dest_names: [{ value: "PUBLIC NETWORK", type: "Exact" }] })).toHaveLength(2);
    expect(got({ dest_namespaces: [{ value: "Global", type: "Exact" }] })).toHaveLength(3);
    expect(got({ source_names: [{ value: "frontend", type: "Fuzzy" }] })).toEqual(["frontend-6f9-*"]);
    expect(got({ source_names: [{ value: "frontend", type: "Exact" }] })).toEqual([]);
    expect(got({ actions: ["Allow"] })).toEqual(["frontend-6f9-*"]);
    expect(got({ dest_ports: [{ value: 53 }], protocols: [{ value: "udp", type: "Exact" }] })).toHaveLength(
      1,
    );
    expect(
      got({ policies: [{ kind: "CalicoNetworkPolicy", name: { value: "allow-stripe", type: "Exact" } }] }),
    ).toEqual(["frontend-6f9-*"]);
    expect(
      got({ policies: [{ name: { value: "default.default-deny", type: "Exact" }, action: "Deny" }] }),
    ).toHaveLength(2);
  });

  it("answers one flow per key across its windows, as goldmane's DiachronicFlow aggregates them", () => {
    const w1 = record({ start_time: now - 45, end_time: now - 30, source_labels: ["app=checkout", "v=1"] });
    const w2 = record({ start_time: now - 30, end_time: now - 15, packets_out: 6, bytes_out: 120 });
    const other = record({ start_time: now - 30, end_time: now - 15, action: "allow" });
    const got = listFlows([w1, w2, other], q(""), now);
    expect(got.total.totalResults).toBe(2);
    const denied = got.items.find((f) => f.action === "Deny")!;
    expect(denied).toMatchObject({
      start_time: "2025-12-05T02:00:55Z",
      end_time: "2025-12-05T02:01:25Z",
      packets_out: 9,
      bytes_out: 180,
      source_labels: "app=checkout",
    });
    // A window outside the range does not count.
    const recent = listFlows([w1, w2], q("startTimeGte=-35"), now).items;
    expect(recent).toHaveLength(1);
    expect(recent[0]!.packets_out).toBe(6);
  });

  it("sorts by sortBy, then time; pages with pageSize/page", () => {
    const byName = listFlows(records, q("sortBy=SourceName"), now).items.map((f) => f.source_name);
    expect(byName).toEqual(["checkout-7d4b9c8f6-*", "checkout-7d4b9c8f6-*", "frontend-6f9-*"]);
    const page = listFlows(records, q("pageSize=2&page=1"), now);
    expect(page.total).toEqual({ totalPages: 2, totalResults: 3 });
    expect(page.items).toHaveLength(1);
  });

  it("rejects bad parameters with a message, never throws anything else", () => {
    for (const bad of [
      "sortBy=Bogus",
      "startTimeGte=yesterday",
      "watch=maybe",
      "filters=%7Bnot-json",
      `filters=${encodeURIComponent('{"actions":["Maybe"]}')}`,
      `filters=${encodeURIComponent('{"dest_ports":[{"value":"443"}]}')}`,
      `filters=${encodeURIComponent('{"source_names":"x"}')}`,
      `filters=${encodeURIComponent("[1,2]")}`,
      `filters=${encodeURIComponent(JSON.stringify({ source_names: Array(5000).fill({ value: "a" }) }))}`,
      "pageSize=-1",
    ])
      expect(() => q(bad), bad).toThrow(WhiskerBadRequest);
    expect(() => q("sortBy=Bogus")).toThrow("unknown sortBy value: Bogus");
  });
});

describe("GET /flows-filter-hints", () => {
  const now = 1_764_900_100;
  const records = [
    record(),
    record({ source_namespace: "payments", dest_name: "pvt" }),
    record({
      policies: { enforced_policies: ["0|security|np:shop/allow-stripe|allow|0"], pending_policies: [] },
    }),
  ];
  const hints = (s: string) => filterHints(records, new URLSearchParams(s), now).items.map((i) => i.value);

  it("answers the distinct values of one field, as Whisker names them", () => {
    expect(hints("type=DestName")).toEqual(["PRIVATE NETWORK", "PUBLIC NETWORK"]);
    expect(hints("type=SourceNamespace")).toEqual(["payments", "shop"]);
    expect(hints("type=DestNamespace")).toEqual(["Global"]);
    expect(hints("type=PolicyTier")).toEqual(["default", "security"]);
    expect(hints("type=PolicyName")).toEqual(["allow-stripe", "default.default-deny"]);
    const filtered = `type=DestName&filters=${encodeURIComponent(JSON.stringify({ source_namespaces: [{ value: "payments", type: "Exact" }] }))}`;
    expect(hints(filtered)).toEqual(["PRIVATE NETWORK"]);
    expect(filterHints(records, new URLSearchParams("type=DestName&pageSize=1"), now).total).toEqual({
      totalPages: 2,
      totalResults: 2,
    });
  });

  it("requires a known type", () => {
    expect(() => hints("")).toThrow(/'Type' failed on the 'required' tag/);
    expect(() => hints("type=Colour")).toThrow(/unknown filter type value Colour; allowed values are/);
  });
});
