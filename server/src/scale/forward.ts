/**
 * Passing an HTTP request or a WebSocket upgrade on to another server and its answer back: what the affinity proxy
 * (`affinity-proxy.ts`) and a replica forwarding a learner to the replica that serves them (`replica-forward.ts`)
 * both do.
 */
import type http from "node:http";
import type { Duplex } from "node:stream";

/** Headers that belong to one connection, never passed on. */
export const hopByHop = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);

/** The request's headers to pass on (for an upgrade its Connection and Upgrade too; else `Connection: close`). */
export function passedRequestHeaders(
  req: http.IncomingMessage,
  keepUpgrade: boolean,
): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(req.headers)) {
    if (v === undefined) continue;
    if (hopByHop.has(k) && !(keepUpgrade && (k === "connection" || k === "upgrade"))) continue;
    out[k] = v;
  }
  if (!keepUpgrade) out.connection = "close";
  return out;
}

/** An answer's headers to pass back. */
export function passedResponseHeaders(headers: http.IncomingHttpHeaders): http.OutgoingHttpHeaders {
  const out: http.OutgoingHttpHeaders = {};
  for (const [k, v] of Object.entries(headers)) if (v !== undefined && !hopByHop.has(k)) out[k] = v;
  return out;
}

/** A status line and headers written on a raw socket (the answer to an upgrade). */
export function rawHead(status: string, headers: http.OutgoingHttpHeaders): string {
  return [
    `HTTP/1.1 ${status}`,
    ...Object.entries(headers).flatMap(([k, v]) =>
      (Array.isArray(v) ? v : [v]).filter((x) => x !== undefined).map((x) => `${k}: ${String(x)}`),
    ),
    "",
    "",
  ].join("\r\n");
}

/**
 * Answers an upgrade the server accepted (`upRes`, its socket and first bytes) on the client's socket and joins the
 * two; `finish` runs once either side closes.
 */
export function spliceUpgrade(
  socket: Duplex,
  upRes: http.IncomingMessage,
  upSocket: Duplex,
  upHead: Buffer,
  headers: http.OutgoingHttpHeaders,
  finish: () => void,
): void {
  headers.connection = upRes.headers.connection ?? "Upgrade";
  headers.upgrade = upRes.headers.upgrade ?? "websocket";
  socket.write(
    rawHead(`${upRes.statusCode ?? 101} ${upRes.statusMessage ?? "Switching Protocols"}`, headers),
  );
  if (upHead.length) socket.write(upHead);
  upSocket.on("error", () => socket.destroy());
  upSocket.on("close", () => {
    finish();
    socket.destroy();
  });
  socket.on("close", () => {
    finish();
    upSocket.destroy();
  });
  upSocket.pipe(socket);
  socket.pipe(upSocket);
}

/** Passes back the server's refusal of an upgrade (an ordinary answer) and closes. */
export function refuseUpgrade(
  socket: Duplex,
  upRes: http.IncomingMessage,
  headers: http.OutgoingHttpHeaders,
  finish: () => void,
): void {
  headers.connection = "close";
  socket.write(rawHead(`${upRes.statusCode ?? 502} ${upRes.statusMessage ?? ""}`, headers));
  upRes.pipe(socket);
  upRes.on("end", finish);
}
