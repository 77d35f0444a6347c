/**
 * The seat's and the results' HTTP routes, mounted inside the instructor's API (`/api/instructor`, after its
 * authentication: the bearer token alone, never a cookie). Each route acts on the workshop the request names
 * (`/workshops/:workshop/…`, `?workshop=`, or the instructor's own) and only on attendees of that workshop; the
 * console validates the input and records every action in the audit log.
 */
import type express from "express";
import type { Request, Response } from "express";
import { instructorOf, workshopOf } from "../http/instructor-api.ts";
import { wrap } from "../http/wrap.ts";
import type { Workshop } from "../sessions/workshop.ts";
import type { Workshops } from "../sessions/workshops.ts";
import type { InstructorConsole } from "./console.ts";
import { attendeesCsv, stagesCsv, type WorkshopResults } from "./results.ts";

export interface SeatRoutesOptions {
  workshops: Workshops;
  consoleOf: (w: Workshop) => InstructorConsole;
  resultsOf: (w: Workshop) => Promise<WorkshopResults>;
}

const body = (req: Request): Record<string, unknown> =>
  typeof req.body === "object" && req.body !== null ? (req.body as Record<string, unknown>) : {};

/** `egresslab-<what>-<lab>-<date>.<ext>`. */
const fileName = (r: WorkshopResults, what: string, ext: string): string =>
  `egresslab-${what}-${r.lab.id.replace(/[^A-Za-z0-9_-]/g, "")}-${r.generatedAt.slice(0, 10)}.${ext}`;

/** Both the workshop-less path (the instructor's own workshop) and the one under `/workshops/:workshop`. */
const paths = (p: string): string[] => [p, `/workshops/:workshop${p}`];

export function seatRoutes(r: express.Router, opts: SeatRoutesOptions): void {
  const one = (req: Request, res: Response) => {
    const w = workshopOf(opts.workshops, req, res);
    return { w, c: opts.consoleOf(w), actor: instructorOf(res).actor };
  };
  r.get(
    paths("/attendees/:id"),
    wrap((req, res) => one(req, res).c.detail(req.params.id)),
  );
  r.post(
    paths("/attendees/:id/reset"),
    wrap((req, res) => {
      const { c, actor } = one(req, res);
      return c.reset(actor, req.params.id, body(req).stage);
    }),
  );
  r.post(
    paths("/attendees/:id/jump"),
    wrap((req, res) => {
      const { c, actor } = one(req, res);
      return c.jump(actor, req.params.id, body(req).stage);
    }),
  );
  r.post(
    paths("/attendees/:id/message"),
    wrap((req, res) => {
      const { c, actor } = one(req, res);
      return c.message(actor, req.params.id, body(req).text);
    }),
  );
  r.post(
    paths("/broadcast"),
    wrap((req, res) => {
      const { c, actor } = one(req, res);
      return c.broadcast(actor, body(req).text);
    }),
  );
  r.post(
    paths("/pause"),
    wrap((req, res) => {
      const { c, actor } = one(req, res);
      return c.pause(actor, body(req).paused, body(req).text);
    }),
  );
  r.get(
    paths("/results.json"),
    wrap((req, res) => opts.resultsOf(one(req, res).w)),
  );
  r.get(
    paths("/results.csv"),
    wrap(async (req, res) => {
      const results = await opts.resultsOf(one(req, res).w);
      const byStage = req.query.by === "stage";
      res.setHeader("Content-Type", "text/csv; charset=utf-8");
      res.setHeader(
        "Content-Disposition",
        `attachment; filename="${fileName(results, byStage ? "stages" : "attendees", "csv")}"`,
      );
      res.send(byStage ? stagesCsv(results) : attendeesCsv(results));
    }),
  );
}
