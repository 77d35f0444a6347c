/**
 * The review APIs behind `kubectl auth can-i` and `kubectl auth whoami`. The learner holds the kubeconfig of their own
 * cluster and is its administrator, as with kind's `kubernetes-admin` (group `kubeadm:cluster-admins`): every access
 * review is allowed, with the reason RBAC gives on kind.
 */
import { ApiError, type ResourceType } from "../store/types.ts";
import type { RequestContext } from "./context.ts";
import type { ResourceRoute } from "./route.ts";
import { decodeBody, readBody } from "./body.ts";
import { sendJson } from "./respond.ts";

const USER = { username: "kubernetes-admin", groups: ["kubeadm:cluster-admins", "system:authenticated"] };
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
  let status: Record<string, unknown>;
  if (t.kind === "SelfSubjectReview") status = { userInfo: USER };
  else if (t.kind === "SelfSubjectAccessReview") status = { allowed: true, reason: REASON };
  else
    status = {
      resourceRules: [{ verbs: ["*"], apiGroups: ["*"], resources: ["*"] }],
      nonResourceRules: [{ verbs: ["*"], nonResourceURLs: ["*"] }],
      incomplete: false,
    };
  sendJson(ctx.res, 201, { ...base, spec: body.spec ?? {}, status });
}
