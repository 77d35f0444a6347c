/**
 * The workshop's lessons, as they happen in the simulated dataplane: forgetting DNS, IP rules going stale on rotation,
 * a CDN address shared by domains, the source address the outside sees (node, gateway), untrusted resolvers, and the
 * traces in the flow log. Driven through `PodRuntime.exec` with the real policy engine and a virtual clock.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createTestCluster, type TestCluster } from "../../server/src/net/testkit.ts";
import type { FlowRecord } from "../../server/src/net/flows.ts";
import type { KubeObject } from "../../server/src/store/types.ts";
import { defaultCatalogue } from "../../server/src/net/catalogue-file.ts";
import { rotateInCorefile } from "../../server/src/net/corefile-block.ts";
import { addressesAt, rotationCandidates, seedOf } from "../../server/src/net/rotation.ts";
import { internetZones, patchCorefile } from "../../server/src/providers/kind/internet.ts";

const gnp = (name: string, spec: Record<string, unknown>): KubeObject => ({
  apiVersion: "projectcalico.org/v3",
  kind: "GlobalNetworkPolicy",
  metadata: { name },
  spec,
});

const DEFAULT_DENY = gnp("default-deny", {
  selector: "projectcalico.org/namespace not in {'kube-system', 'calico-system'}",
  types: ["Egress"],
});
const DENY_ALL_INCLUDING_SYSTEM = gnp("deny-everything", { selector: "all()", types: ["Egress"] });
const APPS = "projectcalico.org/namespace not in {'kube-system', 'calico-system'}";
const ALLOW_DNS = gnp("allow-dns", {
  order: 10,
  selector: APPS,
  types: ["Egress"],
  egress: [
    {
      action: "Allow",
      protocol: "UDP",
      destination: { selector: "k8s-app == 'kube-dns'", namespaceSelector: "all()", ports: [53] },
    },
    {
      action: "Allow",
      protocol: "TCP",
      destination: { selector: "k8s-app == 'kube-dns'", namespaceSelector: "all()", ports: [53] },
    },
  ],
});
const ALLOW_DNS_UDP_ONLY = gnp("allow-dns", {
  order: 10,
  selector: APPS,
  types: ["Egress"],
  egress: [
    {
      action: "Allow",
      protocol: "UDP",
      destination: { selector: "k8s-app == 'kube-dns'", namespaceSelector: "all()", ports: [53] },
    },
  ],
});
const allowDomains = (domains: string[]): KubeObject =>
  gnp("allow-domains", {
    order: 20,
    selector: "app == 'client'",
    types: ["Egress"],
    egress: [{ action: "Allow", destination: { domains } }],
  });

let c: TestCluster;

function flows(q: string): FlowRecord[] {
  return (c.dataplane.api.queryFlows(new URLSearchParams(q)) as { items: FlowRecord[] }).items;
}

beforeEach(() => {
  c = createTestCluster();
  c.addPod({ name: "client", ip: "192.168.1.10", labels: { app: "client" }, image: "nicolaka/netshoot" });
  c.addPod({ name: "access", ip: "192.168.1.11", labels: { run: "access" }, image: "busybox:1.36" });
  c.addPod({
    name: "nginx-5d8f7c9b4-abcde",
    ip: "192.168.1.20",
    labels: { app: "nginx" },
    image: "nginx:1.27",
    generateName: "nginx-5d8f7c9b4-",
    ports: [{ containerPort: 80 }],
  });
  c.apply({
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: "nginx", namespace: "default" },
    spec: {
      clusterIP: "10.96.20.20",
      selector: { app: "nginx" },
      ports: [{ port: 80, targetPort: 80, protocol: "TCP" }],
    },
  });
});
afterEach(() => c.close());

describe("DNS is traffic subject to policy", () => {
  it("a default-deny without a DNS rule: curl cannot resolve (6), busybox wget says bad address", async () => {
    c.apply(DEFAULT_DENY);
    const curl = await c.exec("default", "client", ["curl", "-sS", "https://api.stripe.com"]);
    expect(curl.code).toBe(6);
    expect(curl.stderr).toBe("curl: (6) Could not resolve host: api.stripe.com\n");
    expect(curl.elapsedMs).toBeGreaterThanOrEqual(10_000);
    const wget = await c.exec("default", "access", ["wget", "-qO-", "http://nginx"]);
    expect(wget.code).toBe(1);
    expect(wget.stderr).toBe("wget: bad address 'nginx'\n");
    const capped = await c.exec("default", "client", [
      "curl",
      "-sS",
      "--connect-timeout",
      "1",
      "https://api.stripe.com",
    ]);
    expect(capped.code).toBe(28);
    expect(capped.stderr).toBe("curl: (28) Resolving timed out after 1000 milliseconds\n");
    const nsl = await c.exec("default", "access", ["nslookup", "nginx"]);
    expect(nsl.stdout).toContain(";; connection timed out; no servers could be reached");
    const denied = flows("action=deny&reporter=src&namespace=default");
    expect(
      denied.some((f) => f.dest_name === "coredns-7db6d8ff4d-*" && f.dest_port === 53 && f.proto === "udp"),
    ).toBe(true);
  });

  it("with DNS allowed, a denied connection times out (curl 28, wget download timed out)", async () => {
    c.apply(DEFAULT_DENY);
    c.apply(ALLOW_DNS);
    const curl = await c.exec("default", "client", "curl -sS -m 5 https://api.stripe.com");
    expect(curl.code).toBe(28);
    expect(curl.stderr).toMatch(/^curl: \(28\) Connection timed out after 500\d milliseconds\n$/);
    const wget = await c.exec("default", "access", "wget -q -T 3 -O- http://nginx");
    expect(wget.stderr).toBe("wget: download timed out\n");
    expect(wget.code).toBe(1);
  });

  it("a default-deny that also catches kube-system breaks external names but not cluster names", async () => {
    c.apply(DENY_ALL_INCLUDING_SYSTEM);
    c.apply(ALLOW_DNS);
    const cluster = await c.exec("default", "client", "nslookup nginx");
    expect(cluster.code).toBe(0);
    expect(cluster.stdout).toContain("Address: 10.96.20.20");
    const ext = await c.exec("default", "client", "curl -sS https://api.stripe.com");
    expect(ext.code).toBe(6);
    const logs =
      c.dataplane.runtime.logs("kube-system", "coredns-7db6d8ff4d-4xk2p", {}) +
      c.dataplane.runtime.logs("kube-system", "coredns-7db6d8ff4d-9zq7m", {});
    expect(logs).toMatch(
      /\[ERROR\] plugin\/errors: 2 api\.stripe\.com\. A: read udp .*->172\.18\.0\.1:53: i\/o timeout/,
    );
  });

  it("UDP-only DNS rules fail for answers too large for UDP (TCP fallback), and work with TCP allowed", async () => {
    c.apply(DEFAULT_DENY);
    c.apply(ALLOW_DNS_UDP_ONLY);
    const small = await c.exec("default", "client", "getent hosts api.github.com");
    expect(small.code).toBe(0);
    const big = await c.exec("default", "client", "getent hosts mirrors.bulk-packages.net");
    expect(big.code).toBe(2);
    c.apply(ALLOW_DNS);
    const again = await c.exec("default", "client", "dig +short mirrors.bulk-packages.net | wc -l");
    expect(again.stdout.trim()).toBe("40");
  });

  it("answers from a resolver that is not trusted teach the engine nothing", async () => {
    c.apply(DEFAULT_DENY);
    c.apply(
      gnp("allow-dns-anywhere", {
        order: 10,
        selector: "all()",
        types: ["Egress"],
        egress: [{ action: "Allow", protocol: "UDP", destination: { ports: [53] } }],
      }),
    );
    c.apply(allowDomains(["api.stripe.com"]));
    const direct = await c.exec("default", "client", "nslookup api.stripe.com 8.8.8.8");
    expect(direct.code).toBe(0);
    expect(direct.stdout).toContain("Address:\t8.8.8.8#53");
    const pinned =
      "curl -sS -m 2 -o /dev/null -w '%{http_code}' --resolve api.stripe.com:443:54.187.174.169 https://api.stripe.com";
    const before = await c.exec("default", "client", pinned);
    expect(before.code).toBe(28);
    await c.exec("default", "client", "nslookup api.stripe.com");
    const after = await c.exec("default", "client", pinned);
    expect(after.code).toBe(0);
    expect(after.stdout).toBe("200");
  });
});

describe("domains versus addresses", () => {
  it("a rotation breaks an ipBlock rule but not a domain rule", async () => {
    c.addPod({ name: "other", ip: "192.168.1.12", labels: { app: "other" } });
    c.apply(DEFAULT_DENY);
    c.apply(ALLOW_DNS);
    c.apply(allowDomains(["api.stripe.com"]));
    c.apply(
      gnp("allow-stripe-ips", {
        order: 20,
        selector: "app == 'other'",
        types: ["Egress"],
        egress: [
          {
            action: "Allow",
            protocol: "TCP",
            destination: { nets: ["54.187.174.169/32", "54.187.205.235/32", "54.187.216.72/32"] },
          },
        ],
      }),
    );
    const cmd = "curl -s -m 3 -o /dev/null -w '%{http_code}' https://api.stripe.com";
    expect((await c.exec("default", "client", cmd)).stdout).toBe("200");
    expect((await c.exec("default", "other", cmd)).stdout).toBe("200");
    const r = c.dataplane.api.rotate({ domain: "api.stripe.com" }) as { ips: string[]; previous: string[] };
    expect(r.ips).not.toEqual(r.previous);
    const byDomain = await c.exec("default", "client", cmd);
    expect(byDomain.code).toBe(0);
    const byIp = await c.exec("default", "other", cmd);
    expect(byIp.code).toBe(28);
    expect(byIp.stdout).toBe("000");
  });

  it("allowing one domain lets through another domain on the same CDN address, but not others", async () => {
    c.apply(DEFAULT_DENY);
    c.apply(ALLOW_DNS);
    c.apply(allowDomains(["raw.githubusercontent.com"]));
    expect(
      (await c.exec("default", "client", "curl -s -m 2 -o /dev/null https://raw.githubusercontent.com")).code,
    ).toBe(0);
    expect((await c.exec("default", "client", "curl -s -m 2 -o /dev/null https://pypi.org")).code).toBe(0);
    expect((await c.exec("default", "client", "curl -s -m 2 -o /dev/null https://example.com")).code).toBe(
      28,
    );
  });

  it("a wildcard does not match the apex; names outside the catalogue resolve to stable public addresses", async () => {
    c.apply(DEFAULT_DENY);
    c.apply(ALLOW_DNS);
    c.apply(allowDomains(["*.s3.amazonaws.com"]));
    expect(
      (await c.exec("default", "client", "curl -s -m 2 -o /dev/null https://shop-assets.s3.amazonaws.com"))
        .code,
    ).toBe(0);
    expect(
      (await c.exec("default", "client", "curl -s -m 2 -o /dev/null https://s3.amazonaws.com")).code,
    ).toBe(28);
    const a = await c.exec("default", "client", "dig +short www.some-blog-nobody-lists.org");
    const b = await c.exec("default", "client", "dig +short www.some-blog-nobody-lists.org");
    expect(a.stdout).toMatch(/^\d+\.\d+\.\d+\.\d+\n$/);
    expect(a.stdout).toBe(b.stdout);
    const reserved = await c.exec("default", "client", "nslookup printer.local");
    expect(reserved.stdout).toContain("** server can't find printer.local: NXDOMAIN");
  });
});

describe("the source address the outside sees", () => {
  const egressSetup = (natOutgoing: boolean): void => {
    c.apply({
      apiVersion: "projectcalico.org/v3",
      kind: "IPPool",
      metadata: { name: "egress-ippool-1" },
      spec: { cidr: "10.10.10.0/30", blockSize: 32, nodeSelector: "!all()", natOutgoing },
    });
    c.apply({
      apiVersion: "v1",
      kind: "Namespace",
      metadata: { name: "shop", labels: { "kubernetes.io/metadata.name": "shop" } },
    });
    c.addPod({
      namespace: "shop",
      name: "checkout",
      ip: "192.168.2.10",
      labels: { app: "checkout" },
      image: "curlimages/curl:8.11.1",
    });
    c.apply({
      apiVersion: "operator.tigera.io/v1",
      kind: "EgressGateway",
      metadata: { name: "egress-gateway", namespace: "shop" },
      spec: {
        replicas: 1,
        ipPools: [{ name: "egress-ippool-1" }],
        template: { metadata: { labels: { "egress-code": "red" } } },
      },
    });
    c.addPod({
      namespace: "shop",
      name: "egress-gateway-6f9c-x1",
      ip: "10.10.10.1",
      node: "kind-worker2",
      labels: { "egress-code": "red" },
      image: "quay.io/tigera/egress-gateway:v3.21",
      ownerKind: "EgressGateway",
    });
  };
  const annotate = (annotations: Record<string, string>): void =>
    c.apply({
      apiVersion: "v1",
      kind: "Namespace",
      metadata: { name: "shop", labels: { "kubernetes.io/metadata.name": "shop" }, annotations },
    });
  const felix = (mode: string): void =>
    c.apply({
      apiVersion: "projectcalico.org/v3",
      kind: "FelixConfiguration",
      metadata: { name: "default" },
      spec: { egressIPSupport: mode },
    });

  it("without a gateway the echo service sees the node address (natOutgoing pool)", async () => {
    const r = await c.exec("default", "client", "curl -s ifconfig.me");
    expect(r.stdout).toBe("172.18.0.3\n");
  });

  it("through a gateway it sees the gateway address; the partner admits only that", async () => {
    egressSetup(false);
    annotate({ "egress.projectcalico.org/selector": "egress-code == 'red'" });
    expect((await c.exec("shop", "checkout", "curl -s ifconfig.me")).stdout).toBe("172.18.0.3\n");
    expect(
      (
        await c.exec(
          "shop",
          "checkout",
          "curl -s -o /dev/null -w '%{http_code}' https://api.fabrikam-logistics.net",
        )
      ).stdout,
    ).toBe("403");
    felix("EnabledPerNamespace");
    expect((await c.exec("shop", "checkout", "curl -s ifconfig.me")).stdout).toBe("10.10.10.1\n");
    expect(
      (
        await c.exec(
          "shop",
          "checkout",
          "curl -s -o /dev/null -w '%{http_code}' https://api.fabrikam-logistics.net",
        )
      ).stdout,
    ).toBe("200");
    // Another namespace without the annotation still leaves through its node.
    expect((await c.exec("default", "client", "curl -s ifconfig.me")).stdout).toBe("172.18.0.3\n");
  });

  it("a gateway pool with natOutgoing hides the gateway behind its node's address", async () => {
    egressSetup(true);
    felix("EnabledPerNamespace");
    annotate({ "egress.projectcalico.org/selector": "egress-code == 'red'" });
    expect((await c.exec("shop", "checkout", "curl -s ifconfig.me")).stdout).toBe("172.18.0.4\n");
  });

  it("with no matching ready gateway, or a missing EgressGatewayPolicy, traffic fails instead of falling back", async () => {
    egressSetup(false);
    felix("EnabledPerNamespaceOrPerPod");
    annotate({ "egress.projectcalico.org/selector": "egress-code == 'blue'" });
    const r = await c.exec("shop", "checkout", "curl -sS -m 3 ifconfig.me");
    expect(r.code).toBe(7);
    annotate({ "egress.projectcalico.org/egressGatewayPolicy": "egw-policy1" });
    expect((await c.exec("shop", "checkout", "curl -sS -m 3 ifconfig.me")).code).toBe(7);
    c.apply({
      apiVersion: "projectcalico.org/v3",
      kind: "EgressGatewayPolicy",
      metadata: { name: "egw-policy1" },
      spec: {
        rules: [
          { destination: { cidr: "104.26.0.0/16" } },
          { gateway: { selector: "egress-code == 'red'" } },
        ],
      },
    });
    expect((await c.exec("shop", "checkout", "curl -s ifconfig.me")).stdout).toBe("10.10.10.1\n");
    // Longest prefix: api.ipify.org (104.26.12.205) matches the rule without a gateway and exits through the node.
    expect((await c.exec("shop", "checkout", "curl -s api.ipify.org")).stdout).toBe("172.18.0.3\n");
  });

  it("a gateway whose failure-detection probes fail is taken out of use", async () => {
    egressSetup(false);
    felix("EnabledPerNamespace");
    annotate({ "egress.projectcalico.org/selector": "egress-code == 'red'" });
    const withProbe = (ips: string[]): void =>
      c.apply({
        apiVersion: "operator.tigera.io/v1",
        kind: "EgressGateway",
        metadata: { name: "egress-gateway", namespace: "shop" },
        spec: {
          replicas: 1,
          ipPools: [{ name: "egress-ippool-1" }],
          template: { metadata: { labels: { "egress-code": "red" } } },
          egressGatewayFailureDetection: { icmpProbe: { ips, intervalSeconds: 5 } },
        },
      });
    withProbe(["192.0.2.1"]);
    expect((await c.exec("shop", "checkout", "curl -sS -m 2 ifconfig.me")).code).toBe(7);
    expect(c.dataplane.runtime.logs("shop", "egress-gateway-6f9c-x1", {})).toContain(
      "Health check failed: ICMP probe to 192.0.2.1 failed",
    );
    withProbe(["8.8.8.8"]);
    await c.advance(6000);
    expect((await c.exec("shop", "checkout", "curl -s ifconfig.me")).stdout).toBe("10.10.10.1\n");
    expect(
      flows("namespace=shop&proto=icmp&reporter=src").some((f) => f.source_name === "egress-gateway-6f9c-x1"),
    ).toBe(true);
  });

  it("policy applies at the gateway's egress too", async () => {
    egressSetup(false);
    felix("EnabledPerNamespace");
    annotate({ "egress.projectcalico.org/selector": "egress-code == 'red'" });
    c.apply(
      gnp("gateway-deny", {
        selector: "egress-code == 'red'",
        types: ["Egress"],
        egress: [{ action: "Deny" }],
      }),
    );
    const r = await c.exec("shop", "checkout", "curl -sS -m 2 ifconfig.me");
    expect(r.code).toBe(28);
    const gwFlows = flows("namespace=shop&action=deny&reporter=src");
    expect(
      gwFlows.some(
        (f) =>
          f.source_name === "egress-gateway-6f9c-x1" &&
          f.policies.enforced_policies.some((p) => p.includes("gateway-deny")),
      ),
    ).toBe(true);
  });
});

describe("flow log", () => {
  it("denied attempts carry the deciding policy, the domain and the reporter", async () => {
    c.apply(DEFAULT_DENY);
    c.apply(ALLOW_DNS);
    await c.exec("default", "client", "curl -s -m 1 https://beacon.darkhollow-c2.net");
    const denied = flows("action=deny&domain=beacon.darkhollow-c2.net");
    expect(denied).toHaveLength(1);
    const f = denied[0]!;
    expect(f).toMatchObject({
      source_name: "client",
      source_namespace: "default",
      dest_name: "pub",
      dest_type: "net",
      dest_port: 443,
      proto: "tcp",
      reporter: "src",
      action: "deny",
    });
    expect(f.policies.enforced_policies.join(" ")).toContain("default-deny");
    const allowedDns = flows("action=allow&port=53&workload=client&reporter=src");
    expect(allowedDns.every((x) => x.policies.enforced_policies.some((p) => p.includes("allow-dns")))).toBe(
      true,
    );
    expect(allowedDns.length).toBeGreaterThan(0);
  });

  it("pod-to-pod flows are reported by both ends, aggregated by workload, counted per 15 s window", async () => {
    for (let i = 0; i < 3; i++) await c.exec("default", "client", "curl -s -o /dev/null http://nginx");
    const dst = flows("reporter=dst&dest=nginx-5d8f7c9b4-*");
    expect(dst).toHaveLength(1);
    expect(dst[0]).toMatchObject({
      dest_name: "nginx-5d8f7c9b4-*",
      dest_service_name: "nginx",
      dest_port: 80,
      num_flows: 3,
    });
    const log = c.dataplane.runtime.logs("default", "nginx-5d8f7c9b4-abcde", {});
    expect(log.match(/"GET \/ HTTP\/1\.1" 200 615 "-" "curl\/8\.11\.1"/g)).toHaveLength(3);
    await c.advance(15_000);
    await c.exec("default", "client", "curl -s -o /dev/null http://nginx");
    expect(flows("reporter=dst&dest=nginx-5d8f7c9b4-*")).toHaveLength(2);
  });

  it("a staged default-deny changes nothing but shows in the pending trace", async () => {
    c.apply({
      apiVersion: "projectcalico.org/v3",
      kind: "StagedGlobalNetworkPolicy",
      metadata: { name: "default-deny" },
      spec: { selector: APPS, types: ["Egress"] },
    });
    const r = await c.exec(
      "default",
      "client",
      "curl -s -o /dev/null -w '%{http_code}' https://api.github.com",
    );
    expect(r.stdout).toBe("200");
    const [f] = flows("workload=client&port=443&reporter=src");
    expect(f).toMatchObject({ action: "allow" });
    expect(f!.policies.enforced_policies.join(" ")).toContain("__PROFILE__");
    expect(f!.policies.pending_policies.join(" ")).toMatch(/sgnp:.*default-deny\|deny\|-1/);
  });

  it("bad filters are rejected with every problem at once", () => {
    expect(() => c.dataplane.api.queryFlows(new URLSearchParams("action=maybe&limit=-1&colour=red"))).toThrow(
      /action[\s\S]*limit|limit[\s\S]*action/,
    );
  });

  it("watchers see new records as they happen", async () => {
    const seen: FlowRecord[] = [];
    const stop = c.dataplane.api.watchFlows(new URLSearchParams("namespace=default&port=443"), (r) =>
      seen.push(r as FlowRecord),
    );
    await c.exec("default", "client", "curl -s -o /dev/null https://api.github.com");
    stop();
    await c.exec("default", "client", "curl -s -o /dev/null https://api.github.com");
    expect(seen.length).toBe(1);
    expect(seen[0]!.dest_domains).toContain("api.github.com");
  });
});

describe("background traffic", () => {
  it("workloads make the traffic they declare on the cluster clock, through DNS and policy", async () => {
    c.apply({
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: {
        name: "payments",
        namespace: "default",
        annotations: {
          "egresslab.io/traffic":
            "[{to: api.stripe.com, every: 20s, log: true}, {to: 'http://nginx', every: 5s}]",
        },
      },
      spec: { selector: { matchLabels: { app: "payments" } } },
    });
    c.addPod({
      name: "payments-7c9d-aaaaa",
      ip: "192.168.1.30",
      labels: { app: "payments" },
      generateName: "payments-7c9d-",
    });
    await c.advance(60_000);
    const ext = flows("workload=payments-7c9d-*&domain=api.stripe.com");
    expect(ext.reduce((n, f) => n + f.num_flows, 0)).toBeGreaterThanOrEqual(2);
    expect(
      flows("workload=payments-7c9d-*&dest=nginx-5d8f7c9b4-*&reporter=src").reduce(
        (n, f) => n + f.num_flows,
        0,
      ),
    ).toBeGreaterThanOrEqual(10);
    expect(c.dataplane.runtime.logs("default", "payments-7c9d-aaaaa", {})).toMatch(
      /GET https:\/\/api\.stripe\.com\/ 200/,
    );
    c.apply(DEFAULT_DENY);
    c.apply(ALLOW_DNS);
    await c.advance(40_000);
    expect(flows("workload=payments-7c9d-*&domain=api.stripe.com&action=deny").length).toBeGreaterThan(0);
    expect(c.dataplane.runtime.logs("default", "payments-7c9d-aaaaa", { tailLines: 1 })).toMatch(
      /connection timed out/,
    );
  });
});

describe("the lab's internet block in CoreDNS's Corefile (as on kind)", () => {
  const catalogue = defaultCatalogue();
  const stripe = catalogue.domains.find((d) => d.name === "api.stripe.com")!;
  const candidates = rotationCandidates(catalogue);
  const base = ".:53 {\n    errors\n    forward . /etc/resolv.conf\n    cache 30\n}\n";
  const corefile = (text: string): KubeObject => ({
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "coredns", namespace: "kube-system" },
    data: { Corefile: text },
  });
  const withBlock = patchCorefile(base, internetZones(catalogue), "172.18.0.251");

  it("answers a rotated domain from the hosts stanza, and the new address answers as that domain", async () => {
    const ips = addressesAt(stripe, candidates, seedOf("some-cluster"), 1);
    c.apply(corefile(withBlock));
    // Without a rotation in the block, the names resolve as before.
    const plain = await c.exec("default", "client", "nslookup api.stripe.com");
    for (const ip of stripe.ips) expect(plain.stdout).toContain(`Address: ${ip}`);
    c.apply(
      corefile(rotateInCorefile(withBlock, { domain: "api.stripe.com", generation: 1, ips }, () => 60)),
    );
    const rotated = await c.exec("default", "client", "nslookup api.stripe.com");
    for (const ip of ips) expect(rotated.stdout).toContain(`Address: ${ip}`);
    for (const ip of stripe.ips) expect(rotated.stdout).not.toContain(ip);
    // Other names of the lab's zones fall through to forward.
    expect(
      (await c.exec("default", "client", "dig +short api.twilio.com")).stdout.trim().split("\n"),
    ).toEqual(catalogue.domains.find((d) => d.name === "api.twilio.com")!.ips);
    const cmd = "curl -s -m 3 -o /dev/null -w '%{http_code}' https://api.stripe.com/v1/charges";
    expect((await c.exec("default", "client", cmd)).stdout).toBe("200");
    const direct = await c.exec(
      "default",
      "client",
      `curl -sk -m 3 -H 'Host: api.stripe.com' https://${ips[0]}/v1/charges`,
    );
    expect(direct.stdout).toContain('"object":"list"');
    // An address a rotation could give but the cluster's DNS does not name: nothing answers there.
    const unnamed = candidates
      .get("api.stripe.com")!
      .flat()
      .find((ip) => !ips.includes(ip))!;
    const dropped = await c.exec(
      "default",
      "client",
      `curl -sk -m 2 -o /dev/null -w '%{http_code}' https://${unnamed}/`,
    );
    expect(dropped.code).toBe(28);
  });

  it("an allowlist pinned to the inventory-day addresses stops working; one of the published ranges keeps working", async () => {
    c.addPod({ name: "other", ip: "192.168.1.12", labels: { app: "other" } });
    c.apply(DEFAULT_DENY);
    c.apply(ALLOW_DNS);
    const allow = (name: string, app: string, nets: string[]) =>
      gnp(name, {
        order: 20,
        selector: `app == '${app}'`,
        types: ["Egress"],
        egress: [{ action: "Allow", protocol: "TCP", destination: { nets } }],
      });
    c.apply(
      allow(
        "pinned",
        "client",
        stripe.ips.map((ip) => `${ip}/32`),
      ),
    );
    c.apply(allow("ranges", "other", stripe.rotate!.pool));
    c.apply(corefile(withBlock));
    const cmd = "curl -s -m 3 -o /dev/null -w '%{http_code}' https://api.stripe.com/v1/charges";
    expect((await c.exec("default", "client", cmd)).stdout).toBe("200");
    const ips = addressesAt(stripe, candidates, seedOf("another-cluster"), 1);
    c.apply(
      corefile(rotateInCorefile(withBlock, { domain: "api.stripe.com", generation: 1, ips }, () => 60)),
    );
    expect((await c.exec("default", "client", cmd)).stdout).toBe("000");
    expect((await c.exec("default", "other", cmd)).stdout).toBe("200");
  });
});
