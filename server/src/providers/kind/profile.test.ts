import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { realProfileManifests, realProfileObjects } from "./profile.ts";

let dir: string;
beforeAll(async () => {
  dir = path.join(await mkdtemp(path.join(os.tmpdir(), "egresslab-profiles-")), "clusters");
  await import("node:fs/promises").then((fs) => fs.mkdir(dir));
  await writeFile(
    path.join(dir, "bare.yaml"),
    "apiVersion: egresslab.dev/v1\nkind: ClusterProfile\nmetadata: {name: bare}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: kube-system}\n",
  );
  await writeFile(
    path.join(dir, "shop.yaml"),
    [
      "apiVersion: egresslab.dev/v1\nkind: ClusterProfile\nmetadata: {name: shop}\ninclude: [bare]",
      "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop, resourceVersion: '7'}\nspec: {replicas: 1}\nstatus: {readyReplicas: 1}",
      "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}",
      "apiVersion: v1\nkind: Node\nmetadata: {name: extra-node}",
      "apiVersion: egresslab.dev/v1\nkind: TrafficPlan\nmetadata: {name: t}",
      "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkSet\nmetadata: {name: oss-only, annotations: {egresslab.dev/edition: oss}}\nspec: {nets: [10.0.0.1/32]}",
    ].join("\n---\n") + "\n",
  );
  await writeFile(
    path.join(dir, "empty.yaml"),
    "apiVersion: egresslab.dev/v1\nkind: ClusterProfile\nmetadata: {name: empty}\ninclude: [bare]\n",
  );
});
afterAll(async () => {
  await rm(path.dirname(dir), { recursive: true, force: true });
});

describe("real manifests of a profile", () => {
  it("keeps the profile's own workloads in creation order, without simulator-only objects or status", () => {
    const objs = realProfileObjects("shop", dir, "enterprise");
    expect(objs.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual(["Namespace/shop", "Deployment/web"]);
    // An object meant for one edition goes only to clusters of that edition, without the annotation.
    const oss = realProfileObjects("shop", dir);
    expect(oss.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual([
      "Namespace/shop",
      "Deployment/web",
      "GlobalNetworkSet/oss-only",
    ]);
    expect(oss[2]!.metadata.annotations).toBeUndefined();
    expect(objs[1]).toEqual({
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "web", namespace: "shop" },
      spec: { replicas: 1 },
    });
  });
  it("renders a stream kubectl apply reads, or nothing when the profile adds nothing", async () => {
    const text = await realProfileManifests("shop", dir, "enterprise");
    expect(parseAllDocuments(text!).map((d) => (d.toJS() as { kind: string }).kind)).toEqual([
      "Namespace",
      "Deployment",
    ]);
    expect(await realProfileManifests("empty", dir)).toBeUndefined();
    expect(realProfileObjects("bare", dir)).toEqual([]);
    expect(realProfileObjects("bare")).toEqual([]);
  });
});
