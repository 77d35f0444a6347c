/**
 * `/readyz` and `/livez` as Kubernetes probes read them: 200 "ok" when every check passes, 503 with the list of checks
 * (`[+]name ok` / `[-]name failed: why`) when one does not; `?verbose` lists them on success too, as the API server does.
 * Readiness covers what a request needs (the database, the cluster pool, the data directory); liveness only what a
 * restart would cure, so a database outage takes replicas out of the load balancer without restarting them all.
 */
import type { Request, Response } from "express";

export interface HealthCheck {
  /** Short name shown in the list (`database`, `pool`, `storage`). */
  readonly name: string;
  /** Resolves to a reason when the check fails, `undefined` when it passes. A throw counts as a failure. */
  check(): string | undefined | Promise<string | undefined>;
}

export interface HealthResult {
  ok: boolean;
  lines: string[];
}

/** How long one check may take before it counts as failed (a hung database must not hang the probe). */
const CHECK_TIMEOUT_MS = 2000;

async function runOne(c: HealthCheck): Promise<string | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(`no answer within ${CHECK_TIMEOUT_MS / 1000} s`), CHECK_TIMEOUT_MS);
    timer.unref();
  });
  try {
    return await Promise.race([Promise.resolve().then(() => c.check()), timeout]);
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  } finally {
    clearTimeout(timer);
  }
}

/** Runs every check at once. */
export async function runChecks(checks: readonly HealthCheck[]): Promise<HealthResult> {
  const reasons = await Promise.all(checks.map(runOne));
  const lines = checks.map((c, i) => {
    const why = reasons[i];
    // One line per check: a reason never breaks the list's shape.
    return why === undefined
      ? `[+]${c.name} ok`
      : `[-]${c.name} failed: ${why.replace(/\s+/g, " ").slice(0, 200)}`;
  });
  return { ok: reasons.every((r) => r === undefined), lines };
}

/** An express handler for one probe (`readyz` or `livez`). */
export function healthHandler(name: string, checks: readonly HealthCheck[]) {
  return async (req: Request, res: Response): Promise<void> => {
    const r = await runChecks(checks);
    res.set("Cache-Control", "no-store");
    res.type("text/plain");
    if (r.ok && !("verbose" in req.query)) {
      res.send("ok");
      return;
    }
    res.status(r.ok ? 200 : 503).send(`${r.lines.join("\n")}\n${name} check ${r.ok ? "passed" : "failed"}\n`);
  };
}
