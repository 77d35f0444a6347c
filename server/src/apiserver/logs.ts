/** `GET …/pods/{name}/log`: the container's output as plain text; with `follow=true`, a stream until the client leaves. */
import type { LogOptions } from "../sim/types.ts";
import type { RequestContext } from "./context.ts";
import { boolParam, intParam } from "./options.ts";
import { endStreamOnClose } from "./respond.ts";

export function serveLogs(ctx: RequestContext, namespace: string, pod: string): void {
  const { res, url, cluster } = ctx;
  const q = url.searchParams;
  const opts: LogOptions = {};
  const container = q.get("container");
  if (container) opts.container = container;
  const tail = intParam(q, "tailLines");
  if (tail !== undefined) opts.tailLines = tail;
  const since = intParam(q, "sinceSeconds");
  if (since !== undefined) opts.sinceSeconds = since;
  if (boolParam(q, "timestamps")) opts.timestamps = true;
  if (boolParam(q, "previous")) opts.previous = true;
  // Validates the pod and container before anything is written, so errors are proper Status responses.
  const text = cluster.runtime.logs(namespace, pod, opts);
  const follow = boolParam(q, "follow") && cluster.runtime.followLogs;
  res.writeHead(200, {
    "Content-Type": "text/plain",
    "Cache-Control": "no-cache, private",
    ...(follow ? { "Transfer-Encoding": "chunked" } : { "Content-Length": String(Buffer.byteLength(text)) }),
  });
  if (!follow) {
    res.end(text);
    return;
  }
  res.write(text);
  const stop = cluster.runtime.followLogs!(
    namespace,
    pod,
    { ...opts, tailLines: 0 },
    (chunk) => {
      if (!res.writableEnded) res.write(chunk);
    },
    // The pod is gone: its log ends, and so does the follow.
    () => {
      if (!res.writableEnded) res.end();
    },
  );
  endStreamOnClose(ctx, stop);
}
