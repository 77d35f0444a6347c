/* eslint-disable @typescript-eslint/no-explicit-any -- assertions read deep into Kubernetes JSON */
import { describe, expect, it } from "vitest";
import { testApi } from "./testing.ts";
import { ApiError, type KubeObject } from "./types.ts";

const pod = (name: string, extra: Record<string, unknown> = {}) => ({
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name },
  spec: { containers: [{ name: "c", image: "nginx:1.27" }] },
  ...extra,
});

function apiError(fn: () => unknown): ApiError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ApiError) return e;
    throw e;
  }
  throw new Error("expected an ApiError");
}

describe("ClusterApi: create, get, list", () => {
  it("assigns uid, creationTimestamp, resourceVersion, defaults, and finds the object again", () => {
    const { api, t } = testApi();
    const { object } = api.create(t("pods"), "default", pod("web"));
    expect(object.metadata.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(object.metadata.creationTimestamp).toBe("2026-01-01T00:00:00Z");
    expect(object.metadata.namespace).toBe("default");
    const spec = object.spec as Record<string, any>;
    expect(spec.restartPolicy).toBe("Always");
    expect(spec.serviceAccountName).toBe("default");
    expect(spec.containers[0].imagePullPolicy).toBe("IfNotPresent");
    expect(api.get(t("po"), "default", "web").metadata.uid).toBe(object.metadata.uid);
    expect(api.list(t("pods"), { namespace: "default" }).items).toHaveLength(1);
  });

  it("generates names from generateName", () => {
    const { api, t } = testApi();
    const { object } = api.create(t("pods"), "default", { ...pod(""), metadata: { generateName: "web-" } });
    expect(object.metadata.name).toMatch(/^web-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
  });

  it("answers AlreadyExists and NotFound with the real messages", () => {
    const { api, t } = testApi();
    api.create(t("pods"), "default", pod("web"));
    const dup = apiError(() => api.create(t("pods"), "default", pod("web")));
    expect([dup.code, dup.reason, dup.message]).toEqual([409, "AlreadyExists", 'pods "web" already exists']);
    const nf = apiError(() => api.get(t("pods"), "default", "nope"));
    expect([nf.code, nf.reason, nf.message]).toEqual([404, "NotFound", 'pods "nope" not found']);
    const deploy = apiError(() => api.get(t("deploy"), "default", "nope"));
    expect(deploy.message).toBe('deployments.apps "nope" not found');
    expect(deploy.toStatus()).toMatchObject({
      kind: "Status",
      status: "Failure",
      code: 404,
      details: { name: "nope", group: "apps", kind: "deployments" },
    });
  });

  it("requires the namespace to exist and refuses new content in a terminating one", async () => {
    const { api, t } = testApi("enterprise", ["default", "doomed"]);
    const missing = apiError(() => api.create(t("pods"), "ghost", pod("web")));
    expect([missing.code, missing.message]).toEqual([404, 'namespaces "ghost" not found']);
    api.create(t("pods"), "doomed", pod("a"));
    const terminating = api.delete(t("namespaces"), undefined, "doomed");
    expect((terminating.status as { phase: string }).phase).toBe("Terminating");
    expect(terminating.metadata.deletionTimestamp).toBeDefined();
    const forbidden = apiError(() => api.create(t("pods"), "doomed", pod("b")));
    expect([forbidden.code, forbidden.reason, forbidden.message]).toEqual([
      403,
      "Forbidden",
      'pods "b" is forbidden: unable to create new content in namespace doomed because it is being terminated',
    ]);
    expect(api.list(t("pods"), { namespace: "doomed" }).items).toEqual([]);
    await new Promise((r) => setImmediate(r));
    expect(apiError(() => api.get(t("ns"), undefined, "doomed")).code).toBe(404);
    expect(apiError(() => api.delete(t("ns"), undefined, "default")).message).toBe(
      'namespaces "default" is forbidden: this namespace may not be deleted',
    );
  });

  it("filters lists by label and field selectors", () => {
    const { api, t } = testApi();
    api.create(t("pods"), "default", { ...pod("a"), metadata: { name: "a", labels: { app: "web" } } });
    api.create(t("pods"), "default", { ...pod("b"), metadata: { name: "b", labels: { app: "db" } } });
    expect(api.list(t("pods"), { labelSelector: "app=web" }).items.map((o) => o.metadata.name)).toEqual([
      "a",
    ]);
    expect(
      api.list(t("pods"), { labelSelector: "app notin (web)" }).items.map((o) => o.metadata.name),
    ).toEqual(["b"]);
    expect(
      api.list(t("pods"), { fieldSelector: "metadata.name=b" }).items.map((o) => o.metadata.name),
    ).toEqual(["b"]);
    const bad = apiError(() => api.list(t("pods"), { fieldSelector: "spec.foo=x" }));
    expect(bad.code).toBe(400);
    expect(bad.message).toBe(
      'Unable to find {"" "v1" "pods"} that match label selector "", field selector "spec.foo=x": field label not supported: spec.foo',
    );
  });
});

describe("ClusterApi: strict decoding", () => {
  it("lists every unknown field, at every depth, in one 400", () => {
    const { api, t } = testApi();
    const e = apiError(() =>
      api.create(t("pods"), "default", {
        ...pod("web"),
        metadata: { name: "web", labelz: { a: "b" } },
        spec: { containers: [{ name: "c", image: "nginx", portz: [80], resources: { limitz: {} } }], foo: 1 },
      }),
    );
    expect(e.code).toBe(400);
    expect(e.reason).toBe("BadRequest");
    expect(e.message).toBe(
      'Pod in version "v1" cannot be handled as a Pod: strict decoding error: unknown field "metadata.labelz", unknown field "spec.containers[0].portz", unknown field "spec.containers[0].resources.limitz", unknown field "spec.foo"',
    );
  });

  it("words it the same way for Calico kinds and operator CRDs", () => {
    const { api, t } = testApi();
    const gnp = apiError(() =>
      api.create(t("gnp"), undefined, {
        apiVersion: "projectcalico.org/v3",
        kind: "GlobalNetworkPolicy",
        metadata: { name: "p" },
        spec: { egress: [{ action: "Allow", destination: { domainz: ["x"] } }] },
      }),
    );
    expect(gnp.message).toBe(
      'GlobalNetworkPolicy in version "v3" cannot be handled as a GlobalNetworkPolicy: strict decoding error: unknown field "spec.egress[0].destination.domainz"',
    );
    const egw = apiError(() =>
      api.create(t("egressgateways"), "default", {
        apiVersion: "operator.tigera.io/v1",
        kind: "EgressGateway",
        metadata: { name: "g" },
        spec: { ipPools: [{ name: "p" }], replicaz: 2 },
      }),
    );
    expect(egw.message).toBe(
      'EgressGateway in version "v1" cannot be handled as a EgressGateway: strict decoding error: unknown field "spec.replicaz"',
    );
  });

  it("returns unknown fields as warnings under Warn and drops them under Ignore", () => {
    const { api, t } = testApi();
    const warn = api.create(
      t("configmaps"),
      "default",
      { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "a" }, dataz: {} },
      { fieldValidation: "Warn" },
    );
    expect(warn.warnings).toEqual(['unknown field "dataz"']);
    expect(warn.object.dataz).toBeUndefined();
    const ignore = api.create(
      t("configmaps"),
      "default",
      { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "b" }, dataz: {} },
      { fieldValidation: "Ignore" },
    );
    expect(ignore.warnings).toEqual([]);
    expect(ignore.object.dataz).toBeUndefined();
  });

  it("rejects a boolean label value as the Go decoder does", () => {
    const { api, t } = testApi();
    const e = apiError(() =>
      api.create(t("pods"), "default", {
        ...pod("web"),
        metadata: { name: "web", labels: { "egress-node": true } },
      }),
    );
    expect(e.code).toBe(400);
    expect(e.message).toBe(
      'Pod in version "v1" cannot be handled as a Pod: json: cannot unmarshal bool into Go struct field ObjectMeta.metadata.labels of type string',
    );
  });

  it("names the innermost Go struct and the full field path in type errors", () => {
    const { api, t } = testApi();
    const e = apiError(() =>
      api.create(t("deploy"), "default", {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name: "w" },
        spec: {
          selector: { matchLabels: { app: "w" } },
          template: {
            metadata: { labels: { app: "w" } },
            spec: { containers: [{ name: "c", image: "i", env: [{ name: "X", value: true }] }] },
          },
        },
      }),
    );
    expect(e.message).toBe(
      'Deployment in version "v1" cannot be handled as a Deployment: json: cannot unmarshal bool into Go struct field EnvVar.spec.template.spec.containers.env.value of type string',
    );
  });

  it("rejects Enterprise-only fields on an oss cluster as unknown, and does not serve Enterprise kinds", () => {
    const oss = testApi("oss");
    const e = apiError(() =>
      oss.api.create(oss.t("globalnetworksets"), undefined, {
        apiVersion: "projectcalico.org/v3",
        kind: "GlobalNetworkSet",
        metadata: { name: "s" },
        spec: { allowedEgressDomains: ["api.example.com"] },
      }),
    );
    expect(e.message).toBe(
      'GlobalNetworkSet in version "v3" cannot be handled as a GlobalNetworkSet: strict decoding error: unknown field "spec.allowedEgressDomains"',
    );
    const d = apiError(() =>
      oss.api.create(oss.t("gnp"), undefined, {
        apiVersion: "projectcalico.org/v3",
        kind: "GlobalNetworkPolicy",
        metadata: { name: "p" },
        spec: { egress: [{ action: "Allow", destination: { domains: ["a.com"] } }] },
      }),
    );
    expect(d.message).toContain('unknown field "spec.egress[0].destination.domains"');
    const f = apiError(() =>
      oss.api.create(oss.t("felixconfigurations"), undefined, {
        apiVersion: "projectcalico.org/v3",
        kind: "FelixConfiguration",
        metadata: { name: "default" },
        spec: { egressIPSupport: "EnabledPerNamespace" },
      }),
    );
    expect(f.message).toContain('unknown field "spec.egressIPSupport"');
    expect(oss.api.findType("egressgateways")).toBeUndefined();
    expect(oss.api.findType("egressgatewaypolicies")).toBeUndefined();
    const ent = testApi("enterprise");
    expect(ent.api.findType("egressgateways")?.group).toBe("operator.tigera.io");
    expect(() =>
      ent.api.create(ent.t("globalnetworksets"), undefined, {
        apiVersion: "projectcalico.org/v3",
        kind: "GlobalNetworkSet",
        metadata: { name: "s" },
        spec: { allowedEgressDomains: ["api.example.com"] },
      }),
    ).not.toThrow();
  });

  it("checks apiVersion and namespace against the request", () => {
    const { api, t } = testApi();
    expect(apiError(() => api.create(t("pods"), "default", { ...pod("a"), apiVersion: "v2" })).message).toBe(
      "the API version in the data (v2) does not match the expected API version (v1)",
    );
    expect(
      apiError(() =>
        api.create(t("pods"), "default", { ...pod("a"), metadata: { name: "a", namespace: "other" } }),
      ).message,
    ).toBe("the namespace of the provided object does not match the namespace sent on the request");
  });
});

describe("ClusterApi: validation", () => {
  it.each([
    [
      "Pod",
      "pods",
      "Web_1",
      "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'",
    ],
    [
      "Namespace",
      "namespaces",
      "my.ns",
      "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-'",
    ],
    [
      "Service",
      "services",
      "1svc",
      "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character",
    ],
  ])("%s names follow their rule (%s/%s)", (kind, plural, name, detail) => {
    const { api, t } = testApi();
    const body =
      kind === "Pod"
        ? { ...pod(name), metadata: { name } }
        : kind === "Namespace"
          ? { apiVersion: "v1", kind, metadata: { name } }
          : { apiVersion: "v1", kind, metadata: { name }, spec: { ports: [{ port: 80 }] } };
    const e = apiError(() => api.create(t(plural), kind === "Namespace" ? undefined : "default", body));
    expect(e.code).toBe(422);
    expect(e.reason).toBe("Invalid");
    expect(e.message).toContain(
      `${kind} "${name}" is invalid: metadata.name: Invalid value: "${name}": ${detail}`,
    );
    expect(e.details?.causes?.[0]).toMatchObject({ reason: "FieldValueInvalid", field: "metadata.name" });
  });

  it("reports every problem of an object at once", () => {
    const { api, t } = testApi();
    const e = apiError(() =>
      api.create(t("deployments"), "default", {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name: "web" },
        spec: {
          selector: { matchLabels: { app: "web" } },
          template: { metadata: { labels: { app: "other" } }, spec: { containers: [{ name: "c" }] } },
        },
      }),
    );
    expect(e.message).toBe(
      'Deployment.apps "web" is invalid: [spec.template.metadata.labels: Invalid value: map[string]string{"app":"other"}: `selector` does not match template `labels`, spec.template.spec.containers[0].image: Required value]',
    );
    expect(e.details?.causes?.map((c) => c.field)).toEqual([
      "spec.template.metadata.labels",
      "spec.template.spec.containers[0].image",
    ]);
  });

  it("turns the Calico validator's problems into a 422 with causes", () => {
    const { api, t } = testApi();
    const e = apiError(() =>
      api.create(t("gnp"), undefined, {
        apiVersion: "projectcalico.org/v3",
        kind: "GlobalNetworkPolicy",
        metadata: { name: "p" },
        spec: { selector: "all()", egress: [{ action: "Allow", destination: { ports: [443] } }] },
      }),
    );
    expect(e.code).toBe(422);
    expect(e.message).toContain(
      'GlobalNetworkPolicy.projectcalico.org "p" is invalid: spec.egress[0].destination.ports: Invalid value: [443]: rules that specify ports must set protocol to TCP or UDP or SCTP',
    );
    expect(e.details).toMatchObject({ name: "p", group: "projectcalico.org", kind: "GlobalNetworkPolicy" });
  });

  it("requires the policy's tier to exist", () => {
    const { api, t } = testApi();
    const body = {
      apiVersion: "projectcalico.org/v3",
      kind: "GlobalNetworkPolicy",
      metadata: { name: "security.p" },
      spec: { tier: "security", selector: "all()" },
    };
    const e = apiError(() => api.create(t("gnp"), undefined, body));
    expect([e.code, e.message]).toEqual([404, 'tiers.projectcalico.org "security" not found']);
    api.create(t("tiers"), undefined, {
      apiVersion: "projectcalico.org/v3",
      kind: "Tier",
      metadata: { name: "security" },
      spec: { order: 100 },
    });
    expect(api.create(t("gnp"), undefined, body).object.metadata.labels).toEqual({
      "projectcalico.org/tier": "security",
    });
  });
});

describe("ClusterApi: defaulting", () => {
  it.each([
    [{ ingress: [{ action: "Allow" }] }, ["Ingress"]],
    [{ egress: [{ action: "Allow" }] }, ["Egress"]],
    [{ ingress: [{ action: "Allow" }], egress: [{ action: "Allow" }] }, ["Ingress", "Egress"]],
    [{}, ["Ingress"]],
    [{ types: ["Egress"] }, ["Egress"]],
  ])("Calico types for %j → %j", (spec, types) => {
    const { api, t } = testApi();
    const { object } = api.create(t("gnp"), undefined, {
      apiVersion: "projectcalico.org/v3",
      kind: "GlobalNetworkPolicy",
      metadata: { name: "p" },
      spec,
    });
    expect((object.spec as { types: string[]; tier: string }).types).toEqual(types);
    expect((object.spec as { tier: string }).tier).toBe("default");
  });
  it.each([
    [{ podSelector: {} }, ["Ingress"]],
    [{ podSelector: {}, egress: [{}] }, ["Ingress", "Egress"]],
    [{ podSelector: {}, egress: [] }, ["Ingress"]],
    [{ podSelector: {}, policyTypes: ["Egress"] }, ["Egress"]],
  ])("Kubernetes policyTypes for %j → %j", (spec, types) => {
    const { api, t } = testApi();
    const { object } = api.create(t("netpol"), "default", {
      apiVersion: "networking.k8s.io/v1",
      kind: "NetworkPolicy",
      metadata: { name: "p" },
      spec,
    });
    expect((object.spec as { policyTypes: string[] }).policyTypes).toEqual(types);
  });
});

describe("ClusterApi: update, delete", () => {
  it("answers 409 Conflict for a stale resourceVersion and bumps generation on spec changes only", () => {
    const { api, t } = testApi();
    const body = {
      apiVersion: "projectcalico.org/v3",
      kind: "GlobalNetworkPolicy",
      metadata: { name: "p" },
      spec: { selector: "all()" },
    };
    const v1 = api.create(t("gnp"), undefined, body).object;
    expect(v1.metadata.generation).toBe(1);
    const v2 = api.update(t("gnp"), undefined, "p", { ...v1, spec: { selector: "app == 'x'" } }).object;
    expect(v2.metadata.generation).toBe(2);
    expect(Number(v2.metadata.resourceVersion)).toBeGreaterThan(Number(v1.metadata.resourceVersion));
    const v3 = api.update(t("gnp"), undefined, "p", {
      ...v2,
      metadata: { ...v2.metadata, labels: { ...v2.metadata.labels, a: "b" } },
    }).object;
    expect(v3.metadata.generation).toBe(2);
    const stale = apiError(() =>
      api.update(t("gnp"), undefined, "p", { ...v1, spec: { selector: "all()" } }),
    );
    expect([stale.code, stale.reason, stale.message]).toEqual([
      409,
      "Conflict",
      'Operation cannot be fulfilled on globalnetworkpolicies.projectcalico.org "p": the object has been modified; please apply your changes to the latest version and try again',
    ]);
    const same = api.update(t("gnp"), undefined, "p", v3).object;
    expect(same.metadata.resourceVersion).toBe(v3.metadata.resourceVersion);
  });

  it("changes nothing on dryRun", () => {
    const { api, store, t } = testApi();
    const rv = store.resourceVersion;
    const res = api.create(t("pods"), "default", pod("dry"), { dryRun: true });
    expect(res.object.metadata.name).toBe("dry");
    expect(store.resourceVersion).toBe(rv);
    expect(apiError(() => api.get(t("pods"), "default", "dry")).code).toBe(404);
  });

  it("deletes dependents in the background and orphans them on request", () => {
    const { api, t } = testApi();
    const owner = api.create(t("configmaps"), "default", {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "owner" },
    }).object;
    const ref = [
      { apiVersion: "v1", kind: "ConfigMap", name: "owner", uid: owner.metadata.uid!, controller: true },
    ];
    api.create(t("pods"), "default", { ...pod("child"), metadata: { name: "child", ownerReferences: ref } });
    api.delete(t("configmaps"), "default", "owner");
    expect(apiError(() => api.get(t("pods"), "default", "child")).code).toBe(404);
    const owner2 = api.create(t("configmaps"), "default", {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "owner2" },
    }).object;
    api.create(t("pods"), "default", {
      ...pod("kept"),
      metadata: {
        name: "kept",
        ownerReferences: [{ ...ref[0]!, name: "owner2", uid: owner2.metadata.uid! }],
      },
    });
    api.delete(t("configmaps"), "default", "owner2", { propagationPolicy: "Orphan" });
    expect(api.get(t("pods"), "default", "kept").metadata.ownerReferences).toBeUndefined();
  });

  it("scales through the scale subresource", () => {
    const { api, t } = testApi();
    api.create(t("deploy"), "default", {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "web" },
      spec: {
        selector: { matchLabels: { app: "web" } },
        template: {
          metadata: { labels: { app: "web" } },
          spec: { containers: [{ name: "c", image: "nginx" }] },
        },
      },
    });
    const res = api.update(
      t("deploy"),
      "default",
      "web",
      { apiVersion: "autoscaling/v1", kind: "Scale", metadata: { name: "web" }, spec: { replicas: 3 } },
      { subresource: "scale" },
    );
    expect(res.object.kind).toBe("Scale");
    expect((api.get(t("deploy"), "default", "web").spec as { replicas: number }).replicas).toBe(3);
  });

  it("watches from a resourceVersion with selectors", () => {
    const { api, t } = testApi();
    const rv = api.list(t("pods"), {}).resourceVersion;
    api.create(t("pods"), "default", { ...pod("a"), metadata: { name: "a", labels: { app: "web" } } });
    api.create(t("pods"), "default", { ...pod("b"), metadata: { name: "b", labels: { app: "db" } } });
    const seen: KubeObject[] = [];
    const stop = api.watch(t("pods"), { labelSelector: "app=web", resourceVersion: rv }, (e) =>
      seen.push(e.object),
    );
    stop();
    expect(seen.map((o) => o.metadata.name)).toEqual(["a"]);
  });
});

describe("events.k8s.io", () => {
  it("serves core events in the events.k8s.io/v1 shape", () => {
    const { api, t } = testApi();
    api.create(t("events", ""), "default", {
      apiVersion: "v1",
      kind: "Event",
      metadata: { name: "e1" },
      involvedObject: { kind: "Pod", name: "web", namespace: "default" },
      reason: "Started",
      message: "Started container c",
      type: "Normal",
      source: { component: "kubelet", host: "n1" },
    });
    const v1 = api.list(t("events", "events.k8s.io"), { namespace: "default" }).items[0]!;
    expect(v1).toMatchObject({
      apiVersion: "events.k8s.io/v1",
      regarding: { kind: "Pod", name: "web" },
      note: "Started container c",
      reportingController: "kubelet",
    });
  });
});

describe("malformed input", () => {
  const bodies: unknown[] = [
    null,
    [],
    "x",
    5,
    {},
    { metadata: 5 },
    { metadata: { name: 5 } },
    { metadata: { name: "a" }, spec: [] },
    { metadata: { name: "a" }, spec: "x" },
    { metadata: { name: "a", labels: [] } },
    { metadata: { name: "a", ownerReferences: [{}] } },
    { metadata: { name: "a" }, spec: { containers: [null] } },
    { metadata: { name: "a" }, spec: { containers: [{}], ports: [null] } },
    { metadata: { name: "a" }, spec: { ports: [{ port: "x" }], selector: { a: 1 } } },
    { metadata: { name: "a" }, spec: { egress: [null], ingress: [{ action: "Allow", destination: null }] } },
    { metadata: { name: "a" }, spec: { ipPools: [null], template: null } },
    { metadata: { name: "a" }, spec: { selector: null, template: { spec: null } } },
    { metadata: { name: "", generateName: 5 } },
  ];
  it("gets an ApiError for every kind and never anything else", () => {
    const { api, registry } = testApi();
    let calls = 0;
    for (const type of registry.types)
      for (const b of bodies)
        for (const op of ["create", "update"] as const) {
          try {
            if (op === "create") api.create(type, type.namespaced ? "default" : undefined, b);
            else api.update(type, type.namespaced ? "default" : undefined, "a", b);
          } catch (e) {
            expect(e).toBeInstanceOf(ApiError);
          }
          calls++;
        }
    expect(calls).toBe(registry.types.length * bodies.length * 2);
  });
});

describe("finalizers", () => {
  it("hold a deleted object until the last one is removed", () => {
    const { api, t } = testApi("enterprise", ["default", "app"]);
    api.create(t("cm"), "app", {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "held", finalizers: ["example.com/cleanup"] },
    });
    const marked = api.delete(t("cm"), "app", "held");
    expect(marked.metadata.deletionTimestamp).toBeDefined();
    const live = api.get(t("cm"), "app", "held");
    expect(live.metadata.deletionTimestamp).toBe(marked.metadata.deletionTimestamp);
    const added = apiError(() =>
      api.update(t("cm"), "app", "held", {
        ...live,
        metadata: { ...live.metadata, finalizers: ["example.com/cleanup", "x.io/more"] },
      }),
    );
    expect(added.message).toBe(
      'ConfigMap "held" is invalid: metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{"x.io/more"}',
    );
    api.update(t("cm"), "app", "held", { ...live, metadata: { ...live.metadata, finalizers: [] } });
    expect(apiError(() => api.get(t("cm"), "app", "held")).code).toBe(404);
  });

  it("keep a terminating namespace until its finalized contents are gone", async () => {
    const { api, t } = testApi("enterprise", ["default", "app"]);
    api.create(t("cm"), "app", {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "held", finalizers: ["example.com/cleanup"] },
    });
    api.delete(t("ns"), undefined, "app");
    await new Promise((r) => setImmediate(r));
    expect((api.get(t("ns"), undefined, "app").status as { phase: string }).phase).toBe("Terminating");
    const live = api.get(t("cm"), "app", "held");
    api.update(t("cm"), "app", "held", { ...live, metadata: { ...live.metadata, finalizers: [] } });
    await new Promise((r) => setImmediate(r));
    expect(apiError(() => api.get(t("ns"), undefined, "app")).code).toBe(404);
  });
});
