/** An express handler from a function that returns the JSON body (or undefined for 204), sync or async. */
import type { Request, RequestHandler, Response } from "express";

export const wrap =
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
