/**
 * `/metrics` in Prometheus's text format, with prom-client: joins and checks by result, check latency, attendees with
 * the page open, warm clusters in the pool, open terminals, and Node's own metrics (event-loop delay as
 * `nodejs_eventloop_lag_*`, heap, handles, CPU). Each server has its own registry, so two servers in one process
 * (the tests) never share counts.
 *
 * Access: the endpoint exists only when a metrics token is configured, and answers only a request that carries it as
 * `Authorization: Bearer <token>` (Prometheus's `authorization.credentials_file`). A loopback-only rule would not hold
 * here: behind a reverse proxy on the same host every request comes from loopback.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { Request, Response } from "express";
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import type { CheckResult, JoinResult } from "../sessions/workshop.ts";

/** One running workshop, as the metrics read it. */
export interface MeteredWorkshop {
  on(event: "joinEnded", fn: (result: JoinResult) => void): unknown;
  on(event: "checkEnded", fn: (result: CheckResult, seconds: number) => void): unknown;
  off(event: "joinEnded", fn: (result: JoinResult) => void): unknown;
  off(event: "checkEnded", fn: (result: CheckResult, seconds: number) => void): unknown;
  /** Attendees with at least one page connected. */
  readonly onlineCount: number;
  poolStatus(): { ready: number; target: number };
}

/** What the metrics read: every running workshop (joins, checks, attendees, pools) and the terminals. */
export interface MetricsSources {
  workshops: {
    all(): MeteredWorkshop[];
    on(event: "added", fn: (w: MeteredWorkshop) => void): unknown;
    off(event: "added", fn: (w: MeteredWorkshop) => void): unknown;
  };
  terminals: { readonly size: number };
}

export interface WorkshopMetrics {
  readonly registry: Registry;
  /** The exposition text. */
  text(): Promise<string>;
  /** Stops listening to the workshop. */
  close(): void;
}

/** Check latencies span a quick resource check (tens of ms) to a probe that waits for a timeout (seconds). */
const CHECK_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60];

export function createMetrics(src: MetricsSources): WorkshopMetrics {
  const registry = new Registry();
  const sum = (f: (w: MeteredWorkshop) => number) => src.workshops.all().reduce((n, w) => n + f(w), 0);
  const registers = [registry];
  collectDefaultMetrics({ register: registry });
  const joins = new Counter({
    name: "egresslab_joins_total",
    help: "Join attempts by result: joined, refused (bad name or code, workshop full) or failed (server side)",
    labelNames: ["result"] as const,
    registers,
  });
  const checks = new Counter({
    name: "egresslab_checks_total",
    help: "Stage checks by result: passed, failed, or error (the check could not run)",
    labelNames: ["result"] as const,
    registers,
  });
  const latency = new Histogram({
    name: "egresslab_check_duration_seconds",
    help: "Time to run a stage's checks, from the start of grading to the recorded outcome",
    labelNames: ["result"] as const,
    buckets: CHECK_BUCKETS,
    registers,
  });
  // Every label value starts at zero, so a rate() over a fresh server is 0, not absent.
  for (const r of ["joined", "refused", "failed"] satisfies JoinResult[]) joins.inc({ result: r }, 0);
  for (const r of ["passed", "failed", "error"] satisfies CheckResult[]) checks.inc({ result: r }, 0);
  new Gauge({
    name: "egresslab_attendees_active",
    help: "Attendees with a workshop page open (at least one connection), all workshops of this replica",
    registers,
    collect() {
      this.set(sum((w) => w.onlineCount));
    },
  });
  new Gauge({
    name: "egresslab_pool_ready_clusters",
    help: "Warm clusters waiting for the next attendee, all workshops of this replica",
    registers,
    collect() {
      this.set(sum((w) => w.poolStatus().ready));
    },
  });
  new Gauge({
    name: "egresslab_pool_target_clusters",
    help: "How many warm clusters the pools are filling towards, all workshops of this replica",
    registers,
    collect() {
      this.set(sum((w) => w.poolStatus().target));
    },
  });
  new Gauge({
    name: "egresslab_terminals_open",
    help: "Attendees' shells running on this replica",
    registers,
    collect() {
      this.set(src.terminals.size);
    },
  });
  const onJoin = (result: JoinResult) => joins.inc({ result });
  const onCheck = (result: CheckResult, seconds: number) => {
    checks.inc({ result });
    latency.observe({ result }, seconds);
  };
  const watched = new Set<MeteredWorkshop>();
  const watch = (w: MeteredWorkshop) => {
    if (watched.has(w)) return;
    watched.add(w);
    w.on("joinEnded", onJoin);
    w.on("checkEnded", onCheck);
  };
  for (const w of src.workshops.all()) watch(w);
  src.workshops.on("added", watch);
  return {
    registry,
    text: () => registry.metrics(),
    close() {
      src.workshops.off("added", watch);
      for (const w of watched) {
        w.off("joinEnded", onJoin);
        w.off("checkEnded", onCheck);
      }
    },
  };
}

const digest = (s: string) => createHash("sha256").update(s).digest();

/** Whether an `Authorization` header carries `token` (compared in constant time). */
export function bearerMatches(header: string | undefined, token: string): boolean {
  const m = /^Bearer ([^\s]+)$/i.exec(header ?? "");
  return m !== null && timingSafeEqual(digest(m[1]!), digest(token));
}

/** The `/metrics` handler: 401 without the token, else the exposition text. */
export function metricsHandler(metrics: WorkshopMetrics, token: string) {
  return async (req: Request, res: Response): Promise<void> => {
    res.set("Cache-Control", "no-store");
    if (!bearerMatches(req.get("authorization"), token)) {
      res.set("WWW-Authenticate", 'Bearer realm="metrics"');
      res
        .status(401)
        .type("text/plain")
        .send("metrics need the metrics token: Authorization: Bearer <token>\n");
      return;
    }
    res.type(metrics.registry.contentType).send(await metrics.text());
  };
}
