/**
 * `kubectl exec`/`attach` over WebSocket with the `v5.channel.k8s.io` (and `v4`) subprotocol: every message starts
 * with a channel byte — 0 stdin, 1 stdout, 2 stderr, 3 error/status, 4 resize, 255 close (v5). The command's exit
 * status travels on channel 3 as a `Status`, then the socket closes normally.
 */
import type { Duplex } from "node:stream";
import { WebSocketServer, type WebSocket } from "ws";
import { ApiError } from "../store/types.ts";
import { KubeletError, type ExecRequest, type SimClusterHandle, type TerminalSize } from "../sim/types.ts";
import type { Logger } from "../shared/logger.ts";
import { boolParam } from "./options.ts";
import { toApiError } from "./status.ts";

export const EXEC_PROTOCOLS = ["v5.channel.k8s.io", "v4.channel.k8s.io"] as const;

const CH_STDIN = 0;
const CH_STDOUT = 1;
const CH_STDERR = 2;
const CH_ERROR = 3;
const CH_RESIZE = 4;
const CH_CLOSE = 255;

/** Parses the exec query (`command` repeated, `container`, `stdin`, `stdout`, `stderr`, `tty`). */
export function execRequest(
  q: URLSearchParams,
  namespace: string,
  pod: string,
  attach: boolean,
): ExecRequest {
  const command = q.getAll("command");
  if (!attach && command.length === 0)
    throw new ApiError(400, "BadRequest", "you must specify at least 1 command");
  const stdin = boolParam(q, "stdin");
  const stdout = boolParam(q, "stdout");
  const stderr = boolParam(q, "stderr");
  if (!stdin && !stdout && !stderr)
    throw new ApiError(400, "BadRequest", "you must specify at least 1 of stdin, stdout, stderr");
  const req: ExecRequest = {
    namespace,
    pod,
    command: attach ? [] : command,
    tty: boolParam(q, "tty"),
    stdin,
  };
  const container = q.get("container");
  if (container) req.container = container;
  return req;
}

/** The Status the exec protocol sends on channel 3 when the command ends. */
export function exitStatus(code: number, command: readonly string[]): Record<string, unknown> {
  if (code === 0) return { metadata: {}, status: "Success" };
  return {
    metadata: {},
    status: "Failure",
    message: `command terminated with non-zero exit code: error executing command [${command.join(" ")}], exit code ${code}`,
    reason: "NonZeroExitCode",
    details: { causes: [{ reason: "ExitCode", message: String(code) }] },
  };
}

/**
 * Writes a plain HTTP error on a socket whose upgrade we refuse: a `Status`, or the kubelet's plain-text answer as the
 * API server's upgrade proxy passes it through.
 */
export function refuseUpgrade(socket: Duplex, err: ApiError | KubeletError): void {
  if (err instanceof KubeletError) {
    const text = err.message;
    socket.end(
      `HTTP/1.1 ${err.code} ${err.code === 404 ? "Not Found" : "Internal Server Error"}\r\nContent-Type: text/plain; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`,
    );
    return;
  }
  const body = JSON.stringify(err.toStatus());
  const reason =
    { 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found" }[err.code] ?? "Error";
  socket.end(
    `HTTP/1.1 ${err.code} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

export function createExecServer(): WebSocketServer {
  return new WebSocketServer({
    noServer: true,
    perMessageDeflate: false,
    handleProtocols: (protocols) => {
      for (const p of EXEC_PROTOCOLS) if (protocols.has(p)) return p;
      return false;
    },
  });
}

/** Runs one exec (or, with `attach`, attach) session on an accepted WebSocket: bytes between it and the runtime. */
export function runExec(
  ws: WebSocket,
  cluster: SimClusterHandle,
  req: ExecRequest,
  logger: Logger,
  opts: { attach?: boolean } = {},
): void {
  const v5 = ws.protocol === "v5.channel.k8s.io";
  const ac = new AbortController();
  let stdinCb: ((d: Buffer) => void) | undefined;
  let stdinEndCb: (() => void) | undefined;
  let resizeCb: ((s: TerminalSize) => void) | undefined;
  const pendingStdin: Buffer[] = [];
  let stdinEnded = false;
  let lastSize: TerminalSize | undefined;
  let finished = false;

  const send = (ch: number, data: string | Uint8Array): void => {
    if (ws.readyState !== ws.OPEN) return;
    const payload = typeof data === "string" ? Buffer.from(data, "utf8") : Buffer.from(data);
    if (payload.length === 0) return;
    ws.send(Buffer.concat([Buffer.from([ch]), payload]), { binary: true });
  };

  ws.on("message", (data: Buffer | ArrayBuffer | Buffer[]) => {
    const buf = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
    if (buf.length === 0) return;
    const ch = buf[0];
    const payload = buf.subarray(1);
    if (ch === CH_STDIN) {
      if (stdinCb) stdinCb(payload);
      else pendingStdin.push(Buffer.from(payload));
    } else if (ch === CH_RESIZE) {
      try {
        const r = JSON.parse(payload.toString("utf8")) as { Width?: number; Height?: number };
        lastSize = { cols: Number(r.Width ?? 0), rows: Number(r.Height ?? 0) };
        resizeCb?.(lastSize);
      } catch {
        logger.debug("exec: ignoring a malformed resize message");
      }
    } else if (ch === CH_CLOSE && v5 && payload[0] === CH_STDIN) {
      stdinEnded = true;
      stdinEndCb?.();
    }
  });
  ws.on("error", (err) => {
    logger.debug("exec stream error", { error: err.message });
    ws.terminate();
  });
  ws.on("close", () => {
    if (!finished) ac.abort(new Error("the client closed the connection"));
    if (!stdinEnded) {
      stdinEnded = true;
      stdinEndCb?.();
    }
  });

  const io = {
    stdout: (d: string | Uint8Array) => send(CH_STDOUT, d),
    stderr: (d: string | Uint8Array) => send(req.tty ? CH_STDOUT : CH_STDERR, d),
    onStdin: (cb: (d: Buffer) => void) => {
      stdinCb = cb;
      for (const b of pendingStdin.splice(0)) cb(b);
    },
    onStdinEnd: (cb: () => void) => {
      stdinEndCb = cb;
      if (stdinEnded) cb();
    },
    onResize: (cb: (s: TerminalSize) => void) => {
      resizeCb = cb;
      if (lastSize) cb(lastSize);
    },
    signal: ac.signal,
  };

  const finish = (status: Record<string, unknown>): void => {
    finished = true;
    if (ws.readyState === ws.OPEN) {
      // The close frame goes out on its own once the status is written: TLS sends one record per write, and a
      // client that polls the socket before each frame (python3-kubernetes' WSClient) would otherwise find the close
      // frame already decrypted in its TLS buffer, the socket quiet, and wait forever — Go's server writes each frame
      // separately too.
      ws.send(
        Buffer.concat([Buffer.from([CH_ERROR]), Buffer.from(JSON.stringify(status))]),
        { binary: true },
        () => {
          if (ws.readyState === ws.OPEN) ws.close(1000);
        },
      );
    }
  };

  const run = opts.attach && cluster.runtime.attach ? cluster.runtime.attach : cluster.runtime.exec;
  run.call(cluster.runtime, req, io).then(
    (code) => {
      // An attach stream just ends with its process; the exit code is in the pod's status, as with the kubelet.
      finish(opts.attach ? exitStatus(0, req.command) : exitStatus(code, req.command));
    },
    (err: unknown) => {
      const api = toApiError(err);
      if (ac.signal.aborted) return;
      finish(api.toStatus());
    },
  );
}
