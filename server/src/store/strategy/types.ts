/**
 * A kind's rules on the write path, as the API server's `registry/<kind>/strategy.go` holds them: what the server
 * fills in or clears before validation, the kind's own validation, and what may not change on update.
 */
import type { KubeObject } from "../types.ts";
import type { FieldError } from "../validation/errors.ts";

export interface Strategy {
  /** Whether `metadata.generation` is tracked (1 on create, +1 when anything but metadata and status changes). */
  readonly tracksGeneration: boolean;
  /** Clears or fills fields the server owns before defaulting and validation of a create. */
  prepareForCreate?(obj: KubeObject): void;
  /** The same for an update: `next` is the requested object (mutable), `old` the stored one. */
  prepareForUpdate?(next: KubeObject, old: KubeObject): void;
  /** The kind's own field errors (metadata and schema types are checked elsewhere). */
  validate?(obj: KubeObject): FieldError[];
  /** Errors for changes an update may not make (immutable fields). */
  validateUpdate?(next: KubeObject, old: KubeObject): FieldError[];
}
