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
import type { Peer } from "./podnet.ts";
import { WHISKER_BACKEND_PORT, WHISKER_UI_PORT, type PortService } from "../sim/runtime/images.ts";
import { portService } from "../sim/runtime/ports.ts";
import {
  WhiskerBadRequest,
  filterHints,
  listFlows,
  matchesFilters,
  parseListParams,
  timeWindow,
  toWhiskerFlow,
  type ListParams,
} from "./whisker.ts";

/** What the Whisker pod reads: Goldmane's view of the cluster's flows. */
export interface WhiskerApi {
  /** Every flow record held, oldest first. */
  records(): readonly FlowRecord[];
  /** Calls `cb` with each new or updated record; returns the unsubscribe function. */
  watch(cb: (r: FlowRecord) => void): () => void;
  /** The cluster clock, in milliseconds. */
  nowMs(): number;
  /** Calico Enterprise's flows carry `dest_domains`; Open Source ones do not. */
  domains?: boolean;
}

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

/** The listener of a Whisker pod's port, or undefined for other pods and ports. */
export function whiskerListener(pod: KubeObject, port: number, api: WhiskerApi): PortListener | undefined {
  const service = portService(pod, port);
  if (service === "whisker-ui")
    return { kind: "http", handle: (req, res) => serve(api, WHISKER_UI_PORT, req, res) };
  if (service === "whisker-backend")
    return { kind: "http", handle: (req, res) => serve(api, WHISKER_BACKEND_PORT, req, res) };
  return undefined;
}

/** A whole answer, for everything but an event stream. */
export interface WhiskerAnswer {
  status: number;
  reason: string;
  headers: Record<string, string>;
  body: string;
}

const REASONS: Record<number, string> = {
  200: "OK",
  400: "Bad Request",
  404: "Not Found",
  405: "Method Not Allowed",
  503: "Service Unavailable",
};

function whole(
  status: number,
  contentType: string,
  body: string,
  extra: Record<string, string> = {},
): WhiskerAnswer {
  return {
    status,
    reason: REASONS[status] ?? "",
    headers: { "Content-Type": contentType, "Content-Length": String(Buffer.byteLength(body)), ...extra },
    body,
  };
}

const json = (status: number, v: unknown): WhiskerAnswer =>
  whole(status, "application/json", JSON.stringify(v) + "\n");

/**
 * What the pod answers on `port` for `method path`: a whole answer, or `{ stream }` for `watch=true` (the caller
 * streams it, or, when it cannot, sends the backlog and ends).
 */
export function answer(
  api: WhiskerApi,
  port: number,
  method: string,
  path: string,
): WhiskerAnswer | { stream: ListParams; nowSec: number } {
  if (port === WHISKER_UI_PORT) {
    if (!path.startsWith("/whisker-backend/"))
      return whole(200, "text/html", method === "HEAD" ? "" : INDEX_HTML, { Server: "nginx" });
    path = path.slice("/whisker-backend".length);
  }
  const url = new URL(path, "http://whisker");
  const route = url.pathname;
  if (route !== "/flows" && route !== "/flows-filter-hints")
    return whole(404, "text/plain; charset=utf-8", "404 page not found\n", {
      "X-Content-Type-Options": "nosniff",
    });
  if (method !== "GET")
    return whole(405, "text/plain; charset=utf-8", "Method Not Allowed\n", { Allow: "GET" });
  const nowSec = Math.floor(api.nowMs() / 1000);
  try {
    if (route === "/flows-filter-hints")
      return json(200, filterHints(api.records(), url.searchParams, nowSec));
    const params = parseListParams(url.searchParams);
    if (!params.watch) return json(200, listFlows(api.records(), params, nowSec, api.domains === true));
    return { stream: params, nowSec };
  } catch (err) {
    if (err instanceof WhiskerBadRequest) return json(400, { error: err.message });
    throw err;
  }
}

function serve(api: WhiskerApi, port: number, req: IncomingMessage, res: ServerResponse): void {
  req.resume();
  const a = answer(api, port, req.method ?? "GET", req.url ?? "/");
  if ("stream" in a) {
    if ((openStreams.get(api) ?? 0) >= MAX_STREAMS) {
      const busy = json(503, { error: "too many open flow streams" });
      res.writeHead(busy.status, busy.reason, busy.headers).end(busy.body);
      return;
    }
    stream(api, a.stream, a.nowSec, res);
    return;
  }
  res.writeHead(a.status, a.reason, a.headers);
  res.end(a.body);
}

/** The flows a stream starts with: those from `startTimeGte` (none when it is 0, "from now"). */
export function backlog(api: WhiskerApi, params: ListParams, nowSec: number): FlowRecord[] {
  if (params.startTimeGte === 0) return [];
  const [gte] = timeWindow(params, nowSec);
  return api.records().filter((r) => r.start_time >= gte && matchesFilters(r, params.filters));
}

/** An SSE event as httpmachinery's eventstream.go writes it. */
export const sseEvent = (r: FlowRecord, domains = false): string =>
  `data: ${JSON.stringify(toWhiskerFlow(r, domains))}\n\n`;

function stream(api: WhiskerApi, params: ListParams, nowSec: number, res: ServerResponse): void {
  openStreams.set(api, (openStreams.get(api) ?? 0) + 1);
  res.writeHead(200, {
    "Content-Type": "text/event-stream",
    "Cache-Control": "no-cache",
    Connection: "keep-alive",
    "Access-Control-Allow-Origin": "localhost",
  });
  const send = (r: FlowRecord): void => {
    res.write(sseEvent(r, api.domains === true));
  };
  for (const r of backlog(api, params, nowSec)) send(r);
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

/**
 * Whisker as `curl` inside the cluster reaches it (one request, one answer): an event stream cannot stay open there,
 * so `watch=true` answers with the backlog and ends. Undefined when `service` is not one of Whisker's.
 */
export function whiskerPeer(service: PortService, api: WhiskerApi, description: string): Peer | undefined {
  if (service !== "whisker-ui" && service !== "whisker-backend") return undefined;
  const port = service === "whisker-ui" ? WHISKER_UI_PORT : WHISKER_BACKEND_PORT;
  return {
    description,
    speaksHttp: true,
    certificateValidFor: () => false,
    http(req) {
      const a = answer(api, port, req.method, req.path);
      if (!("stream" in a)) return a;
      const body = backlog(api, a.stream, a.nowSec)
        .map((r) => sseEvent(r, api.domains === true))
        .join("");
      return {
        status: 200,
        reason: "OK",
        headers: { "Content-Type": "text/event-stream", "Cache-Control": "no-cache" },
        body,
      };
    },
  };
}
