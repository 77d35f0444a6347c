/**
 * The TokenRequest API (`POST …/serviceaccounts/{name}/token`, what `kubectl create token` calls), as
 * `pkg/registry/core/serviceaccount/storage/token.go` answers it: a token for the ServiceAccount, for the API server's
 * audience unless others are asked for, an hour unless another duration (10 minutes at least) is, optionally bound
 * to a Pod or Secret (it stops working when that object goes).
 */
import { ApiError, type KubeObject } from "../store/types.ts";
import { ensureKey, ISSUER, mintBoundToken } from "../sim/tokens.ts";
import type { RequestContext } from "./context.ts";
import type { ResourceRoute } from "./route.ts";
import { decodeBody, readBody } from "./body.ts";
import { sendJson } from "./respond.ts";

const MIN_SECONDS = 600;
const MAX_SECONDS = 2 ** 32;
const DEFAULT_SECONDS = 3600;

type Rec = Record<string, unknown>;
const rec = (v: unknown): Rec => (v && typeof v === "object" && !Array.isArray(v) ? (v as Rec) : {});

function invalid(name: string, field: string, message: string): ApiError {
  return new ApiError(
    422,
    "Invalid",
    `TokenRequest.authentication.k8s.io "${name}" is invalid: ${field}: ${message}`,
    {
      name,
      group: "authentication.k8s.io",
      kind: "TokenRequest",
      causes: [{ reason: "FieldValueInvalid", message, field }],
    },
  );
}

export async function serveTokenRequest(ctx: RequestContext, r: ResourceRoute): Promise<void> {
  const ns = r.namespace!;
  const name = r.name!;
  if (ctx.req.method !== "POST")
    throw new ApiError(
      405,
      "MethodNotAllowed",
      "the server does not allow this method on the requested resource",
    );
  const raw = await readBody(ctx.req);
  const body = rec(raw.length ? decodeBody(raw, ctx.req.headers["content-type"]) : {});
  const { cluster } = ctx;
  const saType = cluster.api.findType("serviceaccounts", "");
  if (!saType) throw new ApiError(404, "NotFound", "the server could not find the requested resource");
  const sa = cluster.api.get(saType, ns, name);
  const spec = rec(body.spec);
  const audiences = Array.isArray(spec.audiences)
    ? spec.audiences.filter((a): a is string => typeof a === "string")
    : [];
  const seconds = spec.expirationSeconds === undefined ? DEFAULT_SECONDS : spec.expirationSeconds;
  if (typeof seconds !== "number" || !Number.isInteger(seconds))
    throw invalid(
      name,
      "spec.expirationSeconds",
      `Invalid value: ${JSON.stringify(seconds)}: must be an integer`,
    );
  if (seconds < MIN_SECONDS)
    throw invalid(
      name,
      "spec.expirationSeconds",
      `Invalid value: ${seconds}: may not specify a duration less than 10 minutes`,
    );
  if (seconds > MAX_SECONDS)
    throw invalid(
      name,
      "spec.expirationSeconds",
      `Invalid value: ${seconds}: may not specify a duration larger than 2^32 seconds`,
    );
  const ref =
    spec.boundObjectRef === undefined || spec.boundObjectRef === null ? undefined : rec(spec.boundObjectRef);
  let bound: { kind: "Pod" | "Secret"; obj: KubeObject } | undefined;
  if (ref) {
    const kind = ref.kind;
    if (kind !== "Pod" && kind !== "Secret")
      throw invalid(
        name,
        "spec.boundObjectRef.kind",
        `Unsupported value: ${JSON.stringify(kind)}: supported values: "Pod", "Secret"`,
      );
    const t = cluster.api.findType(kind === "Pod" ? "pods" : "secrets", "");
    if (!t) throw new ApiError(404, "NotFound", "the server could not find the requested resource");
    const obj = cluster.api.get(t, ns, typeof ref.name === "string" ? ref.name : "");
    if (typeof ref.uid === "string" && ref.uid && ref.uid !== obj.metadata.uid)
      throw new ApiError(
        409,
        "Conflict",
        `the UID in the bound object reference (${ref.uid}) does not match the UID in record. The object might have been deleted and then recreated`,
      );
    bound = { kind, obj };
  }
  const key = ensureKey(cluster.api, cluster.store, cluster.id);
  const now = Math.floor(cluster.clock.now() / 1000);
  const boundTo = bound ? { name: bound.obj.metadata.name, uid: bound.obj.metadata.uid ?? "" } : undefined;
  const { token, expires } = mintBoundToken(key, {
    namespace: ns,
    serviceAccount: { name, uid: sa.metadata.uid ?? "" },
    audiences: audiences.length ? audiences : [ISSUER],
    issuedAt: now,
    expirationSeconds: seconds,
    ...(bound?.kind === "Pod" && boundTo ? { pod: boundTo } : {}),
    ...(bound?.kind === "Secret" && boundTo ? { secret: boundTo } : {}),
  });
  await cluster.committed?.();
  sendJson(ctx.res, 201, {
    kind: "TokenRequest",
    apiVersion: "authentication.k8s.io/v1",
    metadata: { name, namespace: ns, creationTimestamp: null },
    spec: {
      audiences: audiences.length ? audiences : [ISSUER],
      expirationSeconds: seconds,
      boundObjectRef: ref
        ? {
            kind: bound!.kind,
            apiVersion: "v1",
            name: bound!.obj.metadata.name,
            uid: bound!.obj.metadata.uid,
          }
        : null,
    },
    status: { token, expirationTimestamp: new Date(expires * 1000).toISOString().replace(/\.\d{3}Z$/, "Z") },
  });
}
