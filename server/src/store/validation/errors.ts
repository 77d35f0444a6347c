/**
 * The API server's error Statuses, with the real messages: NotFound, AlreadyExists, Conflict, Invalid (field errors),
 * BadRequest, Forbidden.
 */
import { ApiError, type ResourceType } from "../types.ts";

/** `pods`, `deployments.apps`, `globalnetworkpolicies.projectcalico.org`: how messages name a resource. */
export function qualifiedResource(t: Pick<ResourceType, "group" | "plural">): string {
  return t.group ? `${t.plural}.${t.group}` : t.plural;
}

/** `Pod`, `Deployment.apps`: how Invalid messages name a kind. */
export function qualifiedKind(t: Pick<ResourceType, "group" | "kind">): string {
  return t.group ? `${t.kind}.${t.group}` : t.kind;
}

export function notFound(t: Pick<ResourceType, "group" | "plural">, name: string): ApiError {
  return new ApiError(404, "NotFound", `${qualifiedResource(t)} "${name}" not found`, {
    name,
    ...(t.group ? { group: t.group } : {}),
    kind: t.plural,
  });
}

export function alreadyExists(t: Pick<ResourceType, "group" | "plural">, name: string): ApiError {
  return new ApiError(409, "AlreadyExists", `${qualifiedResource(t)} "${name}" already exists`, {
    name,
    ...(t.group ? { group: t.group } : {}),
    kind: t.plural,
  });
}

export function conflict(
  t: Pick<ResourceType, "group" | "plural">,
  name: string,
  why = "the object has been modified; please apply your changes to the latest version and try again",
): ApiError {
  return new ApiError(
    409,
    "Conflict",
    `Operation cannot be fulfilled on ${qualifiedResource(t)} "${name}": ${why}`,
    { name, ...(t.group ? { group: t.group } : {}), kind: t.plural },
  );
}

export function forbidden(t: Pick<ResourceType, "group" | "plural">, name: string, why: string): ApiError {
  return new ApiError(403, "Forbidden", `${qualifiedResource(t)} "${name}" is forbidden: ${why}`, {
    name,
    ...(t.group ? { group: t.group } : {}),
    kind: t.plural,
  });
}

export function badRequest(message: string): ApiError {
  return new ApiError(400, "BadRequest", message);
}

export type FieldErrorType =
  "Required" | "Invalid" | "Forbidden" | "NotSupported" | "Duplicate" | "NotFound" | "TooLong";

/** One `field.Error`: where, what kind, the bad value and the detail. */
export interface FieldError {
  field: string;
  type: FieldErrorType;
  value?: unknown;
  detail?: string;
  /** For NotSupported: the supported values. */
  supported?: string[];
}

/** Go's `%#v`-ish rendering the API server uses for invalid values. */
export function renderValue(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v);
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  if (v === undefined || v === null) return "null";
  if (Array.isArray(v)) {
    if (v.every((x) => typeof x === "string"))
      return `[]string{${v.map((x) => JSON.stringify(x)).join(", ")}}`;
    return JSON.stringify(v);
  }
  const entries = Object.entries(v as Record<string, unknown>);
  if (entries.every(([, x]) => typeof x === "string"))
    return `map[string]string{${entries.map(([k, x]) => `${JSON.stringify(k)}:${JSON.stringify(x)}`).join(", ")}}`;
  return JSON.stringify(v);
}

const reasons: Record<FieldErrorType, string> = {
  Required: "FieldValueRequired",
  Invalid: "FieldValueInvalid",
  Forbidden: "FieldValueForbidden",
  NotSupported: "FieldValueNotSupported",
  Duplicate: "FieldValueDuplicate",
  NotFound: "FieldValueNotFound",
  TooLong: "FieldValueTooLong",
};

/** The text of a field error without its field (`Invalid value: "X": detail`). */
export function fieldErrorBody(e: FieldError): string {
  switch (e.type) {
    case "Required":
      return `Required value${e.detail ? `: ${e.detail}` : ""}`;
    case "Forbidden":
      return `Forbidden${e.detail ? `: ${e.detail}` : ""}`;
    case "NotSupported":
      return `Unsupported value: ${renderValue(e.value)}${e.supported ? `: supported values: ${e.supported.map((s) => `"${s}"`).join(", ")}` : ""}`;
    case "Duplicate":
      return `Duplicate value: ${renderValue(e.value)}`;
    case "NotFound":
      return `Not found: ${renderValue(e.value)}`;
    case "TooLong":
      return `Too long: ${e.detail ?? ""}`;
    case "Invalid":
      return `Invalid value: ${renderValue(e.value)}${e.detail ? `: ${e.detail}` : ""}`;
  }
}

/** A 422 Invalid Status listing every field error, as `errors.NewInvalid` words it. */
export function invalid(t: Pick<ResourceType, "group" | "kind">, name: string, errs: FieldError[]): ApiError {
  const texts = errs.map((e) => (e.field ? `${e.field}: ${fieldErrorBody(e)}` : fieldErrorBody(e)));
  const list = texts.length === 1 ? texts[0]! : `[${texts.join(", ")}]`;
  return new ApiError(422, "Invalid", `${qualifiedKind(t)} "${name}" is invalid: ${list}`, {
    name,
    ...(t.group ? { group: t.group } : {}),
    kind: t.kind,
    causes: errs.map((e) => ({ reason: reasons[e.type], message: fieldErrorBody(e), field: e.field })),
  });
}
