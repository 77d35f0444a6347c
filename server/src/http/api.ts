/** The JSON API of the learner's page and the instructor's board. */
import express, { type Request, type RequestHandler, type Response } from "express";
import { timingSafeEqual } from "node:crypto";
import { EgresslabError } from "../shared/errors.ts";
import type { Workshop } from "../sessions/workshop.ts";
import type { Learner } from "../sessions/store.ts";
import { parseCookies, sessionCookie, sessionCookieHeader } from "./cookies.ts";
import { requireJson } from "./security.ts";
import { RateLimiter } from "../sessions/rate-limit.ts";

export interface ApiOptions {
  workshop: Workshop;
  instructorToken: string;
  /** Joins per client address; a room behind one NAT address shares it (default 100 at once, 600 a minute). */
  joinRate?: { burst: number; perMinute: number };
  /** Largest JSON body accepted. */
  bodyLimit?: string;
}

/** The learner of the request's session cookie, or undefined. */
export function learnerOf(workshop: Workshop, cookieHeader: string | undefined): Learner | undefined {
  return workshop.learnerForToken(parseCookies(cookieHeader)[sessionCookie]);
}

/** True when `presented` is the instructor token (constant time). */
export function isInstructor(presented: string | undefined, token: string): boolean {
  if (!presented) return false;
  const a = Buffer.from(presented);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

const wrap =
  (fn: (req: Request, res: Response) => Promise<unknown> | unknown): RequestHandler =>
  (req, res, next) => {
    Promise.resolve()
      .then(() => fn(req, res))
      .then((body) => {
        if (res.headersSent) return;
        if (body === undefined) res.status(204).end();
        else res.json(body);
      })
      .catch(next);
  };

export function apiRouter(opts: ApiOptions): express.Router {
  const { workshop } = opts;
  const r = express.Router();
  const joins = new RateLimiter(opts.joinRate?.burst ?? 100, opts.joinRate?.perMinute ?? 600);
  r.use(express.json({ limit: opts.bodyLimit ?? "32kb" }));
  r.use(requireJson);
  r.use((_req, res, next) => {
    res.setHeader("Cache-Control", "no-store");
    next();
  });

  const learner = (req: Request): Learner => {
    const l = learnerOf(workshop, req.headers.cookie);
    if (!l) throw new EgresslabError("unauthorized", "your session has ended; join again");
    return l;
  };

  r.get("/workshop", (_req, res) => {
    res.json({ lab: workshop.lab.summary, joinCode: workshop.needsJoinCode() });
  });

  r.post(
    "/join",
    wrap(async (req, res) => {
      const wait = joins.take(req.ip ?? "?");
      if (wait > 0) {
        res.setHeader("Retry-After", String(wait));
        throw new EgresslabError("rate-limited", `too many joins from here; try again in ${wait} s`);
      }
      const body = (req.body ?? {}) as { name?: unknown; code?: unknown };
      const { learner: l, token } = await workshop.join(body);
      res.setHeader("Set-Cookie", sessionCookieHeader(token, req.secure));
      return workshop.state(l);
    }),
  );

  r.post(
    "/logout",
    wrap((req, res) => {
      const token = parseCookies(req.headers.cookie)[sessionCookie];
      if (token) workshop.endSession(token);
      res.setHeader("Set-Cookie", sessionCookieHeader(undefined, req.secure));
      return undefined;
    }),
  );

  r.get(
    "/session",
    wrap((req) => workshop.state(learner(req))),
  );
  r.get(
    "/stages/:stage/guide",
    wrap((req) => workshop.guide(learner(req), req.params.stage)),
  );
  r.post(
    "/stages/:stage/go",
    wrap((req) => workshop.goTo(learner(req), req.params.stage)),
  );
  r.put(
    "/stages/:stage/answers",
    wrap((req) =>
      workshop.saveAnswers(learner(req), req.params.stage, (req.body as { answers?: unknown })?.answers),
    ),
  );
  r.post(
    "/stages/:stage/check",
    wrap((req) =>
      workshop.check(
        learner(req),
        req.params.stage,
        (req.body as { answers?: unknown } | undefined)?.answers,
      ),
    ),
  );
  r.post(
    "/stages/:stage/reset",
    wrap((req) => workshop.reset(learner(req), req.params.stage)),
  );

  r.get(
    "/instructor/board",
    wrap((req) => {
      const auth = req.headers.authorization?.replace(/^Bearer\s+/i, "");
      if (!isInstructor(auth, opts.instructorToken))
        throw new EgresslabError("unauthorized", "the instructor token is missing or wrong");
      return { lab: workshop.lab.summary, rows: workshop.board() };
    }),
  );

  r.use(() => {
    throw new EgresslabError("not-found", "no such API");
  });
  return r;
}
