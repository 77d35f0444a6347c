/** The kubelet side of port-forward: the in-memory connection, HTTP over it to a simulated peer, the kubelet's error. */
import { describe, expect, it } from "vitest";
import type { Peer } from "../../net/podnet.ts";
import type { KubeObject } from "../../store/types.ts";
import { connectListener, duplexPair, noListenerMessage, peerListener } from "./port-forward.ts";

const peer: Peer = {
  description: "web",
  speaksHttp: true,
  certificateValidFor: () => false,
  http: (req) => ({
    status: 200,
    reason: "OK",
    headers: { "content-type": "text/plain", "content-length": String(req.path.length + req.body.length) },
    body: req.path + req.body,
  }),
};

function roundTrip(raw: string, done: (t: string) => boolean): Promise<string> {
  const conn = connectListener(peerListener(peer, 80));
  return new Promise((resolve, reject) => {
    let text = "";
    const t = setTimeout(() => reject(new Error(`timed out: ${text}`)), 5000);
    conn.on("data", (d: Buffer) => {
      text += d.toString();
      if (done(text)) {
        clearTimeout(t);
        conn.destroy();
        resolve(text);
      }
    });
    conn.write(raw);
  });
}

describe("port-forward into a pod", () => {
  it("holds a writer back while its reader does not read", async () => {
    const [a, b] = duplexPair();
    let accepted = 0;
    while (a.write(Buffer.alloc(64 * 1024)) && accepted < 1000) accepted++;
    expect(accepted).toBeLessThan(10); // the writer saw backpressure almost at once
    expect(b.readableLength).toBeLessThanOrEqual(b.readableHighWaterMark + 64 * 1024);
    let got = 0;
    b.on("data", (d: Buffer) => (got += d.length));
    await new Promise((r) => a.once("drain", r));
    a.end();
    await new Promise((r) => b.once("end", r));
    expect(got).toBe((accepted + 1) * 64 * 1024);
  });

  it("serves a simulated peer over HTTP/1.1: keep-alive, HEAD, bodies, oversized bodies", async () => {
    const two = await roundTrip(
      "GET /a HTTP/1.1\r\nHost: x\r\n\r\nPOST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nxyz",
      (t) => t.split("HTTP/1.1 200 OK").length === 3 && t.endsWith("/bxyz"),
    );
    expect(two).toContain("\r\n\r\n/aHTTP/1.1 200 OK");
    const head = await roundTrip("HEAD /abc HTTP/1.1\r\nHost: x\r\n\r\n", (t) => t.includes("\r\n\r\n"));
    expect(head).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*content-length: 4\r\n[\s\S]*\r\n\r\n$/);
    const big = await roundTrip(
      `POST / HTTP/1.1\r\nHost: x\r\nContent-Length: ${2 << 20}\r\n\r\n${"z".repeat(2 << 20)}`,
      (t) => t.includes("413"),
    );
    expect(big).toMatch(/^HTTP\/1\.1 413 /);
    const garbage = await roundTrip("\x16\x03\x01 not http\r\n\r\n", (t) => t.includes("400"));
    expect(garbage).toMatch(/^HTTP\/1\.1 400 Bad Request/);
  });

  it("words a closed port as the kubelet around containerd 2.0 does", () => {
    const pod = { metadata: { name: "web", namespace: "shop", uid: "u-1" } } as KubeObject;
    const m = noListenerMessage(pod, 81);
    expect(m).toMatch(
      /^error forwarding port 81 to pod ([0-9a-f]{64}), uid : failed to execute portforward in network namespace "\/var\/run\/netns\/cni-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}": failed to connect to localhost:81 inside namespace "\1", IPv4: dial tcp4 127\.0\.0\.1:81: connect: connection refused IPv6 dial tcp6 \[::1\]:81: connect: connection refused $/,
    );
    expect(noListenerMessage(pod, 81)).toBe(m);
  });
});
