/**
 * `/api/v1/namespaces/{ns}/services/{[scheme:]name[:port]}/proxy/{path}`: the API server's service proxy. The API
 * server itself dials a ready endpoint of the Service's port, so the connection comes from its host (kube-apiserver
 * is host-networked on the control-plane node) and network policy applies to it as to any connection from that host:
 * on a cluster with Calico Whisker, the calico-system tier's `calico-system.whisker` policy (Ingress, no rule) stops
 * it, where `kubectl port-forward` (through the pod's own network namespace) does not. As the real proxy
 * (`pkg/registry/core/service/storage` ResourceLocation, `apimachinery/pkg/util/proxy`): an invalid name is a 400, an
 * unknown Service a 404, no endpoint for the port a 503 "no endpoints available for service", a failed dial a 503
 * "error trying to reach service: dial tcp …". The simulator answers a dropped dial at once, where the real one
 * waits for its 30 s dial timeout; an event stream (`watch=true`) answers what it has and ends.
 */
import { ApiError } from "../store/types.ts";
import { readBody } from "./body.ts";
import type { RequestContext } from "./context.ts";
import type { ResourceRoute } from "./route.ts";

/** The most of a proxied request body the simulator reads. */
const MAX_PROXY_BODY = 1024 * 1024;
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "transfer-encoding",
  "upgrade",
  "proxy-connection",
  "te",
]);

/** `[scheme:]name[:port]` as Go's `net.SplitSchemeNamePort` reads it; undefined when invalid. */
export function splitSchemeNamePort(id: string): { scheme: string; name: string; port: string } | undefined {
  const parts = id.split(":");
  let scheme = "";
  let name: string;
  let port = "";
  if (parts.length === 1) name = parts[0]!;
  else if (parts.length === 2) [name, port] = parts as [string, string];
  else if (parts.length === 3) {
    [scheme, name, port] = parts as [string, string, string];
    if (scheme !== "" && scheme !== "http" && scheme !== "https") return undefined;
  } else return undefined;
  if (!name) return undefined;
  return { scheme, name, port };
}

export async function serveServiceProxy(ctx: RequestContext, route: ResourceRoute): Promise<void> {
  const id = route.name ?? "";
  const parsed = splitSchemeNamePort(id);
  if (!parsed) throw new ApiError(400, "BadRequest", `invalid service request ${JSON.stringify(id)}`);
  const proxy = ctx.cluster.dataplane.proxyToService;
  if (!proxy)
    throw new ApiError(503, "ServiceUnavailable", `no endpoints available for service "${parsed.name}"`);
  const method = ctx.req.method ?? "GET";
  const body =
    method === "GET" || method === "HEAD" ? Buffer.alloc(0) : await readBody(ctx.req, MAX_PROXY_BODY);
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(ctx.req.headers))
    if (typeof v === "string" && !HOP_BY_HOP.has(k) && k !== "authorization") headers[k] = v;
  const r = proxy.call(ctx.cluster.dataplane, route.namespace ?? "default", parsed.name, parsed.port, {
    method,
    scheme: parsed.scheme === "https" ? "https" : "http",
    host: `${parsed.name}.${route.namespace ?? "default"}`,
    port: 0,
    path: (route.proxyPath ?? "/") + ctx.url.search,
    headers,
    body: body.toString("utf8"),
  });
  if (r.kind === "unavailable") throw new ApiError(503, "ServiceUnavailable", r.message);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(r.response.headers))
    if (!HOP_BY_HOP.has(k.toLowerCase()) && k.toLowerCase() !== "content-length") out[k] = v;
  const payload = Buffer.from(method === "HEAD" ? "" : r.response.body, "utf8");
  ctx.res.writeHead(r.response.status, { ...out, "Content-Length": String(payload.length) });
  ctx.res.end(payload);
}
