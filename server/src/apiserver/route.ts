/** Parses a request path into what it addresses: discovery, OpenAPI, a resource, or egresslab's own API. */
import { ApiError } from "../store/types.ts";

export type Route =
  | { kind: "version" | "health" | "api-root" | "apis-root" | "openapi-v3-root" | "openapi-v2" }
  | { kind: "group"; group: string }
  | { kind: "group-version"; group: string; version: string }
  | { kind: "openapi-v3-gv"; group: string; version: string }
  | ResourceRoute
  | { kind: "egresslab"; path: string }
  | { kind: "unknown" };

export interface ResourceRoute {
  kind: "resource";
  group: string;
  version: string;
  plural: string;
  namespace?: string;
  name?: string;
  subresource?: string;
  /** For the `proxy` subresource: the path after it (`/whisker-backend/flows`), `/` when there is none. */
  proxyPath?: string;
  /** The deprecated `/watch/` path prefix was used. */
  watchPrefix: boolean;
}

/** Subresources of namespaces themselves (`/api/v1/namespaces/{name}/status`), as the real request-info parser knows. */
const NAMESPACE_SUBRESOURCES = new Set(["status", "finalize"]);

/** One percent-decoded path segment; malformed escapes (`%ZZ`, a lone `%`) are a 400 as in Go's URL parser. */
export function decodeSegment(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    const bad = /%(?![0-9A-Fa-f]{2})[^/]{0,2}/.exec(raw)?.[0] ?? raw;
    throw new ApiError(400, "BadRequest", `invalid URL escape ${JSON.stringify(bad)}`);
  }
}

/**
 * The path of a request as sent (the part of `req.url` before `?`), without the dot-segment removal a WHATWG `URL`
 * applies: `/globalnetworkpolicies/.` and `/configmaps/%2e%2e` must reach the API server as the names `.` and `..`
 * (and be refused), never as the collection or the parent.
 */
export function rawPath(requestUrl: string | undefined): string {
  const u = requestUrl ?? "/";
  const path = u.split(/[?#]/, 1)[0] ?? "";
  if (path.startsWith("/")) return path;
  // Absolute form (`GET https://host/api HTTP/1.1`): the path after the authority.
  const m = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/]*(\/.*)?$/.exec(path);
  return m?.[1] ?? "/";
}

/**
 * `path.IsValidPathSegmentName` of apimachinery: what a name or namespace taken from a URL may not be. A name that
 * path normalisation would change could address something else (the collection, the parent).
 */
export function pathSegmentProblems(name: string): string[] {
  const out: string[] = [];
  if (name === "." || name === "..") out.push(`may not be '${name}'`);
  if (name.includes("/")) out.push("may not contain '/'");
  if (name.includes("%")) out.push("may not contain '%'");
  return out;
}

function checkPathSegment(what: "name" | "namespace", value: string | undefined): void {
  if (value === undefined) return;
  const problems = pathSegmentProblems(value);
  if (problems.length)
    throw new ApiError(
      400,
      "BadRequest",
      `invalid resource ${what} ${JSON.stringify(value)}: [${problems.join(", ")}]`,
    );
}

export function parseRoute(pathname: string): Route {
  const parts = pathname
    .split("/")
    .filter((p) => p !== "")
    .map(decodeSegment);
  const p0 = parts[0];
  if (p0 === "version") return { kind: "version" };
  if (p0 === "healthz" || p0 === "readyz" || p0 === "livez") return { kind: "health" };
  if (p0 === "egresslab") return { kind: "egresslab", path: "/" + parts.join("/") };
  if (p0 === "openapi") {
    if (parts[1] === "v2" && parts.length === 2) return { kind: "openapi-v2" };
    if (parts[1] === "v3") {
      if (parts.length === 2) return { kind: "openapi-v3-root" };
      if (parts[2] === "api" && parts.length === 4)
        return { kind: "openapi-v3-gv", group: "", version: parts[3]! };
      if (parts[2] === "apis" && parts.length === 5)
        return { kind: "openapi-v3-gv", group: parts[3]!, version: parts[4]! };
    }
    return { kind: "unknown" };
  }
  let group: string;
  let version: string | undefined;
  let rest: string[];
  if (p0 === "api") {
    if (parts.length === 1) return { kind: "api-root" };
    group = "";
    version = parts[1];
    rest = parts.slice(2);
  } else if (p0 === "apis") {
    if (parts.length === 1) return { kind: "apis-root" };
    group = parts[1]!;
    if (parts.length === 2) return { kind: "group", group };
    version = parts[2];
    rest = parts.slice(3);
  } else {
    return { kind: "unknown" };
  }
  if (!version) return { kind: "unknown" };
  if (rest.length === 0) return { kind: "group-version", group, version };
  let watchPrefix = false;
  if (rest[0] === "watch") {
    watchPrefix = true;
    rest = rest.slice(1);
  }
  let namespace: string | undefined;
  if (
    rest[0] === "namespaces" &&
    rest.length >= 3 &&
    !(rest.length === 3 && NAMESPACE_SUBRESOURCES.has(rest[2]!))
  ) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  const [plural, name, subresource, ...more] = rest;
  if (!plural || (more.length > 0 && subresource !== "proxy")) return { kind: "unknown" };
  checkPathSegment("namespace", namespace);
  checkPathSegment("name", name);
  if (subresource === "proxy")
    return {
      kind: "resource",
      group,
      version,
      plural,
      namespace,
      name,
      subresource,
      proxyPath: `/${more.join("/")}`,
      watchPrefix,
    };
  return { kind: "resource", group, version, plural, namespace, name, subresource, watchPrefix };
}

/**
 * Kubeconfigs point at `https://host:port/clusters/<id>` so that each cluster has its own URL (kubectl keeps its
 * discovery cache per URL). Splits that prefix off; paths without it are served by the token's cluster alone.
 */
export function splitClusterPrefix(pathname: string): { clusterId?: string; path: string } {
  const m = /^\/clusters\/([^/]+)(\/.*)?$/.exec(pathname);
  if (!m) return { path: pathname };
  return { clusterId: decodeSegment(m[1]!), path: m[2] ?? "/" };
}
