/**
 * The project's typed errors. Domain code throws these (or returns results); they are rendered in exactly three
 * places: the HTTP error handler, the socket `error` event and the CLI's `main`.
 */

/** One problem found in user input, located as precisely as we can. */
export interface Problem {
  /** Where: a file path, a JSON path such as `spec.egress[0].action`, or both. */
  readonly where?: string;
  /** 1-based line in a file, when known. */
  readonly line?: number;
  readonly message: string;
}

export type ErrorCode =
  | "invalid"
  | "not-found"
  | "conflict"
  | "unauthorized"
  | "forbidden"
  | "too-large"
  | "rate-limited"
  | "unavailable"
  | "internal";

/** Base class: an error with a stable code and a message written for the user. */
export class EgresslabError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** Bad user input: carries every problem found, never only the first. */
export class ValidationError extends EgresslabError {
  readonly problems: readonly Problem[];
  constructor(problems: readonly Problem[], summary?: string) {
    super("invalid", summary ?? formatProblems(problems));
    this.problems = problems;
  }
}

export class NotFoundError extends EgresslabError {
  constructor(message: string) {
    super("not-found", message);
  }
}

export class ConflictError extends EgresslabError {
  constructor(message: string) {
    super("conflict", message);
  }
}

/** Formats problems one per line, `where:line: message`. */
export function formatProblems(problems: readonly Problem[]): string {
  return problems
    .map((p) => {
      const loc = [p.where, p.line !== undefined ? String(p.line) : undefined].filter(Boolean).join(":");
      return loc ? `${loc}: ${p.message}` : p.message;
    })
    .join("\n");
}

/** Exit codes for the CLI. */
export function exitCodeFor(err: unknown): number {
  if (err instanceof EgresslabError && err.code === "invalid") return 2;
  return 1;
}
