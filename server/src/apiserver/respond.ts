/** Writing JSON, `Status` and streaming responses. */
import type { ServerResponse } from "node:http";
import type { ApiError } from "../store/types.ts";
import type { RequestContext } from "./context.ts";
import type { SimClusterHandle } from "../sim/types.ts";

/**
 * Waits until what a response shows or acknowledges is durable: every change of the cluster up to `resourceVersion`
 * (default: every change so far, which includes the request's own). Every response of the REST verbs passes here
 * before it is written; it throws the `Status` to answer instead when a change was not saved and was undone.
 */
export async function whenCommitted(cluster: SimClusterHandle, resourceVersion?: string): Promise<void> {
  if (!cluster.committed) return;
  const rv = resourceVersion === undefined ? NaN : Number(resourceVersion);
  await cluster.committed(Number.isSafeInteger(rv) ? rv : undefined);
}

export function sendJson(
  res: ServerResponse,
  code: number,
  body: unknown,
  opts: { contentType?: string; warnings?: readonly string[] } = {},
): void {
  const text = JSON.stringify(body);
  const headers: Record<string, string | string[]> = {
    "Content-Type": opts.contentType ?? "application/json",
    "Content-Length": String(Buffer.byteLength(text)),
    "Cache-Control": "no-cache, private",
  };
  if (opts.warnings?.length) headers["Warning"] = opts.warnings.map((w) => `299 - ${JSON.stringify(w)}`);
  res.writeHead(code, headers);
  res.end(text);
}

export function sendStatus(res: ServerResponse, err: ApiError): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  if (err.details?.retryAfterSeconds !== undefined)
    res.setHeader("Retry-After", String(err.details.retryAfterSeconds));
  sendJson(res, err.code, err.toStatus());
}

export function sendText(res: ServerResponse, code: number, text: string): void {
  res.writeHead(code, {
    "Content-Type": "text/plain; charset=utf-8",
    "Content-Length": String(Buffer.byteLength(text)),
  });
  res.end(text);
}

/**
 * Ends a long-running response (watch, log follow, flow watch) once, when the client leaves or the server closes:
 * runs `stop` to detach it from its source, then ends the response. Returns that `end` for the handler's own reasons
 * to stop (a timeout, an error).
 */
export function endStreamOnClose(ctx: Pick<RequestContext, "res" | "onClose">, stop: () => void): () => void {
  const { res } = ctx;
  let done = false;
  const end = (): void => {
    if (done) return;
    done = true;
    stop();
    unregister();
    if (!res.writableEnded) res.end();
  };
  const unregister = ctx.onClose(end);
  res.on("close", end);
  return end;
}
