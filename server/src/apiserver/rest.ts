/**
 * The REST verbs on resources: get, list, watch, create, update, patch (JSON, merge, strategic, apply), delete and
 * deletecollection, with the `status` and `scale` subresources, Table output, dry runs and managedFields.
 */
import {
  ApiError,
  type KubeObject,
  type ResourceType,
  type WriteOptions,
  type WriteResult,
} from "../store/types.ts";
import type { RequestContext } from "./context.ts";
import type { ResourceRoute } from "./route.ts";
import { decodeBody, mediaType, readBody } from "./body.ts";
import { boolParam, intParam, listOptions, writeOptions } from "./options.ts";
import { sendJson, whenCommitted } from "./respond.ts";
import { toTable, wantsTable, type IncludeObject } from "./table.ts";
import { serveWatch } from "./watch.ts";
import {
  applyJsonPatch,
  applyMergePatch,
  strategicMerge,
  supportsStrategicMerge,
  PATCH_UNSUPPORTED_CRD,
} from "./patch.ts";
import { fromScale, toScale } from "./scale.ts";
import { recordUpdate, serverSideApply } from "./managed.ts";
import { successStatus } from "./status.ts";

import { cloneJson, getOwn, isObject, type JsonObject } from "../shared/object.ts";

const gvOf = (t: ResourceType): string => (t.group ? `${t.group}/${t.version}` : t.version);

function includeObjectParam(q: URLSearchParams): IncludeObject {
  const v = q.get("includeObject");
  if (v === "None" || v === "Object") return v;
  return "Metadata";
}

function notFound(t: ResourceType, name: string): ApiError {
  return new ApiError(404, "NotFound", `${t.plural}${t.group ? `.${t.group}` : ""} "${name}" not found`, {
    name,
    group: t.group,
    kind: t.plural,
  });
}

/** Finds the type a resource route addresses, or a 404 like the real server's for unknown paths. */
export function resolveType(ctx: RequestContext, r: ResourceRoute): ResourceType {
  const t = ctx.cluster.api
    .types()
    .find((x) => x.group === r.group && x.version === r.version && x.plural === r.plural);
  if (!t) throw new ApiError(404, "NotFound", "the server could not find the requested resource");
  if (r.namespace !== undefined && !t.namespaced)
    throw new ApiError(404, "NotFound", "the server could not find the requested resource");
  if (r.subresource && !t.subresources.includes(r.subresource))
    throw new ApiError(404, "NotFound", "the server could not find the requested resource");
  return t;
}

/** Serves one REST request on a resource (not exec/attach/log, which have their own handlers). */
export async function serveResource(ctx: RequestContext, r: ResourceRoute, t: ResourceType): Promise<void> {
  const { req, res, url, cluster } = ctx;
  const q = url.searchParams;
  const method = req.method ?? "GET";
  const ns = t.namespaced ? r.namespace : undefined;
  const table = wantsTable(req.headers.accept);
  const includeObject = includeObjectParam(q);
  const api = cluster.api;

  const respondObject = (code: number, obj: KubeObject, warnings: readonly string[] = []): void => {
    if (table && method === "GET")
      sendJson(
        res,
        code,
        toTable(t, [obj], { includeObject, resourceVersion: obj.metadata.resourceVersion }),
        {
          contentType: "application/json;as=Table;v=v1;g=meta.k8s.io",
        },
      );
    else sendJson(res, code, obj, { warnings });
  };

  if (method === "GET" && r.name === undefined) {
    if (r.watchPrefix || boolParam(q, "watch")) {
      serveWatch(ctx, t, ns, { table, includeObject });
      return;
    }
    const list = api.list(t, listOptions(q, ns));
    const shown = ctx.visible ? list.items.filter((o) => ctx.visible!(o)) : list.items;
    const { items, cont, remaining } = paginate(shown, list.resourceVersion, q);
    await whenCommitted(cluster, list.resourceVersion);
    if (table) {
      const body = toTable(t, items, { includeObject, resourceVersion: list.resourceVersion });
      if (cont) (body.metadata as JsonObject).continue = cont;
      if (remaining !== undefined) (body.metadata as JsonObject).remainingItemCount = remaining;
      sendJson(res, 200, body, { contentType: "application/json;as=Table;v=v1;g=meta.k8s.io" });
      return;
    }
    sendJson(res, 200, {
      kind: t.listKind,
      apiVersion: gvOf(t),
      metadata: {
        resourceVersion: list.resourceVersion,
        ...(cont ? { continue: cont } : {}),
        ...(remaining !== undefined ? { remainingItemCount: remaining } : {}),
      },
      items: items.map((o) => withTypeMeta(t, o)),
    });
    return;
  }

  if (method === "GET") {
    const obj = api.get(t, ns, r.name!);
    await whenCommitted(cluster, obj.metadata.resourceVersion);
    if (r.subresource === "scale") return sendJson(res, 200, toScale(obj));
    return respondObject(200, withTypeMeta(t, obj));
  }

  if (method === "POST" && r.name === undefined) {
    const opts = writeOptions(q, req.headers["user-agent"]);
    const body = await readObject(ctx);
    checkNamespace(body, ns);
    const created = create(ctx, t, ns, body, opts);
    await whenCommitted(cluster);
    return respondObject(201, created.object, created.warnings);
  }

  if (r.name === undefined) {
    if (method === "DELETE") return deleteCollection(ctx, t, ns);
    throw new ApiError(
      405,
      "MethodNotAllowed",
      "the server does not allow this method on the requested resource",
    );
  }
  const name = r.name;

  if (method === "PUT") {
    const opts = writeOptions(q, req.headers["user-agent"]);
    const body = await readObject(ctx);
    const current = api.get(t, ns, name);
    if (r.subresource === "scale") {
      const next = fromScale(current, body);
      const out = update(ctx, t, ns, name, current, next, opts, "scale");
      await whenCommitted(cluster);
      return sendJson(res, 200, toScale(out.object), { warnings: out.warnings });
    }
    checkNamespace(body, ns);
    const bodyName = (body.metadata as JsonObject | undefined)?.name;
    if (typeof bodyName === "string" && bodyName !== name)
      throw new ApiError(
        400,
        "BadRequest",
        `the name of the object (${bodyName}) does not match the name on the URL (${name})`,
      );
    const bodyUid = (body.metadata as JsonObject | undefined)?.uid;
    if (typeof bodyUid === "string" && bodyUid !== "" && bodyUid !== current.metadata.uid)
      throw conflict(t, name, preconditionFailed("UID", bodyUid, current.metadata.uid));
    const sub = r.subresource === "status" ? "status" : undefined;
    const out = update(ctx, t, ns, name, current, body as KubeObject, opts, sub);
    await whenCommitted(cluster);
    return respondObject(200, out.object, out.warnings);
  }

  if (method === "PATCH") return patch(ctx, t, ns, name, r.subresource);

  if (method === "DELETE") {
    const opts = await deleteOptions(ctx);
    checkPreconditions(t, api.get(t, ns, name), opts.preconditions);
    const deleted = api.delete(t, ns, name, opts);
    await whenCommitted(cluster);
    if (
      deleted.metadata.deletionTimestamp ||
      !supportsStrategicMerge(t.group) ||
      t.group === "projectcalico.org"
    )
      return sendJson(res, 200, withTypeMeta(t, deleted));
    return sendJson(
      res,
      200,
      successStatus({ name, group: t.group, kind: t.plural, uid: deleted.metadata.uid }),
    );
  }

  throw new ApiError(
    405,
    "MethodNotAllowed",
    "the server does not allow this method on the requested resource",
  );
}

function withTypeMeta(t: ResourceType, obj: KubeObject): KubeObject {
  if (obj.kind && obj.apiVersion) return obj;
  return { ...obj, apiVersion: gvOf(t), kind: t.kind };
}

function paginate(
  items: KubeObject[],
  rv: string,
  q: URLSearchParams,
): { items: KubeObject[]; cont?: string; remaining?: number } {
  const limit = intParam(q, "limit");
  const token = q.get("continue");
  let start = 0;
  if (token) {
    try {
      const parsed = JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as { start?: unknown };
      if (typeof parsed.start !== "number") throw new Error("bad token");
      start = parsed.start;
    } catch {
      throw new ApiError(
        400,
        "BadRequest",
        "continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)",
      );
    }
  }
  if (!limit) return { items: items.slice(start) };
  const page = items.slice(start, start + limit);
  const next = start + limit;
  if (next >= items.length) return { items: page };
  return {
    items: page,
    cont: Buffer.from(JSON.stringify({ rv, start: next })).toString("base64url"),
    remaining: items.length - next,
  };
}

async function readObject(ctx: RequestContext): Promise<JsonObject> {
  const body = decodeBody(await readBody(ctx.req), ctx.req.headers["content-type"]);
  if (!isObject(body)) throw new ApiError(400, "BadRequest", "the request body must be a JSON object");
  return body;
}

function checkNamespace(body: JsonObject, ns: string | undefined): void {
  const meta = body.metadata;
  if (!isObject(meta)) return;
  const bodyNs = meta.namespace;
  if (ns !== undefined && typeof bodyNs === "string" && bodyNs !== "" && bodyNs !== ns)
    throw new ApiError(
      400,
      "BadRequest",
      "the namespace of the provided object does not match the namespace sent on the request",
    );
}

function managerOf(opts: WriteOptions): string {
  return opts.fieldManager ?? "unknown";
}

function create(
  ctx: RequestContext,
  t: ResourceType,
  ns: string | undefined,
  body: JsonObject,
  opts: WriteOptions,
): WriteResult {
  const obj = cloneJson(body) as KubeObject;
  if (isObject(obj.metadata)) {
    obj.metadata.managedFields = recordUpdate(undefined, obj, t.schema, {
      manager: managerOf(opts),
      apiVersion: gvOf(t),
      now: ctx.cluster.clock.now(),
    });
  }
  ctx.admitCreate?.(t, obj);
  return ctx.cluster.api.create(t, ns, obj, opts);
}

function update(
  ctx: RequestContext,
  t: ResourceType,
  ns: string | undefined,
  name: string,
  current: KubeObject,
  next: KubeObject,
  opts: WriteOptions,
  subresource?: "status" | "scale",
): WriteResult {
  const obj = cloneJson(next);
  if (isObject(obj.metadata)) {
    obj.metadata.managedFields = recordUpdate(current, obj, t.schema, {
      manager: managerOf(opts),
      apiVersion: gvOf(t),
      now: ctx.cluster.clock.now(),
      ...(subresource ? { subresource } : {}),
    });
  }
  // A scale change is stored as an update of the whole object (its replicas); managedFields still name the subresource.
  return ctx.cluster.api.update(t, ns, name, obj, {
    ...opts,
    ...(subresource === "status" ? { subresource } : {}),
  });
}

async function patch(
  ctx: RequestContext,
  t: ResourceType,
  ns: string | undefined,
  name: string,
  subresource: string | undefined,
): Promise<void> {
  const { req, res, url, cluster } = ctx;
  const q = url.searchParams;
  const type = mediaType(req.headers["content-type"]);
  const known = [
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    "application/apply-patch+yaml",
  ];
  if (!known.includes(type))
    throw new ApiError(
      415,
      "UnsupportedMediaType",
      `the body of the request was in an unknown format - accepted media types include: ${known.filter((k) => supportsStrategicMerge(t.group) || !k.includes("strategic")).join(", ")}`,
    );
  if (type === "application/strategic-merge-patch+json" && !supportsStrategicMerge(t.group))
    throw PATCH_UNSUPPORTED_CRD;
  const opts = writeOptions(q, req.headers["user-agent"]);
  const raw = await readBody(req);
  const patchBody = decodeBody(
    raw,
    type === "application/apply-patch+yaml" ? "application/yaml" : "application/json",
  );

  if (type === "application/apply-patch+yaml") {
    if (!q.get("fieldManager"))
      throw new ApiError(
        422,
        "Invalid",
        'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch',
        {
          group: "meta.k8s.io",
          kind: "PatchOptions",
          causes: [
            {
              reason: "FieldValueRequired",
              message: "Required value: is required for apply patch",
              field: "fieldManager",
            },
          ],
        },
      );
    if (!isObject(patchBody))
      throw new ApiError(400, "BadRequest", "the apply configuration must be an object");
    const force = boolParam(q, "force");
    let live: KubeObject | undefined;
    try {
      live = cluster.api.get(t, ns, name);
    } catch (e) {
      if (!(e instanceof ApiError && e.code === 404)) throw e;
    }
    const applied = patchBody as KubeObject;
    if (applied.metadata !== undefined && applied.metadata !== null && !isObject(applied.metadata))
      throw new ApiError(
        400,
        "BadRequest",
        `failed to create typed patch object: .metadata: expected map, got ${Array.isArray(applied.metadata) ? "list" : typeof applied.metadata}`,
      );
    checkNamespace(patchBody, ns);
    const meta = isObject(applied.metadata) ? applied.metadata : ({} as KubeObject["metadata"]);
    if (meta.name !== undefined && meta.name !== name)
      throw new ApiError(
        400,
        "BadRequest",
        `the name of the object (${String(meta.name)}) does not match the name on the URL (${name})`,
      );
    const merged = serverSideApply(live, { ...applied, metadata: { ...meta, name } }, t.schema, {
      manager: opts.fieldManager!,
      apiVersion: gvOf(t),
      force,
      now: cluster.clock.now(),
    });
    if (ns !== undefined) merged.metadata.namespace = ns;
    if (!live) {
      ctx.admitCreate?.(t, merged);
      const out = cluster.api.create(t, ns, merged, opts);
      await whenCommitted(cluster);
      return sendJson(res, 201, out.object, { warnings: out.warnings });
    }
    merged.metadata.resourceVersion = live.metadata.resourceVersion;
    const out = cluster.api.update(t, ns, name, merged, opts);
    await whenCommitted(cluster);
    return sendJson(res, 200, out.object, { warnings: out.warnings });
  }

  const current = cluster.api.get(t, ns, name);
  const base: unknown = subresource === "scale" ? toScale(current) : cloneJson(current);
  let patched: unknown;
  if (type === "application/json-patch+json") patched = applyJsonPatch(base, patchBody);
  else if (type === "application/merge-patch+json") {
    if (!isObject(patchBody)) throw new ApiError(400, "BadRequest", "the merge patch must be a JSON object");
    patched = applyMergePatch(base, patchBody);
  } else {
    if (!isObject(patchBody))
      throw new ApiError(400, "BadRequest", "the strategic merge patch must be a JSON object");
    patched = strategicMerge(base, patchBody, subresource === "scale" ? undefined : t.schema);
  }
  if (!isObject(patched) || !isObject(patched.metadata))
    throw new ApiError(422, "Invalid", "the patch produced an object without metadata");
  if (subresource === "scale") {
    const out = update(ctx, t, ns, name, current, fromScale(current, patched), opts, "scale");
    await whenCommitted(cluster);
    return sendJson(res, 200, toScale(out.object), { warnings: out.warnings });
  }
  const next = patched as KubeObject;
  if (next.metadata.name !== name)
    throw new ApiError(
      400,
      "BadRequest",
      `the name of the object (${String(next.metadata.name)}) does not match the name on the URL (${name})`,
    );
  if (!next.metadata.resourceVersion) next.metadata.resourceVersion = current.metadata.resourceVersion;
  const out = update(ctx, t, ns, name, current, next, opts, subresource === "status" ? "status" : undefined);
  await whenCommitted(cluster);
  sendJson(res, 200, out.object, { warnings: out.warnings });
}

/** `Precondition failed: UID in precondition: a, UID in object meta: b`, as the storage layer words it. */
function preconditionFailed(
  what: "UID" | "ResourceVersion",
  wanted: string,
  actual: string | undefined,
): string {
  return `Precondition failed: ${what} in precondition: ${wanted}, ${what} in object meta: ${actual ?? ""}`;
}

function conflict(t: ResourceType, name: string, why: string): ApiError {
  return new ApiError(
    409,
    "Conflict",
    `Operation cannot be fulfilled on ${t.plural}${t.group ? `.${t.group}` : ""} "${name}": ${why}`,
    { name, ...(t.group ? { group: t.group } : {}), kind: t.plural },
  );
}

/** The `preconditions` of a DeleteOptions body: a uid and resourceVersion the object must still have. */
function readPreconditions(v: unknown): DeletePreconditions | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObject(v))
    throw new ApiError(
      400,
      "BadRequest",
      "json: cannot unmarshal into Go struct field DeleteOptions.preconditions of type v1.Preconditions",
    );
  const out: DeletePreconditions = {};
  for (const k of ["uid", "resourceVersion"] as const) {
    const x = getOwn(v, k);
    if (x === undefined || x === null) continue;
    if (typeof x !== "string")
      throw new ApiError(
        400,
        "BadRequest",
        `json: cannot unmarshal ${typeof x} into Go struct field Preconditions.preconditions.${k} of type string`,
      );
    out[k] = x;
  }
  return out;
}

/** Checks a delete's preconditions against the live object: 409 Conflict when either differs. */
export function checkPreconditions(
  t: ResourceType,
  obj: KubeObject,
  pre: DeletePreconditions | undefined,
): void {
  if (!pre) return;
  if (pre.uid !== undefined && pre.uid !== obj.metadata.uid)
    throw conflict(t, obj.metadata.name, preconditionFailed("UID", pre.uid, obj.metadata.uid));
  if (pre.resourceVersion !== undefined && pre.resourceVersion !== obj.metadata.resourceVersion)
    throw conflict(
      t,
      obj.metadata.name,
      preconditionFailed("ResourceVersion", pre.resourceVersion, obj.metadata.resourceVersion),
    );
}

interface DeletePreconditions {
  uid?: string;
  resourceVersion?: string;
}

async function deleteOptions(
  ctx: RequestContext,
): Promise<{ dryRun?: boolean; propagationPolicy?: string; preconditions?: DeletePreconditions }> {
  const q = ctx.url.searchParams;
  const out: { dryRun?: boolean; propagationPolicy?: string; preconditions?: DeletePreconditions } = {};
  const raw = await readBody(ctx.req);
  if (raw.length) {
    const body = decodeBody(raw, ctx.req.headers["content-type"]);
    if (isObject(body)) {
      const pp = getOwn(body, "propagationPolicy");
      if (typeof pp === "string") out.propagationPolicy = pp;
      const dry = getOwn(body, "dryRun");
      if (Array.isArray(dry) && dry.includes("All")) out.dryRun = true;
      const pre = readPreconditions(getOwn(body, "preconditions"));
      if (pre) out.preconditions = pre;
    }
  }
  const pp = q.get("propagationPolicy");
  if (pp) out.propagationPolicy = pp;
  if (pp && !["Orphan", "Background", "Foreground"].includes(pp))
    throw new ApiError(
      422,
      "Invalid",
      `DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Unsupported value: "${pp}": supported values: "Foreground", "Background", "Orphan", "nil"`,
    );
  if (q.getAll("dryRun").includes("All")) out.dryRun = true;
  return out;
}

/**
 * DELETE on a collection, as the generic registry's `DeleteCollection` does it: lists with the request's list options
 * (one page when `limit` is given), then deletes each listed object in order with the request's delete options,
 * preconditions included, and stops at the first error, which it returns (the objects before it stay deleted: it is
 * not atomic upstream either). Answers with the list as it was listed.
 */
async function deleteCollection(ctx: RequestContext, t: ResourceType, ns: string | undefined): Promise<void> {
  if (!t.verbs.includes("deletecollection"))
    throw new ApiError(
      405,
      "MethodNotAllowed",
      "the server does not allow this method on the requested resource",
    );
  const opts = await deleteOptions(ctx);
  const api = ctx.cluster.api;
  const q = ctx.url.searchParams;
  const list = api.list(t, listOptions(q, ns));
  const { items, cont } = paginate(list.items, list.resourceVersion, q);
  for (const o of items) {
    let live: KubeObject;
    try {
      live = api.get(t, o.metadata.namespace, o.metadata.name);
    } catch (err) {
      if (err instanceof ApiError && err.code === 404) continue;
      throw err;
    }
    checkPreconditions(t, live, opts.preconditions);
    try {
      api.delete(t, o.metadata.namespace, o.metadata.name, opts);
    } catch (err) {
      if (!(err instanceof ApiError && err.code === 404)) throw err;
    }
  }
  await whenCommitted(ctx.cluster);
  sendJson(ctx.res, 200, {
    kind: t.listKind,
    apiVersion: gvOf(t),
    metadata: {
      resourceVersion: list.resourceVersion,
      ...(intParam(q, "limit") && cont ? { continue: cont } : {}),
    },
    items: items.map((o) => withTypeMeta(t, o)),
  });
}

export { notFound };
