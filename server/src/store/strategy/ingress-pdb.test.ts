/* eslint-disable @typescript-eslint/no-explicit-any -- assertions read deep into Kubernetes JSON */
/**
 * Ingress and PodDisruptionBudget as the real API server validates them (`pkg/apis/networking/validation`,
 * `pkg/apis/policy/validation`): messages and field paths from upstream, status owned by the server, dry runs kept out
 * of the store.
 */
import { describe, expect, it } from "vitest";
import { testApi } from "../testing.ts";
import { ApiError } from "../types.ts";

function apiError(fn: () => unknown): ApiError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ApiError) return e;
    throw e;
  }
  throw new Error("expected an ApiError");
}

const backend = { service: { name: "web", port: { number: 80 } } };
const ingress = (spec: Record<string, unknown>) => ({
  apiVersion: "networking.k8s.io/v1",
  kind: "Ingress",
  metadata: { name: "web" },
  spec,
});
const rule = (path: Record<string, unknown>, host?: string) => ({
  ...(host !== undefined ? { host } : {}),
  http: { paths: [{ path: "/", pathType: "Prefix", backend, ...path }] },
});

describe("Ingress", () => {
  it("stores a valid one with generation 1 and an empty status the client cannot set", () => {
    const { api, t } = testApi();
    const { object } = api.create(t("ingresses"), "default", {
      ...ingress({
        ingressClassName: "nginx",
        rules: [rule({}, "lab.example.com"), rule({ path: "/x", pathType: "Exact" }, "*.example.com")],
        tls: [{ hosts: ["lab.example.com"], secretName: "lab-tls" }],
      }),
      status: { loadBalancer: { ingress: [{ ip: "203.0.113.9" }] } },
    });
    expect(object.metadata.generation).toBe(1);
    expect(object.status).toEqual({});
    expect(t("ing").kind).toBe("Ingress");
  });

  it.each([
    [{}, "spec: Invalid value: null: either `defaultBackend` or `rules` must be specified"],
    [
      { rules: [rule({}, "10.0.0.1")] },
      'spec.rules[0].host: Invalid value: "10.0.0.1": must be a DNS name, not an IP address',
    ],
    [
      { rules: [rule({}, "a.*.com")] },
      'spec.rules[0].host: Invalid value: "a.*.com": a wildcard DNS-1123 subdomain must start with',
    ],
    [
      { rules: [rule({ pathType: undefined })] },
      "spec.rules[0].http.paths[0].pathType: Required value: pathType must be specified",
    ],
    [
      { rules: [rule({ path: "x" })] },
      'spec.rules[0].http.paths[0].path: Invalid value: "x": must be an absolute path',
    ],
    [{ rules: [rule({ path: "/a/../b" })] }, "must not contain '/../'"],
    [
      { rules: [rule({ pathType: "Regex" })] },
      'spec.rules[0].http.paths[0].pathType: Unsupported value: "Regex": supported values: "Exact", "ImplementationSpecific", "Prefix"',
    ],
    [
      { rules: [rule({ backend: {} })] },
      'spec.rules[0].http.paths[0].backend: Invalid value: "": resource or service backend is required',
    ],
    [
      { defaultBackend: { service: { name: "web", port: {} } } },
      "spec.defaultBackend: Required value: port name or number is required",
    ],
    [
      { defaultBackend: { service: { name: "web", port: { name: "http", number: 80 } } } },
      "cannot set both port name & port number",
    ],
    [
      { defaultBackend: { service: { name: "Web", port: { number: 80 } } } },
      'spec.defaultBackend.service.name: Invalid value: "Web": a DNS-1035 label',
    ],
    [
      { defaultBackend: { service: { name: "web", port: { number: 70000 } } } },
      "spec.defaultBackend.service.port.number: Invalid value: 70000: must be between 1 and 65535, inclusive",
    ],
    [
      { defaultBackend: backend, tls: [{ hosts: ["Bad_Host"] }] },
      'spec.tls[0].hosts[0]: Invalid value: "Bad_Host"',
    ],
  ])("refuses %j", (spec, message) => {
    const { api, t } = testApi();
    const e = apiError(() => api.create(t("ingresses"), "default", ingress(spec)));
    expect(e.code).toBe(422);
    expect(e.message).toContain(message);
    expect(api.list(t("ingresses"), { namespace: "default" }).items).toHaveLength(0);
  });

  it("keeps the stored status on update and counts generations of the spec", () => {
    const { api, t } = testApi();
    api.create(t("ingresses"), "default", ingress({ defaultBackend: backend }));
    const cur = api.get(t("ingresses"), "default", "web") as any;
    const { object } = api.update(t("ingresses"), "default", "web", {
      ...cur,
      spec: { defaultBackend: { service: { name: "other", port: { number: 8080 } } } },
      status: { loadBalancer: { ingress: [{ ip: "203.0.113.9" }] } },
    });
    expect(object.status).toEqual({});
    expect(object.metadata.generation).toBe(2);
  });
});

const pdb = (spec: Record<string, unknown>) => ({
  apiVersion: "policy/v1",
  kind: "PodDisruptionBudget",
  metadata: { name: "web" },
  spec: { selector: { matchLabels: { app: "web" } }, ...spec },
});

describe("PodDisruptionBudget", () => {
  it("stores a valid one, its status the server's", () => {
    const { api, t } = testApi();
    const { object } = api.create(t("pdb"), "default", {
      ...pdb({ maxUnavailable: 1, unhealthyPodEvictionPolicy: "AlwaysAllow" }),
      status: { disruptionsAllowed: 99 },
    });
    expect((object.status as any).disruptionsAllowed).toBe(0);
    expect(object.metadata.generation).toBe(1);
    expect(
      api.create(t("pdb"), "default", { ...pdb({ minAvailable: "50%" }), metadata: { name: "b" } }),
    ).toBeTruthy();
  });

  it.each([
    [{ minAvailable: 1, maxUnavailable: 1 }, "minAvailable and maxUnavailable cannot be both set"],
    [{ minAvailable: -1 }, "spec.minAvailable: Invalid value: -1: must be greater than or equal to 0"],
    [{ maxUnavailable: "150%" }, 'spec.maxUnavailable: Invalid value: "150%": must not be greater than 100%'],
    [
      { maxUnavailable: "half" },
      'spec.maxUnavailable: Invalid value: "half": a valid percent string must be',
    ],
    [
      { minAvailable: 1, unhealthyPodEvictionPolicy: "Never" },
      'spec.unhealthyPodEvictionPolicy: Unsupported value: "Never"',
    ],
  ])("refuses %j", (spec, message) => {
    const { api, t } = testApi();
    const e = apiError(() => api.create(t("pdb"), "default", pdb(spec)));
    expect(e.code).toBe(422);
    expect(e.message).toContain(message);
  });

  it("validates a dry run in full and stores nothing", () => {
    const { api, t } = testApi();
    const e = apiError(() => api.create(t("pdb"), "default", pdb({ minAvailable: -1 }), { dryRun: true }));
    expect(e.code).toBe(422);
    const { object } = api.create(t("pdb"), "default", pdb({ minAvailable: 1 }), { dryRun: true });
    expect(object.metadata.name).toBe("web");
    expect(api.list(t("pdb"), { namespace: "default" }).items).toHaveLength(0);
  });
});
