import { describe, expect, it } from "vitest";
import { FlowLog, parseFlowQuery, type FlowEvent } from "./flows.ts";

const ev = (over: Partial<FlowEvent> = {}): FlowEvent => ({
  time: 0,
  source_name: "web-*",
  source_namespace: "shop",
  source_type: "wep",
  source_labels: ["app=web"],
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
  action: "allow",
  policies: { enforced_policies: [], pending_policies: [] },
  packets_in: 1,
  packets_out: 1,
  bytes_in: 10,
  bytes_out: 10,
  ...over,
});

describe("FlowLog", () => {
  it("aggregates attempts of one key per 15 s window", () => {
    const log = new FlowLog(100);
    log.record(ev({ time: 1000 }));
    log.record(ev({ time: 14_000, dest_domains: ["other.stripe.com"] }));
    log.record(ev({ time: 15_000 }));
    log.record(ev({ time: 15_001, action: "deny" }));
    const all = log.query(parseFlowQuery(new URLSearchParams()));
    expect(all).toHaveLength(3);
    expect(all[0]).toMatchObject({
      start_time: 0,
      end_time: 15,
      num_flows: 2,
      bytes_out: 20,
      dest_domains: ["api.stripe.com", "other.stripe.com"],
    });
  });

  it("is a bounded ring: no growth once full, oldest records go first", () => {
    const log = new FlowLog(10);
    for (let i = 0; i < 50; i++) log.record(ev({ time: i * 15_000 }));
    const items = log.query(parseFlowQuery(new URLSearchParams("limit=1000")));
    expect(items).toHaveLength(10);
    expect(items[0]!.start_time).toBe(40 * 15);
    expect(log.stats()).toEqual({ records: 10, attempts: 50 });
    log.record(ev({ time: 49 * 15_000 }));
    expect(log.query(parseFlowQuery(new URLSearchParams())).at(-1)!.num_flows).toBe(2);
  });

  it.each([
    ["namespace=shop", 3],
    ["namespace=other", 0],
    ["action=deny", 1],
    ["reporter=dst", 0],
    ["domain=api.stripe.com", 3],
    ["workload=web-*", 3],
    ["dest=pub&port=443", 3],
    ["port=80", 0],
    ["since=20", 2],
    ["since=31", 1],
    ["until=10", 1],
    ["limit=2", 2],
  ])("filter %s → %i records", (q, n) => {
    const log = new FlowLog(100);
    log.record(ev({ time: 0 }));
    log.record(ev({ time: 15_000 }));
    log.record(ev({ time: 30_000, action: "deny" }));
    expect(log.query(parseFlowQuery(new URLSearchParams(q)))).toHaveLength(n);
  });

  it("rejects bad filters listing every problem", () => {
    try {
      parseFlowQuery(new URLSearchParams("action=block&reporter=x&since=yesterday-ish&color=1"));
      expect.unreachable();
    } catch (e) {
      expect((e as { problems: { where: string }[] }).problems.map((p) => p.where).sort()).toEqual([
        "action",
        "color",
        "reporter",
        "since",
      ]);
    }
  });
});
