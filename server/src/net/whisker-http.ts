/**
 * The HTTP side of the simulated `calico-system/whisker` pod: the `whisker` container (nginx on 8081: the UI at `/`,
 * `/whisker-backend/` proxied to the backend with the prefix stripped) and `whisker-backend` on 3002 (`/flows`,
 * `/flows-filter-hints`). Lists are JSON (`json.Encoder`, so a trailing newline); `watch=true` is a server-sent event
 * stream (`data: <flow JSON>\n\n`, httpmachinery's `eventstream.go`) that first replays the flows from
 * `startTimeGte` (when given) and then sends each flow updated since the last send, once a second.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { KubeObject } from "../store/types.ts";
import type { PortListener } from "../sim/runtime/port-forward.ts";
import type { FlowRecord } from "./flows.ts";
import { podSpec } from "./topology.ts";
import {
  WhiskerBadRequest,
  filterHints,
  listFlows,
  matchesFilters,
  parseListParams,
  timeWindow,
  toWhiskerFlow,
} from "./whisker.ts";

/** What the Whisker pod reads: Goldmane's view of the cluster's flows. */
export interface WhiskerApi {
  /** Every flow record held, oldest first. */
  records(): readonly FlowRecord[];
  /** Calls `cb` with each new or updated record; returns the unsubscribe function. */
  watch(cb: (r: FlowRecord) => void): () => void;
  /** The cluster clock, in milliseconds. */
  nowMs(): number;
}

export const WHISKER_UI_PORT = 8081;
export const WHISKER_BACKEND_PORT = 3002;
const STREAM_FLUSH_MS = 1000;
/** Open event streams per cluster (a cluster's Whisker is one backend). */
const MAX_STREAMS = 16;
const openStreams = new WeakMap<WhiskerApi, number>();

const INDEX_HTML = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Calico Whisker</title></head>
<body>
<h1>Calico Whisker</h1>
<p>Flow logs of this cluster, from Goldmane. The API this page reads:</p>
<ul>
<li><a href="whisker-backend/flows?startTimeGte=-900">whisker-backend/flows?startTimeGte=-900</a> (the last 15 minutes)</li>
<li><a href="whisker-backend/flows?watch=true&amp;startTimeGte=-300">whisker-backend/flows?watch=true</a> (a live event stream)</li>
<li><a href="whisker-backend/flows-filter-hints?type=DestName">whisker-backend/flows-filter-hints?type=DestName</a></li>
</ul>
</body>
</html>
`;

function images(pod: KubeObject): string[] {
  return (podSpec(pod).containers ?? []).map((c) => (c.image ?? "").toLowerCase());
}

/** Whether the pod is Whisker (its `whisker` / `whisker-backend` images). */
export function isWhiskerPod(pod: KubeObject): boolean {
  return images(pod).some((i) => /(^|\/)whisker(-backend)?(:|@|$)/.test(i));
}

/** The listener of a Whisker pod's port, or undefined for other pods and ports. */
export function whiskerListener(pod: KubeObject, port: number, api: WhiskerApi): PortListener | undefined {
  if (!isWhiskerPod(pod)) return undefined;
  const imgs = images(pod);
  if (port === WHISKER_UI_PORT && imgs.some((i) => /(^|\/)whisker(:|@|$)/.test(i)))
    return { kind: "http", handle: (req, res) => serveUi(api, req, res) };
  if (port === WHISKER_BACKEND_PORT && imgs.some((i) => /(^|\/)whisker-backend(:|@|$)/.test(i)))
    return { kind: "http", handle: (req, res) => serveBackend(api, req, res, req.url ?? "/") };
  return undefined;
}

function serveUi(api: WhiskerApi, req: IncomingMessage, res: ServerResponse): void {
  const url = req.url ?? "/";
  if (url.startsWith("/whisker-backend/")) {
    serveBackend(api, req, res, url.slice("/whisker-backend".length));
    return;
  }
  req.resume();
  const body = req.method === "HEAD" ? "" : INDEX_HTML;
  res.writeHead(200, {
    Server: "nginx",
    "Content-Type": "text/html",
    "Content-Length": String(Buffer.byteLength(INDEX_HTML)),
  });
  res.end(body);
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body) + "\n";
  res.writeHead(status, {
    "Content-Type": "application/json",
    "Content-Length": String(Buffer.byteLength(text)),
  });
  res.end(text);
}

/** whisker-backend's routes; `path` is the request target without the nginx prefix. */
export function serveBackend(api: WhiskerApi, req: IncomingMessage, res: ServerResponse, path: string): void {
  req.resume();
  const url = new URL(path, "http://whisker");
  const route = url.pathname;
  if (route !== "/flows" && route !== "/flows-filter-hints") {
    res.writeHead(404, { "Content-Type": "text/plain; charset=utf-8", "X-Content-Type-Options": "nosniff" });
    res.end("404 page not found\n");
    return;
  }
  if (req.method !== "GET") {
    res.writeHead(405, { "Content-Type": "text/plain; charset=utf-8", Allow: "GET" });
    res.end("Method Not Allowed\n");
    return;
  }
  const nowSec = Math.floor(api.nowMs() / 1000);
  try {
    if (route === "/flows-filter-hints")
      return sendJson(res, 200, filterHints(api.records(), url.searchParams, nowSec));
    const params = parseListParams(url.searchParams);
    if (!params.watch) return sendJson(res, 200, listFlows(api.records(), params, nowSec));
    if ((openStreams.get(api) ?? 0) >= MAX_STREAMS)
      return sendJson(res, 503, { error: "too many open flow streams" });
    stream(api, params, nowSec, res);
  } catch (err) {
    if (err instanceof WhiskerBadRequest) return sendJson(res, 400, { error: err.message });
    throw err;
  }
}

function stream(
  api: WhiskerApi,
  params: ReturnType<typeof parseListParams>,
  nowSec: number,
  res: ServerResponse,
): void {
  openStreams.set(api, (openStreams.get(api) ?? 0) + 1);
  res.writeHead(200, {
    "Content-Type": "text/event-stream",
    "Cache-Control": "no-cache",
    Connection: "keep-alive",
    "Access-Control-Allow-Origin": "localhost",
  });
  const send = (r: FlowRecord): void => {
    res.write(`data: ${JSON.stringify(toWhiskerFlow(r))}\n\n`);
  };
  // For a stream, 0 means "from now": nothing is replayed.
  if (params.startTimeGte !== 0) {
    const [gte] = timeWindow(params, nowSec);
    for (const r of api.records()) if (r.start_time >= gte && matchesFilters(r, params.filters)) send(r);
  }
  const dirty = new Set<FlowRecord>();
  const stop = api.watch((r) => {
    if (matchesFilters(r, params.filters) && dirty.size < 5000) dirty.add(r);
  });
  const timer = setInterval(() => {
    if (res.writableLength > 1 << 20) return; // a slow reader: keep collecting, send later
    for (const r of dirty) send(r);
    dirty.clear();
  }, STREAM_FLUSH_MS);
  timer.unref();
  let closed = false;
  const close = (): void => {
    if (closed) return;
    closed = true;
    openStreams.set(api, (openStreams.get(api) ?? 1) - 1);
    clearInterval(timer);
    stop();
  };
  res.on("close", close);
  res.on("error", close);
}
