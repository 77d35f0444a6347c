/* eslint-disable @typescript-eslint/no-explicit-any -- assertions read deep into Kubernetes JSON */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { VirtualClock } from "../shared/clock.ts";
import type { KubeObject } from "../store/types.ts";
import { createSimCluster, deleteSimClusterState, type SimCluster } from "./cluster.ts";

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const tmp = () => {
  const d = mkdtempSync(path.join(tmpdir(), "egresslab-sim-"));
  dirs.push(d);
  return d;
};
const t = (c: SimCluster, n: string, g?: string) => c.api.findType(n, g)!;
const st = (o: KubeObject | undefined) => (o?.status ?? {}) as Record<string, any>;

describe("the bare profile", () => {
  it("looks like a fresh kind cluster with Calico 3.32", async () => {
    const c = await createSimCluster({
      id: "bare",
      clock: new VirtualClock(Date.UTC(2026, 0, 1)),
      dataplane: false,
    });
    const nodes = c.api.list(t(c, "nodes"), {}).items;
    expect(nodes.map((n) => n.metadata.name)).toEqual([
      "egresslab-control-plane",
      "egresslab-worker",
      "egresslab-worker2",
    ]);
    expect(nodes.map((n) => st(n).nodeInfo.kubeletVersion)).toEqual(["v1.32.2", "v1.32.2", "v1.32.2"]);
    expect(nodes.map((n) => st(n).addresses[0].address)).toEqual(["172.18.0.2", "172.18.0.3", "172.18.0.4"]);
    expect(
      c.api
        .list(t(c, "ns"), {})
        .items.map((n) => n.metadata.name)
        .sort(),
    ).toEqual([
      "calico-apiserver",
      "calico-system",
      "default",
      "kube-node-lease",
      "kube-public",
      "kube-system",
      "local-path-storage",
      "tigera-operator",
    ]);
    const dns = c.api.get(t(c, "svc"), "kube-system", "kube-dns").spec as any;
    expect(dns.clusterIP).toBe("10.96.0.10");
    expect(dns.ports.map((p: any) => `${p.name}/${p.port}/${p.protocol}`)).toEqual([
      "dns/53/UDP",
      "dns-tcp/53/TCP",
      "metrics/9153/TCP",
    ]);
    expect((c.api.get(t(c, "svc"), "default", "kubernetes").spec as any).clusterIP).toBe("10.96.0.1");
    const coredns = c.api.list(t(c, "pods"), {
      namespace: "kube-system",
      labelSelector: "k8s-app=kube-dns",
    }).items;
    expect(coredns).toHaveLength(2);
    expect(coredns.every((p) => st(p).phase === "Running" && st(p).podIP.startsWith("192.168."))).toBe(true);
    const ep = c.api.get(t(c, "ep"), "kube-system", "kube-dns") as any;
    expect(ep.subsets[0].addresses).toHaveLength(2);
    for (const p of c.api.list(t(c, "pods"), {
      namespace: "calico-system",
      labelSelector: "k8s-app=calico-node",
    }).items) {
      expect((p.spec as any).hostNetwork).toBe(true);
      expect(st(p).podIP).toBe(st(p).hostIP);
    }
    expect(
      c.api.list(t(c, "pods"), { namespace: "kube-system", labelSelector: "k8s-app=kube-proxy" }).items,
    ).toHaveLength(3);
    for (const name of ["calico-kube-controllers", "calico-typha", "goldmane", "whisker"])
      expect(
        c.api.list(t(c, "pods"), { namespace: "calico-system", labelSelector: `k8s-app=${name}` }).items
          .length,
      ).toBeGreaterThan(0);
    expect(
      c.api.list(t(c, "pods"), {
        namespace: "kube-system",
        fieldSelector: "spec.nodeName=egresslab-control-plane",
        labelSelector: "tier=control-plane",
      }).items,
    ).toHaveLength(4);
    const tiers = Object.fromEntries(
      c.api.list(t(c, "tiers"), {}).items.map((x) => [x.metadata.name, x.spec]),
    );
    expect(tiers).toEqual({
      "calico-system": { order: 100, defaultAction: "Deny" },
      default: { order: 1000000, defaultAction: "Deny" },
      "kube-admin": { order: 1000, defaultAction: "Pass" },
      "kube-baseline": { order: 10000000, defaultAction: "Pass" },
    });
    expect(c.api.get(t(c, "ippools"), undefined, "default-ipv4-ippool").spec).toMatchObject({
      cidr: "192.168.0.0/16",
      blockSize: 26,
      natOutgoing: true,
      vxlanMode: "CrossSubnet",
    });
    expect(c.api.get(t(c, "felixconfigurations"), undefined, "default").metadata.name).toBe("default");
    const ts = c.api.list(t(c, "tigerastatuses"), {}).items;
    expect(ts.map((x) => x.metadata.name)).toEqual(["apiserver", "calico", "goldmane", "ippools", "whisker"]);
    const cols = t(c, "tigerastatus").columns.map((col) => col.value(ts[0]!));
    expect(cols).toEqual(["True", "False", "False", "0s"]);
    expect(c.api.get(t(c, "installations"), undefined, "default").status).toMatchObject({
      calicoVersion: "v3.32.1",
    });
    expect(c.api.list(t(c, "events", ""), {}).items).toEqual([]);
    await c.close();
  });

  it("is the same cluster for the same seed, and not for another", async () => {
    const ips = async (seed: number) => {
      const c = await createSimCluster({
        id: `s${seed}`,
        seed,
        clock: new VirtualClock(Date.UTC(2026, 0, 1)),
        dataplane: false,
      });
      const out = c.api.list(t(c, "pods"), {}).items.map((p) => `${p.metadata.name}=${st(p).podIP}`);
      await c.close();
      return out;
    };
    expect(await ips(5)).toEqual(await ips(5));
    expect(await ips(5)).not.toEqual(await ips(6));
  });

  it("serves the Enterprise kinds on enterprise clusters only", async () => {
    const oss = await createSimCluster({ id: "oss", edition: "oss", dataplane: false });
    expect(oss.edition).toBe("oss");
    expect(oss.api.findType("egressgateways")).toBeUndefined();
    expect(oss.api.types().some((x) => x.kind === "EgressGatewayPolicy")).toBe(false);
    await oss.close();
    const ent = await createSimCluster({ id: "ent", dataplane: false });
    expect(ent.edition).toBe("enterprise");
    expect(ent.api.findType("EgressGateway")?.edition).toBe("enterprise");
    await ent.close();
  });

  it("explains an unknown profile", async () => {
    await expect(createSimCluster({ id: "x", profile: "nope", dataplane: false })).rejects.toThrow(
      /unknown cluster profile "nope" \(known: .*bare/,
    );
  });
});

describe("persistence", () => {
  it("restores everything applied, and resourceVersions keep increasing", async () => {
    const dataDir = tmp();
    const a = await createSimCluster({ id: "keep", dataDir, seed: 3, dataplane: false });
    a.api.create(t(a, "ns"), undefined, { apiVersion: "v1", kind: "Namespace", metadata: { name: "shop" } });
    a.api.create(t(a, "cm"), "shop", {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "cfg" },
      data: { k: "v" },
    });
    a.api.create(t(a, "gnp"), undefined, {
      apiVersion: "projectcalico.org/v3",
      kind: "GlobalNetworkPolicy",
      metadata: { name: "deny" },
      spec: { selector: "all()", types: ["Egress"] },
    });
    const rv = Number(a.api.list(t(a, "pods"), {}).resourceVersion);
    const pods = a.api.list(t(a, "pods"), {}).items.map((p) => `${p.metadata.name}=${st(p).podIP}`);
    await a.close();
    expect(existsSync(path.join(dataDir, "clusters", "keep.json"))).toBe(true);
    const b = await createSimCluster({ id: "keep", dataDir, seed: 99, profile: "bare", dataplane: false });
    expect(b.seed).toBe(3);
    expect((b.api.get(t(b, "cm"), "shop", "cfg").data as any).k).toBe("v");
    expect(b.api.get(t(b, "gnp"), undefined, "deny").spec).toMatchObject({ types: ["Egress"] });
    expect(b.api.list(t(b, "pods"), {}).items.map((p) => `${p.metadata.name}=${st(p).podIP}`)).toEqual(pods);
    const created = b.api.create(t(b, "cm"), "shop", {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "later" },
    }).object;
    expect(Number(created.metadata.resourceVersion)).toBeGreaterThan(rv);
    await b.close();
    deleteSimClusterState(dataDir, "keep");
    expect(existsSync(path.join(dataDir, "clusters", "keep.json"))).toBe(false);
    const fresh = await createSimCluster({ id: "keep", dataDir, dataplane: false });
    expect(() => fresh.api.get(t(fresh, "ns"), undefined, "shop")).toThrow(/namespaces "shop" not found/);
    await fresh.close();
  });

  it("finishes a namespace deletion that a restart interrupted", async () => {
    const dataDir = tmp();
    const a = await createSimCluster({ id: "ns", dataDir, dataplane: false });
    a.api.create(t(a, "ns"), undefined, { apiVersion: "v1", kind: "Namespace", metadata: { name: "gone" } });
    a.api.delete(t(a, "ns"), undefined, "gone");
    await a.close();
    const b = await createSimCluster({ id: "ns", dataDir, dataplane: false });
    await new Promise((r) => setImmediate(r));
    expect(() => b.api.get(t(b, "ns"), undefined, "gone")).toThrow(/namespaces "gone" not found/);
    await b.close();
  });

  it("refuses ids that are not file names", async () => {
    await expect(createSimCluster({ id: "../etc", dataDir: tmp(), dataplane: false })).rejects.toThrow(
      /invalid cluster id/,
    );
  });
});
