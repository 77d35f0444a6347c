/**
 * A small in-memory cluster for testing the API server's wire protocol without the real store: a handful of kinds,
 * equality label selectors, watches, and a pod runtime that knows `hostname`, `echo`, `cat` and `sh -c 'exit N'`.
 */
import {
  ApiError,
  type ClusterApi,
  type KubeObject,
  type ResourceType,
  type WatchEvent,
} from "../../server/src/store/types.ts";
import type {
  DataplaneApi,
  ExecIO,
  ExecRequest,
  PodRuntime,
  SimClusterHandle,
} from "../../server/src/sim/types.ts";
import type { ClusterFactory } from "../../server/src/sim/host.ts";
import { realClock } from "../../server/src/shared/clock.ts";

const str = { type: "string" };
const meta = {
  type: "object",
  properties: {
    name: str,
    namespace: str,
    labels: { type: "object", additionalProperties: str },
    annotations: { type: "object", additionalProperties: str },
    resourceVersion: str,
  },
};

function kind(
  group: string,
  k: string,
  plural: string,
  namespaced: boolean,
  extra: Partial<ResourceType> = {},
): ResourceType {
  return {
    group,
    version: group === "" ? "v1" : group === "projectcalico.org" ? "v3" : "v1",
    kind: k,
    listKind: `${k}List`,
    plural,
    singular: k.toLowerCase(),
    namespaced,
    shortNames: [],
    categories: [],
    verbs: ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"],
    subresources: [],
    schema: {
      type: "object",
      properties: { apiVersion: str, kind: str, metadata: meta, spec: { type: "object" } },
    },
    columns: [],
    ...extra,
  };
}

const containerSchema = {
  type: "array",
  "x-kubernetes-patch-merge-key": "name",
  "x-kubernetes-patch-strategy": "merge",
  "x-kubernetes-list-type": "map",
  "x-kubernetes-list-map-keys": ["name"],
  items: { type: "object", properties: { name: str, image: str, args: { type: "array", items: str } } },
};

export function fakeTypes(): ResourceType[] {
  return [
    kind("", "Namespace", "namespaces", false, {
      shortNames: ["ns"],
      subresources: ["status"],
      columns: [
        {
          name: "Status",
          type: "string",
          priority: 0,
          value: (o) => (o.status as { phase?: string } | undefined)?.phase ?? "Active",
        },
      ],
    }),
    kind("", "Pod", "pods", true, {
      shortNames: ["po"],
      categories: ["all"],
      subresources: ["status", "exec", "log", "attach"],
      schema: {
        type: "object",
        properties: {
          apiVersion: str,
          kind: str,
          metadata: meta,
          spec: { type: "object", properties: { containers: containerSchema, nodeName: str } },
          status: { type: "object", properties: { phase: str, podIP: str } },
        },
      },
      columns: [
        {
          name: "Status",
          type: "string",
          priority: 0,
          value: (o) => (o.status as { phase?: string } | undefined)?.phase,
        },
        {
          name: "IP",
          type: "string",
          priority: 1,
          value: (o) => (o.status as { podIP?: string } | undefined)?.podIP,
        },
      ],
    }),
    kind("", "ConfigMap", "configmaps", true, {
      shortNames: ["cm"],
      schema: {
        type: "object",
        properties: {
          apiVersion: str,
          kind: str,
          metadata: meta,
          data: { type: "object", additionalProperties: str },
        },
      },
      columns: [
        {
          name: "Data",
          type: "integer",
          priority: 0,
          value: (o) => Object.keys((o.data as object) ?? {}).length,
        },
      ],
    }),
    kind("apps", "Deployment", "deployments", true, {
      shortNames: ["deploy"],
      categories: ["all"],
      subresources: ["status", "scale"],
      schema: {
        type: "object",
        properties: {
          apiVersion: str,
          kind: str,
          metadata: meta,
          spec: {
            type: "object",
            properties: {
              replicas: { type: "integer" },
              selector: { type: "object" },
              template: {
                type: "object",
                properties: { spec: { type: "object", properties: { containers: containerSchema } } },
              },
            },
          },
          status: { type: "object" },
        },
      },
    }),
    kind("projectcalico.org", "GlobalNetworkPolicy", "globalnetworkpolicies", false, { shortNames: ["gnp"] }),
    kind("operator.tigera.io", "EgressGateway", "egressgateways", true, {}),
  ];
}

interface Watcher {
  type: ResourceType;
  namespace?: string;
  labels?: Record<string, string>;
  cb: (e: WatchEvent) => void;
}

function parseLabels(sel: string | undefined): Record<string, string> | undefined {
  if (!sel) return undefined;
  const out: Record<string, string> = {};
  for (const part of sel.split(",")) {
    const m = /^\s*([A-Za-z0-9./_-]+)\s*==?\s*([A-Za-z0-9._-]*)\s*$/.exec(part);
    if (!m)
      throw new ApiError(
        400,
        "BadRequest",
        `unable to parse requirement: found '${part}', expected: '=', '!=', '==', 'in', notin'`,
      );
    out[m[1]!] = m[2]!;
  }
  return out;
}

const matches = (obj: KubeObject, labels: Record<string, string> | undefined): boolean =>
  !labels || Object.entries(labels).every(([k, v]) => obj.metadata.labels?.[k] === v);

/** The fake `ClusterApi` over a map; enough semantics for wire tests (rv, 404/409, watches, namespaces). */
export function createFakeApi(): ClusterApi {
  const types = fakeTypes();
  const objects = new Map<string, KubeObject>();
  const watchers = new Set<Watcher>();
  let rv = 1;
  const key = (t: ResourceType, ns: string | undefined, name: string): string =>
    `${t.plural}/${ns ?? ""}/${name}`;
  const notify = (t: ResourceType, e: WatchEvent): void => {
    for (const w of watchers)
      if (
        w.type === t &&
        (!w.namespace || w.namespace === e.object.metadata.namespace) &&
        matches(e.object, w.labels)
      )
        w.cb(e);
  };
  const api: ClusterApi = {
    types: () => types,
    findType: (n) =>
      types.find(
        (t) => t.plural === n || t.kind.toLowerCase() === n.toLowerCase() || t.shortNames.includes(n),
      ),
    get(t, ns, name) {
      const o = objects.get(key(t, ns, name));
      if (!o)
        throw new ApiError(
          404,
          "NotFound",
          `${t.plural}${t.group ? "." + t.group : ""} "${name}" not found`,
          { name, kind: t.plural, group: t.group },
        );
      return structuredClone(o);
    },
    list(t, opts) {
      const labels = parseLabels(opts.labelSelector);
      const items = [...objects.entries()]
        .filter(([k]) => k.startsWith(`${t.plural}/`))
        .map(([, o]) => o)
        .filter((o) => !opts.namespace || o.metadata.namespace === opts.namespace)
        .filter((o) => matches(o, labels))
        .sort((a, b) =>
          `${a.metadata.namespace}/${a.metadata.name}`.localeCompare(
            `${b.metadata.namespace}/${b.metadata.name}`,
          ),
        );
      return { items: structuredClone(items), resourceVersion: String(rv) };
    },
    create(t, ns, raw, opts) {
      const obj = structuredClone(raw) as KubeObject;
      const name = obj.metadata?.name;
      if (!name)
        throw new ApiError(
          422,
          "Invalid",
          `${t.kind} "" is invalid: metadata.name: Required value: name or generateName is required`,
        );
      if (t.namespaced) {
        const nsName = ns ?? obj.metadata.namespace ?? "default";
        if (!objects.has(`namespaces//${nsName}`))
          throw new ApiError(404, "NotFound", `namespaces "${nsName}" not found`, {
            name: nsName,
            kind: "namespaces",
          });
        obj.metadata.namespace = nsName;
      }
      const k = key(t, obj.metadata.namespace, name);
      if (objects.has(k))
        throw new ApiError(
          409,
          "AlreadyExists",
          `${t.plural}${t.group ? "." + t.group : ""} "${name}" already exists`,
          { name, kind: t.plural, group: t.group },
        );
      obj.apiVersion = t.group ? `${t.group}/${t.version}` : t.version;
      obj.kind = t.kind;
      obj.metadata.uid = `uid-${rv + 1}`;
      obj.metadata.creationTimestamp = new Date().toISOString().replace(/\.\d+Z$/, "Z");
      if (t.kind === "Pod") obj.status = { phase: "Running", podIP: "192.168.0.5" };
      if (opts?.dryRun) return { object: obj, warnings: [] };
      obj.metadata.resourceVersion = String(++rv);
      objects.set(k, obj);
      notify(t, { type: "ADDED", object: structuredClone(obj) });
      return { object: structuredClone(obj), warnings: [] };
    },
    update(t, ns, name, raw, opts) {
      const k = key(t, ns, name);
      const cur = objects.get(k);
      if (!cur)
        throw new ApiError(404, "NotFound", `${t.plural} "${name}" not found`, { name, kind: t.plural });
      const obj = structuredClone(raw) as KubeObject;
      if (obj.metadata.resourceVersion && obj.metadata.resourceVersion !== cur.metadata.resourceVersion)
        throw new ApiError(
          409,
          "Conflict",
          `Operation cannot be fulfilled on ${t.plural}${t.group ? "." + t.group : ""} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
        );
      obj.metadata = {
        ...obj.metadata,
        uid: cur.metadata.uid,
        creationTimestamp: cur.metadata.creationTimestamp,
        namespace: cur.metadata.namespace,
      };
      obj.apiVersion = cur.apiVersion;
      obj.kind = cur.kind;
      if (opts?.subresource !== "status" && cur.status !== undefined) obj.status = cur.status;
      if (
        JSON.stringify({ ...obj, metadata: { ...obj.metadata, resourceVersion: "" } }) ===
        JSON.stringify({ ...cur, metadata: { ...cur.metadata, resourceVersion: "" } })
      )
        return { object: structuredClone(cur), warnings: [] };
      if (opts?.dryRun) return { object: obj, warnings: [] };
      obj.metadata.resourceVersion = String(++rv);
      objects.set(k, obj);
      notify(t, { type: "MODIFIED", object: structuredClone(obj) });
      return { object: structuredClone(obj), warnings: [] };
    },
    delete(t, ns, name, opts) {
      const k = key(t, ns, name);
      const cur = objects.get(k);
      if (!cur)
        throw new ApiError(
          404,
          "NotFound",
          `${t.plural}${t.group ? "." + t.group : ""} "${name}" not found`,
          { name, kind: t.plural, group: t.group },
        );
      if (opts?.dryRun) return structuredClone(cur);
      objects.delete(k);
      cur.metadata.resourceVersion = String(++rv);
      notify(t, { type: "DELETED", object: structuredClone(cur) });
      return structuredClone(cur);
    },
    watch(t, opts, cb) {
      if (opts.resourceVersion && Number(opts.resourceVersion) < rv - 1000)
        throw new ApiError(410, "Expired", `too old resource version: ${opts.resourceVersion} (${rv})`);
      const w: Watcher = { type: t, cb, ...(opts.namespace ? { namespace: opts.namespace } : {}) };
      const labels = parseLabels(opts.labelSelector);
      if (labels) w.labels = labels;
      watchers.add(w);
      return () => watchers.delete(w);
    },
  };
  for (const ns of ["default", "kube-system"])
    api.create(types[0]!, undefined, { apiVersion: "v1", kind: "Namespace", metadata: { name: ns } });
  return api;
}

/** A pod runtime that knows a few commands, for transport tests. */
export function fakeRuntime(api: ClusterApi): PodRuntime {
  const podType = api.types().find((t) => t.plural === "pods")!;
  return {
    async exec(req: ExecRequest, io: ExecIO): Promise<number> {
      api.get(podType, req.namespace, req.pod);
      const [cmd, ...args] = req.command;
      if (cmd === "hostname") {
        io.stdout(`${req.pod}\n`);
        return 0;
      }
      if (cmd === "echo") {
        io.stdout(`${args.join(" ")}\n`);
        return 0;
      }
      if (cmd === "sh" && args[0] === "-c") {
        const m = /^exit (\d+)$/.exec(args[1] ?? "");
        if (m) {
          io.stderr(`exiting with ${m[1]}\n`);
          return Number(m[1]);
        }
      }
      if (cmd === "cat") {
        return new Promise((resolve) => {
          io.onStdin((d) => io.stdout(d));
          io.onStdinEnd(() => resolve(0));
          io.signal.addEventListener("abort", () => resolve(130));
        });
      }
      io.stderr(`sh: ${cmd ?? ""}: not found\n`);
      return 127;
    },
    logs(ns, pod, opts) {
      api.get(podType, ns, pod);
      const lines = ["starting", "listening on :8080", "ready"].map((l) => `${pod}: ${l}\n`);
      return (opts.tailLines !== undefined ? lines.slice(-opts.tailLines) : lines).join("");
    },
  };
}

const fakeDataplane: DataplaneApi = {
  queryFlows: (q) => ({ items: [{ action: q.get("action") ?? "allow", dest_domains: ["example.com"] }] }),
  watchFlows: () => () => {},
  rotate: (body) => ({ rotated: body }),
};

export function createFakeCluster(id: string): SimClusterHandle {
  const api = createFakeApi();
  return {
    id,
    edition: "enterprise",
    api,
    store: { get: () => undefined, list: () => [], subscribe: () => () => {} },
    runtime: fakeRuntime(api),
    dataplane: fakeDataplane,
    clock: realClock,
    close: async () => {},
  };
}

export const fakeClusterFactory: ClusterFactory = async (spec) => createFakeCluster(spec.id);
