/**
 * A seeded fuzzer for the simulated API server: generated requests (mangled paths and escapes, every method and
 * content type, bodies with prototype keys, deep nesting, YAML aliases, protobuf noise, JSON patches, selectors)
 * against one cluster while another stands by. After every request: no 5xx, a `Status` on every error,
 * `Object.prototype` untouched, and no object changed outside the request's own target (in the attacked cluster and,
 * every few requests, in the other one). `FUZZ_ITERATIONS` and `FUZZ_SEED` run more (`npm run fuzz`); a failure
 * prints the seed and the request so it can be replayed.
 */
import https from "node:https";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SimHost } from "../../server/src/sim/host.ts";
import {
  diffSnapshots,
  prototypeIsClean,
  referenceSnapshot,
  send,
  snapshotCluster,
  statusOf,
} from "../helpers/hostile.ts";
import { mulberry32 } from "../../server/src/shared/mulberry32.ts";

const ITERATIONS = Number(process.env.FUZZ_ITERATIONS ?? 2000);
const SEED =
  process.env.FUZZ_SEED === "random"
    ? Math.floor(Math.random() * 2 ** 31)
    : Number(process.env.FUZZ_SEED ?? 20260105);

class Gen {
  constructor(readonly next: () => number) {}
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  word(): string {
    return this.pick(WORDS);
  }
  string(max = 12): string {
    const chars = "abcXYZ019-_./%~!=,()&|*\\\"' \t\n\u00e9\u0000{}[]:";
    let s = "";
    const n = this.int(max + 1);
    for (let i = 0; i < n; i++) s += chars[this.int(chars.length)];
    return s;
  }
}

const PROTO = ["__proto__", "constructor", "prototype"];
const WORDS = [
  ...PROTO,
  "x",
  "metadata",
  "labels",
  "data",
  "spec",
  "name",
  "toString",
  "valueOf",
  "hasOwnProperty",
];

/** The kinds the fuzzer writes: none of them has a controller that writes other objects in reaction. */
const KINDS = [
  {
    base: "/api/v1",
    plural: "configmaps",
    key: "core/configmaps",
    namespaced: true,
    kind: "ConfigMap",
    gv: "v1",
  },
  { base: "/api/v1", plural: "secrets", key: "core/secrets", namespaced: true, kind: "Secret", gv: "v1" },
  {
    base: "/apis/projectcalico.org/v3",
    plural: "globalnetworksets",
    key: "projectcalico.org/globalnetworksets",
    namespaced: false,
    kind: "GlobalNetworkSet",
    gv: "projectcalico.org/v3",
  },
  {
    base: "/apis/projectcalico.org/v3",
    plural: "networksets",
    key: "projectcalico.org/networksets",
    namespaced: true,
    kind: "NetworkSet",
    gv: "projectcalico.org/v3",
  },
] as const;
type Kind = (typeof KINDS)[number];

const NAMES = [
  "fz-a",
  "fz-b",
  "fz-c",
  ".",
  "..",
  "%2e",
  "%2E%2e",
  "%2F",
  "a%2Fb",
  "%25",
  "%ZZ",
  "%",
  "fz%2Da",
  "__proto__",
  "constructor",
  "x".repeat(300),
];
const NAMESPACES = ["default", "fuzz", "kube-system", ".", "..", "%2e", "%ZZ", "__proto__", "nope"];
const SUBRESOURCES = [undefined, undefined, undefined, "status", "scale", "..", ".", "%2e", "log", "exec"];
const METHODS = [
  "GET",
  "GET",
  "POST",
  "PUT",
  "PATCH",
  "PATCH",
  "PATCH",
  "DELETE",
  "DELETE",
  "HEAD",
  "OPTIONS",
  "BREW",
];
const CONTENT_TYPES = [
  "application/json",
  "application/yaml",
  "application/merge-patch+json",
  "application/strategic-merge-patch+json",
  "application/json-patch+json",
  "application/apply-patch+yaml",
  "application/vnd.kubernetes.protobuf",
  "text/plain",
  "application/json; charset=utf-16",
  "",
];

/** A random JSON value, sprinkled with prototype keys; `depth` bounds nesting. */
function value(g: Gen, depth: number): unknown {
  const r = g.int(depth > 0 ? 8 : 5);
  switch (r) {
    case 0:
      return g.string();
    case 1:
      return g.pick([0, -1, 1e308, 3.5, 2 ** 53 + 1]);
    case 2:
      return g.chance(0.5);
    case 3:
      return null;
    case 4:
      return g.word();
    case 5:
    case 6: {
      const o: Record<string, unknown> = {};
      const n = g.int(4);
      for (let i = 0; i < n; i++)
        Object.defineProperty(o, g.chance(0.4) ? g.pick(PROTO) : g.word(), {
          value: value(g, depth - 1),
          enumerable: true,
          writable: true,
          configurable: true,
        });
      return o;
    }
    default:
      return Array.from({ length: g.int(3) }, () => value(g, depth - 1));
  }
}

function deepText(g: Gen): string {
  const n = g.pick([900, 1001, 2000, 5000, 50000]);
  return g.chance(0.5) ? `${"[".repeat(n)}${"]".repeat(n)}` : `${'{"a":'.repeat(n)}1${"}".repeat(n)}`;
}

/** An object of `kind` with prototype keys in random places. */
function object(g: Gen, kind: Kind, name: string): Record<string, unknown> {
  const meta: Record<string, unknown> = { name };
  if (g.chance(0.3)) meta.labels = value(g, 2);
  if (g.chance(0.2))
    meta[g.pick(["uid", "deletionTimestamp", "creationTimestamp", "generation", "resourceVersion"])] =
      g.string();
  const o: Record<string, unknown> = { apiVersion: kind.gv, kind: kind.kind, metadata: meta };
  if (kind.plural === "configmaps" || kind.plural === "secrets") o.data = value(g, 2);
  else o.spec = { nets: g.chance(0.5) ? ["10.0.0.0/8"] : value(g, 2) };
  for (let i = g.int(3); i > 0; i--)
    Object.defineProperty(g.chance(0.5) ? o : meta, g.pick(PROTO), {
      value: value(g, 2),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  return o;
}

function jsonPatch(g: Gen): unknown[] {
  const seg = (): string => (g.chance(0.5) ? g.pick(PROTO) : g.word());
  const path = (): string => "/" + Array.from({ length: 1 + g.int(3) }, seg).join("/");
  return Array.from({ length: 1 + g.int(4) }, () => {
    const op = g.pick(["add", "remove", "replace", "move", "copy", "test", "nope"]);
    return { op, path: path(), from: g.chance(0.5) ? "/metadata" : path(), value: value(g, 2) };
  });
}

function yamlBody(g: Gen, kind: Kind, name: string): string {
  switch (g.int(4)) {
    case 0:
      return `a: &x [*x]\n`;
    case 1:
      return `apiVersion: ${kind.gv}\nkind: ${kind.kind}\nmetadata: &m {name: ${name}, labels: *m}\n`;
    case 2: {
      const lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]'];
      for (const [p, c] of [
        ["a", "b"],
        ["b", "c"],
        ["c", "d"],
        ["d", "e"],
        ["e", "f"],
        ["f", "g"],
      ])
        lines.push(`${c}: &${c} [${Array(9).fill(`*${p}`).join(",")}]`);
      return lines.join("\n") + "\n";
    }
    default:
      return `apiVersion: ${kind.gv}\nkind: ${kind.kind}\nmetadata:\n  name: ${name}\n  ${g.pick(PROTO)}: {x: y}\n${g.pick(PROTO)}:\n  x: y\n`;
  }
}

function body(g: Gen, kind: Kind, name: string, contentType: string): string | Buffer | undefined {
  if (g.chance(0.1)) return undefined;
  if (g.chance(0.08)) return deepText(g);
  if (contentType === "application/vnd.kubernetes.protobuf" || g.chance(0.03)) {
    const noise = Buffer.alloc(g.int(64), 0);
    for (let i = 0; i < noise.length; i++) noise[i] = g.chance(0.5) ? 0xff : g.int(256);
    return g.chance(0.7) ? Buffer.concat([Buffer.from("k8s\0", "binary"), noise]) : noise;
  }
  if (contentType.includes("yaml") && g.chance(0.4)) return yamlBody(g, kind, name);
  if (contentType === "application/json-patch+json") return JSON.stringify(jsonPatch(g));
  if (g.chance(0.1)) return g.string(40);
  if (g.chance(0.1)) return JSON.stringify(value(g, 4));
  return JSON.stringify(object(g, kind, name));
}

function selector(g: Gen): string {
  const toks = [
    "a",
    "b",
    "=",
    "==",
    "!=",
    "!",
    ",",
    "(",
    ")",
    " in ",
    " notin ",
    ">",
    "<",
    "1",
    " ",
    "__proto__",
    "x/y",
  ];
  if (g.chance(0.05)) return g.pick(["(", ",", "\\"]).repeat(g.pick([1000, 20000]));
  return Array.from({ length: g.int(8) }, () => g.pick(toks)).join("");
}

function query(g: Gen): string {
  const q: string[] = [];
  if (g.chance(0.2)) q.push(`labelSelector=${encodeURIComponent(selector(g))}`);
  if (g.chance(0.2))
    q.push(
      `fieldSelector=${encodeURIComponent(g.pick(["metadata.name=", "metadata.namespace!=", "spec.x=", ""]) + selector(g))}`,
    );
  if (g.chance(0.3))
    q.push(`fieldManager=${encodeURIComponent(g.pick(["fuzz", "", "x".repeat(200), g.string()]))}`);
  if (g.chance(0.2)) q.push(`fieldValidation=${g.pick(["Strict", "Warn", "Ignore", "bogus"])}`);
  if (g.chance(0.1)) q.push(`dryRun=${g.pick(["All", "x"])}`);
  if (g.chance(0.1)) q.push(`force=${g.pick(["true", "1", "no"])}`);
  if (g.chance(0.1)) q.push(`limit=${g.pick(["1", "-1", "x", "100000000000"])}`);
  if (g.chance(0.05)) q.push(`continue=${g.string()}`);
  if (g.chance(0.05)) q.push(`propagationPolicy=${g.pick(["Orphan", "Background", "x"])}`);
  if (g.chance(0.05)) q.push(g.string());
  return q.length ? `?${q.join("&")}` : "";
}

const decoded = (s: string): string | undefined => {
  try {
    return decodeURIComponent(s);
  } catch {
    return undefined;
  }
};

interface FuzzRequest {
  method: string;
  path: string;
  contentType: string;
  body?: string | Buffer;
  /** Snapshot keys the request may change (`key ns/name`), or a prefix for collection writes. */
  allowed: (snapshotKey: string) => boolean;
}

function request(g: Gen): FuzzRequest {
  const kind = g.pick(KINDS);
  const method = g.pick(METHODS);
  const ns = kind.namespaced ? g.pick(NAMESPACES) : undefined;
  const collection = g.chance(0.25);
  const name = g.pick(NAMES);
  const sub = collection ? undefined : g.pick(SUBRESOURCES);
  let path = `/clusters/attacker${kind.base}${ns !== undefined ? `/namespaces/${ns}` : ""}/${kind.plural}`;
  if (!collection) path += `/${name}${sub ? `/${sub}` : ""}`;
  if (g.chance(0.05)) path = path.replace(/\//g, g.pick(["//", "/./", "/%2f"]));
  const contentType = g.pick(CONTENT_TYPES);
  const bodyName = collection ? (g.chance(0.8) ? `fz-${g.pick(["a", "b", "c", "d"])}` : g.pick(NAMES)) : name;
  const b =
    method === "GET" || method === "HEAD"
      ? undefined
      : body(g, kind, decoded(bodyName) ?? bodyName, contentType);
  const dns = ns === undefined ? "" : decoded(ns);
  const dname = decoded(name);
  const allowed = (k: string): boolean => {
    if (dns === undefined) return false;
    if (collection) return k.startsWith(`${kind.key} ${dns}/`);
    return dname !== undefined && k === `${kind.key} ${dns}/${dname}`;
  };
  // Node's client refuses whitespace and control characters in a path; everything else goes out as generated.
  const wire = [...(path + query(g))]
    .map((c) => (c.charCodeAt(0) <= 0x20 || c.charCodeAt(0) >= 0x7f || c === '"' ? encodeURIComponent(c) : c))
    .join("");
  return { method, path: wire, contentType, ...(b !== undefined ? { body: b } : {}), allowed };
}

let host: SimHost;
let attacker: string;

beforeAll(async () => {
  host = await SimHost.start({ port: 0 });
  attacker = (await host.createCluster({ id: "attacker" })).token;
  await host.createCluster({ id: "bystander" });
  await send(host, {
    method: "POST",
    path: "/clusters/attacker/api/v1/namespaces",
    token: attacker,
    contentType: "application/json",
    body: JSON.stringify({ metadata: { name: "fuzz" } }),
  });
});
afterAll(async () => {
  await host?.close();
});

describe("API fuzz", () => {
  it(
    `survives ${ITERATIONS} generated requests (seed ${SEED})`,
    async () => {
      const g = new Gen(mulberry32(SEED));
      let bystander = snapshotCluster(host, "bystander");
      let attackerText = snapshotCluster(host, "attacker");
      const statuses = new Map<number, number>();
      const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
      /** What the requests since the last full snapshot were allowed to change. */
      let allowedSince: FuzzRequest[] = [];
      for (let i = 0; i < ITERATIONS; i++) {
        const req = request(g);
        allowedSince.push(req);
        const where = `seed ${SEED} request ${i}: ${req.method} ${req.path.slice(0, 200)} [${req.contentType}] ${String(req.body ?? "").slice(0, 200)}`;
        const before = referenceSnapshot(host, "attacker");
        const r = await send(host, {
          method: req.method,
          path: req.path,
          token: attacker,
          agent,
          ...(req.contentType ? { contentType: req.contentType } : {}),
          ...(req.body !== undefined ? { body: req.body } : {}),
        });
        statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
        expect(r.status, `${where}\n→ ${r.body.slice(0, 300)}`).toBeLessThan(500);
        if (r.status >= 400 && req.method !== "HEAD")
          expect(statusOf(r), `${where}\n→ ${r.body.slice(0, 300)}`).toMatchObject({ code: r.status });
        expect(prototypeIsClean(), where).toBe(true);
        const keyOf = (c: string): string => c.slice(0, c.lastIndexOf(":"));
        const changed = diffSnapshots(before, referenceSnapshot(host, "attacker"));
        expect(
          changed.filter((c) => !req.allowed(keyOf(c))),
          where,
        ).toEqual([]);
        if (i % 25 === 24 || i === ITERATIONS - 1) {
          // Byte for byte: the other cluster is untouched, and the attacked one changed only where requests aimed.
          const now = snapshotCluster(host, "bystander");
          expect(diffSnapshots(bystander, now), where).toEqual([]);
          bystander = now;
          const attackedNow = snapshotCluster(host, "attacker");
          const stray = diffSnapshots(attackerText, attackedNow).filter(
            (c) => !allowedSince.some((q) => q.allowed(keyOf(c))),
          );
          expect(stray, where).toEqual([]);
          attackerText = attackedNow;
          allowedSince = [];
          expect((await send(host, { path: "/healthz" })).status, where).toBe(200);
        }
      }
      agent.destroy();
      // The run exercised both sides: some writes went through, many were refused.
      const ok = [...statuses].filter(([s]) => s < 300).reduce((n, [, c]) => n + c, 0);
      const refused = [...statuses].filter(([s]) => s >= 400).reduce((n, [, c]) => n + c, 0);
      expect(ok).toBeGreaterThan(ITERATIONS / 50);
      expect(refused).toBeGreaterThan(ITERATIONS / 4);
    },
    Math.max(120_000, ITERATIONS * 200),
  );
});
