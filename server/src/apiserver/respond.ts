/** Writing JSON, `Status` and streaming responses. */
import type { ServerResponse } from "node:http";
import type { ApiError } from "../store/types.ts";

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
  sendJson(res, err.code, err.toStatus());
}

export function sendText(res: ServerResponse, code: number, text: string): void {
  res.writeHead(code, {
    "Content-Type": "text/plain; charset=utf-8",
    "Content-Length": String(Buffer.byteLength(text)),
  });
  res.end(text);
}
