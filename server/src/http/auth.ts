/**
 * Who a request or socket is. Instructor endpoints read only the `Authorization: Bearer` header (a learner's session
 * cookie is never looked at there, so no cookie can reach them); learner endpoints read only the session cookie.
 */
import type { Request } from "express";
import { EgresslabError } from "../shared/errors.ts";
import type { InstructorCredential } from "../sessions/credentials.ts";
import type { InstructorScope, Workshops } from "../sessions/workshops.ts";
import type { Learner } from "../sessions/store.ts";
import type { Workshop } from "../sessions/workshop.ts";
import { parseCookies, sessionCookie } from "./cookies.ts";

/** The bearer token of a request, if any. */
export function bearerOf(req: Request): string | undefined {
  const h = req.headers.authorization;
  const m = typeof h === "string" ? /^Bearer\s+(\S+)\s*$/i.exec(h) : null;
  return m?.[1];
}

/** The instructor scope of a token: the owner's (the data directory's credential) or one workshop's. */
export function instructorScope(
  workshops: Workshops,
  credential: InstructorCredential,
  token: string | undefined,
): Promise<InstructorScope | undefined> {
  return workshops.scopeOf(token, (t) => credential.matches(t));
}

/** The instructor scope of a request, or a 401. */
export async function requireInstructor(
  req: Request,
  workshops: Workshops,
  credential: InstructorCredential,
): Promise<InstructorScope> {
  const scope = await instructorScope(workshops, credential, bearerOf(req));
  if (!scope) throw new EgresslabError("unauthorized", "the instructor token is missing or wrong");
  return scope;
}

/** The learner of a session cookie header and their workshop, or undefined. */
export function learnerOfCookie(
  workshops: Workshops,
  cookieHeader: string | undefined,
): Promise<{ learner: Learner; workshop: Workshop } | undefined> {
  return workshops.learnerForToken(parseCookies(cookieHeader)[sessionCookie]);
}
