/**
 * OpenAPI v3 documents built from the registry's schemas: the root (`/openapi/v3`, one entry per group-version with a
 * content hash) and one document per group-version, with `x-kubernetes-group-version-kind` on schemas and operations
 * (kubectl needs it for `explain`, `apply` and to know that the server validates fields itself).
 */
import { createHash } from "node:crypto";
import type { ServerResponse } from "node:http";
import type { JsonSchema, ResourceType } from "../store/types.ts";
import { groupsOf, subresourceInfo } from "./discovery.ts";
import { supportsStrategicMerge } from "./patch.ts";
import { KUBERNETES_VERSION } from "./version.ts";

const K8S_GROUPS = new Set(["", "apps", "batch", "policy", "autoscaling"]);

/** The component name real servers give a kind's schema: `io.k8s.api.core.v1.Pod`, `io.tigera.operator.v1.EgressGateway`. */
export function schemaName(group: string, version: string, kind: string): string {
  if (K8S_GROUPS.has(group)) return `io.k8s.api.${group || "core"}.${version}.${kind}`;
  if (group.endsWith(".k8s.io")) return `io.k8s.api.${group.slice(0, -".k8s.io".length)}.${version}.${kind}`;
  return `${group.split(".").reverse().join(".")}.${version}.${kind}`;
}

const gvPath = (group: string, version: string): string =>
  group ? `apis/${group}/${version}` : `api/${version}`;

const qp = (name: string, description: string): Record<string, unknown> => ({
  name,
  in: "query",
  description,
  schema: { type: "string", uniqueItems: true },
});

const WRITE_PARAMS = [
  qp("dryRun", "When present, indicates that modifications should not be persisted. Valid values are: - All"),
  qp(
    "fieldManager",
    "fieldManager is a name associated with the actor or entity that is making these changes.",
  ),
  qp(
    "fieldValidation",
    "fieldValidation instructs the server on how to handle objects in the request containing unknown or duplicate fields: Ignore, Warn or Strict.",
  ),
];
const LIST_PARAMS = [
  "labelSelector",
  "fieldSelector",
  "limit",
  "continue",
  "resourceVersion",
  "timeoutSeconds",
  "watch",
  "allowWatchBookmarks",
  "sendInitialEvents",
].map((n) => qp(n, n));

function op(
  t: ResourceType,
  action: string,
  ref: string,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    description: `${action} ${t.kind}`,
    operationId: `${action}${t.kind}`,
    responses: {
      "200": { description: "OK", content: { "application/json": { schema: { $ref: ref } } } },
      "401": { description: "Unauthorized" },
    },
    "x-kubernetes-action": action,
    "x-kubernetes-group-version-kind": { group: t.group, version: t.version, kind: t.kind },
    ...extra,
  };
}

function body(ref: string, types = ["application/json"]): Record<string, unknown> {
  return { content: Object.fromEntries(types.map((ct) => [ct, { schema: { $ref: ref } }])), required: true };
}

const PATCH_TYPES = [
  "application/apply-patch+yaml",
  "application/json-patch+json",
  "application/merge-patch+json",
  "application/strategic-merge-patch+json",
];

/**
 * The patch types a group's PATCH accepts. kubectl's client-side apply sends a strategic merge patch only where the
 * OpenAPI lists it, as the real server does for built-in kinds and aggregated APIs but not for custom resources.
 */
function patchTypes(group: string): string[] {
  return supportsStrategicMerge(group)
    ? PATCH_TYPES
    : PATCH_TYPES.filter((ct) => ct !== "application/strategic-merge-patch+json");
}

/** The OpenAPI v3 document of one group-version, or undefined when the cluster does not serve it. */
export function openApiDocument(
  types: readonly ResourceType[],
  group: string,
  version: string,
): Record<string, unknown> | undefined {
  const mine = types.filter((t) => t.group === group && t.version === version);
  if (mine.length === 0) return undefined;
  const schemas: Record<string, JsonSchema> = {};
  const paths: Record<string, unknown> = {};
  for (const t of mine) {
    const name = schemaName(t.group, t.version, t.kind);
    const ref = `#/components/schemas/${name}`;
    const listName = schemaName(t.group, t.version, t.listKind);
    schemas[name] = {
      ...t.schema,
      "x-kubernetes-group-version-kind": [{ group: t.group, version: t.version, kind: t.kind }],
    };
    schemas[listName] = {
      description: `${t.listKind} is a list of ${t.kind}`,
      type: "object",
      required: ["items"],
      properties: {
        apiVersion: { type: "string" },
        kind: { type: "string" },
        metadata: { type: "object" },
        items: { type: "array", items: { $ref: ref } },
      },
      "x-kubernetes-group-version-kind": [{ group: t.group, version: t.version, kind: t.listKind }],
    };
    const base = `/${gvPath(t.group, t.version)}${t.namespaced ? "/namespaces/{namespace}" : ""}/${t.plural}`;
    const pathParams = [
      ...(t.namespaced
        ? [{ name: "namespace", in: "path", required: true, schema: { type: "string", uniqueItems: true } }]
        : []),
    ];
    const nameParam = {
      name: "name",
      in: "path",
      required: true,
      schema: { type: "string", uniqueItems: true },
    };
    const listRef = `#/components/schemas/${listName}`;
    paths[base] = {
      get: op(t, "list", listRef, { parameters: LIST_PARAMS }),
      post: op(t, "post", ref, { parameters: WRITE_PARAMS, requestBody: body(ref) }),
      delete: op(t, "deletecollection", ref, { parameters: LIST_PARAMS }),
      parameters: pathParams,
    };
    paths[`${base}/{name}`] = {
      get: op(t, "get", ref),
      put: op(t, "put", ref, { parameters: WRITE_PARAMS, requestBody: body(ref) }),
      patch: op(t, "patch", ref, {
        parameters: [...WRITE_PARAMS, qp("force", "Force is going to force Apply requests.")],
        requestBody: body(ref, patchTypes(t.group)),
      }),
      delete: op(t, "delete", ref, { parameters: WRITE_PARAMS.slice(0, 1) }),
      parameters: [nameParam, ...pathParams],
    };
    for (const sub of t.subresources) {
      const info = subresourceInfo(t, sub);
      if (sub !== "status" && sub !== "scale") continue;
      const subRef =
        sub === "status" ? ref : `#/components/schemas/${schemaName("autoscaling", "v1", "Scale")}`;
      if (sub === "scale")
        schemas[schemaName("autoscaling", "v1", "Scale")] = {
          type: "object",
          properties: {
            spec: { type: "object", properties: { replicas: { type: "integer", format: "int32" } } },
            status: { type: "object" },
          },
          "x-kubernetes-group-version-kind": [{ group: "autoscaling", version: "v1", kind: "Scale" }],
        };
      paths[`${base}/{name}/${sub}`] = {
        get: {
          ...op(t, "get", subRef),
          "x-kubernetes-group-version-kind": { group: info.group, version: info.version, kind: info.kind },
        },
        put: {
          ...op(t, "put", subRef, { parameters: WRITE_PARAMS, requestBody: body(subRef) }),
          "x-kubernetes-group-version-kind": { group: info.group, version: info.version, kind: info.kind },
        },
        patch: {
          ...op(t, "patch", subRef, {
            parameters: WRITE_PARAMS,
            requestBody: body(subRef, patchTypes(t.group)),
          }),
          "x-kubernetes-group-version-kind": { group: info.group, version: info.version, kind: info.kind },
        },
        parameters: [nameParam, ...pathParams],
      };
    }
  }
  return {
    openapi: "3.0.0",
    info: { title: "Kubernetes", version: KUBERNETES_VERSION.gitVersion },
    paths,
    components: { schemas },
  };
}

interface Rendered {
  text: string;
  hash: string;
}

/** Rendered documents by the content of the types (clusters of one edition share them), and that key per types list. */
const documents = new Map<string, Map<string, Rendered>>();
const signatures = new WeakMap<readonly ResourceType[], string>();

function signature(types: readonly ResourceType[]): string {
  let sig = signatures.get(types);
  if (!sig) {
    const content = JSON.stringify(
      types.map((t) => [t.group, t.version, t.kind, t.plural, t.namespaced, t.subresources, t.schema]),
    );
    sig = createHash("sha256").update(content).digest("hex");
    signatures.set(types, sig);
  }
  return sig;
}

/** The serialized document of one group-version and its hash, cached by the content of the types. */
export function renderedDocument(
  types: readonly ResourceType[],
  group: string,
  version: string,
): Rendered | undefined {
  const sig = signature(types);
  let perTypes = documents.get(sig);
  if (!perTypes) documents.set(sig, (perTypes = new Map()));
  const key = `${group}/${version}`;
  const hit = perTypes.get(key);
  if (hit) return hit;
  const doc = openApiDocument(types, group, version);
  if (!doc) return undefined;
  const text = JSON.stringify(doc);
  const out = { text, hash: createHash("sha512").update(text).digest("hex").toUpperCase() };
  perTypes.set(key, out);
  return out;
}

/** `/openapi/v3`: every group-version with the URL of its document. */
export function openApiRoot(types: readonly ResourceType[]): Record<string, unknown> {
  const paths: Record<string, { serverRelativeURL: string }> = {};
  for (const g of groupsOf(types)) {
    for (const v of g.versions) {
      const doc = renderedDocument(types, g.group, v);
      if (doc)
        paths[gvPath(g.group, v)] = {
          serverRelativeURL: `/openapi/v3/${gvPath(g.group, v)}?hash=${doc.hash}`,
        };
    }
  }
  return { paths };
}

/**
 * `/openapi/v2`: an empty Swagger 2.0 document. kubectl 1.32 reads OpenAPI v3; it only falls back to v2 to validate a
 * kind the server does not serve, where an empty document lets it reach the real "no matches for kind" error.
 */
export function serveOpenApiV2(res: ServerResponse, accept: string | undefined): void {
  const protobuf = (accept ?? "").includes("protobuf");
  // A gnostic openapi_v2.Document with only `swagger: "2.0"` (field 1).
  const body = protobuf
    ? Buffer.from([0x0a, 0x03, 0x32, 0x2e, 0x30])
    : Buffer.from(
        JSON.stringify({
          swagger: "2.0",
          info: { title: "Kubernetes", version: KUBERNETES_VERSION.gitVersion },
          paths: {},
          definitions: {},
        }),
      );
  res.writeHead(200, {
    "Content-Type": protobuf
      ? "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
      : "application/json",
    "Content-Length": String(body.length),
  });
  res.end(body);
}
