/**
 * The wire protocol against the real kubectl, over a small fake cluster: discovery, Table output, every write verb,
 * patches, server-side apply, watch, exec and logs, auth and bad input. (kubectl.test.ts runs against the real store.)
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeFileSync, chmodSync } from "node:fs";
import path from "node:path";
import { startKubectlEnv, type Kubectl, type KubectlEnv } from "../helpers/kubectl.ts";
import { fakeClusterFactory } from "../helpers/fake-cluster.ts";
import { rawRequest } from "../helpers/https.ts";

let env: KubectlEnv;
let k: Kubectl;
let other: Kubectl;

const POD = `apiVersion: v1
kind: Pod
metadata:
  name: web
  labels: {app: web}
spec:
  containers:
  - name: app
    image: nginx
`;

beforeAll(async () => {
  env = await startKubectlEnv({ clusterFactory: fakeClusterFactory });
  k = await env.cluster({ id: "one" });
  other = await env.cluster({ id: "two" });
});
afterAll(async () => {
  await env?.close();
});

describe("kubectl over the simulated API (transport)", () => {
  it("lists namespaces as a table and reports version 1.32", async () => {
    const r = await k(["get", "ns"]);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/^NAME\s+STATUS\n/);
    expect(r.stdout).toMatch(/default\s+Active/);
    expect((await k(["get", "--raw", "/readyz"])).stdout).toBe("ok");
    expect((await k(["get", "--raw", "/livez?verbose"])).stdout).toMatch(
      /^\[\+\]ping ok\n[\s\S]*livez check passed$/,
    );
    const v = await k(["version", "-o", "json"]);
    expect(JSON.parse(v.stdout).serverVersion.minor).toBe("32");
  });

  it("applies twice: created, then unchanged; lists with selectors and formats", async () => {
    writeFileSync(path.join(env.dir, "pod.yaml"), POD);
    const a = await k(["apply", "-f", "pod.yaml"]);
    expect(a.stdout.trim()).toBe("pod/web created");
    const b = await k(["apply", "-f", "pod.yaml"]);
    expect(b.stdout.trim()).toBe("pod/web unchanged");
    expect((await k(["get", "po", "-l", "app=web", "-o", "name"])).stdout.trim()).toBe("pod/web");
    expect((await k(["get", "po", "-l", "app=nope"])).stderr.trim()).toBe(
      "No resources found in default namespace.",
    );
    const wide = await k(["get", "pods", "-o", "wide"]);
    expect(wide.stdout).toMatch(
      /NAME\s+STATUS\s+IP\n web\s+Running\s+192\.168\.0\.5/.source
        ? /NAME\s+STATUS\s+IP\nweb\s+Running\s+192\.168\.0\.5/
        : /x/,
    );
    const all = await k(["get", "pods", "-A"]);
    expect(all.stdout).toMatch(
      /^NAMESPACE\s+NAME\s+STATUS\n default\s+web\s+Running/.source
        ? /^NAMESPACE\s+NAME\s+STATUS\ndefault\s+web\s+Running/
        : /x/,
    );
    expect((await k(["get", "pod", "web", "-o", "jsonpath={.spec.containers[0].image}"])).stdout).toBe(
      "nginx",
    );
    const json = JSON.parse((await k(["get", "pod", "web", "-o", "json"])).stdout);
    expect(json.metadata.labels).toEqual({ app: "web" });
    expect((await k(["get", "pod", "web", "-o", "yaml"])).stdout).toContain("kind: Pod");
  });

  it("says so for unknown resource types and missing objects, as a real cluster does", async () => {
    expect((await k(["get", "foo"])).stderr.trim()).toBe(
      'error: the server doesn\'t have a resource type "foo"',
    );
    const r = await k(["get", "pod", "nope"]);
    expect(r.exitCode).toBe(1);
    expect(r.stderr.trim()).toBe('Error from server (NotFound): pods "nope" not found');
    writeFileSync(
      path.join(env.dir, "cilium.yaml"),
      "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata:\n  name: x\nspec: {}\n",
    );
    const c = await k(["apply", "-f", "cilium.yaml"]);
    expect(c.stderr).toContain('no matches for kind "CiliumNetworkPolicy" in version "cilium.io/v2"');
  });

  it("creates with kubectl create (protobuf bodies), labels, annotates and patches three ways", async () => {
    expect((await k(["create", "ns", "demo"])).stdout.trim()).toBe("namespace/demo created");
    expect((await k(["create", "cm", "cfg", "--from-literal=a=1"])).stdout.trim()).toBe(
      "configmap/cfg created",
    );
    expect((await k(["get", "cm", "cfg", "-o", "jsonpath={.data.a}"])).stdout).toBe("1");
    expect((await k(["create", "deployment", "api", "--image=img", "--replicas=2"])).stdout.trim()).toBe(
      "deployment.apps/api created",
    );
    expect((await k(["get", "deploy", "api", "-o", "jsonpath={.spec.replicas}"])).stdout).toBe("2");
    expect((await k(["label", "cm", "cfg", "tier=fe"])).stdout.trim()).toBe("configmap/cfg labeled");
    expect((await k(["annotate", "cm", "cfg", "note=x"])).stdout.trim()).toBe("configmap/cfg annotated");
    const smp = await k([
      "patch",
      "pod",
      "web",
      "-p",
      '{"spec":{"containers":[{"name":"app","image":"nginx:2"}]}}',
    ]);
    expect(smp.stdout.trim()).toBe("pod/web patched");
    const containers = JSON.parse(
      (await k(["get", "pod", "web", "-o", "jsonpath={.spec.containers}"])).stdout,
    );
    expect(containers).toEqual([{ name: "app", image: "nginx:2" }]);
    await k(["patch", "cm", "cfg", "--type=merge", "-p", '{"data":{"b":"2"}}']);
    await k(["patch", "cm", "cfg", "--type=json", "-p", '[{"op":"remove","path":"/data/a"}]']);
    expect(JSON.parse((await k(["get", "cm", "cfg", "-o", "jsonpath={.data}"])).stdout)).toEqual({ b: "2" });
    const badJson = await k([
      "patch",
      "cm",
      "cfg",
      "--type=json",
      "-p",
      '[{"op":"remove","path":"/data/zzz"}]',
    ]);
    expect(badJson.exitCode).toBe(1);
    expect(badJson.stderr).toContain('remove operation does not apply: doc is missing path: "/data/zzz"');
  });

  it("rejects a strategic merge patch on a CRD-backed kind with the real 415", async () => {
    await k(["apply", "-f", "-"], {
      input: "apiVersion: operator.tigera.io/v1\nkind: EgressGateway\nmetadata:\n  name: gw\nspec: {}\n",
    });
    const r = await k(["patch", "egressgateway", "gw", "-p", '{"spec":{"replicas":2}}']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr.trim()).toBe(
      "error: application/strategic-merge-patch+json is not supported by operator.tigera.io/v1, Kind=EgressGateway: the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml",
    );
    expect(
      (await k(["patch", "egressgateway", "gw", "--type=merge", "-p", '{"spec":{"replicas":2}}'])).exitCode,
    ).toBe(0);
  });

  it("edits with KUBE_EDITOR, replaces, scales and server-side applies with conflicts", async () => {
    const editor = path.join(env.dir, "editor.sh");
    writeFileSync(editor, `#!/bin/sh\nsed -i 's/b: "2"/b: "3"/' "$1"\n`);
    chmodSync(editor, 0o755);
    expect((await k(["edit", "cm", "cfg"], { env: { KUBE_EDITOR: editor } })).stdout.trim()).toBe(
      "configmap/cfg edited",
    );
    expect((await k(["get", "cm", "cfg", "-o", "jsonpath={.data.b}"])).stdout).toBe("3");
    const yaml = (await k(["get", "cm", "cfg", "-o", "yaml"])).stdout;
    expect((await k(["replace", "-f", "-"], { input: yaml })).stdout.trim()).toBe("configmap/cfg replaced");
    const dep =
      "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: ssa\nspec:\n  replicas: 2\n  selector: {matchLabels: {app: ssa}}\n  template:\n    spec:\n      containers:\n      - name: c\n        image: img\n";
    expect((await k(["apply", "--server-side", "-f", "-"], { input: dep })).stdout.trim()).toBe(
      "deployment.apps/ssa serverside-applied",
    );
    expect((await k(["scale", "deploy", "ssa", "--replicas=3"])).stdout.trim()).toBe(
      "deployment.apps/ssa scaled",
    );
    const conflict = await k(["apply", "--server-side", "-f", "-"], { input: dep });
    expect(conflict.exitCode).toBe(1);
    expect(conflict.stderr).toContain(
      'error: Apply failed with 1 conflict: conflict with "kubectl" with subresource "scale" using apps/v1: .spec.replicas',
    );
    expect((await k(["get", "deploy", "ssa", "-o", "jsonpath={.spec.replicas}"])).stdout).toBe("3");
    expect(
      (await k(["apply", "--server-side", "--force-conflicts", "-f", "-"], { input: dep })).exitCode,
    ).toBe(0);
    expect((await k(["get", "deploy", "ssa", "-o", "jsonpath={.spec.replicas}"])).stdout).toBe("2");
  });

  it("explains fields from the OpenAPI v3 documents", async () => {
    const r = await k(["explain", "pods.spec.containers"]);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/KIND:\s+Pod/);
    expect(r.stdout).toMatch(/FIELD: containers <\[\]Object>/);
    const g = await k(["explain", "gnp.spec"]);
    expect(g.stdout).toMatch(/GROUP:\s+projectcalico.org/);
  });

  it("execs with exit codes and stdin, and shows logs", async () => {
    expect((await k(["exec", "web", "--", "hostname"])).stdout).toBe("web");
    const fail = await k(["exec", "web", "--", "sh", "-c", "exit 3"]);
    expect(fail.exitCode).toBe(3);
    expect(fail.stderr).toContain("command terminated with exit code 3");
    expect((await k(["exec", "-i", "web", "--", "cat"], { input: "hello\nworld\n" })).stdout).toBe(
      "hello\nworld",
    );
    const tty = await k(["exec", "-i", "-t", "web", "--", "sh", "-c", "exit 2"], { input: "" });
    expect(tty.exitCode).toBe(2);
    expect((await k(["logs", "web", "--tail=1"])).stdout).toBe("web: ready");
  });

  it("watches with -w until the timeout", async () => {
    const watching = k(["get", "cm", "-w", "--request-timeout=3s"], { timeout: 10_000 });
    await new Promise((r) => setTimeout(r, 1500));
    await k(["create", "cm", "watched"]);
    const r = await watching;
    expect(r.stdout).toMatch(/^NAME\s+DATA\s/);
    expect(r.stdout).toMatch(/\nwatched\s+0(\s|$)/);
  });

  it("deletes by file and by label", async () => {
    expect((await k(["delete", "-f", path.join(env.dir, "pod.yaml")])).stdout.trim()).toBe(
      'pod "web" deleted',
    );
    expect((await k(["delete", "cm", "-l", "tier=fe"])).stdout.trim()).toBe('configmap "cfg" deleted');
    expect((await k(["get", "cm", "cfg"])).exitCode).toBe(1);
  });

  it("keeps clusters apart: another cluster's token never sees these objects", async () => {
    const r = await other(["get", "deploy"]);
    expect(r.stderr.trim()).toBe("No resources found in default namespace.");
  });

  it("answers 401 to a missing or unknown token", async () => {
    const none = await rawRequest(env.host.url, env.host.caCert, { path: "/api/v1/namespaces" });
    expect(none.status).toBe(401);
    expect(JSON.parse(none.body)).toMatchObject({ kind: "Status", reason: "Unauthorized", code: 401 });
    const wrong = await rawRequest(env.host.url, env.host.caCert, {
      path: "/api/v1/namespaces",
      token: "nope",
    });
    expect(wrong.status).toBe(401);
    const bad = k.kubeconfig.replace(k.token, "wrong-token");
    const badPath = path.join(env.dir, "bad.kubeconfig");
    writeFileSync(badPath, bad);
    const r = await k(["get", "ns"], { env: { KUBECONFIG: badPath } });
    expect(r.stderr).toContain("error: You must be logged in to the server (Unauthorized)");
  });

  it("rejects huge and malformed bodies with the real server's errors", async () => {
    const big = JSON.stringify({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "big" },
      data: { x: "a".repeat(3 * 1024 * 1024) },
    });
    const r = await rawRequest(env.host.url, env.host.caCert, {
      method: "POST",
      path: "/api/v1/namespaces/default/configmaps",
      token: k.token,
      body: big,
      headers: { "Content-Type": "application/json" },
    });
    expect(r.status).toBe(413);
    expect(JSON.parse(r.body).message).toBe("Request entity too large: limit is 3145728");
    const m = await rawRequest(env.host.url, env.host.caCert, {
      method: "POST",
      path: "/api/v1/namespaces/default/configmaps",
      token: k.token,
      body: "{not json",
      headers: { "Content-Type": "application/json" },
    });
    expect(m.status).toBe(400);
    expect(JSON.parse(m.body).message).toMatch(/^couldn't get version\/kind; json parse error/);
    const sel = await k(["get", "cm", "-l", "a in ("]);
    expect(sel.exitCode).toBe(1);
    const afterBig = await k(["get", "cm", "big"]);
    expect(afterBig.exitCode).toBe(1);
  });

  it("answers kubectl auth can-i and whoami as for kind's cluster admin", async () => {
    expect((await k(["auth", "can-i", "create", "pods"])).stdout.trim()).toBe("yes");
    const who = await k(["auth", "whoami"]);
    expect(who.stdout).toMatch(/Username\s+kubernetes-admin/);
    const list = await k(["get", "selfsubjectaccessreviews"]);
    expect(list.stderr.trim()).toBe(
      "Error from server (MethodNotAllowed): the server does not allow this method on the requested resource",
    );
  });

  it("streams watches: initial ADDED events, the initial-events bookmark, 410 as an ERROR event, timeoutSeconds", async () => {
    const get = (q: string) =>
      rawRequest(env.host.url, env.host.caCert, {
        path: `/clusters/one/api/v1/namespaces?${q}`,
        token: k.token,
      });
    const initial = await get("watch=1&timeoutSeconds=1");
    const events = initial.body
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { type: string; object: { metadata: { name: string } } });
    expect(initial.headers["content-type"]).toBe("application/json");
    expect(events.map((e) => `${e.type} ${e.object.metadata.name}`)).toEqual(
      expect.arrayContaining(["ADDED default", "ADDED kube-system"]),
    );
    expect(events.every((e) => e.type === "ADDED")).toBe(true);
    const withBookmark = await get(
      "watch=1&timeoutSeconds=1&sendInitialEvents=true&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan",
    );
    const last = JSON.parse(withBookmark.body.trim().split("\n").at(-1)!) as {
      type: string;
      object: { metadata: { annotations: Record<string, string> } };
    };
    expect(last.type).toBe("BOOKMARK");
    expect(last.object.metadata.annotations["k8s.io/initial-events-end"]).toBe("true");
    const expired = await get("watch=1&resourceVersion=-5000");
    expect(JSON.parse(expired.body.trim())).toMatchObject({
      type: "ERROR",
      object: { kind: "Status", code: 410, reason: "Expired" },
    });
  });

  it("deleting a cluster ends its watches and revokes its kubeconfig", async () => {
    const gone = await env.cluster({ id: "gone" });
    const started = Date.now();
    const watching = gone(["get", "ns", "-w", "--request-timeout=20s"], { timeout: 25_000 });
    await new Promise((r) => setTimeout(r, 1500));
    await env.host.deleteCluster("gone");
    await watching;
    expect(Date.now() - started).toBeLessThan(15_000);
    const after = await gone(["get", "ns"]);
    expect(after.stderr).toContain("error: You must be logged in to the server (Unauthorized)");
  });

  it("serves egresslab's flow API to kubectl get --raw", async () => {
    const r = await k(["get", "--raw", "/egresslab/v1/flows?action=deny"]);
    expect(JSON.parse(r.stdout)).toEqual({ items: [{ action: "deny", dest_domains: ["example.com"] }] });
  });
});
