/**
 * The Whisker pod's listeners over raw HTTP/1.1 bytes, as a port-forwarded connection carries them: nginx's prefix
 * routing, whisker-backend's JSON and errors, and the event stream (`data: <flow JSON>\n\n`, httpmachinery's
 * `apiutil/eventstream.go`).
 */
import type { Duplex } from "node:stream";
import { describe, expect, it } from "vitest";
import type { KubeObject } from "../store/types.ts";
import { connectListener } from "../sim/runtime/port-forward.ts";
import type { FlowRecord } from "./flows.ts";
import { whiskerListener, type WhiskerApi } from "./whisker-http.ts";

const pod = {
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name: "whisker-abc", namespace: "calico-system" },
  spec: {
    containers: [
      { name: "whisker", image: "quay.io/calico/whisker:v3.32.1" },
      { name: "whisker-backend", image: "quay.io/calico/whisker-backend:v3.32.1" },
    ],
  },
} as unknown as KubeObject;

const flow = (start: number, name: string): FlowRecord => ({
  start_time: start,
  end_time: start + 15,
  source_name: name,
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
  dest_domains: [],
  proto: "tcp",
  reporter: "src",
  action: "allow",
  policies: { enforced_policies: ["0|__PROFILE__|pro:kns.shop|allow|0"], pending_policies: [] },
  packets_in: 5,
  packets_out: 6,
  bytes_in: 1200,
  bytes_out: 300,
  num_flows: 1,
  num_flows_started: 1,
  num_flows_completed: 1,
});

function fakeApi(records: FlowRecord[]): WhiskerApi & { emit(r: FlowRecord): void } {
  const watchers = new Set<(r: FlowRecord) => void>();
  return {
    records: () => records,
    watch: (cb) => {
      watchers.add(cb);
      return () => watchers.delete(cb);
    },
    nowMs: () => 1_764_900_100_000,
    emit: (r) => {
      records.push(r);
      for (const w of watchers) w(r);
    },
  };
}

/** Sends a GET and reads from the connection until `done(text)` holds (the answer may come synchronously). */
function exchange(conn: Duplex, path: string, done: (text: string) => boolean): Promise<string> {
  const p = readUntil(conn, done);
  conn.write(`GET ${path} HTTP/1.1\r\nHost: localhost:8081\r\n\r\n`);
  return p;
}

function readUntil(conn: Duplex, done: (text: string) => boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = "";
    const t = setTimeout(() => reject(new Error(`timed out (${String(done)}); got: ${text}`)), 5000);
    conn.on("data", (d: Buffer) => {
      text += d.toString();
      if (done(text)) {
        clearTimeout(t);
        resolve(text);
      }
    });
  });
}

const body = (raw: string): string => raw.slice(raw.indexOf("\r\n\r\n") + 4);

describe("the Whisker pod's listeners", () => {
  it("listens on 8081 (whisker) and 3002 (whisker-backend) only", () => {
    const api = fakeApi([]);
    expect(whiskerListener(pod, 8081, api)?.kind).toBe("http");
    expect(whiskerListener(pod, 3002, api)?.kind).toBe("http");
    expect(whiskerListener(pod, 80, api)).toBeUndefined();
    const other = {
      ...pod,
      spec: { containers: [{ name: "x", image: "nginx:1.27" }] },
    } as unknown as KubeObject;
    expect(whiskerListener(other, 8081, api)).toBeUndefined();
  });

  it("serves the UI at / and the backend under /whisker-backend/ (nginx strips the prefix)", async () => {
    const api = fakeApi([flow(1_764_900_000, "web-1-*")]);
    const ui = connectListener(whiskerListener(pod, 8081, api)!);
    expect(await exchange(ui, "/", (t) => t.includes("</html>"))).toMatch(
      /^HTTP\/1\.1 200 OK\r\n[\s\S]*Calico Whisker/,
    );
    const list = await exchange(
      ui,
      "/whisker-backend/flows?startTimeGte=-3600",
      (t) => t.includes('"items"') && t.endsWith("\n"),
    );
    const json = JSON.parse(body(list.slice(list.lastIndexOf("HTTP/1.1")))) as {
      total: unknown;
      items: { source_name: string; policies: { enforced: { kind: string }[] } }[];
    };
    expect(json.total).toEqual({ totalPages: 1, totalResults: 1 });
    expect(json.items[0]!.source_name).toBe("web-1-*");
    expect(json.items[0]!.policies.enforced[0]!.kind).toBe("Profile");
    ui.end();
    const backend = connectListener(whiskerListener(pod, 3002, api)!);
    expect(
      await exchange(backend, "/whisker-backend/flows", (t) => t.includes("404 page not found")),
    ).toMatch(/^HTTP\/1\.1 404 /);
    const bad = await exchange(backend, "/flows?sortBy=Nope", (t) => t.includes("Nope"));
    expect(bad.slice(bad.lastIndexOf("HTTP/1.1"))).toMatch(
      /^HTTP\/1\.1 400 [\s\S]*\{"error":"unknown sortBy value: Nope"\}\n$/,
    );
    backend.end();
  });

  it("streams flows as server-sent events: the backlog from startTimeGte, then updates", async () => {
    const api = fakeApi([flow(1_764_899_000, "old-*"), flow(1_764_900_000, "recent-*")]);
    const conn = connectListener(whiskerListener(pod, 3002, api)!);
    const first = await exchange(conn, "/flows?watch=true&startTimeGte=-300", (t) => t.includes("recent-*"));
    expect(first).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(first).toMatch(/\r\ncontent-type: text\/event-stream\r\n/i);
    expect(first).not.toContain("old-*");
    const later = readUntil(conn, (t) => t.includes("live-*"));
    api.emit(flow(1_764_900_090, "live-*"));
    const events = (await later).split("\n\n").filter((e) => e.includes("data: "));
    const last = events[events.length - 1]!;
    expect(last).toMatch(/data: \{"start_time":"2025-12-05T02:01:30Z",.*"source_name":"live-\*"/);
    expect(() => JSON.parse(last.slice(last.indexOf("data: ") + 6))).not.toThrow();
    conn.destroy();
  });
});
