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

/** `GET path` (e.g. `/whisker-backend/flows?…`) on svc/whisker:8081 through port-forward. */
export async function whiskerGet(
  kc: KubeConfig,
  path: string,
  timeoutMs = 15_000,
): Promise<{ status: number; body: string }> {
  const { pod, port } = await resolveWhiskerPod(kc);
  const input = new PassThrough();
  let raw = Buffer.alloc(0);
  let errText = "";
  return new Promise((resolve, reject) => {
    let ws: { close(): void } | undefined;
    let done = false;
    const finish = (r: { status: number; body: string } | Error): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      input.end();
      try {
        ws?.close();
      } catch {
        // already closed
      }
      if (r instanceof Error) reject(r);
      else resolve(r);
    };
    const check = (ended: boolean): void => {
      try {
        const r = parseHttpResponse(raw, ended);
        if (r) finish(r);
        else if (ended)
          finish(
            new WhiskerUnreachable(
              `the connection to ${pod}:${port} closed ${errText ? `(${errText.trim()})` : "before an answer"}`,
            ),
          );
      } catch (err) {
        finish(err instanceof Error ? err : new Error(String(err)));
      }
    };
    const output = new Writable({
      write(chunk: Buffer, _enc, cb) {
        raw = Buffer.concat([raw, chunk]);
        if (raw.length > MAX_BYTES) finish(new WhiskerUnreachable("Whisker's answer is too large"));
        else check(false);
        cb();
      },
      final(cb) {
        check(true);
        cb();
      },
    });
    const errors = new Writable({
      write(chunk: Buffer, _enc, cb) {
        errText += chunk.toString("utf8");
        cb();
      },
    });
    const timer = setTimeout(
      () => finish(new WhiskerUnreachable(`no answer from ${pod}:${port} within ${timeoutMs} ms`)),
      timeoutMs,
    );
    new PortForward(kc).portForward(WHISKER_NAMESPACE, pod, [port], output, errors, input).then(
      (socket) => {
        const s = typeof socket === "function" ? socket() : socket;
        if (!s) return finish(new WhiskerUnreachable(`port-forward to ${pod}:${port} did not open`));
        ws = s;
        s.on("close", () => setImmediate(() => check(true)));
        input.write(
          `GET ${path} HTTP/1.1\r\nHost: ${WHISKER_SERVICE}.${WHISKER_NAMESPACE}:${WHISKER_PORT}\r\nAccept: application/json\r\nConnection: close\r\n\r\n`,
        );
      },
      (err: unknown) =>
        finish(
          new WhiskerUnreachable(
            `port-forward to ${WHISKER_NAMESPACE}/${pod}:${port}: ${err instanceof Error ? err.message : String(err)}`,
          ),
        ),
    );
  });
}
