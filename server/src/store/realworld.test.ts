/**
 * The real-world YAML of `shared/realworld-yaml/` (EXPECTATIONS.md) on an `enterprise` cluster: everything Calico
 * Enterprise accepts is accepted (applied in order, as `kubectl apply` would), the two documents with mistakes are
 * rejected, and the kinds no Calico cluster serves (Cilium, GlobalAlert) are not found.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { testApi, type TestApi } from "./testing.ts";
import { ApiError, type KubeObject } from "./types.ts";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const dir = path.join(repoRoot, "..", "shared", "realworld-yaml");
const present = existsSync(dir);
if (!present) console.warn(`realworld.test.ts: skipped, ${dir} is absent`);

const NAMESPACES = [
  "default",
  "dev",
  "app2-ns",
  "rollout-test",
  "apps",
  "advanced-policy-demo",
  "hipstershop",
  "yaobank",
];
const TIERS: [string, number][] = [
  ["security", 400],
  ["platform", 500],
  ["application", 600],
];
/** Rejected by the API server (EXPECTATIONS #1: a placeholder name). */
const REJECTED = new Set(["tigera-docs__calico-policy-rules-log-rules__log-everything-gnp.yaml"]);
/** Kinds no Calico cluster serves. */
const NOT_SERVED = new Set([
  "CiliumNetworkPolicy",
  "CiliumEgressGatewayPolicy",
  "GlobalAlertTemplate",
  "GlobalAlert",
]);

function cluster(): TestApi {
  const c = testApi("enterprise", NAMESPACES);
  for (const [name, order] of TIERS)
    c.api.create(c.t("tiers"), undefined, {
      apiVersion: "projectcalico.org/v3",
      kind: "Tier",
      metadata: { name },
      spec: { order },
    });
  return c;
}

/** `kubectl apply`: create, or replace the live object keeping its resourceVersion. */
function apply(c: TestApi, doc: KubeObject): KubeObject {
  const type = c.registry.byKind(doc.apiVersion, doc.kind);
  if (!type) throw new Error(`no type for ${doc.apiVersion} ${doc.kind}`);
  const ns = type.namespaced ? (doc.metadata.namespace ?? "default") : undefined;
  try {
    const live = c.api.get(type, ns, doc.metadata.name);
    return c.api.update(type, ns, doc.metadata.name, {
      ...doc,
      metadata: { ...doc.metadata, resourceVersion: live.metadata.resourceVersion },
    }).object;
  } catch (err) {
    if (!(err instanceof ApiError) || err.code !== 404) throw err;
    return c.api.create(type, ns, doc).object;
  }
}

const files = present
  ? readdirSync(dir)
      .filter((f) => f.endsWith(".yaml"))
      .sort()
  : [];
const docsOf = (f: string) =>
  parseAllDocuments(readFileSync(path.join(dir, f), "utf8"))
    .map((d) => d.toJS() as KubeObject | null)
    .filter((d): d is KubeObject => !!d && typeof d === "object");

describe.skipIf(!present)("real-world egress YAML on an enterprise cluster", () => {
  it("has the 42 documented files", () => {
    expect(files).toHaveLength(42);
  });

  const c = present ? cluster() : undefined;
  it.each(files)("%s", (f) => {
    for (const doc of docsOf(f)) {
      if (NOT_SERVED.has(doc.kind)) {
        expect(c!.api.findType(doc.kind)).toBeUndefined();
        expect(c!.registry.byKind(doc.apiVersion, doc.kind)).toBeUndefined();
        continue;
      }
      if (REJECTED.has(f)) {
        let err: unknown;
        try {
          apply(c!, doc);
        } catch (e) {
          err = e;
        }
        expect(err).toBeInstanceOf(ApiError);
        expect((err as ApiError).code).toBe(422);
        expect((err as ApiError).message).toContain(
          'metadata.name: Invalid value: "<log-everything-in-cluster>"',
        );
        continue;
      }
      const stored = apply(c!, doc);
      expect(stored.metadata.uid).toBeDefined();
      expect(stored.kind).toBe(doc.kind);
    }
  });

  it("rejects #41's unquoted boolean matchLabels value where labels are strings", () => {
    const doc = docsOf("cilium-cilium__examples-kubernetes-egress-gateway-egress-gateway-policy.yaml")[0]!;
    const nodeLabels = (
      doc.spec as { egressGateway: { nodeSelector: { matchLabels: Record<string, unknown> } } }
    ).egressGateway.nodeSelector.matchLabels;
    expect(nodeLabels["egress-node"]).toBe(true);
    const t = cluster();
    let err: unknown;
    try {
      t.api.create(t.t("deployments"), "default", {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name: "gw" },
        spec: {
          selector: { matchLabels: nodeLabels },
          template: {
            metadata: { labels: nodeLabels },
            spec: { containers: [{ name: "c", image: "nginx" }] },
          },
        },
      });
    } catch (e) {
      err = e;
    }
    expect((err as ApiError).code).toBe(400);
    expect((err as ApiError).message).toBe(
      'Deployment in version "v1" cannot be handled as a Deployment: json: cannot unmarshal bool into Go struct field LabelSelector.spec.selector.matchLabels of type string',
    );
  });

  it("replaces one of #29 and #31 (same name) with the other on apply", () => {
    // Applied in file order: #31 (`…dns-policy.netset.yaml`) first, then #29 (`…dns-policy.yaml`) replaces it.
    const gnp = c!.api.get(c!.t("gnp"), undefined, "security.external-domains-access");
    expect(JSON.stringify(gnp.spec)).toContain("*.twilio.com");
    expect(JSON.stringify(gnp.spec)).not.toContain("external-apis");
    expect(gnp.metadata.generation).toBe(2);
  });

  it("rejects the Enterprise documents on an oss cluster", () => {
    const oss = testApi("oss", NAMESPACES);
    for (const [name, order] of TIERS)
      oss.api.create(oss.t("tiers"), undefined, {
        apiVersion: "projectcalico.org/v3",
        kind: "Tier",
        metadata: { name },
        spec: { order },
      });
    const rejected = (f: string) =>
      docsOf(f).some((doc) => {
        if (!oss.registry.byKind(doc.apiVersion, doc.kind)) return true;
        try {
          apply(oss, doc);
          return false;
        } catch (e) {
          return e instanceof ApiError && e.code === 400 && e.message.includes("unknown field");
        }
      });
    expect(rejected("tigera-docs__calico-enterprise-domain-based-policy__gns-allowed-domains-1.yaml")).toBe(
      true,
    );
    expect(
      rejected("tigera-docs__calico-enterprise-domain-based-policy__gnp-allow-egress-to-domains.yaml"),
    ).toBe(true);
    expect(rejected("tigera-docs__use-cases-egress-gateways__egressgatewaypolicy-egw-policy1.yaml")).toBe(
      true,
    );
    expect(rejected("tigera-solutions-workshop-calicocloud-workload-access-controls__setup-felix.yaml")).toBe(
      true,
    );
    expect(rejected("tigera-docs__calico-kubernetes-default-deny__deny-app-policy.yaml")).toBe(false);
  });
});
