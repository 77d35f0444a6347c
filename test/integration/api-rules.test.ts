/**
 * The API server's own rules on DELETE of a collection and on immutable ConfigMaps and Secrets, tried on a real SimHost
 * as an attendee would: every write path (update, each patch type, server-side apply) against an immutable object,
 * and preconditions, dry runs and limits on deletecollection. Messages are the real server's
 * (`pkg/apis/core/validation`: ValidateConfigMapUpdate, ValidateSecretUpdate; the generic registry's DeleteCollection).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SimHost } from "../../server/src/sim/host.ts";
import { diffSnapshots, send, snapshotCluster, statusOf, type HostileResponse } from "../helpers/hostile.ts";

let host: SimHost;
let token: string;
let victim: string;
const A = "/clusters/tenant";
const CM = `${A}/api/v1/namespaces/default/configmaps`;
const SECRETS = `${A}/api/v1/namespaces/default/secrets`;
const json = (v: unknown): string => JSON.stringify(v);

beforeAll(async () => {
  host = await SimHost.start({ port: 0 });
  token = (await host.createCluster({ id: "tenant" })).token;
  victim = (await host.createCluster({ id: "victim" })).token;
  expect(victim).toBeTruthy();
});
afterAll(async () => {
  await host?.close();
});

/** A request to the tenant's cluster: never 5xx, a Status on every error, the other cluster untouched. */
async function req(r: Parameters<typeof send>[1] & { token?: string }): Promise<HostileResponse> {
  const before = snapshotCluster(host, "victim");
  const res = await send(host, { token, ...r });
  expect(res.status, res.body.slice(0, 300)).toBeLessThan(500);
  if (res.status >= 400) expect(statusOf(res), res.body.slice(0, 300)).toMatchObject({ code: res.status });
  expect(diffSnapshots(before, snapshotCluster(host, "victim"))).toEqual([]);
  return res;
}

async function create(
  path: string,
  obj: unknown,
): Promise<{ metadata: { uid: string; resourceVersion: string } }> {
  const r = await req({ method: "POST", path, contentType: "application/json", body: json(obj) });
  expect(r.status, r.body).toBe(201);
  return JSON.parse(r.body) as { metadata: { uid: string; resourceVersion: string } };
}

const names = async (selector: string): Promise<string[]> =>
  (
    JSON.parse((await req({ path: `${CM}?labelSelector=${encodeURIComponent(selector)}` })).body) as {
      items: { metadata: { name: string } }[];
    }
  ).items.map((i) => i.metadata.name);

describe("DELETE on a collection", () => {
  it("applies the preconditions to each object it deletes, stopping at the first that fails (409)", async () => {
    const made = [];
    for (const n of ["dc-a", "dc-b", "dc-c"])
      made.push(await create(CM, { metadata: { name: n, labels: { set: "dc" } } }));
    const [a, b] = made;
    for (const preconditions of [{ uid: b!.metadata.uid }, { resourceVersion: "1" }]) {
      const r = await req({
        method: "DELETE",
        path: `${CM}?labelSelector=set%3Ddc`,
        contentType: "application/json",
        body: json({ kind: "DeleteOptions", apiVersion: "v1", preconditions }),
      });
      expect(r.status).toBe(409);
      expect(statusOf(r)?.message).toMatch(
        /^Operation cannot be fulfilled on configmaps "dc-a": Precondition failed: (UID|ResourceVersion) in precondition: /,
      );
      // The first object listed failed: nothing was deleted.
      expect(await names("set=dc")).toEqual(["dc-a", "dc-b", "dc-c"]);
    }
    // The precondition holds for the first object only: it goes, then the second stops the request, as upstream
    // (deletion of a collection is not atomic).
    const r = await req({
      method: "DELETE",
      path: `${CM}?labelSelector=set%3Ddc`,
      contentType: "application/json",
      body: json({ preconditions: { uid: a!.metadata.uid } }),
    });
    expect(r.status).toBe(409);
    expect(statusOf(r)?.message).toContain('configmaps "dc-b": Precondition failed: UID in precondition');
    expect(await names("set=dc")).toEqual(["dc-b", "dc-c"]);
    // Preconditions that hold for every object listed: all go.
    const ok = await req({
      method: "DELETE",
      path: `${CM}?fieldSelector=metadata.name%3Ddc-b`,
      contentType: "application/json",
      body: json({ preconditions: { uid: b!.metadata.uid, resourceVersion: b!.metadata.resourceVersion } }),
    });
    expect(ok.status).toBe(200);
    expect(await names("set=dc")).toEqual(["dc-c"]);
  });

  it("deletes nothing on a dry run and one page with limit, answering with the list as it was", async () => {
    for (const n of ["pg-1", "pg-2", "pg-3"])
      await create(CM, { metadata: { name: n, labels: { set: "pg" } } });
    const dry = await req({ method: "DELETE", path: `${CM}?labelSelector=set%3Dpg&dryRun=All` });
    expect(dry.status).toBe(200);
    const dryList = JSON.parse(dry.body) as {
      kind: string;
      items: { metadata: { name: string; deletionTimestamp?: string } }[];
    };
    expect(dryList.kind).toBe("ConfigMapList");
    expect(dryList.items.map((i) => i.metadata.name)).toEqual(["pg-1", "pg-2", "pg-3"]);
    expect(await names("set=pg")).toEqual(["pg-1", "pg-2", "pg-3"]);
    const page = await req({ method: "DELETE", path: `${CM}?labelSelector=set%3Dpg&limit=2` });
    expect(page.status).toBe(200);
    const body = JSON.parse(page.body) as {
      metadata: { continue?: string };
      items: { metadata: { name: string } }[];
    };
    expect(body.items.map((i) => i.metadata.name)).toEqual(["pg-1", "pg-2"]);
    expect(body.metadata.continue).toBeTruthy();
    expect(await names("set=pg")).toEqual(["pg-3"]);
    const bad = await req({
      method: "DELETE",
      path: `${CM}?labelSelector=set%3Dpg&propagationPolicy=Sideways`,
    });
    expect(bad.status).toBe(422);
    expect(await names("set=pg")).toEqual(["pg-3"]);
  });
});

const FORBIDDEN = "Forbidden: field is immutable when `immutable` is set";

describe("immutable ConfigMaps and Secrets", () => {
  beforeAll(async () => {
    await create(CM, {
      metadata: { name: "frozen" },
      immutable: true,
      data: { k: "v" },
      binaryData: { b: "AQI=" },
    });
    await create(SECRETS, { metadata: { name: "sealed" }, immutable: true, stringData: { pw: "s3cret" } });
    await create(SECRETS, { metadata: { name: "typed" }, type: "Opaque", data: { k: "dg==" } });
  });

  const get = async (path: string): Promise<Record<string, unknown>> =>
    JSON.parse((await req({ path })).body) as Record<string, unknown>;

  it.each([
    ["a PUT changing data", "PUT", "application/json", { data: { k: "changed" } }, `data: ${FORBIDDEN}`],
    [
      "a merge patch of data",
      "PATCH",
      "application/merge-patch+json",
      { data: { k: "x" } },
      `data: ${FORBIDDEN}`,
    ],
    [
      "a merge patch removing a key",
      "PATCH",
      "application/merge-patch+json",
      { data: { k: null } },
      `data: ${FORBIDDEN}`,
    ],
    [
      "a strategic merge patch of binaryData",
      "PATCH",
      "application/strategic-merge-patch+json",
      { binaryData: { c: "Aw==" } },
      `binaryData: ${FORBIDDEN}`,
    ],
    [
      "a JSON patch unsetting immutable",
      "PATCH",
      "application/json-patch+json",
      [{ op: "remove", path: "/immutable" }],
      `immutable: ${FORBIDDEN}`,
    ],
    [
      "a merge patch setting immutable false",
      "PATCH",
      "application/merge-patch+json",
      { immutable: false },
      `immutable: ${FORBIDDEN}`,
    ],
    [
      "a JSON patch of both",
      "PATCH",
      "application/json-patch+json",
      [
        { op: "replace", path: "/immutable", value: false },
        { op: "add", path: "/data/new", value: "n" },
      ],
      `[immutable: ${FORBIDDEN}, data: ${FORBIDDEN}]`,
    ],
  ])("refuses %s of an immutable ConfigMap (422)", async (_what, method, contentType, change, message) => {
    const before = await get(`${CM}/frozen`);
    const body = method === "PUT" ? json({ ...before, ...(change as object) }) : json(change);
    const r = await req({ method, path: `${CM}/frozen`, contentType, body });
    expect(r.status, r.body).toBe(422);
    expect(statusOf(r)).toMatchObject({
      reason: "Invalid",
      message: `ConfigMap "frozen" is invalid: ${message}`,
    });
    expect(await get(`${CM}/frozen`)).toEqual(before);
  });

  it("refuses server-side apply of other data, but takes metadata changes", async () => {
    const apply = await req({
      method: "PATCH",
      path: `${CM}/frozen?fieldManager=attendee&force=true`,
      contentType: "application/apply-patch+yaml",
      body: json({
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: "frozen" },
        immutable: true,
        data: { k: "applied" },
      }),
    });
    expect(apply.status, apply.body).toBe(422);
    expect(statusOf(apply)?.message).toBe(`ConfigMap "frozen" is invalid: data: ${FORBIDDEN}`);
    const label = await req({
      method: "PATCH",
      path: `${CM}/frozen`,
      contentType: "application/merge-patch+json",
      body: json({ metadata: { labels: { still: "editable" } } }),
    });
    expect(label.status, label.body).toBe(200);
    expect((await get(`${CM}/frozen`)).data).toEqual({ k: "v" });
  });

  it("refuses changing an immutable Secret's data, stringData included, or unsetting immutable", async () => {
    const before = await get(`${SECRETS}/sealed`);
    expect(before.data).toEqual({ pw: Buffer.from("s3cret").toString("base64") });
    for (const [contentType, change, message] of [
      ["application/merge-patch+json", { stringData: { pw: "other" } }, `data: ${FORBIDDEN}`],
      ["application/merge-patch+json", { data: { more: "eA==" } }, `data: ${FORBIDDEN}`],
      ["application/strategic-merge-patch+json", { immutable: false }, `immutable: ${FORBIDDEN}`],
    ] as const) {
      const r = await req({ method: "PATCH", path: `${SECRETS}/sealed`, contentType, body: json(change) });
      expect(r.status, r.body).toBe(422);
      expect(statusOf(r)?.message).toBe(`Secret "sealed" is invalid: ${message}`);
    }
    // Writing the same value again is no change.
    const same = await req({
      method: "PATCH",
      path: `${SECRETS}/sealed`,
      contentType: "application/merge-patch+json",
      body: json({ stringData: { pw: "s3cret" } }),
    });
    expect(same.status, same.body).toBe(200);
    expect((await get(`${SECRETS}/sealed`)).data).toEqual(before.data);
  });

  it("keeps a Secret's type, immutable or not, and lets a mutable one become immutable", async () => {
    const r = await req({
      method: "PATCH",
      path: `${SECRETS}/typed`,
      contentType: "application/merge-patch+json",
      body: json({ type: "kubernetes.io/basic-auth", data: { username: "dQ==" } }),
    });
    expect(r.status, r.body).toBe(422);
    expect(statusOf(r)?.message).toBe(
      'Secret "typed" is invalid: type: Invalid value: "kubernetes.io/basic-auth": field is immutable',
    );
    const freeze = await req({
      method: "PATCH",
      path: `${SECRETS}/typed`,
      contentType: "application/merge-patch+json",
      body: json({ immutable: true, data: { k: "dzI=" } }),
    });
    expect(freeze.status, freeze.body).toBe(200);
    const after = await get(`${SECRETS}/typed`);
    expect(after).toMatchObject({ immutable: true, data: { k: "dzI=" }, type: "Opaque" });
    const thaw = await req({
      method: "PATCH",
      path: `${SECRETS}/typed`,
      contentType: "application/merge-patch+json",
      body: json({ immutable: null }),
    });
    expect(thaw.status).toBe(422);
    expect(statusOf(thaw)?.message).toBe(`Secret "typed" is invalid: immutable: ${FORBIDDEN}`);
  });
});
