/** Kubernetes `Status` responses for every failure the API server reports. */
import { ApiError } from "../store/types.ts";
import { EgresslabError, ValidationError } from "../shared/errors.ts";

/** Turns anything thrown while serving a request into the `ApiError` the client sees. */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof ValidationError) {
    return new ApiError(400, "BadRequest", err.message, {
      causes: err.problems.map((p) => ({ reason: "FieldValueInvalid", message: p.message, field: p.where })),
    });
  }
  if (err instanceof EgresslabError) {
    const map: Record<string, [number, string]> = {
      invalid: [400, "BadRequest"],
      "not-found": [404, "NotFound"],
      conflict: [409, "Conflict"],
      unauthorized: [401, "Unauthorized"],
      forbidden: [403, "Forbidden"],
      "too-large": [413, "RequestEntityTooLarge"],
      "rate-limited": [429, "TooManyRequests"],
      unavailable: [503, "ServiceUnavailable"],
      internal: [500, "InternalError"],
    };
    const [code, reason] = map[err.code] ?? [500, "InternalError"];
    return new ApiError(code, reason, err.message);
  }
  const message = err instanceof Error ? err.message : String(err);
  return new ApiError(500, "InternalError", `Internal error occurred: ${message}`);
}

export const unauthorized = (): ApiError => new ApiError(401, "Unauthorized", "Unauthorized");

export const notFoundPath = (): ApiError =>
  new ApiError(404, "NotFound", "the server could not find the requested resource");

export function badRequest(message: string): ApiError {
  return new ApiError(400, "BadRequest", message);
}

export function methodNotAllowed(verb: string, resource: string): ApiError {
  return new ApiError(
    405,
    "MethodNotAllowed",
    `the server does not allow this method on the requested resource`,
    {
      kind: resource,
      causes: [{ message: `${verb} is not supported` }],
    },
  );
}

/** The body of a successful delete of a collection or a `Status` with `Success`. */
export function successStatus(details?: Record<string, unknown>): Record<string, unknown> {
  return {
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Success",
    ...(details ? { details } : {}),
  };
}
