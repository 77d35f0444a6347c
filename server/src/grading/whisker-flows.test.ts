import { describe, expect, it } from "vitest";
import type { FlowRecord as NetFlowRecord } from "../net/flows.ts";
import { parseHit, toWhiskerFlow } from "../net/whisker.ts";
import { queryMatches, recordOfWhiskerFlow, traceOf, whiskerFlowsPath } from "./whisker-flows.ts";
import { HttpStreamReader, SseReader, WhiskerUnreachable, parseHttpResponse } from "./whisker-client.ts";

const rec: NetFlowRecord = {
  start_time: 1_764_900_000,
  end_time: 1_764_900_015,
  source_name: "analytics-6c9f-*",
  source_namespace: "ops",
  source_type: "wep",
  source_labels: ["app=analytics"],
  dest_name: "pub",
  dest_namespace: "-",
  dest_type: "net",
  dest_labels: [],
  dest_port: 443,
  dest_service_name: "",
  dest_service_namespace: "",
  dest_service_port: 0,
  dest_domains: ["drop.exfil-paste.xyz"],
  proto: "tcp",
  reporter: "src",
  action: "deny",
  policies: {
    enforced_policies: [
      "0|security|gnp:security.quarantine|deny|0",
      "1|default|np:ops/default.allow-dns|pass|-1",
    ],
    pending_policies: ["0|default|sknp:ops/default.staged|allow|2", "2|__PROFILE__|pro:kns.ops|allow|0"],
  },
  packets_in: 0,
  packets_out: 3,
  bytes_in: 0,
  bytes_out: 180,
  num_flows: 1,
  num_flows_started: 1,
  num_flows_completed: 1,
} as NetFlowRecord;

describe("Whisker flows as flow-log records", () => {
  it("policy hits turn back into the trace strings they came from", () => {
    for (const t of [...rec.policies.enforced_policies, ...rec.policies.pending_policies])
      expect(traceOf(parseHit(t)!)).toBe(t);
  });

  it("keeps what checks match on: names, types, actions, times, traces; domains only when Whisker has them", () => {
    const r = recordOfWhiskerFlow(
      JSON.parse(JSON.stringify(toWhiskerFlow(rec, true))) as Record<string, unknown>,
    );
    expect(r).toMatchObject({
      start_time: rec.start_time,
      end_time: rec.end_time,
      source_name: rec.source_name,
      source_namespace: "ops",
      dest_name: "pub",
      dest_type: "net",
      dest_port: 443,
      proto: "tcp",
      reporter: "src",
      action: "deny",
      dest_domains: ["drop.exfil-paste.xyz"],
      policies: rec.policies,
    });
    const oss = recordOfWhiskerFlow(
      JSON.parse(JSON.stringify(toWhiskerFlow(rec))) as Record<string, unknown>,
    );
    expect(oss.dest_domains).toEqual([]);
    const pod = recordOfWhiskerFlow(
      toWhiskerFlow({ ...rec, dest_name: "web-*", dest_namespace: "shop", dest_type: "wep" }) as never,
    );
    expect(pod.dest_type).toBe("wep");
    const set = recordOfWhiskerFlow(
      toWhiskerFlow({ ...rec, dest_name: "api-stripe", dest_namespace: "-", dest_type: "ns" }) as never,
    );
    expect(set.dest_type).toBe("ns");
  });

  it("the query goes to Whisker as filters and is applied again to what comes back", () => {
    const p = new URL(whiskerFlowsPath({ action: "deny", namespace: "ops", port: "443" }), "http://w");
    expect(p.pathname).toBe("/whisker-backend/flows");
    expect(JSON.parse(p.searchParams.get("filters")!)).toEqual({
      actions: ["Deny"],
      dest_ports: [{ value: 443 }],
    });
    const r = recordOfWhiskerFlow(toWhiskerFlow(rec) as never);
    expect(queryMatches(r, { namespace: "ops", action: "deny", reporter: "src" })).toBe(true);
    expect(queryMatches(r, { namespace: "shop" })).toBe(false);
    expect(queryMatches(r, { reporter: "dst" })).toBe(false);
  });

  it("reads HTTP answers with a length, chunked, or to the end of the connection", () => {
    const whole = Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n{"items":[]}');
    expect(parseHttpResponse(whole, false)).toEqual({ status: 200, body: '{"items":[]' });
    expect(
      parseHttpResponse(Buffer.from("HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n{"), false),
    ).toBeUndefined();
    const chunked = Buffer.from(
      "HTTP/1.1 400 Bad Request\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
    );
    expect(parseHttpResponse(chunked, false)).toEqual({ status: 400, body: "abcde" });
    expect(parseHttpResponse(Buffer.from("HTTP/1.1 200 OK\r\n\r\nrest"), false)).toBeUndefined();
    expect(parseHttpResponse(Buffer.from("HTTP/1.1 200 OK\r\n\r\nrest"), true)).toEqual({
      status: 200,
      body: "rest",
    });
    expect(() => parseHttpResponse(Buffer.from("SSH-2.0\r\n\r\n"), true)).toThrow(/not an HTTP answer/);
  });
});

describe("reading Whisker's event stream through port-forward", () => {
  const collect = (chunks: string[]): { status: number; events: string[] } => {
    const out = { status: 0, events: [] as string[] };
    const sse = new SseReader((d) => out.events.push(d));
    const http = new HttpStreamReader(
      (s) => (out.status = s),
      (b) => sse.push(b),
    );
    for (const c of chunks) http.push(Buffer.from(c));
    return out;
  };
  const head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n";
  const chunk = (s: string): string => `${Buffer.byteLength(s).toString(16)}\r\n${s}\r\n`;

  it("decodes a chunked answer split anywhere, and each `data:` event once whole", () => {
    const body = chunk('data: {"a":1}\n\n') + chunk('data: {"b":"é"}\n\ndata: {"c"') + chunk(":3}\n\n");
    const all = head + body;
    for (let cut = 1; cut < all.length; cut += 7) {
      const r = collect([all.slice(0, cut), all.slice(cut)]);
      expect(r.status).toBe(200);
      expect(r.events).toEqual(['{"a":1}', '{"b":"é"}', '{"c":3}']);
    }
  });

  it("reads an answer without chunking as it comes, and stops at the last chunk", () => {
    expect(collect(["HTTP/1.1 200 OK\r\n\r\ndata: x\n\n", "data: y\n\n"]).events).toEqual(["x", "y"]);
    const ended = new HttpStreamReader(
      () => undefined,
      () => undefined,
    );
    ended.push(Buffer.from(head + chunk("data: x\n\n") + "0\r\n\r\n"));
    expect(ended.done).toBe(true);
  });

  it.each([
    { what: "not HTTP", raw: "SSH-2.0-OpenSSH\r\n\r\n" },
    { what: "a bad chunk size", raw: head + "zz\r\n" },
  ])("refuses $what", ({ raw }) => {
    expect(() => collect([raw])).toThrow(WhiskerUnreachable);
  });

  it("refuses an event that never ends past 1 MiB", () => {
    const sse = new SseReader(() => undefined);
    expect(() => sse.push(Buffer.alloc(1024 * 1024 + 1, "a"))).toThrow(/too large/);
  });
});
