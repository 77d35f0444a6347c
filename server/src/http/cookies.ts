/** The session cookie: httpOnly, SameSite=Lax, a random token that the database stores only as a hash. */
export const sessionCookie = "egresslab_session";

/**
 * The replica that serves the learner (several replicas behind a proxy or an ingress with cookie affinity): set on
 * every learner's response by the replica answering, naming itself or the replica that holds the learner's cluster.
 */
export const replicaCookie = "egresslab_replica";

/** The `Set-Cookie` value naming `replica` (a session cookie: the routing is only good while the replicas run). */
export function replicaCookieHeader(replica: string, secure: boolean): string {
  return [
    `${replicaCookie}=${encodeURIComponent(replica)}`,
    "Path=/",
    "HttpOnly",
    "SameSite=Lax",
    ...(secure ? ["Secure"] : []),
  ].join("; ");
}

/** Parses a `Cookie` header into name → value (first occurrence wins). */
export function parseCookies(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!header) return out;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim();
    if (!name || name in out) continue;
    const raw = part
      .slice(eq + 1)
      .trim()
      .replace(/^"(.*)"$/, "$1");
    try {
      out[name] = decodeURIComponent(raw);
    } catch {
      out[name] = raw;
    }
  }
  return out;
}

/** The `Set-Cookie` value that stores `token` (or, with `undefined`, clears the cookie). */
export function sessionCookieHeader(token: string | undefined, secure: boolean): string {
  const attrs = ["Path=/", "HttpOnly", "SameSite=Lax", ...(secure ? ["Secure"] : [])];
  if (token === undefined) return [`${sessionCookie}=`, "Max-Age=0", ...attrs].join("; ");
  return [`${sessionCookie}=${encodeURIComponent(token)}`, `Max-Age=${60 * 60 * 24 * 30}`, ...attrs].join(
    "; ",
  );
}
