/**
 * egresslab's own API next to the Kubernetes one: `GET /egresslab/v1/flows` (the flow log, `?watch=true` streams
 * NDJSON) and `POST /egresslab/v1/internet/rotate` (IP rotation of a virtual-internet domain).
 */
import { ApiError } from "../store/types.ts";
import type { RequestContext } from "./context.ts";
import { decodeBody, readBody } from "./body.ts";
import { endStreamOnClose, sendJson } from "./respond.ts";
import { boolParam } from "./options.ts";

export async function serveEgresslab(ctx: RequestContext, path: string): Promise<void> {
  const { req, res, url, cluster } = ctx;
  const method = req.method ?? "GET";
  if (path === "/egresslab/v1/flows") {
    if (method !== "GET")
      throw new ApiError(
        405,
        "MethodNotAllowed",
        "the server does not allow this method on the requested resource",
      );
    const q = new URLSearchParams(url.searchParams);
    if (boolParam(q, "watch")) {
      q.delete("watch");
      // Reject bad filters with a Status before the stream's 200 goes out.
      const probe = new URLSearchParams(q);
      probe.set("limit", "1");
      cluster.dataplane.queryFlows(probe);
      res.writeHead(200, { "Content-Type": "application/x-ndjson", "Cache-Control": "no-cache, private" });
      res.flushHeaders();
      const stop = cluster.dataplane.watchFlows(q, (record) => {
        if (!res.writableEnded) res.write(JSON.stringify(record) + "\n");
      });
      endStreamOnClose(ctx, stop);
      return;
    }
    sendJson(res, 200, cluster.dataplane.queryFlows(q));
    return;
  }
  if (path === "/egresslab/v1/internet/rotate") {
    if (method !== "POST")
      throw new ApiError(
        405,
        "MethodNotAllowed",
        "the server does not allow this method on the requested resource",
      );
    const raw = await readBody(req);
    const body = raw.length ? decodeBody(raw, "application/json") : {};
    sendJson(res, 200, cluster.dataplane.rotate(body));
    return;
  }
  throw new ApiError(404, "NotFound", "the server could not find the requested resource");
}
