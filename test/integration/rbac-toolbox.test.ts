/**
 * ServiceAccounts and RBAC in the simulated API server, with the real kubectl 1.32, client-node and Debian's Python
 * client. clusters/toolbox.yaml is applied to a simulated cluster and every request of toolbox-rbac.cases.ts (the
 * guide's commands, every stage's objects, what must be refused) is sent with the token `kubectl create token` gives:
 * the simulator must allow exactly what the YAML's evaluator allows (RBAC and Calico's tier check), and answer
 * `kubectl auth can-i` the same. Tokens of another cluster, tampered, expired, of a deleted ServiceAccount or Secret
 * are refused; junk of any size is a quick 401.
 */
import https from "node:https";
import net from "node:net";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as k8s from "@kubernetes/client-node";
import { startKubectlEnv, type Kubectl, type KubectlEnv } from "../helpers/kubectl.ts";
import { rawRequest } from "../helpers/https.ts";
import { loadLab } from "../../server/src/labs/index.ts";
import {
  allows,
  COMMANDS,
  DENIED,
  guideCommands,
  labDir,
  objectRequests,
  rbacAllows,
  show,
  toolboxManifests,
  WORKLOAD_NAMESPACES,
  type Req,
} from "../../server/src/terminal/toolbox-rbac.cases.ts";
import { currentKey, mintBoundToken, ISSUER } from "../../server/src/sim/tokens.ts";
import { runPython } from "../helpers/python.ts";

let env: KubectlEnv;
let a: Kubectl;
let b: Kubectl;
let token: string;
let saConfig: string;

const VERSIONS: Record<string, string> = {
  "": "v1",
  "projectcalico.org": "v3",
  "policy.networking.k8s.io": "v1alpha1",
  "metrics.k8s.io": "v1beta1",
};
const METHODS: Record<string, string> = {
  get: "GET",
  list: "GET",
  watch: "GET",
  create: "POST",
  update: "PUT",
  patch: "PATCH",
  delete: "DELETE",
};

/** The path of a request (a name stands in where a subresource needs one). */
function pathOf(q: Req): string {
  const [plural, sub] = q.resource.split("/") as [string, string | undefined];
  const base = q.group ? `/apis/${q.group}/${VERSIONS[q.group] ?? "v1"}` : "/api/v1";
  const ns =
    q.namespace !== undefined && !(q.group === "" && plural === "namespaces")
      ? `/namespaces/${q.namespace}`
      : "";
  const name =
    q.name ?? (sub || q.verb === "update" || q.verb === "patch" || q.verb === "delete" ? "x" : undefined);
  const named = q.verb === "create" && !sub ? "" : name !== undefined ? `/${name}` : "";
  return `${base}${ns}/${plural}${named}${sub ? `/${sub}` : ""}${q.verb === "watch" ? "?watch=1" : ""}`;
}

/** The status of sending `q` with the toolbox's token (a create carries a dry-run object in the request's tier). */
function send(q: Req & { tier?: string }, tok = token): Promise<{ status: number; body: string }> {
  const method = METHODS[q.verb]!;
  const kind = q.resource.split("/")[0]!;
  const object = {
    apiVersion: q.group ? `${q.group}/${VERSIONS[q.group] ?? "v1"}` : "v1",
    kind:
      kind === "globalnetworkpolicies"
        ? "GlobalNetworkPolicy"
        : kind === "networkpolicies"
          ? "NetworkPolicy"
          : kind,
    metadata: { name: q.name ?? "x", ...(q.namespace ? { namespace: q.namespace } : {}) },
    ...(q.tier ? { spec: { tier: q.tier } } : {}),
  };
  const body =
    method === "GET" || method === "DELETE" ? undefined : JSON.stringify(q.verb === "patch" ? {} : object);
  const p = pathOf(q);
  const url = new URL(
    `${a.id ? `/clusters/${a.id}` : ""}${p}${method === "GET" ? "" : `${p.includes("?") ? "&" : "?"}dryRun=All`}`,
    env.host.url,
  );
  return new Promise((resolve, reject) => {
    const req = https.request(
      url,
      {
        method,
        ca: env.host.caCert,
        headers: {
          Authorization: `Bearer ${tok}`,
          ...(body !== undefined
            ? {
                "Content-Type": q.verb === "patch" ? "application/merge-patch+json" : "application/json",
                "Content-Length": String(Buffer.byteLength(body)),
              }
            : {}),
        },
      },
      (res) => {
        const status = res.statusCode ?? 0;
        // A watch that was allowed streams: its status is the answer.
        if (q.verb === "watch" && status === 200) {
          req.destroy();
          return resolve({ status, body: "" });
        }
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status, body: Buffer.concat(chunks).toString("utf8") }));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

/** SelfSubjectAccessReview with the toolbox's token (RBAC alone, as on a real cluster: no tier check). */
async function review(q: Req): Promise<boolean> {
  const [resource, subresource] = q.resource.split("/");
  const r = await rawRequest(`${env.host.url}/clusters/${a.id}`, env.host.caCert, {
    method: "POST",
    path: `/clusters/${a.id}/apis/authorization.k8s.io/v1/selfsubjectaccessreviews`,
    token,
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({
      apiVersion: "authorization.k8s.io/v1",
      kind: "SelfSubjectAccessReview",
      spec: {
        resourceAttributes: {
          verb: q.verb,
          group: q.group,
          resource,
          ...(subresource ? { subresource } : {}),
          ...(q.namespace ? { namespace: q.namespace } : {}),
          ...(q.name ? { name: q.name } : {}),
        },
      },
    }),
  });
  expect(r.status, r.body).toBe(201);
  return (JSON.parse(r.body) as { status: { allowed: boolean } }).status.allowed;
}

const asToolbox = (args: string[], o: { input?: string; timeout?: number } = {}) =>
  a(args, { ...o, env: { KUBECONFIG: saConfig } });

beforeAll(async () => {
  env = await startKubectlEnv();
  a = await env.cluster({ id: "rbac-a" });
  b = await env.cluster({ id: "rbac-b" });
  for (const k of [a, b]) {
    const applied = await k(["apply", "--server-side", "-f", "-"], { input: toolboxManifests });
    expect(applied.exitCode, applied.stderr).toBe(0);
  }
  const created = await a(["create", "token", "toolbox", "-n", "egresslab-toolbox"]);
  expect(created.exitCode, created.stderr).toBe(0);
  token = created.stdout.trim();
  saConfig = path.join(env.dir, "toolbox.kubeconfig");
  writeFileSync(saConfig, a.kubeconfig.replace(a.token, token));
}, 60_000);
afterAll(async () => {
  await env?.close();
});

describe("the toolbox's token against the simulated API server", () => {
  it("is a ServiceAccount token shaped like the real ones", () => {
    const [header, payload] = token
      .split(".")
      .slice(0, 2)
      .map((p) => JSON.parse(Buffer.from(p, "base64url").toString()) as Record<string, unknown>);
    expect(header).toMatchObject({ alg: "ES256" });
    expect(payload).toMatchObject({
      iss: ISSUER,
      aud: [ISSUER],
      sub: "system:serviceaccount:egresslab-toolbox:toolbox",
      "kubernetes.io": { namespace: "egresslab-toolbox", serviceaccount: { name: "toolbox" } },
    });
    expect((payload!.exp as number) - (payload!.iat as number)).toBe(3600);
  });

  it("is allowed exactly what the YAML's evaluator allows: every guide command, every stage's object, every refusal", async () => {
    const lab = await loadLab(labDir);
    expect(lab.toolbox?.execNamespaces).toEqual(WORKLOAD_NAMESPACES);
    const cases: (Req & { tier?: string })[] = [];
    for (const c of guideCommands()) {
      const entry = COMMANDS.find((e) => e.match.test(c.line));
      if (entry) cases.push(...entry.requests(c.line.match(entry.match)!));
    }
    for (const r of objectRequests(lab)) if (r.req) cases.push(r.req);
    cases.push(...DENIED);
    const unique = [...new Map(cases.map((q) => [`${show(q)} ${q.tier ?? ""}`, q])).values()];
    expect(unique.length).toBeGreaterThan(80);
    const disagree: string[] = [];
    let allowed = 0;
    let refused = 0;
    for (const q of unique) {
      const expected = allows(q);
      if (METHODS[q.verb]) {
        const r = await send(q);
        const got = r.status !== 403;
        if (got !== expected)
          disagree.push(
            `${show(q)}${q.tier ? ` (tier ${q.tier})` : ""}: simulator ${r.status} ${r.body.slice(0, 200)}`,
          );
        if (got) allowed++;
        else refused++;
      }
      // SelfSubjectAccessReview is RBAC alone, without Calico's tier check.
      const reviewed = await review(q);
      if (reviewed !== rbacAllows(q)) disagree.push(`${show(q)}: review says ${reviewed}`);
    }
    expect(disagree).toEqual([]);
    expect(allowed).toBeGreaterThan(20);
    expect(refused).toBeGreaterThan(40);
  }, 120_000);

  it("answers kubectl with the real 403 texts and auth can-i", async () => {
    const secrets = await asToolbox(["get", "secrets", "-n", "default"]);
    expect(secrets.exitCode).toBe(1);
    expect(secrets.stderr.trim()).toBe(
      'Error from server (Forbidden): secrets is forbidden: User "system:serviceaccount:egresslab-toolbox:toolbox" cannot list resource "secrets" in API group "" in the namespace "default"',
    );
    const pods = await asToolbox(["get", "pods", "-n", "calico-system", "-o", "name"]);
    expect(pods.exitCode, pods.stderr).toBe(0);
    expect(pods.stdout).toContain("pod/");
    const can = async (...args: string[]) => (await asToolbox(["auth", "can-i", ...args])).stdout.trim();
    expect(await can("create", "pods", "--subresource=exec", "-n", "shop")).toBe("yes");
    expect(await can("create", "pods", "--subresource=exec", "-n", "kube-system")).toBe("no");
    expect(await can("get", "pods", "--subresource=portforward", "-n", "calico-system")).toBe("yes");
    expect(await can("list", "secrets", "-A")).toBe("no");
    expect(await can("create", "globalnetworkpolicies.projectcalico.org")).toBe("yes");
    expect(await can("create", "tiers.projectcalico.org")).toBe("no");
    expect(await can("create", "configmaps", "-n", "default")).toBe("yes");
    expect(await can("get", "/api")).toBe("yes");
    const list = await asToolbox(["auth", "can-i", "--list", "-n", "shop"]);
    expect(list.stdout).toMatch(/^pods\/exec\s+\[\]\s+\[\]\s+\[get create\]$/m);
    const who = await asToolbox(["auth", "whoami", "-o", "jsonpath={.status.userInfo.username}"]);
    expect(who.stdout).toBe("system:serviceaccount:egresslab-toolbox:toolbox");
  });

  it("lets the admin impersonate the toolbox (kubectl --as), and refuses the toolbox impersonating anyone", async () => {
    const as = ["--as=system:serviceaccount:egresslab-toolbox:toolbox"];
    expect((await a(["auth", "can-i", "list", "secrets", "-n", "default", ...as])).stdout.trim()).toBe("no");
    expect(
      (await a(["auth", "can-i", "create", "pods", "--subresource=exec", "-n", "shop", ...as])).stdout.trim(),
    ).toBe("yes");
    const denied = await a(["get", "secrets", "-n", "default", ...as]);
    expect(denied.stderr.trim()).toBe(
      'Error from server (Forbidden): secrets is forbidden: User "system:serviceaccount:egresslab-toolbox:toolbox" cannot list resource "secrets" in API group "" in the namespace "default"',
    );
    const who = await a(["auth", "whoami", "-o", "jsonpath={.status.userInfo.groups}", ...as]);
    expect(who.stdout).toContain("system:serviceaccounts:egresslab-toolbox");
    const escalate = await asToolbox(["get", "secrets", "-n", "default", "--as=kubernetes-admin"]);
    expect(escalate.stderr.trim()).toBe(
      'Error from server (Forbidden): users "kubernetes-admin" is forbidden: User "system:serviceaccount:egresslab-toolbox:toolbox" cannot impersonate resource "users" in API group "" at the cluster scope',
    );
    const masters = await asToolbox(["get", "secrets", "-A", "--as=x", "--as-group=system:masters"]);
    expect(masters.exitCode).not.toBe(0);
    expect(masters.stderr).toContain("cannot impersonate");
  });

  it("applies a default-tier policy and is refused another tier's, with Calico's message", async () => {
    const policy = (name: string, tier?: string) =>
      JSON.stringify({
        apiVersion: "projectcalico.org/v3",
        kind: "GlobalNetworkPolicy",
        metadata: { name },
        spec: { ...(tier ? { tier } : {}), selector: "all()", types: ["Egress"] },
      });
    const ok = await asToolbox(["apply", "-f", "-"], { input: policy("default-deny") });
    expect(ok.exitCode, ok.stderr).toBe(0);
    const tierless = await asToolbox(["delete", "globalnetworkpolicy", "egresslab-toolbox.api-and-dns"]);
    expect(tierless.stderr.trim()).toBe(
      'Error from server (Forbidden): globalnetworkpolicies.projectcalico.org "egresslab-toolbox.api-and-dns" is forbidden: User "system:serviceaccount:egresslab-toolbox:toolbox" cannot delete globalnetworkpolicies.projectcalico.org in tier "egresslab-toolbox"',
    );
    const created = await asToolbox(["create", "-f", "-"], {
      input: policy("egresslab-toolbox.first", "egresslab-toolbox"),
    });
    expect(created.stderr).toContain(
      'cannot create globalnetworkpolicies.projectcalico.org in tier "egresslab-toolbox"',
    );
    const still = await a(["get", "globalnetworkpolicy", "egresslab-toolbox.api-and-dns", "-o", "name"]);
    expect(still.stdout.trim()).toBe("globalnetworkpolicy.projectcalico.org/egresslab-toolbox.api-and-dns");
  });

  it("lists only the policies of the tiers a user may see, and refuses a list that names another tier", async () => {
    const rbac = `apiVersion: v1
kind: ServiceAccount
metadata: { name: viewer, namespace: default }
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: { name: default-tier-viewer }
rules:
  - { apiGroups: [projectcalico.org], resources: [globalnetworkpolicies], verbs: [list] }
  - { apiGroups: [projectcalico.org], resources: [tiers], resourceNames: [default], verbs: [get] }
  - { apiGroups: [projectcalico.org], resources: [tier.globalnetworkpolicies], resourceNames: [default.*], verbs: [list] }
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: { name: default-tier-viewer }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: default-tier-viewer }
subjects: [{ kind: ServiceAccount, name: viewer, namespace: default }]
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: { name: viewer-sees-this }
spec: { selector: all(), types: [Egress] }
`;
    const applied = await a(["apply", "-f", "-"], { input: rbac });
    expect(applied.exitCode, applied.stderr).toBe(0);
    const t = (await a(["create", "token", "viewer", "-n", "default"])).stdout.trim();
    const list = async (query: string) =>
      rawRequest(env.host.url, env.host.caCert, {
        path: `/clusters/${a.id}/apis/projectcalico.org/v3/globalnetworkpolicies${query}`,
        token: t,
      });
    const all = await list("");
    expect(all.status, all.body).toBe(200);
    const names = (JSON.parse(all.body) as { items: { metadata: { name: string } }[] }).items.map(
      (i) => i.metadata.name,
    );
    expect(names).toContain("viewer-sees-this");
    expect(names).not.toContain("egresslab-toolbox.api-and-dns");
    const other = await list("?labelSelector=projectcalico.org%2Ftier%3Degresslab-toolbox");
    expect(other.status).toBe(403);
    expect((JSON.parse(other.body) as { message: string }).message).toBe(
      'globalnetworkpolicies.projectcalico.org is forbidden: User "system:serviceaccount:default:viewer" cannot list globalnetworkpolicies.projectcalico.org in tier "egresslab-toolbox" (user cannot get tier)',
    );
    const asAdmin = await a(["get", "globalnetworkpolicies", "-o", "name"]);
    expect(asAdmin.stdout).toContain("egresslab-toolbox.api-and-dns");
  });

  // kubectl 1.32 asks with a WebSocket GET, and on a refused upgrade falls back to SPDY's POST: the 403 it shows is
  // the POST's, as on a real cluster.
  it("refuses exec and port-forward upgrades before upgrading, where no binding allows them", async () => {
    const pod = (await a(["get", "pods", "-n", "kube-system", "-o", "jsonpath={.items[0].metadata.name}"]))
      .stdout;
    const exec = await asToolbox(["exec", "-n", "kube-system", pod, "--", "true"]);
    expect(exec.exitCode).not.toBe(0);
    expect(exec.stderr).toContain(
      `pods "${pod}" is forbidden: User "system:serviceaccount:egresslab-toolbox:toolbox" cannot create resource "pods/exec" in API group "" in the namespace "kube-system"`,
    );
    const pf = await asToolbox(["port-forward", "-n", "kube-system", `pod/${pod}`, "0:53"], {
      timeout: 15_000,
    });
    expect(pf.exitCode).not.toBe(0);
    expect(pf.stderr).toContain(
      'cannot create resource "pods/portforward" in API group "" in the namespace "kube-system"',
    );
  });
});

describe("which tokens are accepted", () => {
  const status = async (
    tok: string,
    cluster: string | undefined,
    p = "/api/v1/namespaces/calico-system/pods",
  ) =>
    (
      await rawRequest(env.host.url, env.host.caCert, {
        path: `${cluster ? `/clusters/${cluster}` : ""}${p}`,
        token: tok,
      })
    ).status;

  it("a token finds its own cluster, and another cluster's URL refuses it", async () => {
    expect(await status(token, a.id)).toBe(200);
    expect(await status(token, undefined)).toBe(200);
    expect(await status(token, b.id)).toBe(401);
    const onB = await a(["get", "pods", "-n", "calico-system"], {
      env: { KUBECONFIG: saConfig.replace("toolbox", "toolbox-b") },
    });
    expect(onB.exitCode).not.toBe(0);
    writeFileSync(saConfig.replace("toolbox", "toolbox-b"), b.kubeconfig.replace(b.token, token));
    const r = await a(["get", "pods", "-n", "calico-system"], {
      env: { KUBECONFIG: saConfig.replace("toolbox", "toolbox-b") },
    });
    expect(r.stderr).toContain("error: You must be logged in to the server (Unauthorized)");
  });

  it("refuses tampered, expired, foreign-audience and junk tokens with 401", async () => {
    const [h, p, s] = token.split(".") as [string, string, string];
    const claims = JSON.parse(Buffer.from(p, "base64url").toString()) as Record<string, unknown>;
    const forged = Buffer.from(
      JSON.stringify({ ...claims, sub: "system:serviceaccount:kube-system:default" }),
    ).toString("base64url");
    expect(await status(`${h}.${forged}.${s}`, a.id)).toBe(401);
    expect(await status(`${h}.${p}.${s.slice(0, -2)}AA`, a.id)).toBe(401);
    const none = Buffer.from(
      JSON.stringify({ alg: "none", kid: JSON.parse(Buffer.from(h, "base64url").toString()).kid }),
    ).toString("base64url");
    expect(await status(`${none}.${p}.`, a.id)).toBe(401);
    const cluster = env.host.getCluster(a.id)!;
    const key = currentKey(cluster.store, a.id)!;
    const sa = cluster.store.get("core/serviceaccounts", "egresslab-toolbox", "toolbox")!;
    const mint = (issuedAt: number, audiences = [ISSUER]) =>
      mintBoundToken(key, {
        namespace: "egresslab-toolbox",
        serviceAccount: { name: "toolbox", uid: sa.metadata.uid! },
        audiences,
        issuedAt,
        expirationSeconds: 600,
      }).token;
    const now = Math.floor(Date.now() / 1000);
    expect(await status(mint(now), a.id)).toBe(200);
    expect(await status(mint(now - 3600), a.id)).toBe(401);
    expect(await status(mint(now, ["vault"]), a.id)).toBe(401);
    const started = Date.now();
    for (const junk of ["x".repeat(900_000), `eyJ${"a".repeat(20_000)}.b.c`, "a.b.c", "..", `${h}.${h}.${h}`])
      expect(await status(junk, a.id)).toBe(401);
    // Five refusals, the largest a 900 kB header: nowhere near the time a scan or a parse of it would take.
    expect(Date.now() - started).toBeLessThan(20_000);
  });

  it("refuses the token of a deleted ServiceAccount, even when one of the same name is made again", async () => {
    expect((await a(["create", "serviceaccount", "temp", "-n", "default"])).exitCode).toBe(0);
    const t = (await a(["create", "token", "temp", "-n", "default"])).stdout.trim();
    expect(await status(t, a.id, "/apis/authorization.k8s.io/v1")).toBe(200);
    expect((await a(["delete", "serviceaccount", "temp", "-n", "default"])).exitCode).toBe(0);
    expect(await status(t, a.id, "/apis/authorization.k8s.io/v1")).toBe(401);
    expect((await a(["create", "serviceaccount", "temp", "-n", "default"])).exitCode).toBe(0);
    expect(await status(t, a.id, "/apis/authorization.k8s.io/v1")).toBe(401);
  });

  it("fills a service-account-token Secret (token, namespace, the API's CA) and stops accepting it once deleted", async () => {
    const secret = `apiVersion: v1
kind: Secret
metadata:
  name: toolbox-token
  namespace: egresslab-toolbox
  annotations: { kubernetes.io/service-account.name: toolbox }
type: kubernetes.io/service-account-token
`;
    expect((await a(["apply", "-f", "-"], { input: secret })).exitCode).toBe(0);
    const read = async (field: string) =>
      Buffer.from(
        (
          await a([
            "get",
            "secret",
            "toolbox-token",
            "-n",
            "egresslab-toolbox",
            "-o",
            `jsonpath={.data.${field}}`,
          ])
        ).stdout,
        "base64",
      ).toString();
    const t = await read("token");
    expect(t.split(".")).toHaveLength(3);
    expect(await read("namespace")).toBe("egresslab-toolbox");
    expect(await read("ca\\.crt")).toBe(env.host.caCert);
    expect(await status(t, a.id)).toBe(200);
    expect(await status(t, a.id, "/api/v1/namespaces/default/secrets")).toBe(403);
    expect((await a(["delete", "secret", "toolbox-token", "-n", "egresslab-toolbox"])).exitCode).toBe(0);
    expect(await status(t, a.id)).toBe(401);
  });

  it("gives a pod its ServiceAccount's token, bound to the pod: refused once the pod is gone", async () => {
    const pod = `apiVersion: v1
kind: Pod
metadata: { name: reader, namespace: egresslab-toolbox }
spec:
  serviceAccountName: toolbox
  terminationGracePeriodSeconds: 0
  containers: [{ name: main, image: busybox:1.36, command: [sleep, infinity] }]
`;
    expect((await a(["apply", "-f", "-"], { input: pod })).exitCode).toBe(0);
    const ready = await a([
      "wait",
      "-n",
      "egresslab-toolbox",
      "--for=condition=Ready",
      "pod/reader",
      "--timeout=30s",
    ]);
    expect(ready.exitCode, ready.stderr).toBe(0);
    const read = await a([
      "exec",
      "-n",
      "egresslab-toolbox",
      "reader",
      "--",
      "cat",
      "/var/run/secrets/kubernetes.io/serviceaccount/token",
    ]);
    expect(read.exitCode, read.stderr).toBe(0);
    const podToken = read.stdout.trim();
    const claims = JSON.parse(Buffer.from(podToken.split(".")[1]!, "base64url").toString()) as {
      "kubernetes.io": { pod: { name: string }; serviceaccount: { name: string }; node?: { name: string } };
    };
    expect(claims["kubernetes.io"].pod.name).toBe("reader");
    expect(claims["kubernetes.io"].serviceaccount.name).toBe("toolbox");
    expect(claims["kubernetes.io"].node?.name).toMatch(/^egresslab-/);
    expect(await status(podToken, a.id)).toBe(200);
    expect(await status(podToken, a.id, "/api/v1/namespaces/default/secrets")).toBe(403);
    expect((await a(["delete", "pod", "reader", "-n", "egresslab-toolbox", "--wait"])).exitCode).toBe(0);
    expect(await status(podToken, a.id)).toBe(401);
  });

  it("answers a request without credentials as system:anonymous only on a connection bound to the cluster", async () => {
    // On the shared port: 401, whether the cluster exists or not (no oracle of cluster ids).
    for (const id of [a.id, "no-such-cluster"])
      expect((await rawRequest(env.host.url, env.host.caCert, { path: `/clusters/${id}/api` })).status).toBe(
        401,
      );
    // On a connection handed over for the cluster (a learner's own socket), as a real cluster answers anonymous.
    const dir = mkdtempSync(path.join(os.tmpdir(), "egresslab-anon-"));
    const socketPath = path.join(dir, "api.sock");
    const server = net.createServer((c) => env.host.acceptConnection(c, a.id));
    await new Promise<void>((r) => server.listen(socketPath, r));
    const viaSocket = (p: string) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        https
          .get({ socketPath, path: p, ca: env.host.caCert, servername: "localhost", agent: false }, (res) => {
            const chunks: Buffer[] = [];
            res.on("data", (c: Buffer) => chunks.push(c));
            res.on("end", () =>
              resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }),
            );
          })
          .on("error", reject);
      });
    try {
      const r = await viaSocket(`/clusters/${a.id}/api`);
      expect(r.status, r.body).toBe(403);
      expect(JSON.parse(r.body)).toMatchObject({
        kind: "Status",
        reason: "Forbidden",
        message: 'forbidden: User "system:anonymous" cannot get path "/api"',
      });
      expect((await viaSocket("/api/v1/namespaces")).status).toBe(403);
      expect((await viaSocket(`/clusters/${b.id}/api`)).status).toBe(401);
      expect((await viaSocket(`/clusters/${a.id}/version`)).status).toBe(200);
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("other clients with a ServiceAccount token", () => {
  it("client-node lists what the toolbox may and gets a 403 for secrets", async () => {
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(saConfig);
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const pods = await core.listNamespacedPod({ namespace: "calico-system" });
    expect(pods.items.length).toBeGreaterThan(0);
    const err = await core.listNamespacedSecret({ namespace: "default" }).then(
      () => undefined,
      (e: unknown) => e as { code?: number; body?: string },
    );
    expect(err?.code).toBe(403);
    expect(String(err?.body)).toContain('cannot list resource \\"secrets\\"');
  });

  it("Debian's python3-kubernetes does too", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "egresslab-py-"));
    try {
      const r = await runPython(
        dir,
        "sa.py",
        `print("pods", len(v1.list_namespaced_pod("calico-system").items) > 0)
try:
    v1.list_namespaced_secret("default")
except ApiException as e:
    print("secrets", e.status)
`,
        saConfig,
      );
      expect(r.stdout, r.stderr).toBe("pods True\nsecrets 403");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("docs/real-clusters.md's seat function on a simulated cluster", () => {
  it("writes a kubeconfig with a cluster-admin ServiceAccount's token from a token Secret, which works", async () => {
    const docs = readFileSync(path.join(labDir, "..", "..", "docs", "real-clusters.md"), "utf8");
    const block = /```sh\n(# seat NAME[^]*?)```/.exec(docs)?.[1];
    expect(block).toBeDefined();
    const dir = mkdtempSync(path.join(os.tmpdir(), "egresslab-seat-"));
    try {
      const r = await execa("bash", ["-c", `${block!}\nseat s1 "$1"`, "seat", a.kubeconfigPath], {
        cwd: dir,
        reject: false,
        timeout: 60_000,
        env: { HOME: path.join(dir, "home"), PATH: process.env.PATH ?? "" },
      });
      expect(r.exitCode, r.stderr).toBe(0);
      const seat = path.join(dir, "pool", "s1.yaml");
      const who = await a(["auth", "whoami", "-o", "jsonpath={.status.userInfo.username}"], {
        env: { KUBECONFIG: seat },
      });
      expect(who.stdout).toBe("system:serviceaccount:egresslab-admin:egresslab");
      const tiers = await a(["get", "tiers", "-o", "name"], { env: { KUBECONFIG: seat } });
      expect(tiers.exitCode, tiers.stderr).toBe(0);
      expect(tiers.stdout).toContain("tier.projectcalico.org/default");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 90_000);
});

describe("a restarted server", () => {
  it("keeps accepting the tokens a cluster issued (its key is part of the cluster's saved state)", async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), "egresslab-rbac-state-"));
    try {
      const first = await startKubectlEnv({ dataDir });
      const k = await first.cluster({ id: "kept" });
      expect((await k(["create", "serviceaccount", "robot", "-n", "default"])).exitCode).toBe(0);
      const t = (await k(["create", "token", "robot", "-n", "default"])).stdout.trim();
      const ca = first.host.caCert;
      const ask = async (host: KubectlEnv) =>
        (
          await rawRequest(host.host.url, ca, {
            path: "/clusters/kept/apis",
            token: t,
            headers: { Connection: "close" },
          })
        ).status;
      expect(await ask(first)).toBe(200);
      await first.close();
      const second = await startKubectlEnv({ dataDir });
      try {
        expect(second.host.clusterIds()).toContain("kept");
        expect(await ask(second)).toBe(200);
      } finally {
        await second.close();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 60_000);
});
