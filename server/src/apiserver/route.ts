/** Parses a request path into what it addresses: discovery, OpenAPI, a resource, or egresslab's own API. */

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
  /** The deprecated `/watch/` path prefix was used. */
  watchPrefix: boolean;
}

/** Subresources of namespaces themselves (`/api/v1/namespaces/{name}/status`), as the real request-info parser knows. */
const NAMESPACE_SUBRESOURCES = new Set(["status", "finalize"]);

export function parseRoute(pathname: string): Route {
  const parts = pathname
    .split("/")
    .filter((p) => p !== "")
    .map(decodeURIComponent);
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
  if (!plural || more.length > 0) return { kind: "unknown" };
  return { kind: "resource", group, version, plural, namespace, name, subresource, watchPrefix };
}

/**
 * Kubeconfigs point at `https://host:port/clusters/<id>` so that each cluster has its own URL (kubectl keeps its
 * discovery cache per URL). Splits that prefix off; paths without it are served by the token's cluster alone.
 */
export function splitClusterPrefix(pathname: string): { clusterId?: string; path: string } {
  const m = /^\/clusters\/([^/]+)(\/.*)?$/.exec(pathname);
  if (!m) return { path: pathname };
  return { clusterId: decodeURIComponent(m[1]!), path: m[2] ?? "/" };
}
