/**
 * A GET on Calico Whisker's HTTP API the way Calico's docs reach it, `kubectl port-forward -n calico-system
 * svc/whisker 8081:8081`: the Service is resolved to a ready pod and its target port as kubectl resolves it, and one
 * HTTP/1.1 request travels through client-node's `PortForward` (the kubelet's port-forward bypasses network policy,
 * so the `calico-system` tier's Whisker policy does not get in the way). Works on every provider alike.
 */
import { PassThrough, Writable } from "node:stream";
import { CoreV1Api, KubeConfig, PortForward, type V1Pod, type V1Service } from "@kubernetes/client-node";

export const WHISKER_NAMESPACE = "calico-system";
export const WHISKER_SERVICE = "whisker";
export const WHISKER_PORT = 8081;
/** The most a Whisker answer may be: a list of flows, never a stream. */
const MAX_BYTES = 32 * 1024 * 1024;

export class WhiskerUnreachable extends Error {}

function isReady(p: V1Pod): boolean {
  return (
    p.status?.phase === "Running" &&
    !p.metadata?.deletionTimestamp &&
    (p.status.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True")
  );
}

/** The pod and container port `svc/whisker:8081` forwards to, as `kubectl port-forward svc/…` picks them. */
export async function resolveWhiskerPod(kc: KubeConfig): Promise<{ pod: string; port: number }> {
  const core = kc.makeApiClient(CoreV1Api);
  let svc: V1Service;
  try {
    svc = await core.readNamespacedService({ name: WHISKER_SERVICE, namespace: WHISKER_NAMESPACE });
  } catch (err) {
    throw new WhiskerUnreachable(
      `no Service ${WHISKER_NAMESPACE}/${WHISKER_SERVICE} (${err instanceof Error ? err.message.split("\n")[0] : String(err)})`,
    );
  }
  const sp = (svc.spec?.ports ?? []).find((p) => p.port === WHISKER_PORT);
  if (!sp)
    throw new WhiskerUnreachable(
      `Service ${WHISKER_NAMESPACE}/${WHISKER_SERVICE} has no port ${WHISKER_PORT}`,
    );
  const selector = Object.entries(svc.spec?.selector ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(",");
  if (!selector)
    throw new WhiskerUnreachable(`Service ${WHISKER_NAMESPACE}/${WHISKER_SERVICE} has no selector`);
  const pods = await core.listNamespacedPod({ namespace: WHISKER_NAMESPACE, labelSelector: selector });
  const pod = pods.items.find(isReady);
  if (!pod?.metadata?.name) throw new WhiskerUnreachable(`no ready pod behind svc/${WHISKER_SERVICE}`);
  const target = sp.targetPort ?? WHISKER_PORT;
  let port: number | undefined;
  if (typeof target === "number") port = target;
  else if (/^\d+$/.test(target)) port = Number(target);
  else
    for (const c of pod.spec?.containers ?? [])
      for (const p of c.ports ?? []) if (p.name === target && port === undefined) port = p.containerPort;
  if (port === undefined)
    throw new WhiskerUnreachable(`pod ${pod.metadata.name} has no container port named ${String(target)}`);
  return { pod: pod.metadata.name, port };
}

/** Parses an HTTP/1.1 response; `undefined` while it is incomplete (`ended`: the connection has closed). */
export function parseHttpResponse(raw: Buffer, ended: boolean): { status: number; body: string } | undefined {
  const head = raw.indexOf("\r\n\r\n");
  if (head < 0) return undefined;
  const lines = raw.subarray(0, head).toString("latin1").split("\r\n");
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? "");
  if (!m)
    throw new WhiskerUnreachable(`not an HTTP answer: ${JSON.stringify((lines[0] ?? "").slice(0, 80))}`);
  const headers = new Map<string, string>();
  for (const l of lines.slice(1)) {
    const i = l.indexOf(":");
    if (i > 0) headers.set(l.slice(0, i).trim().toLowerCase(), l.slice(i + 1).trim());
  }
  const rest = raw.subarray(head + 4);
  const len = headers.get("content-length");
  if (len !== undefined) {
    const n = Number(len);
    if (rest.length < n) return undefined;
    return { status: Number(m[1]), body: rest.subarray(0, n).toString("utf8") };
  }
  if (/chunked/i.test(headers.get("transfer-encoding") ?? "")) {
    const parts: Buffer[] = [];
    let at = 0;
    for (;;) {
      const eol = rest.indexOf("\r\n", at);
      if (eol < 0) return undefined;
      const size = parseInt(rest.subarray(at, eol).toString("latin1"), 16);
      if (!Number.isFinite(size)) throw new WhiskerUnreachable("a malformed chunked answer");
      if (size === 0) return { status: Number(m[1]), body: Buffer.concat(parts).toString("utf8") };
      if (rest.length < eol + 2 + size + 2) return undefined;
      parts.push(rest.subarray(eol + 2, eol + 2 + size));
      at = eol + 2 + size + 2;
    }
  }
  return ended ? { status: Number(m[1]), body: rest.toString("utf8") } : undefined;
}

/** What one connection through port-forward to Whisker hands its reader. */
interface Forwarded {
  /** Bytes from Whisker, in order. */
  data(chunk: Buffer): void;
  /** The connection ended (`error`: why, when it failed). */
  end(error?: Error): void;
}

/**
 * Opens one connection to svc/whisker:8081 through port-forward and sends `GET path`; returns the function that closes
 * it. `reader.end` is called exactly once.
 */
async function forward(kc: KubeConfig, path: string, accept: string, reader: Forwarded): Promise<() => void> {
  const { pod, port } = await resolveWhiskerPod(kc);
  const input = new PassThrough();
  let errText = "";
  let ws: { close(): void } | undefined;
  let ended = false;
  const close = (): void => {
    input.end();
    try {
      ws?.close();
    } catch {
      // already closed
    }
  };
  const end = (error?: Error): void => {
    if (ended) return;
    ended = true;
    close();
    reader.end(
      error ??
        (errText.trim()
          ? new WhiskerUnreachable(`the connection to ${pod}:${port} closed (${errText.trim()})`)
          : undefined),
    );
  };
  const output = new Writable({
    write(chunk: Buffer, _enc, cb) {
      if (!ended) reader.data(chunk);
      cb();
    },
    final(cb) {
      end();
      cb();
    },
  });
  const errors = new Writable({
    write(chunk: Buffer, _enc, cb) {
      if (errText.length < 4096) errText += chunk.toString("utf8");
      cb();
    },
  });
  try {
    const socket = await new PortForward(kc).portForward(
      WHISKER_NAMESPACE,
      pod,
      [port],
      output,
      errors,
      input,
    );
    const s = typeof socket === "function" ? socket() : socket;
    if (!s) throw new Error("it did not open");
    ws = s;
    if (ended) close();
    s.on("close", () => setImmediate(() => end()));
  } catch (err) {
    end(
      new WhiskerUnreachable(
        `port-forward to ${WHISKER_NAMESPACE}/${pod}:${port}: ${err instanceof Error ? err.message : String(err)}`,
      ),
    );
    return close;
  }
  input.write(
    `GET ${path} HTTP/1.1\r\nHost: ${WHISKER_SERVICE}.${WHISKER_NAMESPACE}:${WHISKER_PORT}\r\nAccept: ${accept}\r\nConnection: close\r\n\r\n`,
  );
  return () => end();
}

/** `GET path` (e.g. `/whisker-backend/flows?…`) on svc/whisker:8081 through port-forward. */
export async function whiskerGet(
  kc: KubeConfig,
  path: string,
  timeoutMs = 15_000,
): Promise<{ status: number; body: string }> {
  let raw = Buffer.alloc(0);
  let closeIt: (() => void) | undefined;
  let done = false;
  let settle!: (r: { status: number; body: string } | Error) => void;
  const answer = new Promise<{ status: number; body: string }>((resolve, reject) => {
    settle = (r) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      closeIt?.();
      if (r instanceof Error) reject(r);
      else resolve(r);
    };
  });
  const check = (ended: boolean, why?: Error): void => {
    try {
      const r = parseHttpResponse(raw, ended);
      if (r) settle(r);
      else if (ended) settle(why ?? new WhiskerUnreachable("the connection closed before an answer"));
    } catch (err) {
      settle(err instanceof Error ? err : new Error(String(err)));
    }
  };
  const timer = setTimeout(
    () => settle(new WhiskerUnreachable(`no answer from Whisker within ${timeoutMs} ms`)),
    timeoutMs,
  );
  try {
    closeIt = await forward(kc, path, "application/json", {
      data(chunk) {
        raw = Buffer.concat([raw, chunk]);
        if (raw.length > MAX_BYTES) settle(new WhiskerUnreachable("Whisker's answer is too large"));
        else check(false);
      },
      end: (error) => check(true, error),
    });
    if (done) closeIt();
  } catch (err) {
    settle(err instanceof Error ? err : new Error(String(err)));
  }
  return answer;
}

/** The most an event of Whisker's stream (one flow) may be. */
const MAX_EVENT_BYTES = 1024 * 1024;

/**
 * Reads a streamed HTTP/1.1 answer as it arrives: the status line and headers, then the body (chunked or not),
 * handed on in pieces. Throws on a malformed answer.
 */
export class HttpStreamReader {
  private buf: Buffer = Buffer.alloc(0);
  private head: { status: number; chunked: boolean } | undefined;
  /** Bytes left of the current chunk; -1 while a chunk-size line is awaited. */
  private left = -1;
  private finished = false;

  constructor(
    private readonly onHead: (status: number) => void,
    private readonly onBody: (text: Buffer) => void,
  ) {}

  /** Whether the body ended (the last chunk of a chunked answer arrived). */
  get done(): boolean {
    return this.finished;
  }

  push(chunk: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    if (!this.head) {
      const at = this.buf.indexOf("\r\n\r\n");
      if (at < 0) {
        if (this.buf.length > 64 * 1024) throw new WhiskerUnreachable("an answer with oversized headers");
        return;
      }
      const lines = this.buf.subarray(0, at).toString("latin1").split("\r\n");
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? "");
      if (!m)
        throw new WhiskerUnreachable(`not an HTTP answer: ${JSON.stringify((lines[0] ?? "").slice(0, 80))}`);
      const chunked = lines.some((l) => /^transfer-encoding:.*chunked/i.test(l));
      this.head = { status: Number(m[1]), chunked };
      this.buf = this.buf.subarray(at + 4);
      this.onHead(this.head.status);
    }
    if (!this.head.chunked) {
      if (this.buf.length) this.onBody(this.buf);
      this.buf = Buffer.alloc(0);
      return;
    }
    while (!this.finished) {
      if (this.left < 0) {
        const eol = this.buf.indexOf("\r\n");
        if (eol < 0) {
          if (this.buf.length > 1024) throw new WhiskerUnreachable("a malformed chunked answer");
          return;
        }
        const size = parseInt(this.buf.subarray(0, eol).toString("latin1"), 16);
        if (!Number.isFinite(size) || size < 0) throw new WhiskerUnreachable("a malformed chunked answer");
        this.buf = this.buf.subarray(eol + 2);
        if (size === 0) {
          this.finished = true;
          return;
        }
        this.left = size;
      }
      if (this.left > 0) {
        if (!this.buf.length) return;
        const piece = this.buf.subarray(0, this.left);
        this.left -= piece.length;
        this.buf = this.buf.subarray(piece.length);
        this.onBody(piece);
      }
      if (this.left === 0) {
        if (this.buf.length < 2) return;
        this.buf = this.buf.subarray(2);
        this.left = -1;
      }
    }
  }
}

/** Splits a server-sent event stream into the `data` of each event (httpmachinery's `data: <JSON>\n\n`). */
export class SseReader {
  private text = "";
  private readonly decoder = new TextDecoder();

  constructor(private readonly onData: (data: string) => void) {}

  push(bytes: Buffer): void {
    this.text += this.decoder.decode(bytes, { stream: true });
    for (;;) {
      const m = /\r?\n\r?\n/.exec(this.text);
      if (!m) break;
      const event = this.text.slice(0, m.index);
      this.text = this.text.slice(m.index + m[0].length);
      const data = event
        .split(/\r?\n/)
        .filter((l) => l.startsWith("data:"))
        .map((l) => l.slice(5).replace(/^ /, ""))
        .join("\n");
      if (data) this.onData(data);
    }
    if (this.text.length > MAX_EVENT_BYTES)
      throw new WhiskerUnreachable("an event of Whisker's stream is too large");
  }
}

/**
 * `GET path` with `watch=true` on svc/whisker:8081 through port-forward: calls `onFlow` with each flow of Whisker's
 * event stream, and `onOpen` once Whisker answered 200. Resolves when the stream ends or `signal` aborts; rejects
 * when Whisker cannot be reached or answers with an error.
 */
export async function whiskerWatch(
  kc: KubeConfig,
  path: string,
  onFlow: (flow: unknown) => void,
  signal: AbortSignal,
  onOpen?: () => void,
): Promise<void> {
  if (signal.aborted) return;
  let status = 0;
  let errorBody = "";
  let fail: ((e: Error) => void) | undefined;
  let closeIt: (() => void) | undefined;
  const ended = new Promise<void>((resolve, reject) => {
    fail = (e) => {
      closeIt?.();
      reject(e);
    };
    const sse = new SseReader((data) => {
      try {
        onFlow(JSON.parse(data) as unknown);
      } catch {
        // not a flow: skip it, as Whisker's UI does
      }
    });
    const http = new HttpStreamReader(
      (s) => {
        status = s;
        if (s === 200) onOpen?.();
      },
      (body) => {
        if (status === 200) sse.push(body);
        else if (errorBody.length < 1024) errorBody += body.toString("utf8");
      },
    );
    const onAbort = (): void => {
      closeIt?.();
      resolve();
    };
    signal.addEventListener("abort", onAbort, { once: true });
    forward(kc, path, "text/event-stream", {
      data(chunk) {
        try {
          http.push(chunk);
        } catch (err) {
          fail?.(err instanceof Error ? err : new Error(String(err)));
        }
      },
      end(error) {
        signal.removeEventListener("abort", onAbort);
        if (signal.aborted) return resolve();
        if (error) return reject(error);
        if (status !== 200)
          return reject(
            new WhiskerUnreachable(
              status
                ? `Whisker answered HTTP ${status}: ${errorBody.trim().slice(0, 200)}`
                : "Whisker did not answer",
            ),
          );
        resolve();
      },
    }).then(
      (close) => {
        closeIt = close;
        if (signal.aborted) close();
      },
      (err: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
  return ended;
}
