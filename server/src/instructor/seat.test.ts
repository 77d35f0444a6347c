import { describe, expect, it } from "vitest";
import { FakeClient } from "../grading/fake-client.ts";
import { changesSince, clusterDetail, deniedFlows, policies } from "./seat.ts";

const at = (iso: string) => Date.parse(iso);

function cluster(): FakeClient {
  const c = new FakeClient();
  c.objects.set("gnp", {
    apiVersion: "projectcalico.org/v3",
    kind: "GlobalNetworkPolicy",
    metadata: {
      name: "default-deny",
      creationTimestamp: "2026-03-01T09:10:00Z",
      managedFields: [{ manager: "kubectl-client-side-apply", time: "2026-03-01T09:10:00Z" }],
    },
    spec: { tier: "default", order: 2000, selector: "all()", egress: [{ action: "Deny" }] },
  });
  c.objects.set("np", {
    apiVersion: "projectcalico.org/v3",
    kind: "NetworkPolicy",
    metadata: {
      name: "allow-shop",
      namespace: "shop",
      creationTimestamp: "2026-03-01T08:00:00Z",
      managedFields: [
        { manager: "egresslab", time: "2026-03-01T08:00:00Z" },
        { manager: "kubectl-edit", time: "2026-03-01T09:20:00Z" },
      ],
    },
    spec: { order: 100, selector: "app == 'shop'", egress: [{ action: "Allow" }, { action: "Allow" }] },
  });
  c.objects.set("knp", {
    apiVersion: "networking.k8s.io/v1",
    kind: "NetworkPolicy",
    metadata: { name: "old", namespace: "ops", creationTimestamp: "2026-03-01T07:00:00Z" },
    spec: { podSelector: { matchLabels: { app: "x" } }, ingress: [{}] },
  });
  c.flows = [
    {
      action: "deny",
      reporter: "src",
      source_namespace: "shop",
      source_name: "catalog-*",
      dest_type: "net",
      dest_name: "pub",
      dest_domains: ["api.github.com"],
      dest_port: 443,
      protocol: "tcp",
      start_time: 1772355600,
      end_time: 1772355660,
      policies: { enforced_policies: ["0|default|gnp:default-deny|deny|0"], pending_policies: [] },
    },
    {
      action: "allow",
      reporter: "src",
      source_namespace: "shop",
      source_name: "catalog-*",
      dest_type: "net",
      dest_name: "pub",
      dest_port: 443,
      protocol: "tcp",
      start_time: 1772355600,
      end_time: 1772355660,
      policies: { enforced_policies: [], pending_policies: [] },
    },
  ];
  return c;
}

describe("the seat view of a cluster", () => {
  it("lists denied flows only, with the policy that denied them", async () => {
    const flows = await deniedFlows(cluster());
    expect(flows).toEqual([
      {
        at: "2026-03-01T09:01:00.000Z",
        source: "shop/catalog-*",
        dest: "api.github.com",
        port: 443,
        proto: "tcp",
        policy: expect.stringContaining("gnp:default-deny|deny") as unknown,
      },
    ]);
  });

  it("lists policies in tier and order, Kubernetes ones too", async () => {
    expect((await policies(cluster())).map((p) => [p.kind, p.name, p.tier, p.order, p.rules])).toEqual([
      ["NetworkPolicy", "allow-shop", "default", 100, 2],
      ["GlobalNetworkPolicy", "default-deny", "default", 2000, 1],
      ["Kubernetes NetworkPolicy", "old", undefined, undefined, 1],
    ]);
  });

  it("says which objects were created or changed since the stage started, and by what", async () => {
    const changes = await changesSince(cluster(), at("2026-03-01T09:00:00Z"));
    expect(changes).toEqual([
      {
        kind: "NetworkPolicy",
        namespace: "shop",
        name: "allow-shop",
        change: "changed",
        at: "2026-03-01T09:20:00.000Z",
        by: ["kubectl-edit"],
      },
      {
        kind: "GlobalNetworkPolicy",
        name: "default-deny",
        change: "created",
        at: "2026-03-01T09:10:00.000Z",
        by: ["kubectl-client-side-apply"],
      },
    ]);
  });

  it("shows what it can read and says why for the rest", async () => {
    const c = cluster();
    c.flows = undefined;
    const d = await clusterDetail(c, at("2026-03-01T09:15:00Z"));
    expect(d.flows).toEqual({ denied: [], error: "no ready pod behind svc/whisker" });
    expect(d.policies.items).toHaveLength(3);
    expect(d.changes).toMatchObject({ since: "2026-03-01T09:15:00.000Z", items: [{ name: "allow-shop" }] });
  });
});
