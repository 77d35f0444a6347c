/** Response headers for every page and API answer: a strict CSP (no inline scripts), no sniffing, no framing. */
import type { RequestHandler } from "express";
import { EgresslabError } from "../shared/errors.ts";

export const contentSecurityPolicy = [
  "default-src 'self'",
  "script-src 'self'",
  // xterm.js sizes its rows with style elements and attributes.
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

export const securityHeaders: RequestHandler = (_req, res, next) => {
  res.setHeader("Content-Security-Policy", contentSecurityPolicy);
  res.setHeader("X-Content-Type-Options", "nosniff");
  res.setHeader("X-Frame-Options", "DENY");
  res.setHeader("Referrer-Policy", "no-referrer");
  res.setHeader("Cross-Origin-Opener-Policy", "same-origin");
  res.setHeader("Cross-Origin-Resource-Policy", "same-origin");
  res.setHeader("Permissions-Policy", "camera=(), microphone=(), geolocation=()");
  next();
};

/** Mutating API calls must be JSON: a cross-site form cannot send that without the browser asking first. */
export const requireJson: RequestHandler = (req, _res, next) => {
  if (req.method === "GET" || req.method === "HEAD" || req.method === "OPTIONS") return next();
  const type = req.headers["content-type"];
  const empty = !req.headers["transfer-encoding"] && (req.headers["content-length"] ?? "0") === "0";
  if (type === undefined && empty) return next();
  if (!/^application\/json\b/i.test(type ?? "")) {
    return next(new EgresslabError("invalid", "send the request as application/json"));
  }
  next();
};

/** True when a request's Origin (if any) is this server's own. */
export function sameOrigin(origin: string | undefined, host: string | undefined): boolean {
  if (!origin) return true;
  try {
    return new URL(origin).host === host;
  } catch {
    return false;
  }
}
