/**
 * Helpers for hostile-input tests against a SimHost: requests sent byte for byte (no URL normalisation, any method,
 * body and content type), snapshots of whole clusters to prove a request changed nothing outside its target, and the
 * shape of a Kubernetes `Status`.
 */
import https from "node:https";
import { resourceKey } from "../../server/src/store/types.ts";
import type { SimHost } from "../../server/src/sim/host.ts";

export interface HostileResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One request with `path` sent exactly as given (dot segments, bad escapes and all). */
export function send(
  host: SimHost,
  opts: {
    method?: string;
    path: string;
    token?: string;
    body?: string | Buffer;
    contentType?: string;
    headers?: Record<string, string>;
    /** A keep-alive agent to reuse connections (one TLS handshake for many requests); none by default. */
    agent?: https.Agent;
  },
): Promise<HostileResponse> {
  const base = new URL(host.url);
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: base.hostname,
        port: base.port,
        method: opts.method ?? "GET",
        path: opts.path,
        ca: host.caCert,
        agent: opts.agent ?? false,
        headers: {
          ...(opts.token ? { Authorization: `Bearer ${opts.token}` } : {}),
          ...(opts.body !== undefined ? { "Content-Length": String(Buffer.byteLength(opts.body)) } : {}),
          ...(opts.contentType ? { "Content-Type": opts.contentType } : {}),
          ...opts.headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString("utf8"),
          }),
        );
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    if (opts.body !== undefined) req.end(opts.body);
    else req.end();
  });
}

/**
 * Every stored object of a cluster, by resource key, as canonical JSON text (objects that the cluster's own
 * controllers rewrite on a clock are the caller's business: compare snapshots taken around one request).
 */
export function snapshotCluster(host: SimHost, id: string): Map<string, string> {
  const cluster = host.getCluster(id);
  if (!cluster) throw new Error(`no cluster ${id}`);
  const out = new Map<string, string>();
  const keys = new Set(cluster.api.types().map((t) => resourceKey(t)));
  for (const key of keys) {
    for (const o of cluster.store.list(key))
      out.set(`${key} ${o.metadata.namespace ?? ""}/${o.metadata.name}`, JSON.stringify(o));
  }
  return out;
}

/**
 * The stored objects of a cluster by identity: the store replaces an object on every write, so a different reference
 * is a write (cheap enough for every request; `snapshotCluster` also catches changes made in place).
 */
export function referenceSnapshot(host: SimHost, id: string): Map<string, unknown> {
  const cluster = host.getCluster(id);
  if (!cluster) throw new Error(`no cluster ${id}`);
  const out = new Map<string, unknown>();
  for (const key of new Set(cluster.api.types().map((t) => resourceKey(t))))
    for (const o of cluster.store.list(key))
      out.set(`${key} ${o.metadata.namespace ?? ""}/${o.metadata.name}`, o);
  return out;
}

/** The differences between two snapshots, as `key: added|removed|changed` lines (empty when identical). */
export function diffSnapshots<T>(before: Map<string, T>, after: Map<string, T>): string[] {
  const out: string[] = [];
  for (const [k, v] of before) {
    const w = after.get(k);
    if (w === undefined) out.push(`${k}: removed`);
    else if (w !== v) out.push(`${k}: changed`);
  }
  for (const k of after.keys()) if (!before.has(k)) out.push(`${k}: added`);
  return out;
}

/** The parsed body when it is a Kubernetes `Status` with a code and a message, else undefined. */
export function statusOf(r: HostileResponse): { code: number; reason?: string; message: string } | undefined {
  let body: unknown;
  try {
    body = JSON.parse(r.body);
  } catch {
    return undefined;
  }
  if (typeof body !== "object" || body === null) return undefined;
  const s = body as {
    kind?: unknown;
    apiVersion?: unknown;
    code?: unknown;
    message?: unknown;
    reason?: unknown;
  };
  if (
    s.kind !== "Status" ||
    s.apiVersion !== "v1" ||
    typeof s.code !== "number" ||
    typeof s.message !== "string"
  )
    return undefined;
  return { code: s.code, message: s.message, ...(typeof s.reason === "string" ? { reason: s.reason } : {}) };
}

/** What `Object.prototype` and `Array.prototype` hold when the test starts (names and values). */
const PROTOS: [object, Map<string, unknown>][] = [Object.prototype, Array.prototype].map((p) => [
  p,
  new Map(Object.getOwnPropertyNames(p).map((k) => [k, Object.getOwnPropertyDescriptor(p, k)?.value])),
]);

/** Whether the shared prototypes are as they were: no key added, none replaced, and `({}).x` finds nothing. */
export function prototypeIsClean(): boolean {
  for (const [proto, names] of PROTOS) {
    const now = Object.getOwnPropertyNames(proto);
    if (now.length !== names.size) return false;
    for (const k of now)
      if (!names.has(k) || Object.getOwnPropertyDescriptor(proto, k)?.value !== names.get(k)) return false;
  }
  const probe: Record<string, unknown> = {};
  return probe.x === undefined && Object.getPrototypeOf(probe) === Object.prototype;
}
