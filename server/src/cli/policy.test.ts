import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { mkdtempSync, rmSync, writeFileSync, existsSync, mkdirSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { main } from "../main.ts";

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, "..", "..", "..");
const shared = path.join(repoRoot, "..", "shared", "realworld-yaml");
// The examples used here are also committed beside the engine's tests, for clones without ../shared.
const realworld = existsSync(shared) ? shared : path.join(here, "..", "calico", "testdata", "realworld");
const rw = (name: string) => path.join(realworld, name);

let dir: string;
let cluster: string;

const CLUSTER = `
apiVersion: v1
kind: Namespace
metadata: {name: dev}
---
apiVersion: v1
kind: Namespace
metadata: {name: kube-system}
---
apiVersion: v1
kind: Pod
metadata: {name: centos, namespace: dev, labels: {app: centos, my-pod-label: my-value}}
spec: {containers: [{name: c, image: centos}]}
status: {podIP: 192.168.1.10}
---
apiVersion: v1
kind: Pod
metadata: {name: nginx-1, namespace: dev, labels: {app: nginx}}
spec: {containers: [{name: c, image: nginx, ports: [{name: http, containerPort: 8080}]}]}
status: {podIP: 192.168.1.20}
---
apiVersion: v1
kind: Service
metadata: {name: nginx, namespace: dev}
spec: {selector: {app: nginx}, ports: [{port: 80, targetPort: http}]}
---
apiVersion: v1
kind: Pod
metadata: {name: coredns, namespace: kube-system, labels: {k8s-app: kube-dns}}
spec:
  containers:
  - name: coredns
    ports: [{name: dns, containerPort: 53, protocol: UDP}, {name: dns-tcp, containerPort: 53, protocol: TCP}]
status: {podIP: 192.168.2.2}
---
apiVersion: v1
kind: Service
metadata: {name: kube-dns, namespace: kube-system}
spec: {clusterIP: 10.96.0.10, selector: {k8s-app: kube-dns}, ports: [{name: dns, port: 53, protocol: UDP}, {name: dns-tcp, port: 53, protocol: TCP}]}
`;

function write(name: string, text: string): string {
  const p = path.join(dir, name);
  mkdirSync(path.dirname(p), { recursive: true });
  writeFileSync(p, text);
  return p;
}

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const o = vi.spyOn(process.stdout, "write").mockImplementation((s) => ((out += String(s)), true));
  const e = vi.spyOn(process.stderr, "write").mockImplementation((s) => ((err += String(s)), true));
  try {
    const code = await main(["policy", "check", ...argv]);
    return { code, out, err };
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
}

async function json(...argv: string[]) {
  const r = await run(...argv, "--output", "json");
  expect(r.err).toBe("");
  return JSON.parse(r.out) as {
    allowed: boolean;
    egress: { action: string; policies: string[]; pendingPolicies: string[] };
    ingress: { action: string; policies: string[]; pendingPolicies: string[] };
  };
}

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), "egresslab-policy-"));
  cluster = write("cluster/cluster.yaml", CLUSTER);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("policy check", () => {
  it("prints one JSON object with both sides and their traces", async () => {
    const v = await json("-f", cluster, "--from", "dev/centos", "--to", "dev/nginx-1", "--port", "8080");
    expect(v).toEqual({
      allowed: true,
      egress: {
        action: "allow",
        policies: ["0|__PROFILE__|pro:kns.dev|allow|0"],
        pendingPolicies: ["0|__PROFILE__|pro:kns.dev|allow|0"],
      },
      ingress: {
        action: "allow",
        policies: ["0|__PROFILE__|pro:kns.dev|allow|0"],
        pendingPolicies: ["0|__PROFILE__|pro:kns.dev|allow|0"],
      },
    });
  });

  it("explains in prose and DNATs a service to a backend pod and its target port", async () => {
    const deny = write(
      "deny-nginx.yaml",
      `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: nginx-8080-only-from-nobody, namespace: dev}
spec:
  podSelector: {matchLabels: {app: nginx}}
  ingress: [{from: [{podSelector: {matchLabels: {app: nobody}}}], ports: [{port: 8080}]}]
`,
    );
    const r = await run(
      "-f",
      cluster,
      "-f",
      deny,
      "--from",
      "dev/centos",
      "--to",
      "dev/nginx",
      "--port",
      "80",
    );
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/service dev\/nginx:80 → pod dev\/nginx-1 192\.168\.1\.20:8080/);
    expect(r.out).toMatch(/DENIED/);
    expect(r.out).toMatch(/Ingress to pod dev\/nginx-1 was denied at the end of tier "default"/);
    expect(r.out).toMatch(/0\|default\|knp:dev\/nginx-8080-only-from-nobody\|deny\|-1/);
  });

  it("a Deployment stands for one pod named after it", async () => {
    const d = write(
      "deploy.yaml",
      `apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: dev}
spec:
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec: {containers: [{name: api, image: x}]}
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: api-egress, namespace: dev}
spec:
  selector: app == 'api'
  types: [Egress]
  egress: [{action: Allow, protocol: TCP, destination: {ports: [443]}}]
`,
    );
    const ok = await json("-f", cluster, "-f", d, "--from", "dev/api", "--to", "1.2.3.4", "--port", "443");
    expect(ok.egress.policies).toEqual(["0|default|np:dev/api-egress|allow|0"]);
    expect(
      (await json("-f", cluster, "-f", d, "--from", "dev/api", "--to", "1.2.3.4", "--port", "80")).allowed,
    ).toBe(false);
  });

  it("--expect sets the exit code", async () => {
    expect(
      (
        await run(
          "-f",
          cluster,
          "--from",
          "dev/centos",
          "--to",
          "1.2.3.4",
          "--port",
          "443",
          "--expect",
          "allow",
        )
      ).code,
    ).toBe(0);
    const r = await run(
      "-f",
      cluster,
      "--from",
      "dev/centos",
      "--to",
      "1.2.3.4",
      "--port",
      "443",
      "--expect",
      "deny",
    );
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/expected deny, got allow/);
  });

  it("bad YAML: exit 2 with file, document and line", async () => {
    const bad = write(
      "bad.yaml",
      "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\nkind: [unclosed\n",
    );
    const r = await run("-f", bad, "--from", "1.1.1.1", "--to", "2.2.2.2");
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/bad\.yaml \(document 2\):[56]: Flow sequence/);
  });

  it("invalid policies: exit 2 listing every problem with file, document, path and line", async () => {
    const bad = write(
      "invalid.yaml",
      `apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: ok}
spec: {selector: all()}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: broken}
spec:
  selector: app == web
  egress:
  - action: allow
  - action: Allow
    destination:
      ports: [443]
`,
    );
    const r = await run("-f", bad, "--from", "1.1.1.1", "--to", "2.2.2.2");
    expect(r.code).toBe(2);
    expect(r.err).toMatch(
      /invalid\.yaml \(document 2\) GlobalNetworkPolicy broken: spec\.selector:10: invalid selector/,
    );
    expect(r.err).toMatch(/spec\.egress\[0\]\.action:12:/);
    expect(r.err).toMatch(
      /spec\.egress\[1\]\.destination\.ports:15: rules that specify ports must set protocol/,
    );
  });

  it("refuses the addresses a real cluster refuses (Go's parser): leading zeros, and --from/--to alike", async () => {
    const p = write(
      "zeros.yaml",
      `apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: z}
spec:
  egress:
  - action: Deny
    destination: {nets: [010.0.0.0/8]}
  - action: Allow
    destination: {nets: ["::ffff:10.0.0.0/104", 10.1.0.0/16]}
  - action: Allow
    destination: {nets: ["2001:db8:0:0:1:0:0:0/128"]}
  - action: Allow
    destination: {nets: ["::ffff:10.0.0.0/104", "2001:db8::/32"]}
`,
    );
    const r = await run("-f", p, "--from", "1.1.1.1", "--to", "2.2.2.2");
    expect(r.code).toBe(2);
    expect(r.err).toMatch(
      /zeros\.yaml \(document 1\) GlobalNetworkPolicy z: spec\.egress\[0\]\.destination\.nets\[0\]:7:/,
    );
    // An IPv4-mapped CIDR is IPv4 to Calico (Go's To4), so it mixes with IPv4 but not with IPv6 in one rule.
    expect(r.err).not.toMatch(/egress\[[12]\]/);
    expect(r.err).toMatch(/spec\.egress\[3\]\.destination\.nets:13: rule contains both IPv4 and IPv6 CIDRs/);
    const typo = await run("-f", cluster, "--from", "dev/centos", "--to", "08.8.8.8");
    expect(typo.code).toBe(2);
    expect(typo.err).toContain('not an IP address: "08.8.8.8"');
  });

  it("OSS rejects domains", async () => {
    const p = write(
      "domains.yaml",
      `apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: d}
spec:
  egress: [{action: Allow, destination: {domains: [a.com]}}]
`,
    );
    const r = await run("-f", p, "--from", "1.1.1.1", "--to", "2.2.2.2", "--edition", "oss");
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/Calico Enterprise feature/);
  });

  it("bad arguments: exit 2 naming each one", async () => {
    const r = await run("-f", cluster, "--from", "dev/missing", "--to", "dev/centos");
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/no pod dev\/missing/);
    const r2 = await run("-f", cluster, "--from", "dev/centos", "--to", "example.org");
    expect(r2.code).toBe(2);
    expect(r2.err).toMatch(/--dns example\.org=IP/);
    expect((await run("--to", "x")).code).toBe(2);
  });
});

describe("policy check on Calico's documented examples", () => {
  const tiers = () => rw("tigera-solutions-tigera-eks-workshop__demo-00-tiers-tiers.yaml");

  it("#8 domains: bob.example.com and api.alice.com allowed, example.com not", async () => {
    const f = rw("tigera-docs__calico-enterprise-domain-based-policy__gnp-allow-egress-to-domains.yaml");
    const dns = [
      "--dns",
      "bob.example.com=203.0.113.1",
      "--dns",
      "example.com=203.0.113.2",
      "--dns",
      "api.alice.com=203.0.113.3",
    ];
    expect(
      (
        await json(
          "-f",
          cluster,
          "-f",
          f,
          "--from",
          "dev/centos",
          "--to",
          "bob.example.com",
          "--port",
          "443",
          ...dns,
        )
      ).egress.policies,
    ).toEqual(["0|default|gnp:allow-egress-to-domains|allow|1"]);
    expect(
      (
        await json(
          "-f",
          cluster,
          "-f",
          f,
          "--from",
          "dev/centos",
          "--to",
          "api.alice.com",
          "--port",
          "443",
          ...dns,
        )
      ).allowed,
    ).toBe(true);
    const apex = await json(
      "-f",
      cluster,
      "-f",
      f,
      "--from",
      "dev/centos",
      "--to",
      "example.com",
      "--port",
      "443",
      ...dns,
    );
    expect(apex.allowed).toBe(false);
    expect(apex.egress.policies).toEqual(["0|default|gnp:allow-egress-to-domains|deny|-1"]);
    // DNS itself: UDP/53 to any resolver (rule 0)
    expect(
      (
        await json(
          "-f",
          cluster,
          "-f",
          f,
          "--from",
          "dev/centos",
          "--to",
          "8.8.8.8",
          "--port",
          "53",
          "--protocol",
          "UDP",
        )
      ).allowed,
    ).toBe(true);
  });

  it("#4 vs #5: an explicit Deny is final; without it a later Allow in the tier re-opens traffic", async () => {
    const allowWeb = write(
      "web-allow.yaml",
      `apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: web-allow}
spec:
  selector: app == 'centos'
  types: [Egress]
  egress: [{action: Allow, destination: {selector: app == 'nginx'}}]
`,
    );
    const withDeny = rw("tigera-docs__use-cases-egress-access-controls__deny-app-policy.yaml");
    const noDeny = rw("tigera-docs__calico-kubernetes-default-deny__deny-app-policy.yaml");
    const a = await json(
      "-f",
      cluster,
      "-f",
      withDeny,
      "-f",
      allowWeb,
      "--from",
      "dev/centos",
      "--to",
      "dev/nginx-1",
      "--port",
      "8080",
    );
    expect(a.allowed).toBe(false);
    expect(a.egress.policies).toEqual(["0|default|gnp:deny-app-policy|deny|2"]);
    const b = await json(
      "-f",
      cluster,
      "-f",
      noDeny,
      "-f",
      allowWeb,
      "--from",
      "dev/centos",
      "--to",
      "dev/nginx-1",
      "--port",
      "8080",
    );
    expect(b.egress.policies).toEqual(["0|default|gnp:web-allow|allow|0"]);
    // ingress of nginx is still isolated by #5 (no ingress rule at all)
    expect(b.ingress.policies).toEqual(["0|default|gnp:deny-app-policy|deny|-1"]);
    for (const f of [withDeny, noDeny]) {
      const dnsQ = await json(
        "-f",
        cluster,
        "-f",
        f,
        "--from",
        "dev/centos",
        "--to",
        "kube-system/kube-dns",
        "--port",
        "53",
        "--protocol",
        "UDP",
      );
      expect(dnsQ.allowed).toBe(true);
    }
  });

  it("#25 vs #26: UDP-only DNS drops TCP/53 and everything else at the end of the platform tier; #26 passes it on", async () => {
    const udpOnly = rw("tigera-solutions-tigera-eks-workshop__demo-01-base-allow-kube-dns.yaml");
    const both = rw(
      "tigera-solutions-calicocloud-aks-workshop__demo-10-security-controls-allow-kube-dns.yaml",
    );
    const tcpDns = ["--to", "kube-system/coredns", "--port", "53", "--protocol", "TCP"];
    const a = await json("-f", cluster, "-f", tiers(), "-f", udpOnly, "--from", "dev/centos", ...tcpDns);
    expect(a.allowed).toBe(false);
    expect(a.egress.policies).toEqual(["0|platform|gnp:platform.allow-kube-dns|deny|-1"]);
    expect(
      (
        await json(
          "-f",
          cluster,
          "-f",
          tiers(),
          "-f",
          udpOnly,
          "--from",
          "dev/centos",
          "--to",
          "kube-system/coredns",
          "--port",
          "53",
          "--protocol",
          "UDP",
        )
      ).allowed,
    ).toBe(true);
    const b = await json("-f", cluster, "-f", tiers(), "-f", both, "--from", "dev/centos", ...tcpDns);
    expect(b.egress.policies).toEqual(["0|platform|gnp:platform.allow-kube-dns|allow|1"]);
    const other = await json(
      "-f",
      cluster,
      "-f",
      tiers(),
      "-f",
      both,
      "--from",
      "dev/centos",
      "--to",
      "1.2.3.4",
      "--port",
      "443",
    );
    expect(other.egress.policies).toEqual([
      "0|platform|gnp:platform.allow-kube-dns|pass|2",
      "1|__PROFILE__|pro:kns.dev|allow|0",
    ]);
  });

  it("#27: Pass is not Deny; google is denied only when a later tier still selects centos", async () => {
    const f = rw("tigera-solutions-calicocloud-kaas-workshop-demo__demo-dns-egress-control-dns-policy.yaml");
    const dns = ["--dns", "api.twilio.com=198.51.100.7", "--dns", "www.google.com=198.51.100.8"];
    const twilio = await json(
      "-f",
      cluster,
      "-f",
      tiers(),
      "-f",
      f,
      "--from",
      "dev/centos",
      "--to",
      "api.twilio.com",
      "--port",
      "443",
      ...dns,
    );
    expect(twilio.egress.policies).toEqual(["0|security|gnp:security.external-domain-access|allow|1"]);
    const google = await json(
      "-f",
      cluster,
      "-f",
      tiers(),
      "-f",
      f,
      "--from",
      "dev/centos",
      "--to",
      "www.google.com",
      "--port",
      "443",
      ...dns,
    );
    expect(google.allowed).toBe(true);
    expect(google.egress.policies).toEqual([
      "0|security|gnp:security.external-domain-access|pass|2",
      "1|__PROFILE__|pro:kns.dev|allow|0",
    ]);
    const centos = write(
      "default-centos.yaml",
      `apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: default.centos, namespace: dev}
spec:
  tier: default
  order: 800
  selector: app == "centos"
  types: [Egress]
  egress: [{action: Allow, protocol: TCP, destination: {selector: app == "nginx"}}]
`,
    );
    const denied = await json(
      "-f",
      cluster,
      "-f",
      tiers(),
      "-f",
      f,
      "-f",
      centos,
      "--from",
      "dev/centos",
      "--to",
      "www.google.com",
      "--port",
      "443",
      ...dns,
    );
    expect(denied.allowed).toBe(false);
    expect(denied.egress.policies).toEqual([
      "0|security|gnp:security.external-domain-access|pass|2",
      "1|default|np:dev/default.centos|deny|-1",
    ]);
  });

  it("#2: a staged default-deny changes nothing but shows in the pending trace", async () => {
    const f = rw("tigera-solutions-tigera-eks-workshop__demo-10-security-controls-staged.default-deny.yaml");
    const v = await json("-f", cluster, "-f", f, "--from", "dev/centos", "--to", "1.2.3.4", "--port", "443");
    expect(v.allowed).toBe(true);
    expect(v.egress.pendingPolicies.join()).toMatch(/sgnp:.*\|deny\|-1/);
  });
});
