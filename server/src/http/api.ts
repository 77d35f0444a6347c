/** The JSON API of the learner's page; the instructor's endpoints are mounted from `instructor-api.ts`. */
import express, { type Request, type Response } from "express";
import { wrap } from "./wrap.ts";
import { EgresslabError } from "../shared/errors.ts";
import type { Workshop } from "../sessions/workshop.ts";
import type { Workshops } from "../sessions/workshops.ts";
import type { Learner } from "../sessions/store.ts";
import type { InstructorCredential } from "../sessions/credentials.ts";
import { parseCookies, replicaCookieHeader, sessionCookie, sessionCookieHeader } from "./cookies.ts";
import { requireJson } from "./security.ts";
import { RateLimiter } from "../sessions/rate-limit.ts";
import { learnerOfCookie } from "./auth.ts";
import { instructorRouter } from "./instructor-api.ts";
import type { Logger } from "../shared/logger.ts";

export interface ApiOptions {
  workshops: Workshops;
  credential: InstructorCredential;
  /** Joins per client address; a room behind one NAT address shares it (default 100 at once, 600 a minute). */
  joinRate?: { burst: number; perMinute: number };
  /** Largest JSON body accepted. */
  bodyLimit?: string;
  /** Where the server's owner can be told the board's address after rotating the token. */
  boardUrl?: (token: string) => string;
  /** More instructor endpoints, mounted after authentication (see `instructor-api.ts`). */
  instructorRoutes?: (r: express.Router) => void;
  /**
   * The replica that serves a learner (several replicas): every learner's response carries it in the routing cookie,
   * so the proxy sends the learner's next requests there.
   */
  servedBy?: (learner: Learner) => Promise<string>;
  logger?: Logger;
}

export function apiRouter(opts: ApiOptions): express.Router {
  const { workshops } = opts;
  const r = express.Router();
  const joins = new RateLimiter(opts.joinRate?.burst ?? 100, opts.joinRate?.perMinute ?? 600);
  const resumes = new RateLimiter(10, 10);
  r.use(express.json({ limit: opts.bodyLimit ?? "32kb" }));
  r.use(requireJson);
  r.use((_req, res, next) => {
    res.setHeader("Cache-Control", "no-store");
    next();
  });

  r.use(
    "/instructor",
    instructorRouter({
      workshops,
      credential: opts.credential,
      ...(opts.boardUrl ? { boardUrl: opts.boardUrl } : {}),
      ...(opts.instructorRoutes ? { extra: opts.instructorRoutes } : {}),
    }),
  );

  const route = async (req: Request, res: Response, learner: Learner): Promise<void> => {
    if (opts.servedBy)
      res.append("Set-Cookie", replicaCookieHeader(await opts.servedBy(learner), req.secure));
  };
  const session = async (req: Request, res: Response): Promise<{ learner: Learner; workshop: Workshop }> => {
    const s = await learnerOfCookie(workshops, req.headers.cookie);
    if (!s) throw new EgresslabError("unauthorized", "your session has ended; join again");
    await route(req, res, s.learner);
    return s;
  };
  const limit = (limiter: RateLimiter, req: Request, res: Response, what: string): void => {
    const wait = limiter.take(req.ip ?? "?");
    if (wait > 0) {
      res.setHeader("Retry-After", String(wait));
      throw new EgresslabError("rate-limited", `too many ${what} from here; try again in ${wait} s`);
    }
  };

  r.get(
    "/workshop",
    wrap(async () => ({ lab: workshops.default.lab.summary, joinCode: await workshops.joinNeedsCode() })),
  );

  r.post(
    "/join",
    wrap(async (req, res) => {
      limit(joins, req, res, "joins");
      const body = (req.body ?? {}) as { name?: unknown; code?: unknown; pin?: unknown };
      const workshop = await workshops.forJoin(body.code);
      const { learner: l, token } = await workshop.join(body);
      res.setHeader("Set-Cookie", sessionCookieHeader(token, req.secure));
      await route(req, res, l);
      return workshop.state(l);
    }),
  );

  // Another browser or device: a personal resume code, or the join code with the attendee's name and PIN.
  r.post(
    "/resume",
    wrap(async (req, res) => {
      limit(resumes, req, res, "resume attempts");
      const body = (req.body ?? {}) as {
        resumeCode?: unknown;
        code?: unknown;
        name?: unknown;
        pin?: unknown;
      };
      if (body.resumeCode !== undefined) {
        const {
          learner: l,
          token,
          workshop,
        } = await workshops.resumeWithCode(body.resumeCode, req.ip ?? "?");
        res.setHeader("Set-Cookie", sessionCookieHeader(token, req.secure));
        await route(req, res, l);
        return workshop.state(l);
      }
      const workshop = await workshops.forJoin(body.code);
      const r2 = await workshop.resumeByName(body);
      res.setHeader("Set-Cookie", sessionCookieHeader(r2.token, req.secure));
      await route(req, res, r2.learner);
      return workshop.state(r2.learner);
    }),
  );

  r.post(
    "/logout",
    wrap(async (req, res) => {
      const token = parseCookies(req.headers.cookie)[sessionCookie];
      const s = await learnerOfCookie(workshops, req.headers.cookie);
      if (token && s) await s.workshop.endSession(token);
      res.setHeader("Set-Cookie", sessionCookieHeader(undefined, req.secure));
      return undefined;
    }),
  );

  r.get(
    "/session",
    wrap(async (req, res) => {
      const s = await session(req, res);
      return s.workshop.state(s.learner);
    }),
  );
  r.put(
    "/pin",
    wrap(async (req, res) => {
      const s = await session(req, res);
      await s.workshop.setPin(s.learner, (req.body as { pin?: unknown } | undefined)?.pin);
      return s.workshop.state(s.learner);
    }),
  );
  r.get(
    "/stages/:stage/guide",
    wrap(async (req, res) => {
      const s = await session(req, res);
      return s.workshop.guide(s.learner, req.params.stage);
    }),
  );
  r.post(
    "/stages/:stage/go",
    wrap(async (req, res) => {
      const s = await session(req, res);
      return s.workshop.goTo(s.learner, req.params.stage);
    }),
  );
  r.put(
    "/stages/:stage/answers",
    wrap(async (req, res) => {
      const s = await session(req, res);
      return s.workshop.saveAnswers(
        s.learner,
        req.params.stage,
        (req.body as { answers?: unknown })?.answers,
      );
    }),
  );
  r.post(
    "/stages/:stage/check",
    wrap(async (req, res) => {
      const s = await session(req, res);
      return s.workshop.check(
        s.learner,
        req.params.stage,
        (req.body as { answers?: unknown } | undefined)?.answers,
      );
    }),
  );
  // A guide action the server performs (`rotate`), named by its id in the stage's guide.
  r.post(
    "/stages/:stage/actions/:action",
    wrap(async (req, res) => {
      const s = await session(req, res);
      return s.workshop.rotate(s.learner, req.params.stage, req.params.action);
    }),
  );
  r.post(
    "/stages/:stage/reset",
    wrap(async (req, res) => {
      const s = await session(req, res);
      return s.workshop.reset(s.learner, req.params.stage);
    }),
  );

  r.use(() => {
    throw new EgresslabError("not-found", "no such API");
  });
  return r;
}
