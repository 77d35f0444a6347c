/**
 * ServiceAccount tokens of a simulated cluster, shaped like the real ones (`pkg/serviceaccount/claims.go` and
 * `legacy.go`): ES256 JWTs signed with the cluster's own key. The key lives in the cluster's state, as a Secret in
 * `kube-system` (a real control plane keeps it in `/etc/kubernetes/pki/sa.key`), so a restart or another replica
 * rebuilding the cluster keeps accepting the tokens it issued; the Secret names the cluster it belongs to, so a
 * cluster made from a copy of another makes a key of its own. The key id (`kid`) begins with the cluster's id: that is
 * how the API server finds a token's cluster without trying every cluster's key.
 *
 * Verifying checks only the signature and the key here; the claims (issuer, audience, expiry, the ServiceAccount's
 * uid, the Secret's presence) are the authenticator's (`apiserver/authn.ts`).
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomUUID,
  sign,
  verify,
} from "node:crypto";
import type { KeyObject } from "node:crypto";
import { ApiError, type ClusterApi, type KubeObject, type ObjectStore } from "../store/types.ts";

/** Where the signing key is kept. */
export const KEY_NAMESPACE = "kube-system";
export const KEY_SECRET = "egresslab-service-account-key";
const KEY_TYPE = "egresslab.io/service-account-key";

/** kubeadm's (and kind's) `--service-account-issuer`, and the API server's audience. */
export const ISSUER = "https://kubernetes.default.svc.cluster.local";
/** The issuer of the long-lived tokens the token controller writes into Secrets. */
export const LEGACY_ISSUER = "kubernetes/serviceaccount";

/** The most characters a token may have before it is refused unread. */
export const MAX_TOKEN_LENGTH = 8192;

export interface SigningKey {
  kid: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
}

/** Parsed keys per stored Secret object (stored objects are never changed, only replaced). */
const parsed = new WeakMap<KubeObject, SigningKey | null>();

const b64 = (s: string): string => Buffer.from(s, "utf8").toString("base64");
const fromB64 = (v: unknown): string | undefined =>
  typeof v === "string" ? Buffer.from(v, "base64").toString("utf8") : undefined;

function keyOf(secret: KubeObject, clusterId: string): SigningKey | undefined {
  let k = parsed.get(secret);
  if (k === undefined) {
    k = null;
    const data = (secret.data ?? {}) as Record<string, unknown>;
    const pem = fromB64(data["sa.key"]);
    if (pem && secret.type === KEY_TYPE) {
      try {
        const privateKey = createPrivateKey(pem);
        const publicKey = createPublicKey(privateKey);
        const der = publicKey.export({ type: "spki", format: "der" });
        const cluster = fromB64(data.cluster) ?? "";
        const thumb = createHash("sha256").update(der).digest("base64url");
        k = { kid: `${cluster}:${thumb}`, privateKey, publicKey };
      } catch {
        k = null;
      }
    }
    parsed.set(secret, k);
  }
  return k && k.kid.startsWith(`${clusterId}:`) ? k : undefined;
}

/** The cluster's signing key, if it has one (verifying never makes one). */
export function currentKey(store: ObjectStore, clusterId: string): SigningKey | undefined {
  const secret = store.get("core/secrets", KEY_NAMESPACE, KEY_SECRET);
  return secret ? keyOf(secret, clusterId) : undefined;
}

/**
 * The cluster's signing key, made (and stored) the first time a token is issued, or again when the stored one is
 * another cluster's (a copy) or unreadable. Throws an `ApiError` when it cannot be stored.
 */
export function ensureKey(api: ClusterApi, store: ObjectStore, clusterId: string): SigningKey {
  const existing = store.get("core/secrets", KEY_NAMESPACE, KEY_SECRET);
  if (existing) {
    const k = keyOf(existing, clusterId);
    if (k) return k;
  }
  const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const pem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  const t = api.findType("secrets", "");
  if (!t) throw new ApiError(500, "InternalError", "Internal error occurred: secrets are not served");
  const body = {
    apiVersion: "v1",
    kind: "Secret",
    metadata: {
      name: KEY_SECRET,
      labels: { "app.kubernetes.io/part-of": "egresslab" },
      annotations: {
        "kubernetes.io/description":
          "The key this cluster signs ServiceAccount tokens with. Replacing or deleting it revokes every token issued so far.",
      },
    },
    type: KEY_TYPE,
    data: { "sa.key": b64(pem), cluster: b64(clusterId) },
  };
  const written = existing
    ? api.update(t, KEY_NAMESPACE, KEY_SECRET, {
        ...body,
        metadata: { ...body.metadata, resourceVersion: existing.metadata.resourceVersion },
      })
    : api.create(t, KEY_NAMESPACE, body);
  const k = keyOf(written.object, clusterId);
  if (!k) throw new ApiError(500, "InternalError", "Internal error occurred: the signing key was not stored");
  return k;
}

function encode(header: object, payload: object, key: SigningKey): string {
  const h = Buffer.from(JSON.stringify(header)).toString("base64url");
  const p = Buffer.from(JSON.stringify(payload)).toString("base64url");
  const sig = sign("sha256", Buffer.from(`${h}.${p}`), { key: key.privateKey, dsaEncoding: "ieee-p1363" });
  return `${h}.${p}.${sig.toString("base64url")}`;
}

export interface BoundTokenRequest {
  namespace: string;
  serviceAccount: { name: string; uid: string };
  audiences: string[];
  /** Seconds since the epoch. */
  issuedAt: number;
  expirationSeconds: number;
  /** What the token is bound to (TokenRequest's boundObjectRef, a pod's projected token). */
  secret?: { name: string; uid: string };
  pod?: { name: string; uid: string };
  node?: { name: string; uid: string };
  /** For a pod's projected token: when the kubelet would have refreshed it (seconds since the epoch). */
  warnAfter?: number;
}

/** A token of the TokenRequest API (`kubectl create token`, a pod's projected token). */
export function mintBoundToken(key: SigningKey, r: BoundTokenRequest): { token: string; expires: number } {
  const exp = r.issuedAt + r.expirationSeconds;
  const k8s: Record<string, unknown> = { namespace: r.namespace };
  if (r.node) k8s.node = r.node;
  if (r.pod) k8s.pod = r.pod;
  if (r.secret) k8s.secret = r.secret;
  k8s.serviceaccount = r.serviceAccount;
  if (r.warnAfter !== undefined) k8s.warnafter = r.warnAfter;
  const payload = {
    aud: r.audiences,
    exp,
    iat: r.issuedAt,
    iss: ISSUER,
    jti: randomUUID(),
    "kubernetes.io": k8s,
    nbf: r.issuedAt,
    sub: `system:serviceaccount:${r.namespace}:${r.serviceAccount.name}`,
  };
  return { token: encode({ alg: "ES256", kid: key.kid }, payload, key), expires: exp };
}

/** The long-lived token the token controller writes into a `kubernetes.io/service-account-token` Secret. */
export function mintLegacyToken(
  key: SigningKey,
  r: { namespace: string; secretName: string; serviceAccount: { name: string; uid: string } },
): string {
  return encode(
    { alg: "ES256", kid: key.kid },
    {
      iss: LEGACY_ISSUER,
      "kubernetes.io/serviceaccount/namespace": r.namespace,
      "kubernetes.io/serviceaccount/secret.name": r.secretName,
      "kubernetes.io/serviceaccount/service-account.name": r.serviceAccount.name,
      "kubernetes.io/serviceaccount/service-account.uid": r.serviceAccount.uid,
      sub: `system:serviceaccount:${r.namespace}:${r.serviceAccount.name}`,
    },
    key,
  );
}

const SEGMENT = /^[A-Za-z0-9_-]+$/;

/**
 * The parts of something that looks like one of our tokens: the cluster its key id names, and how to check it.
 * Undefined for anything else (too long, not three base64url segments, a header that is not ours). Never throws.
 */
export function parseToken(
  token: string,
): { clusterId: string; kid: string; check(key: SigningKey): unknown } | undefined {
  if (token.length > MAX_TOKEN_LENGTH) return undefined;
  const parts = token.split(".");
  if (parts.length !== 3 || !parts.every((p) => SEGMENT.test(p))) return undefined;
  const [h, p, s] = parts as [string, string, string];
  if (h.length > 512) return undefined;
  let header: unknown;
  try {
    header = JSON.parse(Buffer.from(h, "base64url").toString("utf8"));
  } catch {
    return undefined;
  }
  const hdr = header as { alg?: unknown; kid?: unknown } | null;
  if (!hdr || typeof hdr !== "object" || hdr.alg !== "ES256" || typeof hdr.kid !== "string") return undefined;
  const kid = hdr.kid;
  const clusterId = kid.split(":", 1)[0] ?? "";
  return {
    clusterId,
    kid,
    /** The claims when `key` signed the token, undefined otherwise. */
    check(key) {
      if (key.kid !== kid) return undefined;
      const sig = Buffer.from(s, "base64url");
      if (sig.length !== 64) return undefined;
      const ok = verify(
        "sha256",
        Buffer.from(`${h}.${p}`),
        { key: key.publicKey, dsaEncoding: "ieee-p1363" },
        sig,
      );
      if (!ok) return undefined;
      try {
        return JSON.parse(Buffer.from(p, "base64url").toString("utf8")) as unknown;
      } catch {
        return undefined;
      }
    },
  };
}

/** What the kubelet asks for (`expirationSeconds: 3607`), and what the API server gives a pod's token instead. */
const PROJECTED_SECONDS = 3607;
/** `--service-account-extend-token-expiration` (on by default): a pod's token lasts a year, `warnafter` its hour. */
const EXTENDED_SECONDS = 365 * 24 * 60 * 60;

/** The projected tokens handed out, per pod uid, until the kubelet would refresh them (80% of their hour). */
const projected = new Map<string, { token: string; refreshAt: number; kid: string }>();

/**
 * The token the kubelet projects into a pod at `/var/run/secrets/kubernetes.io/serviceaccount/token`: for the pod's
 * ServiceAccount, bound to the pod and its node, refreshed as the kubelet refreshes it. Undefined when the
 * ServiceAccount does not exist (the pod could not have started on a real cluster) or no key can be made.
 */
export function projectedToken(
  api: ClusterApi,
  store: ObjectStore,
  clusterId: string,
  pod: KubeObject,
  nowMs: number,
): string | undefined {
  const ns = pod.metadata.namespace ?? "default";
  const spec = (pod.spec ?? {}) as { serviceAccountName?: unknown; nodeName?: unknown };
  const saName =
    typeof spec.serviceAccountName === "string" && spec.serviceAccountName
      ? spec.serviceAccountName
      : "default";
  const sa = store.get("core/serviceaccounts", ns, saName);
  const podUid = pod.metadata.uid;
  if (!sa?.metadata.uid || !podUid) return undefined;
  const now = Math.floor(nowMs / 1000);
  const cached = projected.get(podUid);
  const current = currentKey(store, clusterId);
  if (cached && cached.refreshAt > now && current?.kid === cached.kid) return cached.token;
  let key: SigningKey;
  try {
    key = current ?? ensureKey(api, store, clusterId);
  } catch {
    return undefined;
  }
  const nodeName = typeof spec.nodeName === "string" ? spec.nodeName : "";
  const node = nodeName ? store.get("core/nodes", undefined, nodeName) : undefined;
  const { token } = mintBoundToken(key, {
    namespace: ns,
    serviceAccount: { name: saName, uid: sa.metadata.uid },
    audiences: [ISSUER],
    issuedAt: now,
    expirationSeconds: EXTENDED_SECONDS,
    pod: { name: pod.metadata.name, uid: podUid },
    ...(node?.metadata.uid ? { node: { name: nodeName, uid: node.metadata.uid } } : {}),
    warnAfter: now + PROJECTED_SECONDS,
  });
  if (projected.size > 10_000) projected.clear();
  projected.set(podUid, { token, refreshAt: now + Math.floor(PROJECTED_SECONDS * 0.8), kid: key.kid });
  return token;
}
