import { describe, expect, it } from "vitest";
import { parseCatalogue } from "./catalogue.ts";
import { FlowLog, parseFlowQuery, type FlowEvent } from "./flows.ts";
import { Internet } from "./internet.ts";
import {
  dataplaneStateBytes,
  dataplaneStateText,
  parseDataplaneState,
  type DataplaneState,
} from "./state.ts";

const cat = parseCatalogue(
  [
    "domains:",
    "  api.pay.net: { ips: [54.1.1.1, 54.1.1.2], ttl: 60, rotate: { every: 10m, pool: [54.2.0.0/16] } }",
    "  a.cdn.net: { ips: [151.1.1.1] }",
  ].join("\n"),
  "t.yaml",
);

const ev = (time: number, action: "allow" | "deny" = "allow"): FlowEvent => ({
  time,
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
  dest_domains: ["api.pay.net"],
  proto: "tcp",
  reporter: "src",
  action,
  policies: { enforced_policies: [], pending_policies: [] },
  packets_in: 1,
  packets_out: 1,
  bytes_in: 10,
  bytes_out: 10,
});

describe("dataplane state", () => {
  it("restores manual rotations and the schedule's position, whatever the clock reads at restart", () => {
    const a = new Internet(cat, 7, 0);
    a.rotate({ domain: "api.pay.net" }, 0);
    const at = 25 * 60_000; // two scheduled rotations in
    const ips = a.lookup("api.pay.net", at);
    const saved = JSON.parse(JSON.stringify(a.snapshot(at))) as ReturnType<Internet["snapshot"]>;
    expect(saved).toEqual({ elapsedMs: at, rotations: { "api.pay.net": 1 } });
    const later = 1_000_000_000;
    const b = new Internet(cat, 7, later, saved);
    expect(b.lookup("api.pay.net", later)).toEqual(ips);
    expect(b.lookup("api.pay.net", later + 5 * 60_000)).not.toEqual(ips); // the schedule goes on from there
    // Domains that no longer rotate (or are gone) are skipped.
    const c = new Internet(cat, 7, 0, { elapsedMs: 0, rotations: { "a.cdn.net": 3, "gone.net": 1 } });
    expect(c.snapshot(0).rotations).toEqual({});
  });

  it("restores flow records, newest kept within capacity, and keeps aggregating their window", () => {
    const a = new FlowLog(10);
    for (let i = 0; i < 4; i++) a.record(ev(i * 15_000));
    a.record(ev(45_001));
    const saved = JSON.parse(JSON.stringify(a.snapshot())) as unknown;
    const { state, problems } = parseDataplaneState({
      version: 1,
      internet: { elapsedMs: 0, rotations: {} },
      flows: saved,
    });
    expect(problems).toEqual([]);
    const b = new FlowLog(3);
    b.restore(state.flows);
    const q = parseFlowQuery(new URLSearchParams());
    expect(b.query(q).map((r) => r.start_time)).toEqual([15, 30, 45]);
    b.record(ev(45_500));
    expect(b.query(q)).toHaveLength(3);
    expect(b.query(q)[2]!.num_flows).toBe(3);
    b.record(ev(60_000, "deny"));
    expect(b.query(q).map((r) => r.start_time)).toEqual([30, 45, 60]);
  });

  it.each([
    [null, ["not a version 1 dataplane state"]],
    [{ version: 2 }, ["not a version 1 dataplane state"]],
    [
      { version: 1, internet: { elapsedMs: -1, rotations: {} }, flows: [] },
      ["internet: malformed; domains start from their first addresses"],
    ],
    [
      { version: 1, internet: { elapsedMs: 0, rotations: { x: 1.5 } }, flows: "x" },
      [
        "internet: malformed; domains start from their first addresses",
        "flows: not a list; the flow log starts empty",
      ],
    ],
    [
      { version: 1, internet: { elapsedMs: 0, rotations: {} }, flows: [{ ...ev(0), start_time: 0 }, 3] },
      ["flows: 2 malformed record(s) skipped"],
    ],
  ])("tolerates a malformed state: %j", (raw, problems) => {
    const r = parseDataplaneState(raw);
    expect(r.problems).toEqual(problems);
    expect(r.state.flows).toEqual([]);
  });

  it("reads pods' files when there, none from a state saved before they were kept, and drops malformed ones", () => {
    const base = { version: 1, internet: { elapsedMs: 0, rotations: {} }, flows: [] };
    const old = parseDataplaneState(base);
    expect(old.problems).toEqual([]);
    expect(old.state.pods).toBeUndefined();
    const bytes = Buffer.from([0, 1, 2, 253, 254, 255]).toString("base64");
    const r = parseDataplaneState(
      JSON.parse(
        JSON.stringify({
          ...base,
          pods: {
            "default/box": { uid: "u1", files: { "/tmp/x.bin": bytes } },
            "default/bad": { uid: "u2", files: { "/tmp/y": "not base64!" } },
            "default/worse": { files: {} },
          },
        }),
      ),
    );
    expect(r.problems).toEqual(["pods: 2 pod(s) whose files are malformed start with none"]);
    expect(r.state.pods).toEqual({ "default/box": { uid: "u1", files: { "/tmp/x.bin": bytes } } });
    expect(Buffer.from(r.state.pods!["default/box"]!.files["/tmp/x.bin"]!, "base64")).toEqual(
      Buffer.from([0, 1, 2, 253, 254, 255]),
    );
    expect(parseDataplaneState({ ...base, pods: [] }).problems).toEqual([
      "pods: not a map; pods' files start empty",
    ]);
  });

  it("writes a state with pods' files as JSON.stringify does, in text and in bytes", () => {
    const b64 = (b: Buffer) => b.toString("base64");
    const states: DataplaneState[] = [
      { version: 1, internet: { elapsedMs: 5, rotations: { "a.b": 2 } }, flows: [] },
      { version: 1, internet: { elapsedMs: 0, rotations: {} }, flows: [], pods: {} },
      {
        version: 1,
        internet: { elapsedMs: 1, rotations: {} },
        flows: [],
        logs: [],
        pods: {
          'default/q"uote': { uid: 'u"1\\', files: {} },
          "shop/box": {
            uid: "u2",
            files: {
              "/tmp/a.bin": b64(Buffer.from([0, 255, 34, 92, 10])),
              '/tmp/we "ird"\\ná☕\n': b64(Buffer.from("x")),
              "/tmp/empty": "",
            },
          },
          "shop/other": { uid: "u3", files: { "/root/big": b64(Buffer.alloc(70_000, 7)) } },
        },
      },
    ];
    for (const state of states) {
      const want = JSON.parse(JSON.stringify(state)) as unknown;
      expect(JSON.parse(dataplaneStateText(state))).toEqual(want);
      expect(JSON.parse(Buffer.concat(dataplaneStateBytes(state)).toString("utf8"))).toEqual(want);
      expect(parseDataplaneState(JSON.parse(dataplaneStateText(state))).problems).toEqual([]);
    }
  });
});
