import { describe, expect, it } from "vitest";
import { toFlowView } from "./flow-view.ts";
import { endpointOf } from "./kubeconfig.ts";

describe("toFlowView", () => {
  it.each([
    {
      name: "an Enterprise flow-log record to a domain",
      rec: {
        source_namespace: "shop",
        source_name: "checkout-*",
        source_name_aggr: "checkout-*",
        dest_type: "net",
        dest_namespace: "-",
        dest_name: "pub",
        dest_domains: ["api.payments.example"],
        dest_port: 443,
        proto: "tcp",
        action: "deny",
        reporter: "src",
        num_flows_started: 3,
        end_time: 1767225600,
        policies: { enforced_policies: ["0|default|default.default-deny|deny|-1"] },
      },
      want: {
        sourceNamespace: "shop",
        sourceName: "checkout-*",
        destName: "api.payments.example",
        destType: "domain",
        destPort: 443,
        action: "deny",
        connections: 3,
        lastSeen: "2026-01-01T00:00:00.000Z",
        policies: ["0|default|default.default-deny|deny|-1"],
      },
    },
    {
      name: "a Goldmane Flow with a nested key",
      rec: {
        Key: {
          source_namespace: "kube-system",
          source_name: "coredns-*",
          dest_type: "WorkloadEndpoint",
          dest_namespace: "shop",
          dest_name: "api-*",
          dest_port: 8080,
          proto: "TCP",
          action: "Allow",
          reporter: "Dst",
        },
        num_connections_started: 2,
        end_time: 1767225615,
      },
      want: {
        sourceNamespace: "kube-system",
        destNamespace: "shop",
        destName: "api-*",
        destType: "wep",
        proto: "tcp",
        action: "allow",
        reporter: "dst",
        connections: 2,
      },
    },
  ])("reads $name", ({ rec, want }) => {
    expect(toFlowView(rec)).toMatchObject(want);
  });

  it("gives distinct keys to allowed and denied flows of the same pair", () => {
    const base = { source_namespace: "a", source_name: "x", dest_name: "y", dest_port: 80 };
    expect(toFlowView({ ...base, action: "allow" })!.key).not.toBe(
      toFlowView({ ...base, action: "deny" })!.key,
    );
  });

  it.each([null, 3, "x", {}])("ignores %j", (v) => {
    expect(toFlowView(v)).toBeUndefined();
  });
});

describe("endpointOf", () => {
  it("reads server, CA and token of the current context", () => {
    const kc = `apiVersion: v1
kind: Config
current-context: b
clusters:
- name: one
  cluster: { server: "https://127.0.0.1:1/" }
- name: two
  cluster: { server: "https://127.0.0.1:2", certificate-authority-data: ${Buffer.from("CA").toString("base64")} }
contexts:
- name: a
  context: { cluster: one, user: u1 }
- name: b
  context: { cluster: two, user: u2 }
users:
- name: u1
  user: { token: t1 }
- name: u2
  user: { token: t2 }
`;
    expect(endpointOf(kc)).toEqual({ server: "https://127.0.0.1:2", ca: "CA", token: "t2", insecure: false });
  });

  it("rejects a kubeconfig with no server", () => {
    expect(() => endpointOf("apiVersion: v1\nkind: Config\n")).toThrow(/no cluster server/);
  });
});

describe("the pending verdict (staged policies as if enforced)", () => {
  it("is the last entry of the pending trace, shown next to the enforced action", () => {
    const v = toFlowView({
      source_namespace: "shop",
      source_name: "checkout-*",
      dest_type: "net",
      dest_name: "pub",
      dest_domains: ["api.stripe.com"],
      dest_port: 443,
      action: "allow",
      reporter: "src",
      policies: {
        enforced_policies: ["0|__PROFILE__|__PROFILE__.kns.shop|allow|0"],
        pending_policies: [
          "0|default|staged:default.default-deny|pass|-1",
          "1|default|staged:default.default-deny|deny|-1",
        ],
      },
    })!;
    expect(v.action).toBe("allow");
    expect(v.pending).toEqual([
      "0|default|staged:default.default-deny|pass|-1",
      "1|default|staged:default.default-deny|deny|-1",
    ]);
    expect(v.pendingAction).toBe("deny");
  });
  it("is absent without a pending trace", () => {
    const v = toFlowView({ source_name: "a", dest_name: "b", action: "allow" })!;
    expect(v.pendingAction).toBeUndefined();
  });
});

describe("a Calico Whisker flow (whisker-backend's FlowResponse) on the page", () => {
  // The shape of whisker-backend/pkg/apis/v1/flows.go's FlowResponse, as net/whisker.ts serves it.
  const whisker = {
    start_time: "2026-01-01T00:00:00Z",
    end_time: "2026-01-01T00:00:15Z",
    action: "Deny",
    source_name: "catalog-7d9f8b6c5-*",
    source_namespace: "shop",
    source_labels: "app=catalog | pod-template-hash=7d9f8b6c5",
    dest_name: "PUBLIC NETWORK",
    dest_namespace: "",
    dest_labels: "",
    protocol: "tcp",
    dest_port: 443,
    reporter: "Src",
    policies: {
      enforced: [
        {
          kind: "EndOfTier",
          name: "",
          namespace: "",
          tier: "default",
          action: "Deny",
          policy_index: 0,
          rule_index: -1,
          trigger: {
            kind: "GlobalNetworkPolicy",
            name: "default-deny",
            namespace: "",
            tier: "default",
            action: "ActionUnspecified",
            policy_index: 0,
            rule_index: 0,
            trigger: null,
          },
        },
      ],
      pending: [
        {
          kind: "StagedGlobalNetworkPolicy",
          name: "allow-assets",
          namespace: "",
          tier: "default",
          action: "Allow",
          policy_index: 0,
          rule_index: 0,
          trigger: null,
        },
      ],
    },
    packets_in: 0,
    packets_out: 3,
    bytes_in: 0,
    bytes_out: 180,
    dest_domains: ["beacon.darkhollow-c2.net"],
  };

  it("reads as the flow log does: action, reporter, domain, time, enforced and pending traces", () => {
    expect(toFlowView(whisker)).toMatchObject({
      sourceNamespace: "shop",
      sourceName: "catalog-7d9f8b6c5-*",
      destName: "beacon.darkhollow-c2.net",
      destType: "domain",
      destPort: 443,
      proto: "tcp",
      action: "deny",
      reporter: "src",
      lastSeen: "2026-01-01T00:00:15.000Z",
      policies: ["0|default|gnp:default-deny|deny|-1"],
      pendingAction: "allow",
      packets: 3,
    });
    expect(toFlowView(whisker)?.probe).toBeUndefined();
  });

  it("without a domain (Open Source), PUBLIC NETWORK reads pub", () => {
    const { dest_domains: _, ...oss } = whisker;
    expect(toFlowView(oss)).toMatchObject({ destName: "pub", destType: "net" });
  });

  it.each([
    { what: "the probe label", over: { source_labels: "app=catalog | egresslab.io/probe=true" } },
    { what: "a probe pod's name", over: { source_name: "egresslab-probe-catalog-1a2b3c4d" } },
  ])("marks the grader's probe flows by $what", ({ over }) => {
    expect(toFlowView({ ...whisker, ...over })?.probe).toBe(true);
  });
});
