import { describe, expect, it } from "vitest";
import { checkSchema } from "../labs/model/schema.ts";
import type { FlowsCheck, ProbeCheck, RenderedStage, ResourceCheck } from "../labs/model/types.ts";
import { noopLogger } from "../shared/logger.ts";
import { FakeClient, pod } from "./fake-client.ts";
import { runFlowsCheck, withinWindow } from "./flows.ts";
import { selectPath } from "./path.ts";
import { meetsCondition, runResourceCheck } from "./resource-check.ts";
import { runCheck } from "./run-check.ts";
import { setupRendered } from "./stage.ts";

const gnp = (name: string, spec: unknown) => ({
  apiVersion: "projectcalico.org/v3",
  kind: "GlobalNetworkPolicy",
  metadata: { name },
  spec,
});

describe("selectPath", () => {
  const o = {
    spec: { egress: [{ destination: { domains: ["a.com", "b.com"] } }, { destination: {} }] },
    metadata: { annotations: { "x.io/y": "z" } },
  };
  it.each([
    ["spec.egress[*].destination.domains", [["a.com", "b.com"]]],
    ["spec.egress.destination.domains", [["a.com", "b.com"]]],
    ["spec.egress[1].destination", [{}]],
    ['metadata.annotations["x.io/y"]', ["z"]],
    ["spec.nothing", []],
  ])("%s", (path, want) => {
    expect(selectPath(o, path)).toEqual(want);
  });
  it("rejects malformed paths", () => {
    expect(() => selectPath(o, "spec..x[")).toThrow(/cannot read the path/);
  });
});

describe("runResourceCheck", () => {
  const check: ResourceCheck = {
    id: "dns-tcp",
    title: "a policy allows DNS over TCP",
    hint: "add TCP 53",
    guard: false,
    kind: "resource",
    target: { apiVersion: "projectcalico.org/v3", kind: "GlobalNetworkPolicy" },
    expect: "exists",
    where: [{ path: "spec.egress[*].protocol", equals: "TCP" }],
  };
  it("passes only when an object meets every condition, and says what it saw", async () => {
    const c = new FakeClient();
    expect(await runResourceCheck(c, check)).toMatchObject({
      passed: false,
      seen: "no GlobalNetworkPolicy exists",
      hint: "add TCP 53",
    });
    await c.apply(gnp("dd", { egress: [{ action: "Allow", protocol: "UDP" }] }));
    const r = await runResourceCheck(c, check);
    expect(r.passed).toBe(false);
    expect(r.seen).toContain('dd does not have spec.egress[*].protocol = "TCP"');
    await c.apply(
      gnp("dd", {
        egress: [
          { action: "Allow", protocol: "UDP" },
          { action: "Allow", protocol: "TCP" },
        ],
      }),
    );
    expect((await runResourceCheck(c, check)).passed).toBe(true);
    expect((await runResourceCheck(c, { ...check, expect: "absent" })).passed).toBe(false);
  });
});

describe("meetsCondition matches", () => {
  it("runs the lab's pattern in linear time on what an attendee wrote", () => {
    const evil = { data: { x: "a".repeat(50_000) + "!" } };
    expect(meetsCondition(evil, { path: "data.x", matches: "^(a+)+$" })).toBe(false);
    expect(meetsCondition(evil, { path: "data.x", matches: "^(a|aa)+!$" })).toBe(true);
    expect(meetsCondition({ d: '"action": "deny"' }, { path: "d", matches: '"action":\\s*"deny"' })).toBe(
      true,
    );
  });

  it("a lab whose pattern RE2 cannot run is refused when it loads", () => {
    const base = {
      id: "c",
      title: "t",
      hint: "h",
      kind: "resource",
      target: { apiVersion: "v1", kind: "ConfigMap" },
    };
    expect(checkSchema.safeParse({ ...base, where: [{ path: "data.x", matches: "a(?=b)" }] }).success).toBe(
      false,
    );
    expect(checkSchema.safeParse({ ...base, where: [{ path: "data.x", matches: "(a)\\1" }] }).success).toBe(
      false,
    );
    expect(checkSchema.safeParse({ ...base, where: [{ path: "data.x", matches: "^a+$" }] }).success).toBe(
      true,
    );
  });
});

describe("runFlowsCheck", () => {
  const check: FlowsCheck = {
    id: "denied",
    title: "denied attempts to the C2 domain are logged",
    hint: "generate traffic",
    guard: false,
    kind: "flows",
    query: { action: "deny" },
    match: {
      dest_domains: "*.c2.example",
      source_namespace: ["ops", "shop"],
      "policies.enforced_policies": "*|deny|*",
    },
    expect: { atLeast: 2 },
  };
  it("counts matching records", async () => {
    const c = new FakeClient();
    c.flows = [
      {
        source_namespace: "ops",
        dest_domains: ["x.c2.example"],
        action: "deny",
        end_time: 100,
        policies: { enforced_policies: ["0|default|gnp:q|deny|0"] },
      },
      {
        source_namespace: "shop",
        dest_domains: ["y.c2.example"],
        action: "deny",
        end_time: 200,
        policies: { enforced_policies: ["0|default|gnp:q|deny|-1"] },
      },
      { source_namespace: "kube-system", dest_domains: ["y.c2.example"], action: "deny", end_time: 200 },
    ];
    expect((await runFlowsCheck(c, check)).passed).toBe(true);
    expect((await runFlowsCheck(c, { ...check, windowSeconds: 50 })).passed).toBe(false);
    expect((await runFlowsCheck(c, { ...check, expect: { absent: true } })).passed).toBe(false);
    c.flows = undefined;
    expect((await runFlowsCheck(c, { ...check, expect: { absent: true } })).seen).toMatch(/not available/);
  });
  it("waits for an expected flow to reach Whisker (Calico flushes every 15 s), but not for an absent one", async () => {
    const c = new FakeClient();
    c.flows = [];
    const deny = {
      source_namespace: "ops",
      dest_domains: ["x.c2.example"],
      action: "deny",
      end_time: 100,
      policies: { enforced_policies: ["0|default|gnp:q|deny|0"] },
    };
    setTimeout(() => (c.flows = [deny, { ...deny, source_namespace: "shop" }]), 1200);
    const r = await runFlowsCheck(c, check, 10_000);
    expect(r.passed).toBe(true);
    expect(c.calls.filter((x) => x.startsWith("whisker GET")).length).toBeGreaterThan(1);
    const before = c.calls.length;
    expect((await runFlowsCheck(c, { ...check, expect: { absent: true } }, 10_000)).passed).toBe(false);
    expect(c.calls.length - before).toBe(1);
    c.flows = [];
    const t0 = Date.now();
    expect((await runFlowsCheck(c, check, 1500)).passed).toBe(false);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
  });
  it("never counts the grader's own probe flows", async () => {
    const c = new FakeClient();
    const deny = {
      source_namespace: "ops",
      dest_domains: ["x.c2.example"],
      action: "deny",
      end_time: 100,
      policies: { enforced_policies: ["0|default|gnp:q|deny|0"] },
    };
    c.flows = [
      { ...deny, source_name: "egresslab-probe-backup-1a2b3c4d" },
      { ...deny, source_name: "backup-*", source_labels: ["app=backup", "egresslab.io/probe=true"] },
    ];
    expect(await runFlowsCheck(c, check)).toMatchObject({ passed: false, seen: "no matching flow records" });
  });
  it("keeps records near the newest", () => {
    expect(withinWindow([{ end_time: 10 }, { end_time: 100 }], 30)).toEqual([{ end_time: 100 }]);
  });
});

describe("runCheck (probe)", () => {
  const check: ProbeCheck = {
    id: "c2",
    title: "the C2 domain is blocked",
    hint: "allow by domain",
    guard: false,
    kind: "probe",
    from: { namespace: "ops", selector: "app=backup" },
    to: { domain: "c2.example", port: 443, protocol: "TCP" },
    expect: { outcome: "blocked" },
  };
  it("execs the probe in a running pod chosen by selector, and judges what curl saw", async () => {
    const seen: string[] = [];
    const c = new FakeClient((objects, at, cmd) => {
      seen.push(`${at.namespace}/${at.pod}/${at.container}: ${cmd[0]}`);
      const denied = objects.some((o) => o.kind === "GlobalNetworkPolicy");
      return denied ? { code: 28, stdout: "\n000", stderr: "" } : { code: 0, stdout: "hi\n200", stderr: "" };
    });
    expect(await runCheck(c, check, {})).toMatchObject({
      passed: false,
      seen: "no pod matching app=backup in namespace ops exists",
    });
    await c.apply(pod("ops", "backup-1", { app: "backup" }));
    expect(await runCheck(c, check, {})).toMatchObject({ passed: false, seen: "it connected (HTTP 200)" });
    await c.apply(gnp("default-deny", {}));
    expect((await runCheck(c, check, {})).passed).toBe(true);
    // The probe runs in the grader's own pod beside backup-1: its labels, a probe label, never a Service endpoint.
    expect(seen[0]).toMatch(/^ops\/egresslab-probe-backup-1-[0-9a-f]{8}\/main: curl$/);
    const probe = (
      await c.list("v1", "Pod", { namespace: "ops", labelSelector: "egresslab.io/probe=true" })
    )[0];
    expect(probe?.metadata.labels).toEqual({
      app: "backup",
      "egresslab.io/probe": "true",
      "egresslab.io/probe-for": "backup-1",
    });
    expect(probe?.spec).toMatchObject({ readinessGates: [{ conditionType: "egresslab.io/probe-only" }] });
    // The next probe reuses it; the selector never picks the probe pod as the workload.
    await runCheck(c, check, {});
    expect(new Set(seen).size).toBe(1);
    expect(c.calls.filter((x) => x.startsWith("apply Pod/egresslab-probe-"))).toHaveLength(1);
  });
});

describe("runCheck (probe with a pre-step)", () => {
  const check: ProbeCheck = {
    id: "rotated",
    title: "t",
    hint: "h",
    guard: false,
    kind: "probe",
    from: { namespace: "shop", selector: "app=checkout" },
    to: { domain: "api.stripe.com", port: 443, protocol: "TCP" },
    expect: { outcome: "allowed" },
    before: { rotate: "api.stripe.com" },
  };

  it("rotates the domain before probing, and says what it rotated to", async () => {
    const c = new FakeClient(() => ({ code: 0, stdout: "ok\n200", stderr: "" }));
    await c.apply(pod("shop", "checkout-1", { app: "checkout" }));
    c.answer = (_m, path) =>
      path === "/egresslab/v1/internet/rotate"
        ? {
            status: 200,
            body: JSON.stringify({ domain: "api.stripe.com", previous: ["1.1.1.1"], ips: ["54.187.1.2"] }),
          }
        : { status: 404, body: "" };
    const r = await runCheck(c, check, {});
    expect(r.passed).toBe(true);
    expect(r.seen).toMatch(/\(after api\.stripe\.com rotated to 54\.187\.1\.2\)$/);
    const rotatedAt = c.calls.indexOf("POST /egresslab/v1/internet/rotate");
    expect(rotatedAt).toBeGreaterThanOrEqual(0);
  });

  it("probes without rotating on a cluster with no lab internet, and fails when the rotation itself fails", async () => {
    const c = new FakeClient(() => ({ code: 0, stdout: "ok\n200", stderr: "" }));
    await c.apply(pod("shop", "checkout-1", { app: "checkout" }));
    c.answer = () => ({ status: 404, body: "404 page not found" });
    const r = await runCheck(c, check, {});
    expect(r.passed).toBe(true);
    expect(r.seen).toMatch(/api\.stripe\.com not rotated: no lab internet here/);
    c.answer = () => ({ status: 500, body: JSON.stringify({ message: "boom" }) });
    const failed = await runCheck(c, check, {});
    expect(failed).toMatchObject({ passed: false, hint: "h" });
    expect(failed.seen).toBe("could not rotate api.stripe.com: the cluster refused the rotation (500): boom");
  });

  it("is declared in checks.yaml as before: {rotate: <domain>}", () => {
    const parsed = checkSchema.safeParse({
      id: "x",
      title: "t",
      hint: "h",
      kind: "probe",
      from: { namespace: "shop", selector: "app=checkout" },
      to: { domain: "api.stripe.com", port: 443 },
      expect: "allowed",
      before: { rotate: "api.stripe.com" },
    });
    expect(parsed.success).toBe(true);
    const old = checkSchema.safeParse({
      id: "x",
      title: "t",
      hint: "h",
      kind: "probe",
      from: { namespace: "shop", selector: "app=checkout" },
      to: { domain: "api.stripe.com", port: 443 },
      expect: "allowed",
      before: { post: "/egresslab/v1/internet/rotate", body: { domain: "api.stripe.com" } },
    });
    expect(old.success).toBe(false);
  });
});

describe("setup commands", () => {
  const stage = (commands: RenderedStage["commands"]): RenderedStage =>
    ({ id: "s", setup: [], commands }) as unknown as RenderedStage;

  it("rotate: makes the provider rotate the domain through the cluster, and a refusal fails the setup", async () => {
    const c = new FakeClient(() => ({ code: 0, stdout: "", stderr: "" }));
    c.answer = (_m, path) =>
      path === "/egresslab/v1/internet/rotate"
        ? { status: 200, body: JSON.stringify({ domain: "api.twilio.com", previous: [], ips: ["18.1.2.3"] }) }
        : { status: 404, body: "" };
    await setupRendered(c, stage([{ kind: "rotate", domain: "api.twilio.com" }]), noopLogger);
    expect(c.calls.filter((x) => x === "POST /egresslab/v1/internet/rotate")).toHaveLength(1);
    c.answer = () => ({ status: 500, body: JSON.stringify({ message: "boom" }) });
    await expect(
      setupRendered(c, stage([{ kind: "rotate", domain: "api.twilio.com" }]), noopLogger),
    ).rejects.toThrow(/the cluster refused the rotation \(500\): boom/);
  });
});
