/**
 * The instructor's JSON API, under `/api/instructor`. Every request is authorised here, server-side, from the bearer
 * token alone: the server owner's token (the data directory's) reaches every workshop and creates workshops; a
 * workshop's instructor token reaches that workshop only (another workshop is "not found", as if it did not exist).
 * Every action that changes something is written to the audit log.
 *
 * Other instructor endpoints mount through `extra`, after authentication: `instructorOf(res)` gives them the
 * scope, and `workshopOf(req, res)` the workshop the request names (`?workshop=ID`, default: the instructor's own, or
 * for the owner the default workshop).
 */
import express, { type Request, type Response } from "express";
import { EgresslabError } from "../shared/errors.ts";
import type { InstructorCredential } from "../sessions/credentials.ts";
import type { InstructorScope, Workshops } from "../sessions/workshops.ts";
import type { Workshop } from "../sessions/workshop.ts";
import type { WorkshopView } from "./workshop-view.ts";
import { requireInstructor } from "./auth.ts";
import { wrap } from "./wrap.ts";

export interface InstructorApiOptions {
  workshops: Workshops;
  credential: InstructorCredential;
  /** The board's address with a token in it (printed when the owner's token is rotated). */
  boardUrl?: (token: string) => string;
  /** More instructor endpoints, mounted after authentication. */
  extra?: (r: express.Router) => void;
}

export async function workshopView(w: Workshop): Promise<WorkshopView> {
  const [r, attendees] = await Promise.all([w.record(), w.learnerCount()]);
  const s = w.lab.summary;
  return {
    id: r.id,
    title: r.title === r.labId ? s.title : r.title,
    lab: { id: s.id, title: s.title, stageCount: s.stageCount },
    state: r.state,
    capacity: r.capacity ?? w.capacity,
    startsAt: r.startsAt,
    endsAt: r.endsAt,
    createdAt: r.createdAt,
    endedAt: r.endedAt,
    isDefault: r.isDefault,
    attendees,
    pool: w.poolStatus(),
  };
}

/** The authenticated scope of an instructor request (set by the router's first handler). */
export function instructorOf(res: Response): InstructorScope {
  const scope = (res.locals as { instructor?: InstructorScope }).instructor;
  if (!scope) throw new EgresslabError("unauthorized", "the instructor token is missing or wrong");
  return scope;
}

/** The workshop an instructor request acts on: `:workshop` in the path, `?workshop=`, or the scope's own. */
export function workshopOf(workshops: Workshops, req: Request, res: Response): Workshop {
  const params = req.params as { workshop?: string };
  const q = typeof req.query.workshop === "string" ? req.query.workshop : undefined;
  return workshops.forScope(instructorOf(res), params.workshop ?? q);
}

export function instructorRouter(opts: InstructorApiOptions): express.Router {
  const { workshops, credential } = opts;
  const r = express.Router();
  r.use((req, res, next) => {
    requireInstructor(req, workshops, credential).then((scope) => {
      res.locals.instructor = scope;
      next();
    }, next);
  });
  const owner = (res: Response): void => {
    if (instructorOf(res).actor !== "owner")
      throw new EgresslabError(
        "forbidden",
        "only the server's owner (the token in its data directory) can do this",
      );
  };
  const one = (req: Request, res: Response): Workshop => workshopOf(workshops, req, res);

  r.get(
    "/board",
    wrap(async (req, res) => {
      const w = one(req, res);
      return { workshop: await workshopView(w), lab: w.lab.summary, rows: await w.board() };
    }),
  );

  r.get(
    "/workshops",
    wrap(async (_req, res) => ({
      workshops: await Promise.all(workshops.visibleTo(instructorOf(res)).map(workshopView)),
    })),
  );
  r.post(
    "/workshops",
    wrap(async (req, res) => {
      owner(res);
      const { workshop, instructorToken } = await workshops.create(req.body ?? {}, "owner");
      res.status(201);
      return {
        workshop: await workshopView(workshop),
        instructorToken,
        ...(opts.boardUrl ? { boardUrl: opts.boardUrl(instructorToken) } : {}),
      };
    }),
  );
  r.get(
    "/workshops/:workshop",
    wrap((req, res) => workshopView(one(req, res))),
  );
  r.get(
    "/workshops/:workshop/board",
    wrap(async (req, res) => {
      const w = one(req, res);
      return { workshop: await workshopView(w), lab: w.lab.summary, rows: await w.board() };
    }),
  );
  for (const action of ["open", "pause"] as const)
    r.post(
      `/workshops/:workshop/${action}`,
      wrap(async (req, res) => {
        const w = one(req, res);
        await workshops.record(instructorOf(res).actor, w.id, `workshop.${action}`);
        await w[action]();
        return workshopView(w);
      }),
    );
  r.post(
    "/workshops/:workshop/end",
    wrap(async (req, res) => {
      const w = one(req, res);
      await workshops.end(w, instructorOf(res).actor);
      return workshopView(w);
    }),
  );
  r.post(
    "/workshops/:workshop/token",
    wrap(async (req, res) => {
      const w = one(req, res);
      if ((await w.record()).isDefault)
        throw new EgresslabError(
          "conflict",
          "the default workshop is opened with the server's owner token; rotate that one",
        );
      const token = await workshops.rotateToken(w, instructorOf(res).actor);
      return { instructorToken: token, ...(opts.boardUrl ? { boardUrl: opts.boardUrl(token) } : {}) };
    }),
  );
  r.get(
    "/workshops/:workshop/actions",
    wrap(async (req, res) => ({ actions: await one(req, res).actions() })),
  );
  r.delete(
    "/workshops/:workshop/learners/:learner",
    wrap(async (req, res) => {
      const w = one(req, res);
      const id = String(req.params.learner);
      await workshops.record(instructorOf(res).actor, w.id, "learner.remove", id);
      await w.removeLearner(id);
      return undefined;
    }),
  );
  r.post(
    "/workshops/:workshop/learners/:learner/merge",
    wrap(async (req, res) => {
      const w = one(req, res);
      const into = (req.body as { into?: unknown } | undefined)?.into;
      const id = String(req.params.learner);
      await workshops.record(instructorOf(res).actor, w.id, "learner.merge", id, { into });
      await w.mergeLearners(into, id);
      return { rows: await w.board() };
    }),
  );
  r.post(
    "/token",
    wrap(async (_req, res) => {
      owner(res);
      if (!credential.rotatable)
        throw new EgresslabError(
          "conflict",
          "the instructor token was given with --instructor-token; change it there",
        );
      const token = credential.rotate();
      await workshops.record("owner", null, "owner.rotate-token");
      return { instructorToken: token, ...(opts.boardUrl ? { boardUrl: opts.boardUrl(token) } : {}) };
    }),
  );

  opts.extra?.(r);
  r.use(() => {
    throw new EgresslabError("not-found", "no such API");
  });
  return r;
}
