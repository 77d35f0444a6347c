/**
 * Small builders for OpenAPI v3 schemas, so the hand-written Calico and operator schemas read like their Go types.
 */
import type { JsonSchema } from "../types.ts";

export const str = (description?: string, extra: JsonSchema = {}): JsonSchema => ({
  type: "string",
  ...(description ? { description } : {}),
  ...extra,
});
export const int = (description?: string): JsonSchema => ({
  type: "integer",
  ...(description ? { description } : {}),
});
export const num = (description?: string): JsonSchema => ({
  type: "number",
  ...(description ? { description } : {}),
});
export const bool = (description?: string): JsonSchema => ({
  type: "boolean",
  ...(description ? { description } : {}),
});
export const intOrString = (description?: string): JsonSchema => ({
  "x-kubernetes-int-or-string": true,
  ...(description ? { description } : {}),
});
export const arr = (items: JsonSchema, description?: string, extra: JsonSchema = {}): JsonSchema => ({
  type: "array",
  items,
  ...(description ? { description } : {}),
  ...extra,
});
export const strMap = (description?: string): JsonSchema => ({
  type: "object",
  additionalProperties: { type: "string" },
  ...(description ? { description } : {}),
});
export const obj = (
  properties: Record<string, JsonSchema>,
  opts: { description?: string; required?: string[] } = {},
): JsonSchema => ({
  type: "object",
  ...(opts.description ? { description: opts.description } : {}),
  properties,
  ...(opts.required?.length ? { required: opts.required } : {}),
});
export const anyObject = (description?: string): JsonSchema => ({
  type: "object",
  "x-kubernetes-preserve-unknown-fields": true,
  ...(description ? { description } : {}),
});

/** A schema with a description added (or replaced). */
export function describe(schema: JsonSchema, description: string): JsonSchema {
  return { ...schema, description };
}

/** The properties of an object schema (empty for anything else). */
export function propertiesOf(schema: JsonSchema): Record<string, JsonSchema> {
  return (schema.properties as Record<string, JsonSchema> | undefined) ?? {};
}

/** A complete top-level object schema: apiVersion, kind, metadata plus the given properties. */
export function topLevel(
  group: string,
  version: string,
  kind: string,
  description: string,
  metadata: JsonSchema,
  properties: Record<string, JsonSchema>,
): JsonSchema {
  return {
    type: "object",
    description,
    properties: {
      apiVersion: str(
        "APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values.",
      ),
      kind: str(
        "Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to. Cannot be updated. In CamelCase.",
      ),
      metadata,
      ...properties,
    },
    "x-kubernetes-group-version-kind": [{ group, version, kind }],
  };
}
