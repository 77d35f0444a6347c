/**
 * User impersonation (`kubectl --as`, `--as-group`; `apiserver/pkg/endpoints/filters/impersonation.go`): the
 * `Impersonate-User`, `Impersonate-Group` and `Impersonate-Uid` headers make the request someone else's. The cluster's
 * admin may impersonate anyone; another user needs `impersonate` on `users`, `groups`, `uids`, or the ServiceAccount
 * (`serviceaccounts` in its namespace). The impersonated user is then authorized as any other.
 */
import type { IncomingHttpHeaders } from "node:http";
import { ApiError, type ObjectStore } from "../store/types.ts";
import { authorize, type UserInfo } from "./rbac.ts";

const SA_PREFIX = "system:serviceaccount:";

const all = (v: string | string[] | undefined): string[] =>
  v === undefined ? [] : Array.isArray(v) ? v : [v];

/**
 * The user a request acts as: undefined when it impersonates no one. `requester` undefined is the admin (who may
 * impersonate anyone). Throws the real 403 when the requester may not impersonate, or 400 for groups without a user.
 */
export function impersonated(
  headers: IncomingHttpHeaders,
  requester: UserInfo | undefined,
  store: ObjectStore,
): UserInfo | undefined {
  const name = headers["impersonate-user"];
  const groups = all(headers["impersonate-group"]);
  const uid = headers["impersonate-uid"];
  if (name === undefined) {
    if (groups.length || uid !== undefined)
      throw new ApiError(
        500,
        "InternalError",
        `Internal error occurred: requested [${groups.map((g) => `{Group  ${g}}`).join(" ")}] without impersonating a user`,
      );
    return undefined;
  }
  const username = Array.isArray(name) ? (name[0] ?? "") : name;
  const check = (resource: string, target: string, namespace?: string): void => {
    if (!requester) return;
    const d = authorize(store, {
      user: requester,
      verb: "impersonate",
      resourceRequest: true,
      apiGroup: "",
      resource,
      name: target,
      ...(namespace ? { namespace } : {}),
    });
    if (d.allowed) return;
    const where = namespace ? `in the namespace "${namespace}"` : "at the cluster scope";
    throw new ApiError(
      403,
      "Forbidden",
      `${resource} "${target}" is forbidden: User "${requester.username}" cannot impersonate resource "${resource}" in API group "" ${where}`,
      { kind: resource, name: target },
    );
  };
  let user: UserInfo;
  if (username.startsWith(SA_PREFIX)) {
    const [ns = "", sa = ""] = username.slice(SA_PREFIX.length).split(":");
    check("serviceaccounts", sa, ns);
    user = {
      username,
      groups: groups.length ? [...groups] : ["system:serviceaccounts", `system:serviceaccounts:${ns}`],
    };
  } else {
    check("users", username);
    user = { username, groups: [...groups] };
  }
  for (const g of groups) check("groups", g);
  if (uid !== undefined) {
    const u = Array.isArray(uid) ? (uid[0] ?? "") : uid;
    check("uids", u);
    user.uid = u;
  }
  if (username !== "system:anonymous" && !user.groups.includes("system:authenticated"))
    user.groups.push("system:authenticated");
  return user;
}
