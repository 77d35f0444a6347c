/**
 * Authorization of a request by a user other than the cluster's admin: the request's attributes as the real server's
 * `RequestInfoFactory` derives them (verb from method, `watch` and the name; `namespaces/{name}` is in that namespace;
 * a list with `fieldSelector=metadata.name=x` is about `x`), RBAC's decision, and the 403 `Status` with the real
 * server's text (`responsewriters.Forbidden`). Calico's API server adds its tier check for tiered policies
 * (`apiserver/pkg/registry/projectcalico/authorizer`): `get` on the tier, and the verb on `tier.<resource>` named
 * `<tier>.*` or the policy's own name.
 */
import { ApiError, type KubeObject, type ObjectStore } from "../store/types.ts";
import type { Route } from "./route.ts";
import { authorize, type Attributes, type UserInfo } from "./rbac.ts";
import { boolParam } from "./options.ts";
import { parseLabelSelector } from "../store/selectors.ts";

const VERBS: Record<string, string> = {
  GET: "get",
  HEAD: "get",
  POST: "create",
  PUT: "update",
  PATCH: "patch",
  DELETE: "delete",
};

/** `fields.Selector.RequiresExactMatch("metadata.name")`. */
function nameFromFieldSelector(q: URLSearchParams): string | undefined {
  const s = q.get("fieldSelector");
  if (!s) return undefined;
  for (const part of s.split(",")) {
    const m = /^\s*metadata\.name\s*==?\s*(.*?)\s*$/.exec(part);
    if (m && m[1] && !/[/%]/.test(m[1]) && m[1] !== "." && m[1] !== "..") return m[1];
  }
  return undefined;
}

/** The attributes of a request on `route` (`path` without the cluster prefix). */
export function requestAttributes(
  user: UserInfo,
  method: string,
  route: Route,
  path: string,
  q: URLSearchParams,
): Attributes {
  if (route.kind !== "resource") return { user, verb: method.toLowerCase(), resourceRequest: false, path };
  let verb = VERBS[method] ?? method.toLowerCase();
  let name = route.name;
  if (route.watchPrefix && verb === "get") verb = "watch";
  if (name === undefined && verb === "get") {
    verb = boolParam(q, "watch") || route.watchPrefix ? "watch" : "list";
    name = nameFromFieldSelector(q);
  }
  if (name === undefined && verb === "delete") verb = "deletecollection";
  let namespace = route.namespace;
  if (route.group === "" && route.plural === "namespaces" && route.name !== undefined) namespace = route.name;
  return {
    user,
    verb,
    resourceRequest: true,
    apiGroup: route.group,
    apiVersion: route.version,
    resource: route.plural,
    ...(route.subresource ? { subresource: route.subresource } : {}),
    ...(namespace !== undefined ? { namespace } : {}),
    ...(name !== undefined ? { name } : {}),
  };
}

/** `forbiddenMessage` of the real server's response writers. */
function forbiddenMessage(a: Attributes): string {
  const who = a.user.username;
  if (!a.resourceRequest) return `User "${who}" cannot ${a.verb} path "${a.path ?? ""}"`;
  const resource = a.subresource ? `${a.resource ?? ""}/${a.subresource}` : (a.resource ?? "");
  const where = a.namespace ? `in the namespace "${a.namespace}"` : "at the cluster scope";
  return `User "${who}" cannot ${a.verb} resource "${resource}" in API group "${a.apiGroup ?? ""}" ${where}`;
}

/** `apierrors.NewForbidden(GroupResource, name, err)`. */
function forbidden(group: string, resource: string, name: string, message: string): ApiError {
  const gr = resource ? (group ? `${resource}.${group}` : resource) : "";
  const text = !gr
    ? `forbidden: ${message}`
    : name
      ? `${gr} "${name}" is forbidden: ${message}`
      : `${gr} is forbidden: ${message}`;
  return new ApiError(403, "Forbidden", text, { group, kind: resource, name });
}

/** Throws the real 403 unless RBAC allows `a`. */
export function checkAuthorized(store: ObjectStore, a: Attributes): void {
  const d = authorize(store, a);
  if (d.allowed) return;
  const msg = forbiddenMessage(a);
  throw forbidden(
    a.resourceRequest ? (a.apiGroup ?? "") : "",
    a.resourceRequest ? (a.resource ?? "") : "",
    a.name ?? "",
    d.reason ? `${msg}: ${d.reason}` : msg,
  );
}

/** Calico's tiered policy kinds (the `tier.<resource>` pseudo-resources exist for these). */
export const TIERED = new Set([
  "networkpolicies",
  "globalnetworkpolicies",
  "stagednetworkpolicies",
  "stagedglobalnetworkpolicies",
]);

/** Whether `a` is a request on a Calico tiered policy (the tier check applies). */
export function isTieredPolicy(a: Attributes): boolean {
  return (
    a.resourceRequest && a.apiGroup === "projectcalico.org" && TIERED.has(a.resource ?? "") && !a.subresource
  );
}

/** A policy's tier (`names.TierOrDefault(spec.tier)`). */
export function tierOf(o: KubeObject | undefined): string {
  const t = (o?.spec as { tier?: unknown } | undefined)?.tier;
  return typeof t === "string" && t ? t : "default";
}

/**
 * Calico's `AuthorizeTierOperation`: `get` on the tier, and the verb on `tier.<resource>` named `<tier>.*` or the
 * policy's name. Throws Calico's 403 otherwise.
 */
export function checkTier(store: ObjectStore, a: Attributes, policyName: string, tier: string): void {
  const getTier = authorize(store, {
    user: a.user,
    verb: "get",
    resourceRequest: true,
    apiGroup: "projectcalico.org",
    resource: "tiers",
    name: tier,
  }).allowed;
  const scoped = { ...a, resource: `tier.${a.resource ?? ""}` };
  const allowed =
    getTier &&
    (authorize(store, { ...scoped, name: `${tier}.*` }).allowed || authorize(store, scoped).allowed);
  if (allowed) return;
  const resource = `${a.resource ?? ""}.projectcalico.org`;
  let msg = a.namespace
    ? `User "${a.user.username}" cannot ${a.verb} ${resource} in tier "${tier}" and namespace "${a.namespace}"`
    : `User "${a.user.username}" cannot ${a.verb} ${resource} in tier "${tier}"`;
  if (!getTier) msg += " (user cannot get tier)";
  throw forbidden("projectcalico.org", a.resource ?? "", policyName, msg);
}

/** Whether `a`'s user passes Calico's tier check on `tier` (no policy name: a list or watch). */
function tierAllowed(store: ObjectStore, a: Attributes, tier: string): boolean {
  try {
    checkTier(store, { ...a, name: undefined }, "", tier);
    return true;
  } catch {
    return false;
  }
}

/**
 * A list or watch of a tiered policy kind (`util.EnsureTierSelector`): the tiers its label selector names
 * (`projectcalico.org/tier`) must each pass the tier check (else the 403); without one, only the policies of the tiers
 * the user passes it for are shown.
 */
export function tierFilter(
  store: ObjectStore,
  a: Attributes,
  q: URLSearchParams,
): ((o: KubeObject) => boolean) | undefined {
  let named: string[] | undefined;
  try {
    for (const r of parseLabelSelector(q.get("labelSelector") ?? undefined))
      if (r.key !== "projectcalico.org/tier") continue;
      else if (r.op === "=") named = [r.value];
      else if (r.op === "in") named = r.values;
  } catch {
    // An invalid selector is the list's own 400.
    return undefined;
  }
  if (named) {
    for (const tier of named) checkTier(store, { ...a, name: undefined }, "", tier);
    return undefined;
  }
  const seen = new Map<string, boolean>();
  return (o) => {
    const tier = tierOf(o);
    let ok = seen.get(tier);
    if (ok === undefined) seen.set(tier, (ok = tierAllowed(store, a, tier)));
    return ok;
  };
}
