/**
 * The simulated API server against hostile requests, each class tried on a real SimHost: prototype keys through every
 * write path, pathological bodies (protobuf, JSON, YAML), selectors and paths, and the API server's own rules. Every
 * request goes to the attacker's cluster; the victim's cluster must stay byte-identical, `Object.prototype` untouched,
 * the server healthy, and every error a `Status` below 500.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SimHost } from "../../server/src/sim/host.ts";
import {
  diffSnapshots,
  prototypeIsClean,
  send,
  snapshotCluster,
  statusOf,
  type HostileResponse,
} from "../helpers/hostile.ts";

let host: SimHost;
let attacker: string;
let victim: string;
const A = "/clusters/attacker";
const CM = `${A}/api/v1/namespaces/default/configmaps`;

beforeAll(async () => {
  host = await SimHost.start({ port: 0 });
  attacker = (await host.createCluster({ id: "attacker" })).token;
  victim = (await host.createCluster({ id: "victim" })).token;
  const r = await send(host, {
    method: "POST",
    path: CM,
    token: attacker,
    contentType: "application/json",
    body: JSON.stringify({ metadata: { name: "target", labels: { app: "a" } }, data: { k: "v" } }),
  });
  expect(r.status).toBe(201);
});
afterAll(async () => {
  await host?.close();
});

/** Sends `req` to the attacker's cluster and checks everything that must hold whatever the answer. */
async function hostile(req: Parameters<typeof send>[1]): Promise<HostileResponse> {
  const before = snapshotCluster(host, "victim");
  const r = await send(host, { token: attacker, ...req });
  expect(r.status, `${req.method ?? "GET"} ${req.path.slice(0, 120)}: ${r.body.slice(0, 300)}`).toBeLessThan(
    500,
  );
  if (r.status >= 400) expect(statusOf(r), r.body.slice(0, 300)).toMatchObject({ code: r.status });
  expect(prototypeIsClean()).toBe(true);
  expect(({} as Record<string, unknown>).x).toBeUndefined();
  expect(diffSnapshots(before, snapshotCluster(host, "victim"))).toEqual([]);
  const health = await send(host, { path: "/healthz" });
  expect(health.status).toBe(200);
  const list = await send(host, {
    path: "/clusters/victim/api/v1/namespaces/default/configmaps",
    token: victim,
  });
  expect(list.status).toBe(200);
  expect(JSON.parse(list.body)).toMatchObject({ kind: "ConfigMapList" });
  return r;
}

const json = (v: unknown): string => JSON.stringify(v);
const PROTO_KEYS = ["__proto__", "constructor", "prototype"];

describe("prototype keys are plain keys on every write path", () => {
  const jsonPatches = PROTO_KEYS.flatMap((k) => [
    [{ op: "add", path: `/${k}/x`, value: "y" }],
    [{ op: "add", path: `/${k}/prototype/x`, value: "y" }],
    [{ op: "add", path: `/metadata/${k}/x`, value: "y" }],
    [{ op: "add", path: `/metadata/labels/${k}`, value: "y" }],
    [{ op: "add", path: `/metadata/${k}`, value: { x: "y" } }],
    [{ op: "copy", from: "/metadata", path: `/${k}/loop` }],
    [{ op: "copy", from: "/metadata", path: `/${k}` }],
    [{ op: "move", from: "/data", path: `/${k}` }],
    [{ op: "replace", path: `/${k}`, value: { x: "y" } }],
    [{ op: "test", path: `/${k}`, value: {} }],
    [{ op: "remove", path: `/${k}/toString` }],
  ]);
  it.each(jsonPatches.map((p) => [json(p), p]))("JSON patch %s", async (_name, p) => {
    await hostile({
      method: "PATCH",
      path: `${CM}/target`,
      contentType: "application/json-patch+json",
      body: json(p),
    });
  });

  const objectPatches = PROTO_KEYS.flatMap((k) => [
    { [k]: { x: "y" } },
    { metadata: { [k]: { x: "y" } } },
    { metadata: { labels: { [k]: "y" } } },
    { metadata: { labels: { [k]: { x: "y" } } } },
    { data: { [k]: "y" } },
    { data: { [k]: { x: "y" } } },
    { metadata: { managedFields: [{ manager: "m", fieldsV1: { [k]: {} } }] } },
  ]);
  for (const type of ["application/merge-patch+json", "application/strategic-merge-patch+json"]) {
    it.each(objectPatches.map((p) => [json(p), json(p)]))(`${type} %s`, async (_name, body) => {
      await hostile({ method: "PATCH", path: `${CM}/target`, contentType: type, body });
    });
  }
  it.each(objectPatches.map((p) => [json(p), json(p)]))("server-side apply %s", async (_name, body) => {
    const applied = JSON.parse(body) as Record<string, unknown>;
    const meta = (applied.metadata ?? {}) as Record<string, unknown>;
    const doc = json({
      ...applied,
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { ...meta, name: "applied" },
    });
    await hostile({
      method: "PATCH",
      path: `${CM}/applied?fieldManager=hostile`,
      contentType: "application/apply-patch+yaml",
      body: doc,
    });
  });
  it.each(objectPatches.map((p) => [json(p), json(p)]))("create and update %s", async (_name, body) => {
    const obj = JSON.parse(body) as Record<string, unknown>;
    const meta = (obj.metadata ?? {}) as Record<string, unknown>;
    const doc = { ...obj, apiVersion: "v1", kind: "ConfigMap", metadata: { ...meta, name: "created" } };
    for (const q of ["", "?fieldValidation=Warn", "?fieldValidation=Ignore"]) {
      await hostile({ method: "POST", path: `${CM}${q}`, contentType: "application/json", body: json(doc) });
      await hostile({
        method: "PUT",
        path: `${CM}/created${q}`,
        contentType: "application/json",
        body: json(doc),
      });
      await hostile({ method: "DELETE", path: `${CM}/created` });
    }
  });
  it("YAML bodies with prototype keys", async () => {
    for (const k of PROTO_KEYS) {
      const yaml = `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: yamled\n  ${k}:\n    x: y\n${k}:\n  x: y\ndata:\n  ${k}: y\n`;
      await hostile({ method: "POST", path: CM, contentType: "application/yaml", body: yaml });
      await hostile({
        method: "PATCH",
        path: `${CM}/yamled?fieldManager=y`,
        contentType: "application/apply-patch+yaml",
        body: yaml,
      });
    }
  });

  it("keeps a legitimate `__proto__` key in ConfigMap data as data", async () => {
    const r = await hostile({
      method: "POST",
      path: CM,
      contentType: "application/json",
      body: '{"metadata":{"name":"protodata"},"data":{"__proto__":"one","constructor":"two"}}',
    });
    expect(r.status).toBe(201);
    const got = await send(host, { path: `${CM}/protodata`, token: attacker });
    const data = (JSON.parse(got.body) as { data: Record<string, unknown> }).data;
    expect(Object.keys(data).sort()).toEqual(["__proto__", "constructor"]);
    expect(Object.getOwnPropertyDescriptor(data, "__proto__")?.value).toBe("one");
  });

  it("rejects prototype keys as unknown fields the way the real server does (strict) or drops them (warn)", async () => {
    const strict = await hostile({
      method: "PATCH",
      path: `${CM}/target?fieldValidation=Strict`,
      contentType: "application/merge-patch+json",
      body: '{"metadata":{"__proto__":{"x":"y"}}}',
    });
    expect(strict.status).toBe(400);
    expect(statusOf(strict)?.message).toContain('unknown field "metadata.__proto__"');
    const warn = await hostile({
      method: "PATCH",
      path: `${CM}/target?fieldValidation=Warn`,
      contentType: "application/merge-patch+json",
      body: '{"metadata":{"constructor":{"x":"y"}}}',
    });
    expect(warn.status).toBe(200);
    expect(String(warn.headers.warning)).toContain("metadata.constructor");
    expect(Object.keys((JSON.parse(warn.body) as { metadata: object }).metadata)).not.toContain(
      "constructor",
    );
  });
});

describe("decoders are bounded and answer 400, never 500", () => {
  it("protobuf: a body of 0xff bytes, with and without the envelope", async () => {
    for (const body of [
      Buffer.alloc(256 * 1024, 0xff),
      Buffer.concat([Buffer.from("k8s\0", "binary"), Buffer.alloc(256 * 1024, 0xff)]),
      Buffer.concat([Buffer.from("k8s\0", "binary"), Buffer.from([0x12]), Buffer.alloc(64, 0xff)]),
      Buffer.concat([Buffer.from("k8s\0", "binary"), Buffer.from([0x12, 0xff, 0xff, 0xff, 0xff, 0x0f])]),
    ]) {
      const r = await hostile({
        method: "POST",
        path: CM,
        contentType: "application/vnd.kubernetes.protobuf",
        body,
      });
      expect(r.status).toBe(400);
    }
  });

  it("protobuf: a creationTimestamp of 1e17 seconds", async () => {
    const varint = (n: bigint): number[] => {
      const out: number[] = [];
      do {
        let b = Number(n & 0x7fn);
        n >>= 7n;
        if (n) b |= 0x80;
        out.push(b);
      } while (n);
      return out;
    };
    const field = (num: number, data: Buffer): Buffer =>
      Buffer.from([...varint(BigInt((num << 3) | 2)), ...varint(BigInt(data.length)), ...data]);
    const time = Buffer.from([0x08, ...varint(10n ** 17n)]);
    const meta = Buffer.concat([field(1, Buffer.from("ts")), field(8, time)]);
    const ns = field(1, meta);
    const typeMeta = Buffer.concat([field(1, Buffer.from("v1")), field(2, Buffer.from("Namespace"))]);
    const body = Buffer.concat([Buffer.from("k8s\0", "binary"), field(1, typeMeta), field(2, ns)]);
    const r = await hostile({
      method: "POST",
      path: `${A}/api/v1/namespaces`,
      contentType: "application/vnd.kubernetes.protobuf",
      body,
    });
    expect(r.status).toBe(400);
    expect(statusOf(r)?.message).toContain("timestamp");
  });

  const deep = (n: number): string => `${'{"a":'.repeat(n)}1${"}".repeat(n)}`;
  const deepArr = (n: number): string => `${"[".repeat(n)}${"]".repeat(n)}`;
  it.each([2000, 10000, 100000])("JSON nested %i deep in every body", async (n) => {
    const obj = `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"deep","annotations":${deep(n)}}}`;
    const cases: [string, string, string][] = [
      ["POST", CM, "application/json"],
      ["PUT", `${CM}/target`, "application/json"],
      ["PATCH", `${CM}/target`, "application/merge-patch+json"],
      ["PATCH", `${CM}/target`, "application/strategic-merge-patch+json"],
      ["PATCH", `${CM}/deep?fieldManager=x`, "application/apply-patch+yaml"],
      ["DELETE", `${CM}/nothing`, "application/json"],
    ];
    for (const [method, path, contentType] of cases) {
      const r = await hostile({ method, path, contentType, body: obj });
      expect(r.status).toBe(400);
    }
    const patch = `[{"op":"add","path":"/data/x","value":${deepArr(n)}}]`;
    const r = await hostile({
      method: "PATCH",
      path: `${CM}/target`,
      contentType: "application/json-patch+json",
      body: patch,
    });
    expect(r.status).toBe(400);
  });

  it("YAML: a self-alias, an alias bomb and deep flow nesting", async () => {
    const bomb = [
      "apiVersion: v1",
      "kind: ConfigMap",
      "metadata: {name: bomb}",
      'a: &a ["x","x","x","x","x","x","x","x","x","x"]',
      "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]",
      "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]",
      "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]",
      "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]",
      "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]",
      "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f,*f]",
      "h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g,*g]",
      "i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h,*h]",
      "",
    ].join("\n");
    for (const body of [
      "a: &x [*x]\n",
      "apiVersion: v1\nkind: ConfigMap\nmetadata: &m {name: selfish, labels: *m}\n",
      "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: m}\ndata: &d {a: *d}\n",
      bomb,
      `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: y}\ndata: ${"[".repeat(5000)}${"]".repeat(5000)}\n`,
    ]) {
      for (const [method, path, contentType] of [
        ["POST", CM, "application/yaml"],
        ["PATCH", `${CM}/yamlbomb?fieldManager=x`, "application/apply-patch+yaml"],
      ] as const) {
        const r = await hostile({ method, path, contentType, body });
        expect(r.status).toBe(400);
      }
    }
  });

  it("patches cannot nest a stored object deeper and deeper", async () => {
    const path = `${A}/apis/operator.tigera.io/v1/apiservers`;
    const made = await hostile({
      method: "POST",
      path,
      contentType: "application/json",
      body: json({
        apiVersion: "operator.tigera.io/v1",
        kind: "APIServer",
        metadata: { name: "deep" },
        spec: {},
      }),
    });
    expect(made.status).toBe(201);
    const nest = (n: number): string => `${'{"a":'.repeat(n)}1${"}".repeat(n)}`;
    const codes: number[] = [];
    for (let i = 0; i < 4; i++) {
      // Each patch is within the body limit, but puts the nesting one level further down the last one.
      const at = "/spec" + "/a".repeat(i * 400);
      const r = await hostile({
        method: "PATCH",
        path: `${path}/deep`,
        contentType: "application/json-patch+json",
        body: json([{ op: "add", path: `${at}/a`, value: JSON.parse(nest(400)) as unknown }]),
      });
      codes.push(r.status);
    }
    expect(codes).toContain(400);
    const got = await send(host, { path: `${path}/deep`, token: attacker });
    expect(got.status).toBe(200);
  });

  it("YAML text is kept to a manifest's size; JSON in a YAML media type takes the JSON path", async () => {
    const keys = Array.from({ length: 60000 }, (_, i) => `  k${i}: "v"`).join("\n");
    const yaml = `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: manykeys\ndata:\n${keys}\n`;
    for (const [method, path, contentType] of [
      ["POST", CM, "application/yaml"],
      ["PATCH", `${CM}/manykeys?fieldManager=x`, "application/apply-patch+yaml"],
    ] as const) {
      const r = await hostile({ method, path, contentType, body: yaml });
      expect(r.status).toBe(413);
      expect(statusOf(r)?.message).toContain("send larger objects as JSON");
    }
    const data = Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`k${i}`, "v"]));
    const asJson = json({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "manykeys" }, data });
    const ok = await hostile({
      method: "PATCH",
      path: `${CM}/manykeys?fieldManager=x`,
      contentType: "application/apply-patch+yaml",
      body: asJson,
    });
    expect(ok.status).toBe(201);
  });

  it.each([
    ["label", `labelSelector=${"(".repeat(100000)}`],
    ["label", `labelSelector=${encodeURIComponent("a in (" + "(".repeat(100000))}`],
    ["label", `labelSelector=${encodeURIComponent(",".repeat(50000))}`],
    ["field", `fieldSelector=${"(".repeat(100000)}`],
    ["field", `fieldSelector=${encodeURIComponent("metadata.name=" + "\\".repeat(99999))}`],
  ])("a pathological %s selector", async (_what, query) => {
    for (const path of [`${CM}?${query}`, `${CM}?watch=true&timeoutSeconds=1&${query}`]) {
      const r = await hostile({ path });
      expect(r.status).toBe(400);
    }
  });

  it.each([
    "/api/v1/namespaces/%ZZ/pods",
    "/api/v1/namespaces/default/pods/%",
    "/api/v1/namespaces/default/configmaps/%E0%A4%A",
    "/apis/%/v1",
  ])("malformed percent-encoding in %s", async (path) => {
    const r = await hostile({ path: `${A}${path}` });
    expect(r.status).toBe(400);
  });

  it("a request target that is not a path", async () => {
    for (const path of ["http://[", "*", "//clusters/attacker/api", "/clusters/%ZZ/api"]) {
      const r = await hostile({ path });
      expect(r.status).toBeGreaterThanOrEqual(400);
    }
  });
});

describe("the API server's own rules", () => {
  const GNP = `${A}/apis/projectcalico.org/v3/globalnetworkpolicies`;
  const count = async (path: string): Promise<number> =>
    (JSON.parse((await send(host, { path, token: attacker })).body) as { items: unknown[] }).items.length;

  it("never reads `.`, `..` or their escapes in a name as the collection or the parent", async () => {
    for (const name of ["one", "two"]) {
      const r = await send(host, {
        method: "POST",
        path: GNP,
        token: attacker,
        contentType: "application/json",
        body: json({ metadata: { name }, spec: { selector: "all()", types: ["Egress"], egress: [] } }),
      });
      expect(r.status).toBe(201);
    }
    const before = await count(GNP);
    for (const seg of [".", "..", "%2e", "%2E", "%2e%2e", ".%2e", "%2F", "a%2Fb", "%25", "%2e/"]) {
      for (const method of ["DELETE", "GET", "PUT", "PATCH"]) {
        const r = await hostile({
          method,
          path: `${GNP}/${seg}`,
          contentType: method === "PATCH" ? "application/merge-patch+json" : "application/json",
          ...(method === "PUT" || method === "PATCH" ? { body: "{}" } : {}),
        });
        expect([400, 404, 405]).toContain(r.status);
        if (r.status === 400) expect(statusOf(r)?.message).toMatch(/may not (be|contain)/);
      }
    }
    expect(await count(GNP)).toBe(before);
    const nsBefore = (await send(host, { path: `${A}/api/v1/namespaces/default`, token: attacker })).body;
    for (const path of [`${CM}/..`, `${CM}/%2e%2e`, `${A}/api/v1/namespaces/../configmaps/target`]) {
      const r = await hostile({
        method: "PATCH",
        path,
        contentType: "application/merge-patch+json",
        body: json({ metadata: { labels: { hacked: "yes" } } }),
      });
      expect(r.status).toBe(400);
    }
    const nsAfter = (await send(host, { path: `${A}/api/v1/namespaces/default`, token: attacker })).body;
    expect(nsAfter).toBe(nsBefore);
  });

  it("honours DELETE preconditions with 409 Conflict", async () => {
    const made = await send(host, {
      method: "POST",
      path: CM,
      token: attacker,
      contentType: "application/json",
      body: json({ metadata: { name: "guarded" } }),
    });
    const { uid, resourceVersion } = (
      JSON.parse(made.body) as { metadata: { uid: string; resourceVersion: string } }
    ).metadata;
    for (const preconditions of [
      { uid: "not-the-uid" },
      { resourceVersion: "1" },
      { uid, resourceVersion: "1" },
    ]) {
      const r = await hostile({
        method: "DELETE",
        path: `${CM}/guarded`,
        contentType: "application/json",
        body: json({ kind: "DeleteOptions", apiVersion: "v1", preconditions }),
      });
      expect(r.status).toBe(409);
      expect(statusOf(r)?.message).toContain("Precondition failed");
    }
    expect((await send(host, { path: `${CM}/guarded`, token: attacker })).status).toBe(200);
    const ok = await hostile({
      method: "DELETE",
      path: `${CM}/guarded`,
      contentType: "application/json",
      body: json({ preconditions: { uid, resourceVersion } }),
    });
    expect(ok.status).toBe(200);
    expect((await send(host, { path: `${CM}/guarded`, token: attacker })).status).toBe(404);
  });

  it("keeps system metadata out of reach of patch, apply and update", async () => {
    const get = async (): Promise<{ metadata: Record<string, unknown> }> =>
      JSON.parse((await send(host, { path: `${CM}/target`, token: attacker })).body) as {
        metadata: Record<string, unknown>;
      };
    const before = (await get()).metadata;
    const attempts: [string, string, string][] = [
      [
        "application/merge-patch+json",
        `${CM}/target`,
        json({ metadata: { deletionTimestamp: "2020-01-01T00:00:00Z" } }),
      ],
      ["application/merge-patch+json", `${CM}/target`, json({ metadata: { deletionGracePeriodSeconds: 0 } })],
      ["application/strategic-merge-patch+json", `${CM}/target`, json({ metadata: { uid: "forged" } })],
      [
        "application/json-patch+json",
        `${CM}/target`,
        json([{ op: "replace", path: "/metadata/creationTimestamp", value: "2000-01-01T00:00:00Z" }]),
      ],
      [
        "application/merge-patch+json",
        `${CM}/target`,
        json({ metadata: { generation: 99, selfLink: "/x" } }),
      ],
      [
        "application/apply-patch+yaml",
        `${CM}/target?fieldManager=evil&force=true`,
        json({
          apiVersion: "v1",
          kind: "ConfigMap",
          metadata: { name: "target", deletionTimestamp: "2020-01-01T00:00:00Z", uid: "forged" },
        }),
      ],
    ];
    for (const [contentType, path, body] of attempts) {
      const r = await hostile({ method: "PATCH", path, contentType, body });
      expect(r.status === 200 || r.status === 409 || r.status === 422, r.body).toBe(true);
      const now = (await get()).metadata;
      for (const k of [
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "generation",
      ])
        expect(now[k], `${k} after ${body}`).toEqual(before[k]);
      expect(now.selfLink).toBeUndefined();
    }
    const put = await hostile({
      method: "PUT",
      path: `${CM}/target`,
      contentType: "application/json",
      body: json({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "target", uid: "forged" } }),
    });
    expect(put.status).toBe(409);
    expect((await get()).metadata.uid).toBe(before.uid);
  });

  it("validates ConfigMap and Secret keys and caps their size at 1 MiB", async () => {
    const bad = await hostile({
      method: "POST",
      path: CM,
      contentType: "application/json",
      body: json({ metadata: { name: "badkey" }, data: { "bad key!": "x", "..": "y" } }),
    });
    expect(bad.status).toBe(422);
    expect(statusOf(bad)?.message).toContain("a valid config key must consist of alphanumeric characters");
    const big = await hostile({
      method: "POST",
      path: CM,
      contentType: "application/json",
      body: json({ metadata: { name: "big" }, data: { a: "x".repeat(1_500_000), b: "y".repeat(1_400_000) } }),
    });
    expect(big.status).toBe(422);
    expect(statusOf(big)?.message).toBe(
      'ConfigMap "big" is invalid: []: Too long: must have at most 1048576 bytes',
    );
    const grow = await hostile({
      method: "PATCH",
      path: `${CM}/target`,
      contentType: "application/merge-patch+json",
      body: json({ data: { big: "z".repeat(1_100_000) } }),
    });
    expect(grow.status).toBe(422);
    const secret = await hostile({
      method: "POST",
      path: `${A}/api/v1/namespaces/default/secrets`,
      contentType: "application/json",
      body: json({ metadata: { name: "s" }, stringData: { "no/slash": "x" } }),
    });
    expect(secret.status).toBe(422);
    const okSecret = await hostile({
      method: "POST",
      path: `${A}/api/v1/namespaces/default/secrets`,
      contentType: "application/json",
      body: json({ metadata: { name: "s" }, stringData: { user: "admin" } }),
    });
    expect(okSecret.status).toBe(201);
    expect(JSON.parse(okSecret.body)).toMatchObject({
      data: { user: Buffer.from("admin").toString("base64") },
    });
  });

  it("refuses a server-side apply with a wrong-typed metadata or another namespace", async () => {
    for (const metadata of ["x", 5, ["a"], true]) {
      const r = await hostile({
        method: "PATCH",
        path: `${CM}/ssa?fieldManager=m`,
        contentType: "application/apply-patch+yaml",
        body: json({ apiVersion: "v1", kind: "ConfigMap", metadata }),
      });
      expect(r.status).toBe(400);
    }
    const r = await hostile({
      method: "PATCH",
      path: `${CM}/ssa?fieldManager=m`,
      contentType: "application/apply-patch+yaml",
      body: json({
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: "ssa", namespace: "kube-system" },
      }),
    });
    expect(r.status).toBe(400);
    expect(statusOf(r)?.message).toBe(
      "the namespace of the provided object does not match the namespace sent on the request",
    );
  });

  it("parses `,` as a broken label selector, not as everything", async () => {
    for (const sel of [",", "a,", "!", "x in (a", "a b"]) {
      const r = await hostile({ path: `${CM}?labelSelector=${encodeURIComponent(sel)}` });
      expect(r.status).toBe(400);
    }
  });

  it("bounds the open watches and streams of one token with a 429 Status", async () => {
    const { default: https } = await import("node:https");
    const base = new URL(host.url);
    const open: import("node:http").ClientRequest[] = [];
    const openWatch = (token: string, cluster: string): Promise<number> =>
      new Promise((resolve, reject) => {
        const req = https.request(
          {
            host: base.hostname,
            port: base.port,
            path: `/clusters/${cluster}/api/v1/namespaces/default/configmaps?watch=true`,
            ca: host.caCert,
            agent: false,
            headers: { Authorization: `Bearer ${token}` },
          },
          (res) => {
            resolve(res.statusCode ?? 0);
            res.resume();
          },
        );
        req.on("error", () => undefined);
        req.on("response", () => undefined);
        open.push(req);
        req.end();
        req.on("error", reject);
      });
    try {
      const codes: number[] = [];
      for (let i = 0; i < 100; i++) codes.push(await openWatch(attacker, "attacker"));
      expect(codes.every((c) => c === 200)).toBe(true);
      const over = await hostile({ path: `${CM}?watch=true` });
      expect(over.status).toBe(429);
      expect(over.headers["retry-after"]).toBe("1");
      expect(await openWatch(victim, "victim")).toBe(200);
    } finally {
      for (const r of open) r.destroy();
    }
  });
});
