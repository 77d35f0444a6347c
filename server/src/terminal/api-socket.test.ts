import { afterEach, describe, expect, it } from "vitest";
import net from "node:net";
import path from "node:path";
import { statSync } from "node:fs";
import { parse } from "yaml";
import { ApiSockets, sandboxKubeconfig } from "./api-socket.ts";

const kubeconfig = (server: string, extra: Record<string, unknown> = {}): string =>
  JSON.stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "c", cluster: { server, "certificate-authority-data": "Q0E=", ...extra } }],
    users: [{ name: "c", user: { token: "t" } }],
    contexts: [{ name: "c", context: { cluster: "c", user: "c" } }],
    "current-context": "c",
  });

const clusterOf = (text: string): Record<string, unknown> =>
  (parse(text) as { clusters: { cluster: Record<string, unknown> }[] }).clusters[0]!.cluster;

describe("sandboxKubeconfig", () => {
  it("points the cluster at the sandbox's forwarder, keeping the path, and remembers where it pointed", () => {
    const r = sandboxKubeconfig(kubeconfig("https://127.0.0.1:41234/clusters/sim-ab"));
    expect(clusterOf(r.kubeconfig).server).toBe("https://127.0.0.1:6443/clusters/sim-ab");
    expect(clusterOf(r.kubeconfig)["tls-server-name"]).toBeUndefined();
    expect(clusterOf(r.kubeconfig)["certificate-authority-data"]).toBe("Q0E=");
    expect(r.upstream).toEqual({ host: "127.0.0.1", port: 41234 });
  });

  it("keeps a remote server's name for TLS", () => {
    const r = sandboxKubeconfig(kubeconfig("https://api.example.test:6443"));
    expect(clusterOf(r.kubeconfig)).toMatchObject({
      server: "https://127.0.0.1:6443",
      "tls-server-name": "api.example.test",
    });
    expect(r.upstream).toEqual({ host: "api.example.test", port: 6443 });
  });

  it("leaves text that is not a kubeconfig alone", () => {
    expect(sandboxKubeconfig("kind: Config\n")).toEqual({ kubeconfig: "kind: Config\n" });
    expect(sandboxKubeconfig("{{{")).toEqual({ kubeconfig: "{{{" });
  });
});

describe("ApiSockets", () => {
  const all: ApiSockets[] = [];
  afterEach(() => all.splice(0).forEach((s) => s.closeAll()));

  it("gives each learner their own socket (0600) whose connections are handed over with that learner's id", async () => {
    const seen: string[] = [];
    const sockets = new ApiSockets((id, socket) => {
      seen.push(id);
      socket.end(`hello ${id}`);
    });
    all.push(sockets);
    const a = await sockets.open("l-a");
    const b = await sockets.open("l-b");
    expect(a).not.toBe(b);
    expect(statSync(path.join(a, "api.sock")).mode & 0o777).toBe(0o600);
    const read = (dir: string): Promise<string> =>
      new Promise((resolve, reject) => {
        let text = "";
        net
          .connect(path.join(dir, "api.sock"))
          .on("data", (d) => (text += d))
          .on("end", () => resolve(text))
          .on("error", reject);
      });
    expect(await read(a)).toBe("hello l-a");
    expect(await read(b)).toBe("hello l-b");
    expect(seen).toEqual(["l-a", "l-b"]);
    await expect(sockets.open("../x")).rejects.toThrow(/not a learner id/);
  });
});
