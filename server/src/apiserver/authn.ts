/**
 * Who a request comes from. The cluster's admin token (the kubeconfig egresslab hands out) is kind's
 * `kubernetes-admin`, whom nothing is checked for (a member of `system:masters`). ServiceAccount tokens are
 * authenticated as the real API server does (`pkg/serviceaccount/jwt.go`, `claims.go`, `legacy.go`): signed by the
 * cluster's key, issued by it for its audience, not expired, and naming a ServiceAccount (and Secret, Pod) that still
 * exists with the uid in the token. A request with no credentials at all, to a cluster's own URL, is
 * `system:anonymous`. Anything else is a 401.
 */
import type { SimClusterHandle } from "../sim/types.ts";
import { currentKey, ISSUER, LEGACY_ISSUER, parseToken } from "../sim/tokens.ts";
import type { UserInfo } from "./rbac.ts";

/** kind's admin user: the kubeconfig of a simulated cluster. */
export const ADMIN_USER: UserInfo = {
  username: "kubernetes-admin",
  groups: ["kubeadm:cluster-admins", "system:authenticated"],
};

export const ANONYMOUS_USER: UserInfo = { username: "system:anonymous", groups: ["system:unauthenticated"] };

type Rec = Record<string, unknown>;
const rec = (v: unknown): Rec => (v && typeof v === "object" && !Array.isArray(v) ? (v as Rec) : {});
const str = (v: unknown): string => (typeof v === "string" ? v : "");

function serviceAccountUser(
  namespace: string,
  name: string,
  uid: string,
  extra?: Record<string, string[]>,
): UserInfo {
  return {
    username: `system:serviceaccount:${namespace}:${name}`,
    uid,
    groups: ["system:serviceaccounts", `system:serviceaccounts:${namespace}`, "system:authenticated"],
    ...(extra ? { extra } : {}),
  };
}

/** The uid of a stored object that is not being deleted, or undefined. */
function liveUid(
  cluster: SimClusterHandle,
  key: string,
  namespace: string,
  name: string,
): string | undefined {
  if (!name) return undefined;
  const o = cluster.store.get(key, namespace, name);
  if (!o || o.metadata.deletionTimestamp) return undefined;
  return o.metadata.uid;
}

/**
 * The cluster and user of a ServiceAccount token, or undefined when it is not a valid token of a cluster
 * `clusterById` knows. Cheap for junk: a token that is too long or not shaped like ours is refused before any crypto.
 */
export function authenticateToken(
  token: string,
  clusterById: (id: string) => SimClusterHandle | undefined,
): { cluster: SimClusterHandle; user: UserInfo } | undefined {
  const parsed = parseToken(token);
  if (!parsed) return undefined;
  const cluster = clusterById(parsed.clusterId);
  if (!cluster) return undefined;
  const key = currentKey(cluster.store, cluster.id);
  if (!key) return undefined;
  const claims = rec(parsed.check(key));
  const now = Math.floor(cluster.clock.now() / 1000);
  if (claims.iss === LEGACY_ISSUER) {
    const ns = str(claims["kubernetes.io/serviceaccount/namespace"]);
    const name = str(claims["kubernetes.io/serviceaccount/service-account.name"]);
    const uid = str(claims["kubernetes.io/serviceaccount/service-account.uid"]);
    const secretName = str(claims["kubernetes.io/serviceaccount/secret.name"]);
    if (!ns || !uid || liveUid(cluster, "core/serviceaccounts", ns, name) !== uid) return undefined;
    // The Secret must still exist and still hold this very token (`legacy.go`).
    const secret = cluster.store.get("core/secrets", ns, secretName);
    if (!secret || secret.metadata.deletionTimestamp) return undefined;
    const stored = rec(secret.data).token;
    if (typeof stored !== "string" || Buffer.from(stored, "base64").toString("utf8") !== token)
      return undefined;
    return { cluster, user: serviceAccountUser(ns, name, uid) };
  }
  if (claims.iss !== ISSUER) return undefined;
  const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if (!aud.includes(ISSUER)) return undefined;
  const exp = typeof claims.exp === "number" ? claims.exp : undefined;
  const nbf = typeof claims.nbf === "number" ? claims.nbf : 0;
  // `jwt.Expected` allows a minute of clock skew either way (`claims.go`'s leeway).
  if (exp === undefined || now > exp + 60 || now < nbf - 60) return undefined;
  const k8s = rec(claims["kubernetes.io"]);
  const ns = str(k8s.namespace);
  const sa = rec(k8s.serviceaccount);
  const name = str(sa.name);
  const uid = str(sa.uid);
  if (!ns || !uid || liveUid(cluster, "core/serviceaccounts", ns, name) !== uid) return undefined;
  const extra: Record<string, string[]> = {};
  if (typeof claims.jti === "string")
    extra["authentication.kubernetes.io/credential-id"] = [`JTI=${claims.jti}`];
  const secret = rec(k8s.secret);
  if (k8s.secret !== undefined && liveUid(cluster, "core/secrets", ns, str(secret.name)) !== str(secret.uid))
    return undefined;
  const pod = rec(k8s.pod);
  if (k8s.pod !== undefined) {
    if (liveUid(cluster, "core/pods", ns, str(pod.name)) !== str(pod.uid)) return undefined;
    extra["authentication.kubernetes.io/pod-name"] = [str(pod.name)];
    extra["authentication.kubernetes.io/pod-uid"] = [str(pod.uid)];
  }
  const node = rec(k8s.node);
  if (k8s.node !== undefined) {
    extra["authentication.kubernetes.io/node-name"] = [str(node.name)];
    extra["authentication.kubernetes.io/node-uid"] = [str(node.uid)];
  }
  return { cluster, user: serviceAccountUser(ns, name, uid, extra) };
}
