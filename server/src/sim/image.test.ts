/* eslint-disable @typescript-eslint/no-explicit-any -- assertions read deep into Kubernetes JSON */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { VirtualClock } from "../shared/clock.ts";
import type { KubeObject } from "../store/types.ts";
import { allObjects, createSimCluster, type SimCluster } from "./cluster.ts";
import { captureImage, instantiateImage } from "./image.ts";

const open: SimCluster[] = [];
const dirs: string[] = [];
afterAll(async () => {
  for (const c of open) await c.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const t = (c: SimCluster, n: string, g?: string) => c.api.findType(n, g)!;
const clock = () => new VirtualClock(Date.UTC(2026, 0, 1));

async function cluster(opts: Parameters<typeof createSimCluster>[0]): Promise<SimCluster> {
  const c = await createSimCluster({ dataplane: false, ...opts });
  open.push(c);
  return c;
}

/** A cluster as a lab leaves it after its first stage's setup: a namespace, a deployment (pods), a config map. */
function setUp(c: SimCluster): void {
  c.api.create(t(c, "namespaces"), undefined, {
    apiVersion: "v1",
    kind: "Namespace",
    metadata: { name: "lab", labels: { tenant: "lab" } },
  });
  c.api.create(t(c, "deployments", "apps"), "lab", {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "web", namespace: "lab" },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: "web" } },
      template: {
        metadata: { labels: { app: "web" } },
        spec: { containers: [{ name: "web", image: "nginx:1.27", ports: [{ containerPort: 80 }] }] },
      },
    },
  });
  c.api.create(t(c, "services"), "lab", {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: "web", namespace: "lab" },
    spec: { selector: { app: "web" }, ports: [{ port: 80 }] },
  });
  c.api.create(t(c, "configmaps"), "lab", {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "settings", namespace: "lab" },
    data: { mode: "open", nested: "a" },
  });
}

/** Every object, keyed `resource/namespace/name`, with uids replaced by the key of the object that carries them. */
function normalised(c: SimCluster): Map<string, unknown> {
  const objects = c.store.keys().flatMap((k) => c.store.list(k).map((o) => [k, o] as const));
  const names = new Map<string, string>();
  for (const [k, o] of objects)
    if (o.metadata.uid)
      names.set(o.metadata.uid, `uid-of:${k}/${o.metadata.namespace ?? ""}/${o.metadata.name}`);
  const swap = (v: unknown): unknown => {
    if (typeof v === "string") return names.get(v) ?? v;
    if (Array.isArray(v)) return v.map(swap);
    if (v && typeof v === "object")
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, swap(x)]));
    return v;
  };
  const out = new Map<string, unknown>();
  for (const [k, o] of objects) {
    const n = swap(o) as KubeObject;
    delete n.metadata.uid;
    delete n.metadata.creationTimestamp;
    out.set(`${k}/${o.metadata.namespace ?? ""}/${o.metadata.name}`, n);
  }
  return out;
}

const flows = (c: SimCluster): unknown[] =>
  (c.dataplane.queryFlows(new URLSearchParams()) as { items: unknown[] }).items;
const uids = (c: SimCluster): string[] => allObjects(c).map((o) => o.metadata.uid ?? "");

describe("a copy of a cluster image", () => {
  it("holds the same objects, field by field, as a cluster built the same way, under fresh uids", async () => {
    const built = await cluster({ id: "built", profile: "egress-workshop", clock: clock() });
    setUp(built);
    const template = await cluster({ id: "template", profile: "egress-workshop", clock: clock() });
    setUp(template);
    const copy = await cluster({ id: "copy", image: template.image(), clock: clock() });

    const want = normalised(built);
    const got = normalised(copy);
    expect(want.size).toBeGreaterThan(150);
    expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
    for (const [key, o] of want) expect(got.get(key), key).toEqual(o);
    expect(copy.store.resourceVersion).toBe(built.store.resourceVersion);
    expect([copy.profile, copy.edition, copy.seed]).toEqual([built.profile, built.edition, built.seed]);

    // Identity: every uid is new, none is shared with the template, and references follow their objects.
    const mine = uids(copy);
    expect(new Set(mine).size).toBe(mine.length);
    const theirs = new Set(uids(template));
    expect(mine.filter((u) => theirs.has(u))).toEqual([]);
    const rs = copy.store.list("apps/replicasets", "lab")[0]!;
    const dep = copy.store.get("apps/deployments", "lab", "web")!;
    expect(rs.metadata.ownerReferences?.[0]?.uid).toBe(dep.metadata.uid);
    expect(copy.store.dependents(dep.metadata.uid!).map((d) => d.object.metadata.name)).toEqual([
      rs.metadata.name,
    ]);
  });

  it("behaves like the cluster it was taken from: controllers, garbage collection, new objects", async () => {
    const template = await cluster({ id: "tpl-b", profile: "egress-workshop", clock: clock() });
    setUp(template);
    const copy = await cluster({ id: "copy-b", image: template.image(), clock: clock() });
    copy.api.patchInternal("apps/deployments", "lab", "web", (o) => {
      (o.spec as any).replicas = 3;
    });
    expect(copy.store.list("core/pods", "lab")).toHaveLength(3);
    expect(template.store.list("core/pods", "lab")).toHaveLength(2);
    copy.api.delete(t(copy, "deployments", "apps"), "lab", "web");
    expect(copy.store.list("apps/replicasets", "lab")).toEqual([]);
    expect(copy.store.list("core/pods", "lab").filter((p) => !p.metadata.deletionTimestamp)).toEqual([]);
    expect(template.store.list("apps/replicasets", "lab")).toHaveLength(1);
    // New objects in the copy get uids of their own sequence.
    const created = copy.api.create(t(copy, "configmaps"), "lab", {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "fresh", namespace: "lab" },
    }).object;
    expect(uids(template)).not.toContain(created.metadata.uid);
  });

  it("is independent: writes to one copy, even to nested fields in place, never reach another or the image", async () => {
    const template = await cluster({ id: "tpl-c", profile: "egress-workshop", clock: clock() });
    setUp(template);
    const image = template.image();
    const a = await cluster({ id: "copy-a", image, clock: clock() });
    const b = await cluster({ id: "copy-c", image, clock: clock() });

    // Through the API.
    a.api.patchInternal("core/configmaps", "lab", "settings", (o) => {
      (o as any).data.mode = "closed";
    });
    // In place, deep inside stored objects (what a careless component could do): a copy's own object and metadata
    // take it; the parts it shares with the image refuse it.
    const podA = a.store.list("core/pods", "lab")[0]!;
    podA.metadata.labels = { ...podA.metadata.labels, hacked: "yes" };
    expect(() => {
      podA.metadata.labels!.app = "other";
      (podA.metadata.ownerReferences![0] as any).name = "other";
    }).not.toThrow();
    const pristine = a.store.list("core/pods", "lab")[1]!;
    expect(() => {
      pristine.metadata.labels!.hacked = "yes";
    }).toThrow(TypeError);
    expect(() => {
      (podA.spec as any).containers[0].image = "evil:latest";
    }).toThrow(TypeError);
    const depA = a.store.get("apps/deployments", "lab", "web")!;
    expect(() => (depA.spec as any).template.spec.containers[0].ports.push({ containerPort: 4444 })).toThrow(
      TypeError,
    );

    const podB = b.store.get("core/pods", "lab", podA.metadata.name)!;
    expect((podB.spec as any).containers[0].image).toBe("nginx:1.27");
    expect(podB.metadata.labels?.hacked).toBeUndefined();
    expect(
      (b.store.get("apps/deployments", "lab", "web")!.spec as any).template.spec.containers[0].ports,
    ).toEqual([{ containerPort: 80, protocol: "TCP" }]);
    expect((b.store.get("core/configmaps", "lab", "settings") as any).data.mode).toBe("open");
    const imgPod = image.objects["core/pods"]!.find((p) => p.metadata.name === podA.metadata.name)!;
    expect((imgPod.spec as any).containers[0].image).toBe("nginx:1.27");
    expect(imgPod.metadata.labels?.hacked).toBeUndefined();
    // A fourth copy made now still starts from the image as it was.
    const d = await cluster({ id: "copy-d", image, clock: clock() });
    expect((d.store.get("core/configmaps", "lab", "settings") as any).data.mode).toBe("open");
    // The template itself is untouched, and later writes to it do not reach the image.
    expect((template.store.get("core/configmaps", "lab", "settings") as any).data.mode).toBe("open");
    template.api.patchInternal("core/configmaps", "lab", "settings", (o) => {
      (o as any).data.mode = "template-only";
    });
    expect(
      (image.objects["core/configmaps"]!.find((o) => o.metadata.name === "settings") as any).data.mode,
    ).toBe("open");
  });

  it("is frozen, so a write through a shared reference fails loudly instead of reaching every copy", async () => {
    const template = await cluster({ id: "tpl-e", profile: "bare", clock: clock() });
    const image = template.image();
    const ns = image.objects["core/namespaces"]![0]! as any;
    expect(() => {
      ns.metadata.labels.x = "y";
    }).toThrow(TypeError);
    expect(() => {
      (image.objects["core/namespaces"] as KubeObject[]).push(ns);
    }).toThrow(TypeError);
  });

  it("copies the flow log, and flows recorded in one copy stay in it", async () => {
    const c = clock();
    const template = await createSimCluster({ id: "tpl-f", profile: "egress-workshop", clock: c });
    open.push(template);
    setUp(template);
    const pod = template.store.list("core/pods", "lab")[0]!;
    const net = (template as any).dp.podNet("lab", pod.metadata.name);
    net.connect({ dstIp: "10.96.0.10", dstPort: 53, protocol: "UDP", bytesOut: 60 });
    const before = flows(template);
    expect(before.length).toBeGreaterThan(0);
    const image = template.image();
    const a = await createSimCluster({ id: "flow-a", image, clock: c });
    const b = await createSimCluster({ id: "flow-b", image, clock: c });
    open.push(a, b);
    expect(flows(a)).toEqual(before);
    const podA = a.store.get("core/pods", "lab", pod.metadata.name)!;
    (a as any).dp
      .podNet("lab", podA.metadata.name)
      .connect({ dstIp: "10.96.0.10", dstPort: 53, protocol: "TCP", bytesOut: 60 });
    expect(flows(a).length).toBeGreaterThan(before.length);
    expect(flows(b)).toEqual(before);
    expect(image.dataplane?.flows).toHaveLength(before.length);
  });

  it("is saved as its own cluster, and comes back from the data directory after a restart", async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), "egresslab-image-"));
    dirs.push(dataDir);
    const template = await cluster({ id: "tpl-g", profile: "bare", clock: clock() });
    setUp(template);
    const copy = await createSimCluster({
      id: "saved-copy",
      image: template.image(),
      dataDir,
      dataplane: false,
    });
    copy.api.patchInternal("core/configmaps", "lab", "settings", (o) => {
      (o as any).data.mode = "mine";
    });
    const uid = copy.store.get("core/configmaps", "lab", "settings")!.metadata.uid;
    await copy.close();
    const again = await cluster({ id: "saved-copy", dataDir });
    const cm = again.store.get("core/configmaps", "lab", "settings") as any;
    expect(cm.data.mode).toBe("mine");
    expect(cm.metadata.uid).toBe(uid);
  });

  it("replaces uids wherever they appear and leaves every other string alone", () => {
    const image = captureImage({
      profile: "bare",
      edition: "enterprise",
      seed: 1,
      snapshot: () => ({
        resourceVersion: 7,
        objects: {
          "core/pods": [
            {
              apiVersion: "v1",
              kind: "Pod",
              metadata: { name: "p", namespace: "d", uid: "11111111-1111-4111-8111-111111111111" },
            },
          ],
          "core/events": [
            {
              apiVersion: "v1",
              kind: "Event",
              metadata: { name: "e", namespace: "d", uid: "22222222-2222-4222-8222-222222222222" },
              involvedObject: { uid: "11111111-1111-4111-8111-111111111111", name: "p" },
              message: "33333333-3333-4333-8333-333333333333",
            } as KubeObject,
          ],
        },
      }),
    });
    let n = 0;
    const got = instantiateImage(image, () => `new-${++n}`);
    const [pod] = got.objects["core/pods"]!;
    const [ev] = got.objects["core/events"]! as any[];
    expect(pod!.metadata.uid).toBe("new-1");
    expect(ev.metadata.uid).toBe("new-2");
    expect(ev.involvedObject).toEqual({ uid: "new-1", name: "p" });
    expect(ev.message).toBe("33333333-3333-4333-8333-333333333333");
    expect(got.resourceVersion).toBe(7);
    expect(Object.isFrozen(pod)).toBe(false);
  });
});
