/** Query parameters of writes and lists, checked the way the real API server checks them. */
import { ApiError, type ListOptions, type WriteOptions } from "../store/types.ts";

export function writeOptions(q: URLSearchParams, userAgent: string | undefined): WriteOptions {
  const out: WriteOptions = {};
  const dry = q.getAll("dryRun");
  for (const d of dry) {
    if (d !== "All")
      throw new ApiError(
        400,
        "BadRequest",
        `Invalid dry run value: ${JSON.stringify(d)}; supported values: All`,
      );
  }
  if (dry.length) out.dryRun = true;
  const fv = q.get("fieldValidation");
  if (fv !== null && fv !== "") {
    if (fv !== "Strict" && fv !== "Warn" && fv !== "Ignore")
      throw new ApiError(
        400,
        "BadRequest",
        `fieldValidation must be one of "Ignore", "Warn", or "Strict"; got ${JSON.stringify(fv)}`,
      );
    out.fieldValidation = fv;
  } else out.fieldValidation = "Warn";
  const fm = q.get("fieldManager");
  if (fm !== null) {
    if (fm.length > 128 || !/^[\x20-\x7e]*$/.test(fm))
      throw new ApiError(
        422,
        "Invalid",
        `fieldManager: Invalid value: ${JSON.stringify(fm)}: must be less than 128 printable characters`,
      );
    out.fieldManager = fm;
  } else out.fieldManager = defaultManager(userAgent);
  return out;
}

/** The manager name the real server derives from the User-Agent when no fieldManager is given. */
export function defaultManager(userAgent: string | undefined): string {
  const ua = (userAgent ?? "unknown").split("/")[0] ?? "unknown";
  return ua.slice(0, 128) || "unknown";
}

export function listOptions(q: URLSearchParams, namespace: string | undefined): ListOptions {
  const out: ListOptions = {};
  if (namespace !== undefined) out.namespace = namespace;
  const ls = q.get("labelSelector");
  if (ls) out.labelSelector = ls;
  const fs = q.get("fieldSelector");
  if (fs) out.fieldSelector = fs;
  return out;
}

/**
 * A boolean query parameter (`watch`, `follow`, `stdout`, `tty`, `allowWatchBookmarks`, `sendInitialEvents`, …) decoded
 * as apimachinery's `Convert_Slice_string_To_bool` decodes it: absent is false; the first value `0` or `false` in any
 * case (Go's `strings.EqualFold`) is false; any other value, the empty one (`?watch`) included, is true. So the Python
 * client's `watch=True` and `stdout=True` mean what they say, and nothing here answers 400.
 */
export function boolParam(q: URLSearchParams, name: string): boolean {
  const v = q.get(name);
  if (v === null) return false;
  // EqualFold also folds U+017F (long s) to "s"; no other letter of "false" has a second fold.
  return !(v === "0" || v.toLowerCase().replaceAll("\u017f", "s") === "false");
}

export function intParam(q: URLSearchParams, name: string): number | undefined {
  const v = q.get(name);
  if (v === null || v === "") return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0)
    throw new ApiError(
      400,
      "BadRequest",
      `invalid value for ${name}: ${JSON.stringify(v)}: must be a non-negative integer`,
    );
  return n;
}
