/** The session cookie: httpOnly, SameSite=Lax, a random token that the database stores only as a hash. */
export const sessionCookie = "egresslab_session";

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
