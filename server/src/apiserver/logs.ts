/**
 * `GET …/pods/{name}/log`: the container's output as plain text; with `follow=true`, a stream until the container
 * stops or the client leaves. The query is decoded as the API server decodes `PodLogOptions` (booleans as
 * apimachinery's `Convert_Slice_string_To_bool`, integers with `strconv.ParseInt`, `sinceTime` as RFC 3339) and
 * validated as `ValidatePodLogOptions` validates it, with their messages.
 */
import type { LogOptions } from "../sim/types.ts";
import { ApiError } from "../store/types.ts";
import { fieldErrorBody, type FieldError } from "../store/validation/errors.ts";
import type { RequestContext } from "./context.ts";
import { parseRfc3339 } from "./go-time.ts";
import { boolParam } from "./options.ts";
import { endStreamOnClose } from "./respond.ts";

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** `strconv.ParseInt(s, 10, 64)`, with its error as the text of the 400. */
function parseInt64(s: string): number {
  const syntax = (): ApiError =>
    new ApiError(400, "BadRequest", `strconv.ParseInt: parsing ${JSON.stringify(s)}: invalid syntax`);
  if (!/^[+-]?[0-9]+$/.test(s)) throw syntax();
  const n = BigInt(s);
  if (n < INT64_MIN || n > INT64_MAX)
    throw new ApiError(
      400,
      "BadRequest",
      `strconv.ParseInt: parsing ${JSON.stringify(s)}: value out of range`,
    );
  return Number(n);
}

/** The log options of the query, or the API server's error: 400 for what does not decode, 422 for what is invalid. */
export function logOptions(q: URLSearchParams, pod: string): LogOptions & { follow: boolean } {
  const opts: LogOptions & { follow: boolean } = { follow: boolParam(q, "follow") };
  const container = q.get("container");
  if (container) opts.container = container;
  if (boolParam(q, "previous")) opts.previous = true;
  if (boolParam(q, "timestamps")) opts.timestamps = true;
  const int = (name: "tailLines" | "sinceSeconds" | "limitBytes"): void => {
    const v = q.get(name);
    if (v !== null) opts[name] = parseInt64(v);
  };
  int("sinceSeconds");
  const sinceTime = q.get("sinceTime");
  // metav1.Time.UnmarshalQueryParameter: empty (or "null") is the zero time, which is still a sinceTime.
  if (sinceTime !== null)
    opts.sinceTime = sinceTime === "" || sinceTime === "null" ? -62135596800000 : parseRfc3339(sinceTime);
  int("tailLines");
  int("limitBytes");

  const errs: FieldError[] = [];
  if (opts.tailLines !== undefined && opts.tailLines < 0)
    errs.push({
      field: "tailLines",
      type: "Invalid",
      value: opts.tailLines,
      detail: "must be greater than or equal to 0",
    });
  if (opts.limitBytes !== undefined && opts.limitBytes < 1)
    errs.push({
      field: "limitBytes",
      type: "Invalid",
      value: opts.limitBytes,
      detail: "must be greater than 0",
    });
  if (opts.sinceSeconds !== undefined && opts.sinceTime !== undefined)
    errs.push({
      field: "",
      type: "Forbidden",
      detail: "at most one of `sinceTime` or `sinceSeconds` may be specified",
    });
  else if (opts.sinceSeconds !== undefined && opts.sinceSeconds < 1)
    errs.push({
      field: "sinceSeconds",
      type: "Invalid",
      value: opts.sinceSeconds,
      detail: "must be greater than 0",
    });
  if (errs.length) {
    // field.Error's text is "<field>: <body>" even for the empty path (": Forbidden: …").
    const texts = errs.map((e) => `${e.field}: ${fieldErrorBody(e)}`);
    throw new ApiError(
      422,
      "Invalid",
      `PodLogOptions "${pod}" is invalid: ${texts.length === 1 ? texts[0]! : `[${texts.join(", ")}]`}`,
      {
        name: pod,
        kind: "PodLogOptions",
        causes: errs.map((e) => ({
          reason: `FieldValue${e.type}`,
          message: fieldErrorBody(e),
          field: e.field,
        })),
      },
    );
  }
  return opts;
}

export function serveLogs(ctx: RequestContext, namespace: string, pod: string): void {
  const { res, url, cluster } = ctx;
  const { follow: wantsFollow, ...opts } = logOptions(url.searchParams, pod);
  // Validates the pod and container before anything is written, so errors are proper Status responses.
  const text = cluster.runtime.logs(namespace, pod, opts);
  const left = opts.limitBytes === undefined ? undefined : opts.limitBytes - Buffer.byteLength(text);
  const follow = wantsFollow && cluster.runtime.followLogs && (left === undefined || left > 0);
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
    { ...opts, tailLines: 0, ...(left !== undefined ? { limitBytes: left } : {}) },
    (chunk) => {
      if (!res.writableEnded) res.write(chunk);
    },
    // The container stopped, its pod is gone or the byte limit is reached: so does the follow.
    () => {
      if (!res.writableEnded) res.end();
    },
  );
  endStreamOnClose(ctx, stop);
}
