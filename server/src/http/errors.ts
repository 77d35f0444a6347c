/** Typed errors on the wire: one mapping to HTTP statuses and one body shape, for the API and the socket. */
import type { ErrorRequestHandler } from "express";
import { EgresslabError, ValidationError, type ErrorCode } from "../shared/errors.ts";
import type { WireError } from "../realtime/protocol.ts";
import type { Logger } from "../shared/logger.ts";
import { faultMessage, storageFault, storageHealth } from "../shared/storage.ts";
import { HeldElsewhereError } from "../scale/leases.ts";
import { replicaCookieHeader } from "./cookies.ts";

const statusOf: Record<ErrorCode, number> = {
  invalid: 400,
  unauthorized: 401,
  forbidden: 403,
  "not-found": 404,
  conflict: 409,
  "too-large": 413,
  "rate-limited": 429,
  internal: 500,
  unavailable: 503,
};

/** The typed error for anything thrown: express/body-parser errors are translated, the unknown becomes `internal`. */
export function asTyped(err: unknown): EgresslabError {
  if (err instanceof EgresslabError) return err;
  const e = err as { type?: string; status?: number; message?: string };
  if (e?.type === "entity.too.large") return new EgresslabError("too-large", "the request body is too large");
  if (e?.type === "entity.parse.failed")
    return new EgresslabError("invalid", "the request body is not valid JSON");
  if (e?.status === 404) return new EgresslabError("not-found", "not found");
  const fault = storageFault(err);
  if (fault)
    return new EgresslabError("unavailable", `${faultMessage(fault)}; nothing was saved, try again later`, {
      cause: err,
    });
  return new EgresslabError("internal", "something went wrong on the server; try again", { cause: err });
}

export function toWire(err: unknown): { status: number; body: WireError } {
  const t = asTyped(err);
  return {
    status: statusOf[t.code],
    body: {
      code: t.code,
      message: t.message,
      ...(t instanceof ValidationError ? { problems: t.problems.map((p) => ({ ...p })) } : {}),
      ...(t instanceof HeldElsewhereError
        ? { replica: t.owner.replica, retryAfter: t.retryAfterSeconds }
        : {}),
    },
  };
}

/** The one express error handler: logs unexpected errors, renders every error as `{ error: WireError }`. */
export function errorHandler(log: Logger): ErrorRequestHandler {
  return (err: unknown, req, res, _next) => {
    const { status, body } = toWire(err);
    if (storageFault(err)) {
      // Told once to the log, the pages and the board (StorageHealth), not as a stack trace per request.
      storageHealth.failed(err);
      if (!res.headersSent) res.status(status).json({ error: body });
      return;
    }
    if (status >= 500 && !(err instanceof HeldElsewhereError))
      log.error("request failed", {
        method: req.method,
        path: req.path,
        error: err instanceof Error ? (err.stack ?? err.message) : String(err),
      });
    if (res.headersSent) return;
    if (err instanceof HeldElsewhereError) {
      // Routed here while another replica serves the learner: the cookie sends the next request there.
      res.setHeader("Retry-After", String(err.retryAfterSeconds));
      res.append("Set-Cookie", replicaCookieHeader(err.owner.replica, req.secure));
    }
    res.status(status).json({ error: body });
  };
}
