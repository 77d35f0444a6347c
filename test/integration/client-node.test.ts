/**
 * @kubernetes/client-node 1.4 against SimHost, unchanged: typed list/create/patch, watch, exec with exit status, and
 * KubernetesObjectApi (server-side apply).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PassThrough, Readable } from "node:stream";
import * as k8s from "@kubernetes/client-node";
import { SimHost } from "../../server/src/sim/host.ts";

let host: SimHost;
let kc: k8s.KubeConfig;

beforeAll(async () => {
  host = await SimHost.start({ port: 0 });
  const created = await host.createCluster({ id: "client" });
  kc = new k8s.KubeConfig();
  kc.loadFromString(created.kubeconfig);
});
afterAll(async () => {
  await host?.close();
});

const collect = (s: PassThrough): (() => string) => {
  const chunks: Buffer[] = [];
  s.on("data", (c: Buffer) => chunks.push(c));
  return () => Buffer.concat(chunks).toString("utf8");
};

describe("client-node against the simulated cluster", () => {
  it("lists namespaces and pods with the typed API", async () => {
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const ns = await core.listNamespace();
    expect(ns.items.map((n) => n.metadata?.name)).toContain("kube-system");
    const pods = await core.listNamespacedPod({
      namespace: "kube-system",
      labelSelector: "k8s-app=kube-dns",
    });
    expect(pods.items.length).toBe(2);
    expect(pods.items.every((p) => p.status?.phase === "Running")).toBe(true);
  });

  it("creates and patches (merge and strategic) a config map", async () => {
    const core = kc.makeApiClient(k8s.CoreV1Api);
    await core.createNamespacedConfigMap({
      namespace: "default",
      body: { metadata: { name: "cfg" }, data: { a: "1" } },
    });
    await core.patchNamespacedConfigMap(
      { name: "cfg", namespace: "default", body: { data: { b: "2" } } },
      k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch),
    );
    await core.patchNamespacedConfigMap(
      { name: "cfg", namespace: "default", body: { data: { a: null } } },
      k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.StrategicMergePatch),
    );
    const cm = await core.readNamespacedConfigMap({ name: "cfg", namespace: "default" });
    expect(cm.data).toEqual({ b: "2" });
    await expect(core.readNamespacedConfigMap({ name: "nope", namespace: "default" })).rejects.toMatchObject({
      code: 404,
    });
  });

  it("server-side applies through KubernetesObjectApi", async () => {
    const objects = k8s.KubernetesObjectApi.makeApiClient(kc);
    const spec = {
      apiVersion: "projectcalico.org/v3",
      kind: "GlobalNetworkSet",
      metadata: { name: "partners", labels: { role: "partners" } },
      spec: { nets: ["203.0.113.0/24"] },
    };
    await objects.patch(
      spec,
      undefined,
      undefined,
      "egresslab-test",
      true,
      k8s.PatchStrategy.ServerSideApply,
    );
    const got = await objects.read({
      apiVersion: "projectcalico.org/v3",
      kind: "GlobalNetworkSet",
      metadata: { name: "partners" },
    });
    expect((got as unknown as { spec: { nets: string[] } }).spec.nets).toEqual(["203.0.113.0/24"]);
  });

  it("watches config maps and sees an ADDED event", async () => {
    const watch = new k8s.Watch(kc);
    const seen: string[] = [];
    const got = new Promise<void>((resolve, reject) => {
      void watch
        .watch(
          "/api/v1/namespaces/default/configmaps",
          { resourceVersion: "0" },
          (type, obj: k8s.V1ConfigMap) => {
            seen.push(`${type} ${obj.metadata?.name}`);
            if (obj.metadata?.name === "watched") resolve();
          },
          (err) => (err ? reject(err as Error) : undefined),
        )
        .then((req) => setTimeout(() => req.abort(), 10_000).unref());
    });
    await new Promise((r) => setTimeout(r, 300));
    await kc
      .makeApiClient(k8s.CoreV1Api)
      .createNamespacedConfigMap({ namespace: "default", body: { metadata: { name: "watched" } } });
    await got;
    expect(seen).toContain("ADDED watched");
  });

  it("keeps an informer's cache in step with the cluster", async () => {
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const informer = k8s.makeInformer(kc, "/api/v1/namespaces/default/configmaps", () =>
      core.listNamespacedConfigMap({ namespace: "default" }),
    );
    const added = new Promise<string>((resolve) =>
      informer.on("add", (cm: k8s.V1ConfigMap) => {
        if (cm.metadata?.name === "informed") resolve(cm.data?.k ?? "");
      }),
    );
    const deleted = new Promise<void>((resolve) =>
      informer.on("delete", (cm: k8s.V1ConfigMap) => {
        if (cm.metadata?.name === "informed") resolve();
      }),
    );
    await informer.start();
    try {
      await core.createNamespacedConfigMap({
        namespace: "default",
        body: { metadata: { name: "informed" }, data: { k: "v" } },
      });
      expect(await added).toBe("v");
      await core.deleteNamespacedConfigMap({ name: "informed", namespace: "default" });
      await deleted;
      expect(informer.list("default").some((c) => c.metadata?.name === "informed")).toBe(false);
    } finally {
      await informer.stop();
    }
  });

  it("execs in a pod and reports the exit status; an image without the program reports the runtime's error", async () => {
    const core = kc.makeApiClient(k8s.CoreV1Api);
    await core.createNamespacedPod({
      namespace: "default",
      body: {
        metadata: { name: "shell" },
        spec: { containers: [{ name: "box", image: "busybox:1.36", command: ["sleep", "infinity"] }] },
      },
    });
    let pod = await core.readNamespacedPod({ namespace: "default", name: "shell" });
    for (let i = 0; i < 100 && pod.status?.phase !== "Running"; i++) {
      await new Promise((r) => setTimeout(r, 50));
      pod = await core.readNamespacedPod({ namespace: "default", name: "shell" });
    }
    const dns = (
      await core.listNamespacedPod({ namespace: "kube-system", labelSelector: "k8s-app=kube-dns" })
    ).items[0]!;
    const exec = new k8s.Exec(kc);
    const run = (command: string[], target = pod): Promise<{ out: string; status: k8s.V1Status }> =>
      new Promise((resolve, reject) => {
        const stdout = new PassThrough();
        const stderr = new PassThrough();
        const out = collect(stdout);
        collect(stderr);
        exec
          .exec(
            target.metadata!.namespace!,
            target.metadata!.name!,
            target.spec!.containers[0]!.name,
            command,
            stdout,
            stderr,
            Readable.from([]),
            false,
            (status) => setTimeout(() => resolve({ out: out(), status }), 50),
          )
          .catch(reject);
      });
    const ok = await run(["hostname"]);
    expect(ok.out.trim()).toBe(pod.metadata!.name);
    expect(ok.status.status).toBe("Success");
    const fail = await run(["sh", "-c", "exit 3"]);
    expect(fail.status).toMatchObject({
      status: "Failure",
      reason: "NonZeroExitCode",
      details: { causes: [{ reason: "ExitCode", message: "3" }] },
    });
    // CoreDNS is distroless: no shell to start.
    const none = await run(["sh", "-c", "exit 3"], dns);
    expect(none.status).toMatchObject({ status: "Failure", reason: "InternalError", code: 500 });
    expect(none.status.message).toMatch(/exec: "sh": executable file not found in \$PATH: unknown$/);
  });
});
