/* eslint-disable @typescript-eslint/no-explicit-any -- assertions read deep into rendered Kubernetes objects */
/**
 * The Helm chart (deploy/helm/egresslab): rendered with the chart subset renderer (Helm is not packaged for Debian),
 * checked for what a deployment needs (probes on the real health endpoints, cookie affinity, a budget that matches the
 * pods, the sandbox's securityContext, settings that name real server options), and applied with
 * `kubectl apply --dry-run=server` to a simulated cluster, which validates every object as the API server would.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { renderChart, type Rendered } from "../helpers/helm-template.ts";
import { startKubectlEnv, type Kubectl, type KubectlEnv } from "../helpers/kubectl.ts";
import { serveOptionSpecs } from "../../server/src/cli/serve.ts";

const chartDir = path.join(import.meta.dirname, "..", "..", "deploy", "helm", "egresslab");
const NS = "egresslab";
const base = { auth: { instructorToken: "teach-0123456789", metricsToken: "scrape-0123456789" } };
const devValues = { ...base, dev: { postgres: { enabled: true }, redis: { enabled: true } } };
const externalValues = {
  ...base,
  database: { url: "postgres://egresslab:pw@db.internal:5432/egresslab" },
  redis: { url: "redis://redis.internal:6379" },
  ingress: { tlsSecretName: "egresslab-tls", host: "lab.example.com" },
  persistence: { existingClaim: "egresslab-homes" },
};

const poolValues = { kubeconfigPool: { secretName: "attendee-clusters", edition: "enterprise" } };

const render = (values: Record<string, unknown>): Rendered =>
  renderChart(chartDir, { release: "ws", namespace: NS, values });
const find = (r: Rendered, kind: string, name?: string): any => {
  const o = r.objects.find((x: any) => x.kind === kind && (name === undefined || x.metadata.name === name));
  if (!o) throw new Error(`no ${kind} ${name ?? ""} in the chart`);
  return o;
};
const server = (r: Rendered): any => find(r, "Deployment", "ws-egresslab");
const container = (r: Rendered): any => server(r).spec.template.spec.containers[0];

describe("the chart, rendered", () => {
  it("probes the real health endpoints on the container's port", () => {
    const c = container(render(devValues));
    expect(c.readinessProbe.httpGet).toEqual({ path: "/readyz", port: "http" });
    expect(c.livenessProbe.httpGet).toEqual({ path: "/livez", port: "http" });
    expect(c.ports).toContainEqual({ name: "http", containerPort: 3000, protocol: "TCP" });
    const env = Object.fromEntries(c.env.map((e: any) => [e.name, e.value ?? e.valueFrom]));
    expect(env.EGRESSLAB_PORT).toBe("3000");
    expect(env.EGRESSLAB_HOST).toBe("0.0.0.0");
  });

  it("sets only settings the server has", () => {
    const known = new Set(Object.values(serveOptionSpecs).map((s) => (s as { env?: string }).env));
    // The pod's IP, from the downward API, only to build EGRESSLAB_ADVERTISE.
    known.add("POD_IP");
    for (const e of container(render(devValues)).env) expect(known, e.name).toContain(e.name);
  });

  it("names each replica after its pod and advertises the pod's address", () => {
    const env = container(render(devValues)).env as any[];
    const at = (name: string): number => env.findIndex((e) => e.name === name);
    expect(env[at("EGRESSLAB_REPLICA")].valueFrom).toEqual({ fieldRef: { fieldPath: "metadata.name" } });
    expect(env[at("POD_IP")].valueFrom).toEqual({ fieldRef: { fieldPath: "status.podIP" } });
    // $(POD_IP) expands only when POD_IP comes before it.
    expect(env[at("EGRESSLAB_ADVERTISE")].value).toBe("http://$(POD_IP):3000");
    expect(at("POD_IP")).toBeLessThan(at("EGRESSLAB_ADVERTISE"));
  });

  it("mounts one ReadWriteMany volume for every replica's data (learners' homes), made by the chart or given", () => {
    const made = render({
      ...devValues,
      persistence: { create: true, storageClassName: "nfs-client", size: "50Gi" },
    });
    const pvc = find(made, "PersistentVolumeClaim", "ws-egresslab-data");
    expect(pvc.spec).toEqual({
      accessModes: ["ReadWriteMany"],
      storageClassName: "nfs-client",
      resources: { requests: { storage: "50Gi" } },
    });
    const volume = (r: Rendered): any =>
      server(r).spec.template.spec.volumes.find((v: any) => v.name === "data");
    expect(volume(made).persistentVolumeClaim).toEqual({ claimName: "ws-egresslab-data" });
    const given = render({ ...devValues, persistence: { existingClaim: "homes", create: true } });
    expect(volume(given).persistentVolumeClaim).toEqual({ claimName: "homes" });
    expect(given.objects.some((o: any) => o.kind === "PersistentVolumeClaim")).toBe(false);
    expect(volume(render(devValues)).emptyDir).toBeDefined();
  });

  it("runs as non-root without privilege escalation, with what bubblewrap needs and nothing more", () => {
    const r = render(devValues);
    const pod = server(r).spec.template.spec;
    const c = container(r);
    expect(pod.securityContext.runAsNonRoot).toBe(true);
    expect(pod.securityContext.runAsUser).toBeGreaterThan(0);
    expect(c.securityContext).toMatchObject({
      allowPrivilegeEscalation: false,
      privileged: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ["ALL"] },
    });
    expect(c.securityContext.capabilities.add).toBeUndefined();
    // procMount Unmasked lets bubblewrap mount a fresh /proc; the API server allows it only in a user namespace.
    expect(c.securityContext.procMount).toBe("Unmasked");
    expect(pod.hostUsers).toBe(false);
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(pod.hostNetwork ?? false).toBe(false);
    expect(pod.hostPID ?? false).toBe(false);
    // The root filesystem is read-only: the data directory and /tmp are volumes.
    expect(c.volumeMounts.map((m: any) => m.mountPath).sort()).toEqual(["/tmp", "/var/lib/egresslab"]);
    expect(c.resources.requests.memory).toBeTruthy();
    expect(c.resources.limits.memory).toBeTruthy();
  });

  it("routes by cookie through the ingress to the service's port, and the service selects the pods", () => {
    const r = render(devValues);
    const ing = find(r, "Ingress");
    const svc = find(r, "Service", "ws-egresslab");
    expect(ing.metadata.annotations["nginx.ingress.kubernetes.io/affinity"]).toBe("cookie");
    expect(ing.metadata.annotations["nginx.ingress.kubernetes.io/session-cookie-name"]).toBe(
      "egresslab_route",
    );
    const backend = ing.spec.rules[0].http.paths[0].backend.service;
    expect(backend.name).toBe(svc.metadata.name);
    expect(svc.spec.ports.map((p: any) => p.name)).toContain(backend.port.name);
    expect(svc.spec.ports[0].targetPort).toBe("http");
    const labels = server(r).spec.template.metadata.labels;
    for (const [k, v] of Object.entries(svc.spec.selector)) expect(labels[k]).toBe(v);
  });

  it("budgets one replica down at a time, for exactly the server's pods", () => {
    const r = render(devValues);
    const pdb = find(r, "PodDisruptionBudget");
    const d = server(r);
    expect(pdb.spec.maxUnavailable).toBe(1);
    expect(pdb.spec.maxUnavailable).toBeLessThan(d.spec.replicas);
    expect(pdb.spec.selector).toEqual(d.spec.selector);
    // The dev Postgres and Redis pods are not counted as the server's.
    for (const name of ["ws-egresslab-postgres", "ws-egresslab-redis"]) {
      const labels = find(r, "Deployment", name).spec.template.metadata.labels;
      const sel = pdb.spec.selector.matchLabels;
      expect(
        Object.entries(sel).every(([k, v]) => labels[k] === v),
        name,
      ).toBe(false);
    }
    expect(d.spec.replicas).toBe(3);
    expect(
      render({ ...devValues, replicaCount: 1 }).objects.some((o: any) => o.kind === "PodDisruptionBudget"),
    ).toBe(false);
  });

  it("keeps credentials in a Secret and points the replicas at the bundled dev Postgres and Redis", () => {
    const r = render(devValues);
    const secret = find(r, "Secret");
    const data = Object.fromEntries(
      Object.entries(secret.data).map(([k, v]) => [k, Buffer.from(String(v), "base64").toString()]),
    );
    expect(data["instructor-token"]).toBe("teach-0123456789");
    expect(data["database-url"]).toBe(
      "postgres://egresslab:egresslab-dev@ws-egresslab-postgres:5432/egresslab",
    );
    expect(data["redis-url"]).toBe("redis://ws-egresslab-redis:6379");
    for (const e of container(r).env.filter((x: any) => x.valueFrom?.secretKeyRef)) {
      const ref = e.valueFrom.secretKeyRef;
      expect(ref.name).toBe(secret.metadata.name);
      if (!ref.optional) expect(Object.keys(secret.data), e.name).toContain(ref.key);
    }
    expect(r.yaml).not.toContain("teach-0123456789");
  });

  it("refuses values that cannot work, saying why", () => {
    expect(() => render({ dev: devValues.dev })).toThrow(/auth.instructorToken is required/);
    expect(() => render({ ...base, redis: { url: "redis://r:6379" } })).toThrow(
      /replicaCount above 1 needs Postgres/,
    );
    expect(() => render({ ...base, database: { url: "postgres://d/e" } })).toThrow(
      /replicaCount above 1 needs Redis/,
    );
    // One replica on SQLite, no Redis: fine.
    expect(() => render({ ...base, replicaCount: 1 })).not.toThrow();
  });

  it("serves a kubeconfig pool from a Secret every replica mounts read-only, with settings the server has", () => {
    const r = render({ ...devValues, ...poolValues });
    const c = container(r);
    const env = Object.fromEntries(c.env.map((e: any) => [e.name, e.value ?? e.valueFrom]));
    expect(env).toMatchObject({
      EGRESSLAB_PROVIDER: "kubeconfig",
      EGRESSLAB_KUBECONFIG_DIR: "/etc/egresslab/kubeconfig-pool",
      EGRESSLAB_POOL_EDITION: "enterprise",
    });
    const known = new Set(Object.values(serveOptionSpecs).map((s) => (s as { env?: string }).env));
    known.add("POD_IP");
    for (const e of c.env) expect(known, e.name).toContain(e.name);
    expect(c.volumeMounts).toContainEqual({
      name: "kubeconfig-pool",
      mountPath: "/etc/egresslab/kubeconfig-pool",
      readOnly: true,
    });
    expect(server(r).spec.template.spec.volumes).toContainEqual({
      name: "kubeconfig-pool",
      secret: { secretName: "attendee-clusters", defaultMode: 0o440 },
    });
    // Without a pool: simulated clusters, nothing mounted.
    const sim = container(render(devValues));
    expect(sim.env.some((e: any) => e.name === "EGRESSLAB_PROVIDER")).toBe(false);
    expect(sim.volumeMounts.some((m: any) => m.name === "kubeconfig-pool")).toBe(false);
  });

  it("uses an existing Secret and claim when given, with TLS on the ingress", () => {
    const r = render({ ...externalValues, auth: { existingSecret: "mine" } });
    expect(r.objects.some((o: any) => o.kind === "Secret")).toBe(false);
    expect(
      container(r).env.find((e: any) => e.name === "EGRESSLAB_DATABASE").valueFrom.secretKeyRef.name,
    ).toBe("mine");
    expect(server(r).spec.template.spec.volumes[0]).toEqual({
      name: "data",
      persistentVolumeClaim: { claimName: "egresslab-homes" },
    });
    expect(find(r, "Ingress").spec.tls).toEqual([
      { hosts: ["lab.example.com"], secretName: "egresslab-tls" },
    ]);
  });
});

describe("the chart, applied with --dry-run=server to a simulated cluster", () => {
  let env: KubectlEnv;
  let k: Kubectl;

  beforeAll(async () => {
    env = await startKubectlEnv();
    k = await env.cluster({ id: "deploy" });
    expect((await k(["create", "namespace", NS])).exitCode).toBe(0);
  });
  afterAll(async () => {
    await env?.close();
  });

  const apply = async (yaml: string, name: string) => {
    const file = path.join(env.dir, `${name}.yaml`);
    writeFileSync(file, yaml);
    return k(["apply", "--dry-run=server", "-n", NS, "-f", file]);
  };

  it.each([
    ["bundled dev Postgres and Redis", devValues],
    [
      "Localhost seccomp and AppArmor profiles",
      {
        ...devValues,
        podSecurityContext: {
          seccompProfile: { type: "Localhost", localhostProfile: "egresslab/bwrap.json" },
          appArmorProfile: { type: "Localhost", localhostProfile: "egresslab-bwrap" },
        },
      },
    ],
    ["external Postgres and Redis, TLS, a shared claim", externalValues],
    ["a kubeconfig pool from a Secret", { ...externalValues, ...poolValues }],
    ["one replica on SQLite without an ingress", { ...base, replicaCount: 1, ingress: { enabled: false } }],
    [
      "a ReadWriteMany claim the chart makes",
      { ...devValues, persistence: { create: true, storageClassName: "nfs-client", size: "50Gi" } },
    ],
  ])("accepts every object (%s) and stores none", async (name, values) => {
    const r = render(values);
    const res = await apply(r.yaml, name.replace(/\W+/g, "-"));
    expect(res.stderr).toBe("");
    expect(res.exitCode).toBe(0);
    const lines = res.stdout.trim().split("\n");
    expect(lines).toHaveLength(r.objects.length);
    for (const o of r.objects as any[])
      expect(
        lines.some((l) => l.endsWith(`/${o.metadata.name} created (server dry run)`)),
        `${o.kind}`,
      ).toBe(true);
    const left = await k([
      "get",
      "deploy,svc,ing,pdb,pvc,secret,sa",
      "-n",
      NS,
      "-l",
      "app.kubernetes.io/instance=ws",
      "-o",
      "name",
    ]);
    expect(left.exitCode).toBe(0);
    expect(left.stdout.trim()).toBe("");
  });

  it("is refused, as a real API server refuses it, when a value breaks an object", async () => {
    const r = render({ ...devValues, podDisruptionBudget: { maxUnavailable: "150%" } });
    const pdb = await apply(r.yaml, "bad-pdb");
    expect(pdb.exitCode).not.toBe(0);
    expect(pdb.stderr).toContain(
      'The PodDisruptionBudget "ws-egresslab" is invalid: spec.maxUnavailable: Invalid value: "150%": must not be greater than 100%',
    );
    const host = await apply(render({ ...devValues, ingress: { host: "10.0.0.1" } }).yaml, "bad-host");
    expect(host.exitCode).not.toBe(0);
    expect(host.stderr).toContain(
      'spec.rules[0].host: Invalid value: "10.0.0.1": must be a DNS name, not an IP address',
    );
    const local = await apply(
      render({ ...devValues, podSecurityContext: { seccompProfile: { type: "Localhost" } } }).yaml,
      "bad-seccomp",
    );
    expect(local.exitCode).not.toBe(0);
    expect(local.stderr).toContain(
      "spec.template.spec.securityContext.seccompProfile.localhostProfile: Required value: must be set when seccomp type is Localhost",
    );
    const userns = await apply(render({ ...devValues, hostUsers: true }).yaml, "bad-userns");
    expect(userns.exitCode).not.toBe(0);
    expect(userns.stderr).toContain(
      'spec.template.spec.containers[0].securityContext.procMount: Invalid value: "Unmasked": `hostUsers` must be false to use `Unmasked`',
    );
  });

  it("refuses a claim as a real API server does: no access modes, a bad size, a changed access mode", async () => {
    const made = { ...devValues, persistence: { create: true } };
    const none = await apply(
      render({ ...made, persistence: { create: true, accessModes: [] } }).yaml,
      "pvc-none",
    );
    expect(none.exitCode).not.toBe(0);
    expect(none.stderr).toContain(
      'The PersistentVolumeClaim "ws-egresslab-data" is invalid: spec.accessModes: Required value: at least 1 access mode is required',
    );
    const odd = await apply(
      render({ ...made, persistence: { create: true, accessModes: ["ReadWriteAll"] } }).yaml,
      "pvc-odd",
    );
    expect(odd.stderr).toContain(
      'spec.accessModes: Unsupported value: "ReadWriteAll": supported values: "ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"',
    );
    const size = await apply(
      render({ ...made, persistence: { create: true, size: "lots" } }).yaml,
      "pvc-size",
    );
    expect(size.exitCode).not.toBe(0);
    // Not a quantity: the decoder refuses it (400) before validation.
    expect(size.stderr).toContain(
      `Error from server (BadRequest): error when creating "${path.join(env.dir, "pvc-size.yaml")}": PersistentVolumeClaim in version "v1" cannot be handled as a PersistentVolumeClaim: quantities must match the regular expression`,
    );
    const zero = await apply(render({ ...made, persistence: { create: true, size: "0" } }).yaml, "pvc-zero");
    expect(zero.stderr).toContain('spec.resources[storage]: Invalid value: "0": must be greater than zero');

    // Created for real it stays Pending: nothing provisions a volume.
    const claim = render(made).objects.find((o: any) => o.kind === "PersistentVolumeClaim");
    const file = path.join(env.dir, "pvc-real.yaml");
    writeFileSync(file, JSON.stringify(claim));
    expect((await k(["apply", "-n", NS, "-f", file])).exitCode).toBe(0);
    const table = await k(["get", "pvc", "-n", NS]);
    expect(table.stdout.split("\n")[0]).toMatch(
      /^NAME\s+STATUS\s+VOLUME\s+CAPACITY\s+ACCESS MODES\s+STORAGECLASS\s+VOLUMEATTRIBUTESCLASS\s+AGE$/,
    );
    expect(table.stdout).toMatch(/ws-egresslab-data\s+Pending\s+<unset>\s+\d+s/);
    const wide = await k(["get", "pvc", "-n", NS, "-o", "wide"]);
    expect(wide.stdout).toMatch(/VOLUMEATTRIBUTESCLASS\s+AGE\s+VOLUMEMODE\n/);
    expect(wide.stdout).toMatch(/Pending\s+<unset>\s+\d+s\s+Filesystem/);
    const explain = await k(["explain", "pvc.spec.accessModes"]);
    expect(explain.exitCode).toBe(0);
    expect(explain.stdout).toContain("KIND:       PersistentVolumeClaim");
    const rwo = await apply(
      render({ ...made, persistence: { create: true, accessModes: ["ReadWriteOnce"] } }).yaml,
      "pvc-rwo",
    );
    expect(rwo.exitCode).not.toBe(0);
    expect(rwo.stderr).toContain(
      'The PersistentVolumeClaim "ws-egresslab-data" is invalid: spec: Forbidden: spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims',
    );
    // A bigger size is refused too while the claim is not bound.
    const grow = await apply(
      render({ ...made, persistence: { create: true, size: "40Gi" } }).yaml,
      "pvc-grow",
    );
    expect(grow.stderr).toContain("spec is immutable after creation");
    const live = await k(["get", "pvc/ws-egresslab-data", "-n", NS, "-o", "json"]);
    expect(JSON.parse(live.stdout).spec.accessModes).toEqual(["ReadWriteMany"]);
    expect((await k(["delete", "-n", NS, "-f", file])).exitCode).toBe(0);
  });

  it("dry-runs an upgrade of an installed release, client-side and server-side apply, and changes nothing", async () => {
    const installed = await apply(render(devValues).yaml, "install");
    expect(installed.exitCode).toBe(0);
    // The install above was a dry run too: install for real, then dry-run the upgrade.
    const file = path.join(env.dir, "install.yaml");
    expect((await k(["apply", "-n", NS, "-f", file])).exitCode).toBe(0);
    const upgrade = render({ ...devValues, replicaCount: 5, ingress: { host: "other.example.com" } }).yaml;
    const csa = await apply(upgrade, "upgrade");
    expect(csa.stderr).toBe("");
    expect(csa.stdout).toContain("deployment.apps/ws-egresslab configured (server dry run)");
    expect(csa.stdout).toContain("ingress.networking.k8s.io/ws-egresslab configured (server dry run)");
    expect(csa.stdout).toContain("poddisruptionbudget.policy/ws-egresslab unchanged (server dry run)");
    const ssa = await k([
      "apply",
      "--server-side",
      "--force-conflicts",
      "--dry-run=server",
      "-n",
      NS,
      "-f",
      path.join(env.dir, "upgrade.yaml"),
    ]);
    expect(ssa.stderr).toBe("");
    expect(ssa.stdout).toContain("deployment.apps/ws-egresslab-postgres serverside-applied (server dry run)");
    const live = await k(["get", "deploy/ws-egresslab", "ing/ws-egresslab", "-n", NS, "-o", "json"]);
    const items = (JSON.parse(live.stdout) as { items: any[] }).items;
    expect(items[0].spec.replicas).toBe(3);
    expect(items[1].spec.rules[0].host).toBe("egresslab.example.com");
  });
});
