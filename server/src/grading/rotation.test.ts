import { describe, expect, it } from "vitest";
import { parseCatalogue } from "../net/catalogue.ts";
import { readLabBlock } from "../net/corefile-block.ts";
import { rotationCandidates } from "../net/rotation.ts";
import { inCidr } from "../shared/ipv4.ts";
import { internetZones, patchCorefile } from "../providers/kind/internet.ts";
import { FakeClient } from "./fake-client.ts";
import { NoLabInternetError, rolledOut, rotateDomain } from "./rotation.ts";

const catalogue = parseCatalogue(
  `
resolvers: [8.8.8.8]
upstream: 172.18.0.1
domains:
  api.stripe.com: {ips: [54.187.174.169, 54.187.205.235, 54.187.216.72], ttl: 60, rotate: {every: 1h, pool: [54.187.0.0/16, 54.241.31.0/24]}}
  api.twilio.com: {ips: [18.215.127.113, 54.172.60.2], ttl: 30, rotate: {every: 2h, pool: [18.0.0.0/8]}}
  api.paypal.com: {ips: [151.101.65.21], ttl: 300}
`,
  "test.yaml",
);
const kindCorefile =
  ".:53 {\n    errors\n    kubernetes cluster.local in-addr.arpa ip6.arpa {\n       ttl 30\n    }\n    forward . /etc/resolv.conf\n    cache 30\n    reload\n}\n";

/** A cluster as `egresslab clusters create --provider kind` leaves it: CoreDNS forwards the lab's zones. */
function kindCluster(
  uid: string,
  corefile = patchCorefile(kindCorefile, internetZones(catalogue), "172.18.0.5"),
) {
  const c = new FakeClient();
  c.answer = () => ({ status: 404, body: "404 page not found" });
  c.objects.set("v1|Namespace||kube-system", {
    apiVersion: "v1",
    kind: "Namespace",
    metadata: { name: "kube-system", uid },
  });
  c.objects.set("v1|ConfigMap|kube-system|coredns", {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "coredns", namespace: "kube-system", resourceVersion: "10" },
    data: { Corefile: corefile },
  });
  c.objects.set("apps/v1|Deployment|kube-system|coredns", {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "coredns", namespace: "kube-system", generation: 1, resourceVersion: "11" },
    spec: { replicas: 2, template: { metadata: { labels: { "k8s-app": "kube-dns" } } } },
    status: { observedGeneration: 1, replicas: 2, updatedReplicas: 2, availableReplicas: 2 },
  });
  return c;
}
const corefileOf = (c: FakeClient): string =>
  (c.objects.get("v1|ConfigMap|kube-system|coredns")!.data as { Corefile: string }).Corefile;
const restartedAt = (c: FakeClient): unknown =>
  (
    c.objects.get("apps/v1|Deployment|kube-system|coredns")!.spec as {
      template: { metadata: { annotations?: Record<string, string> } };
    }
  ).template.metadata.annotations?.["kubectl.kubernetes.io/restartedAt"];

describe("rotateDomain through the lab's internet in CoreDNS", () => {
  it("writes the next addresses as a hosts stanza ahead of forward, restarts CoreDNS, and moves on each time", async () => {
    const c = kindCluster("uid-a");
    const first = await rotateDomain(c, "api.stripe.com", { catalogue, pollMs: 1 });
    expect(first.previous).toEqual(["54.187.174.169", "54.187.205.235", "54.187.216.72"]);
    expect(first.ips).toHaveLength(3);
    expect(first.ips.every((ip) => inCidr(ip, "54.187.0.0/16") || inCidr(ip, "54.241.31.0/24"))).toBe(true);
    expect(first.ips.some((ip) => first.previous.includes(ip))).toBe(false);
    const corefile = corefileOf(c);
    // Only the lab's block changed; its hosts stanza comes before forward, with the catalogue's TTL.
    expect(corefile.startsWith(kindCorefile)).toBe(true);
    const block = corefile.slice(corefile.indexOf("# egresslab: the lab's internet (begin)"));
    expect(block).toContain(
      [
        "    cache 30",
        "    # egresslab: api.stripe.com rotated, generation 1",
        "    hosts {",
        ...first.ips.map((ip) => `        ${ip} api.stripe.com`),
        "        ttl 60",
        "        fallthrough",
        "    }",
        "    forward . 172.18.0.5",
        "}",
      ].join("\n"),
    );
    expect(restartedAt(c)).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(c.calls.filter((x) => x.startsWith("patch"))).toEqual([
      "patch ConfigMap/coredns",
      "patch Deployment/coredns",
    ]);

    const second = await rotateDomain(c, "api.stripe.com", { catalogue, pollMs: 1 });
    expect(second.previous).toEqual(first.ips);
    expect(second.ips).toHaveLength(3);
    expect(second.ips.some((ip) => first.ips.includes(ip))).toBe(false);
    expect(readLabBlock(corefileOf(c))!.rotations).toEqual([
      { domain: "api.stripe.com", generation: 2, ips: second.ips },
    ]);
    // Another domain joins the same stanza; the TTL is the shortest of them.
    const twilio = await rotateDomain(c, "API.Twilio.com.", { catalogue, pollMs: 1 });
    expect(twilio.domain).toBe("api.twilio.com");
    const b = readLabBlock(corefileOf(c))!;
    expect(b.rotations.map((r) => [r.domain, r.generation])).toEqual([
      ["api.stripe.com", 2],
      ["api.twilio.com", 1],
    ]);
    expect(b.ttl).toBe(30);
    expect(corefileOf(c).match(/hosts \{/g)).toHaveLength(1);
  });

  it("draws only addresses the lab's internet answers on, differently per cluster, the same again for the same cluster", async () => {
    const candidates = rotationCandidates(catalogue).get("api.stripe.com")!.flat();
    const a = await rotateDomain(kindCluster("uid-a"), "api.stripe.com", { catalogue, pollMs: 1 });
    const again = await rotateDomain(kindCluster("uid-a"), "api.stripe.com", { catalogue, pollMs: 1 });
    expect(again.ips).toEqual(a.ips);
    const seen = new Set<string>();
    for (const uid of ["uid-b", "uid-c", "uid-d", "uid-e"]) {
      const r = await rotateDomain(kindCluster(uid), "api.stripe.com", { catalogue, pollMs: 1 });
      expect(candidates).toEqual(expect.arrayContaining(r.ips));
      seen.add(r.ips.join());
    }
    seen.add(a.ips.join());
    expect(seen.size).toBeGreaterThan(1);
  });

  it("refuses a domain that is not in the catalogue or has fixed addresses, and changes nothing", async () => {
    const c = kindCluster("uid-a");
    const before = corefileOf(c);
    await expect(rotateDomain(c, "api.example.org", { catalogue })).rejects.toThrow(
      /not in the lab's internet/,
    );
    await expect(rotateDomain(c, "api.paypal.com", { catalogue })).rejects.toThrow(/fixed addresses/);
    expect(corefileOf(c)).toBe(before);
    expect(c.calls).toEqual([]);
  });

  it("reads CoreDNS's configuration again when it changed between the read and the write", async () => {
    const c = kindCluster("uid-a");
    const patch = c.patch.bind(c);
    let raced = false;
    c.patch = async (ref, p) => {
      if (!raced && ref.kind === "ConfigMap") {
        raced = true;
        const cm = c.objects.get("v1|ConfigMap|kube-system|coredns")!;
        cm.metadata.resourceVersion = "12";
      }
      return patch(ref, p);
    };
    const r = await rotateDomain(c, "api.stripe.com", { catalogue, pollMs: 1 });
    expect(raced).toBe(true);
    expect(readLabBlock(corefileOf(c))!.rotations[0]!.ips).toEqual(r.ips);
  });

  it("waits for CoreDNS's rollout as kubectl rollout status does, and gives up saying why", async () => {
    const c = kindCluster("uid-a");
    const patch = c.patch.bind(c);
    c.patch = async (ref, p) => {
      const o = await patch(ref, p);
      // A controller that never gets to it.
      if (ref.kind === "Deployment") o.status = { observedGeneration: 1, replicas: 2, updatedReplicas: 2 };
      return o;
    };
    await expect(rotateDomain(c, "api.stripe.com", { catalogue, pollMs: 1, timeoutMs: 30 })).rejects.toThrow(
      /CoreDNS did not restart within 0 s: the restart was not observed yet/,
    );
    const dep = (status: Record<string, unknown>) => ({
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "coredns", generation: 3 },
      spec: { replicas: 2 },
      status,
    });
    expect(
      rolledOut(dep({ observedGeneration: 3, replicas: 3, updatedReplicas: 1, availableReplicas: 2 })),
    ).toBe("1 of 2 new replicas updated");
    expect(
      rolledOut(dep({ observedGeneration: 3, replicas: 3, updatedReplicas: 2, availableReplicas: 2 })),
    ).toBe("1 old replicas pending termination");
    expect(
      rolledOut(dep({ observedGeneration: 3, replicas: 2, updatedReplicas: 2, availableReplicas: 1 })),
    ).toBe("1 of 2 updated replicas available");
    expect(
      rolledOut(dep({ observedGeneration: 3, replicas: 2, updatedReplicas: 2, availableReplicas: 2 })),
    ).toBe(true);
  });
});

describe("rotateDomain elsewhere", () => {
  it("asks the simulator when CoreDNS has no lab internet", async () => {
    const c = kindCluster("uid-a", kindCorefile);
    const bodies: unknown[] = [];
    c.answer = (_m, path, body) => {
      bodies.push(body);
      return path === "/egresslab/v1/internet/rotate"
        ? {
            status: 200,
            body: JSON.stringify({ domain: "api.stripe.com", previous: ["1.1.1.1"], ips: ["2.2.2.2"] }),
          }
        : { status: 404, body: "" };
    };
    expect(await rotateDomain(c, "api.stripe.com", { catalogue })).toEqual({
      domain: "api.stripe.com",
      previous: ["1.1.1.1"],
      ips: ["2.2.2.2"],
    });
    expect(bodies).toEqual([{ domain: "api.stripe.com" }]);
    expect(corefileOf(c)).toBe(kindCorefile);
  });

  it("says plainly that a cluster has no lab internet", async () => {
    const c = kindCluster("uid-a", kindCorefile);
    await expect(rotateDomain(c, "api.stripe.com", { catalogue })).rejects.toBeInstanceOf(NoLabInternetError);
    await expect(rotateDomain(c, "api.stripe.com", { catalogue })).rejects.toThrow(
      /no lab internet to rotate.*docs\/real-clusters\.md/,
    );
    expect(c.calls.some((x) => x.startsWith("patch"))).toBe(false);
  });
});
