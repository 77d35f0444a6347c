/**
 * Watch streams: newline-delimited JSON events over a chunked response, as the real API server sends them. Without a
 * resourceVersion (or with "0") the current objects come first as ADDED events; bookmarks and `timeoutSeconds` are
 * honoured; a resourceVersion that is too old ends in an ERROR event carrying the 410 Status.
 */
import type { KubeObject, ResourceType, WatchEvent } from "../store/types.ts";
import { ApiError } from "../store/types.ts";
import type { RequestContext } from "./context.ts";
import { boolParam, intParam, listOptions } from "./options.ts";
import { toTable, type IncludeObject } from "./table.ts";
import { endStreamOnClose } from "./respond.ts";
import { toApiError } from "./status.ts";

const DEFAULT_TIMEOUT_S = 1800;
const BOOKMARK_EVERY_MS = 60_000;

export function serveWatch(
  ctx: RequestContext,
  t: ResourceType,
  namespace: string | undefined,
  opts: { table: boolean; includeObject: IncludeObject },
): void {
  const { res, url, cluster } = ctx;
  const q = url.searchParams;
  const lo = listOptions(q, namespace);
  const rvParam = q.get("resourceVersion") ?? "";
  const timeoutS = intParam(q, "timeoutSeconds") ?? DEFAULT_TIMEOUT_S;
  const bookmarks = boolParam(q, "allowWatchBookmarks");
  const sendInitial = boolParam(q, "sendInitialEvents");
  const gv = t.group ? `${t.group}/${t.version}` : t.version;

  // Fail before streaming when the list itself is invalid (bad selectors).
  let initial: KubeObject[] = [];
  let fromRv: string | undefined = rvParam === "" || rvParam === "0" ? undefined : rvParam;
  let lastRv = rvParam;
  if (fromRv === undefined || sendInitial) {
    const list = cluster.api.list(t, lo);
    initial = ctx.visible ? list.items.filter((o) => ctx.visible!(o)) : list.items;
    if (fromRv === undefined) fromRv = list.resourceVersion;
    lastRv = list.resourceVersion;
  }

  res.writeHead(200, {
    "Content-Type": opts.table ? "application/json;as=Table;v=v1;g=meta.k8s.io" : "application/json",
    "Cache-Control": "no-cache, private",
    "Transfer-Encoding": "chunked",
  });
  res.flushHeaders();

  let sentColumns = false;
  const render = (e: { type: string; object: KubeObject | Record<string, unknown> }): string => {
    if (opts.table && e.type !== "BOOKMARK" && e.type !== "ERROR") {
      const table = toTable(t, [e.object as KubeObject], {
        includeObject: opts.includeObject,
        noHeaders: sentColumns,
      });
      sentColumns = true;
      return JSON.stringify({ type: e.type, object: table }) + "\n";
    }
    return JSON.stringify(e) + "\n";
  };
  const write = (e: { type: string; object: KubeObject | Record<string, unknown> }): void => {
    if (!res.writableEnded) res.write(render(e));
  };

  let stopWatch: () => void = () => {};
  const timers: NodeJS.Timeout[] = [];
  const end = endStreamOnClose(ctx, () => {
    stopWatch();
    for (const tm of timers) clearTimeout(tm);
  });

  for (const obj of initial) write({ type: "ADDED", object: obj });
  if (sendInitial) {
    write({
      type: "BOOKMARK",
      object: {
        kind: t.kind,
        apiVersion: gv,
        metadata: { resourceVersion: lastRv, annotations: { "k8s.io/initial-events-end": "true" } },
      },
    });
  }
  try {
    stopWatch = cluster.api.watch(
      t,
      { ...lo, resourceVersion: fromRv },
      (e: WatchEvent) => {
        if (e.object.metadata.resourceVersion) lastRv = e.object.metadata.resourceVersion;
        if (!ctx.visible || ctx.visible(e.object)) write(e);
      },
      (err) => {
        write({ type: "ERROR", object: err.toStatus() });
        end();
      },
    );
  } catch (err) {
    const api = toApiError(err);
    const status = api.code === 410 ? new ApiError(410, "Expired", api.message) : api;
    write({ type: "ERROR", object: status.toStatus() });
    end();
    return;
  }
  timers.push(setTimeout(end, timeoutS * 1000));
  if (bookmarks) {
    const tick = (): void => {
      write({
        type: "BOOKMARK",
        object: { kind: t.kind, apiVersion: gv, metadata: { resourceVersion: lastRv } },
      });
      timers.push(setTimeout(tick, BOOKMARK_EVERY_MS).unref());
    };
    timers.push(setTimeout(tick, BOOKMARK_EVERY_MS).unref());
  }
  for (const tm of timers) tm.unref();
}
