/**
 * The review APIs behind `kubectl auth can-i` and `kubectl auth whoami`. The learner holds the kubeconfig of their own
 * cluster and is its administrator, as with kind's `kubernetes-admin` (group `kubeadm:cluster-admins`): every access
 * review is allowed, with the reason RBAC gives on kind. Any other user (a ServiceAccount) gets RBAC's answer.
 */
import { ApiError, type ResourceType } from "../store/types.ts";
import type { RequestContext } from "./context.ts";
import type { ResourceRoute } from "./route.ts";
import { decodeBody, readBody } from "./body.ts";
import { sendJson } from "./respond.ts";
import { ADMIN_USER } from "./authn.ts";
import { authorize, rulesFor, type Attributes, type UserInfo } from "./rbac.ts";

const REASON =
  'RBAC: allowed by ClusterRoleBinding "kubeadm:cluster-admins" of ClusterRole "cluster-admin" to Group "kubeadm:cluster-admins"';

function reviewType(group: string, kind: string, plural: string): ResourceType {
  return {
    group,
    version: "v1",
    kind,
    listKind: `${kind}List`,
    plural,
    singular: plural.slice(0, -1),
    namespaced: false,
    shortNames: [],
    categories: [],
    verbs: ["create"],
    subresources: [],
    schema: { type: "object" },
    columns: [],
  };
}

/** The review resources, for discovery. */
export const REVIEW_TYPES: readonly ResourceType[] = [
  reviewType("authentication.k8s.io", "SelfSubjectReview", "selfsubjectreviews"),
  reviewType("authorization.k8s.io", "SelfSubjectAccessReview", "selfsubjectaccessreviews"),
  reviewType("authorization.k8s.io", "SelfSubjectRulesReview", "selfsubjectrulesreviews"),
];

export function isReview(r: ResourceRoute): boolean {
  return (
    REVIEW_TYPES.some((t) => t.group === r.group && t.version === r.version && t.plural === r.plural) &&
    !r.namespace
  );
}

export async function serveReview(ctx: RequestContext, r: ResourceRoute): Promise<void> {
  const t = REVIEW_TYPES.find((x) => x.group === r.group && x.plural === r.plural)!;
  if (ctx.req.method !== "POST" || r.name !== undefined)
    throw new ApiError(
      405,
      "MethodNotAllowed",
      "the server does not allow this method on the requested resource",
    );
  const raw = await readBody(ctx.req);
  const body = (raw.length ? decodeBody(raw, ctx.req.headers["content-type"]) : {}) as Record<
    string,
    unknown
  >;
  const base = { kind: t.kind, apiVersion: `${t.group}/v1`, metadata: { creationTimestamp: null } };
  const spec = rec(body.spec);
  const user = ctx.user;
  let status: Record<string, unknown>;
  if (t.kind === "SelfSubjectReview") status = { userInfo: user ?? ADMIN_USER };
  else if (t.kind === "SelfSubjectAccessReview") {
    if (!user) status = { allowed: true, reason: REASON };
    else {
      const d = authorize(ctx.cluster.store, accessAttributes(user, spec));
      status = { allowed: d.allowed, ...(d.reason ? { reason: d.reason } : {}) };
    }
  } else if (!user)
    status = {
      resourceRules: [{ verbs: ["*"], apiGroups: ["*"], resources: ["*"] }],
      nonResourceRules: [{ verbs: ["*"], nonResourceURLs: ["*"] }],
      incomplete: false,
    };
  else {
    const ns = typeof spec.namespace === "string" ? spec.namespace : "";
    const { rules, errors } = rulesFor(ctx.cluster.store, user, ns);
    status = {
      resourceRules: rules
        .filter((x) => !x.nonResourceURLs?.length)
        .map((x) => ({
          verbs: x.verbs,
          ...(x.apiGroups ? { apiGroups: x.apiGroups } : {}),
          ...(x.resources ? { resources: x.resources } : {}),
          ...(x.resourceNames ? { resourceNames: x.resourceNames } : {}),
        })),
      nonResourceRules: rules
        .filter((x) => x.nonResourceURLs?.length)
        .map((x) => ({ verbs: x.verbs, nonResourceURLs: x.nonResourceURLs })),
      incomplete: errors.length > 0,
      ...(errors.length ? { evaluationError: errors.join(", ") } : {}),
    };
  }
  sendJson(ctx.res, 201, { ...base, spec: body.spec ?? {}, status });
}

type Rec = Record<string, unknown>;
const rec = (v: unknown): Rec => (v && typeof v === "object" && !Array.isArray(v) ? (v as Rec) : {});
const str = (v: unknown): string => (typeof v === "string" ? v : "");

/** The attributes a SelfSubjectAccessReview asks about (`resourceAttributes` or `nonResourceAttributes`). */
function accessAttributes(user: UserInfo, spec: Rec): Attributes {
  if (spec.resourceAttributes === undefined) {
    const n = rec(spec.nonResourceAttributes);
    return { user, verb: str(n.verb), resourceRequest: false, path: str(n.path) };
  }
  const a = rec(spec.resourceAttributes);
  return {
    user,
    verb: str(a.verb),
    resourceRequest: true,
    apiGroup: str(a.group),
    resource: str(a.resource),
    ...(str(a.subresource) ? { subresource: str(a.subresource) } : {}),
    ...(str(a.namespace) ? { namespace: str(a.namespace) } : {}),
    ...(str(a.name) ? { name: str(a.name) } : {}),
  };
}
