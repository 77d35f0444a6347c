/**
 * `Table` responses (meta.k8s.io/v1) for `kubectl get`: the NAME column first, then the type's columns, whose cells
 * the registry renders as the real server's printers do.
 */
import type { KubeObject, ResourceType } from "../store/types.ts";

export type IncludeObject = "None" | "Metadata" | "Object";

const NAME_COLUMN = {
  name: "Name",
  type: "string",
  format: "name",
  description:
    "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names",
  priority: 0,
};

function cell(type: string, v: unknown): unknown {
  if (v === undefined || v === null) return null;
  if (type === "integer" && typeof v === "number") return Math.trunc(v);
  if (type === "string" && typeof v !== "string") {
    if (Array.isArray(v)) return v.join(",");
    return typeof v === "object" ? JSON.stringify(v) : String(v);
  }
  return v;
}

function partialMetadata(obj: KubeObject): Record<string, unknown> {
  return { kind: "PartialObjectMetadata", apiVersion: "meta.k8s.io/v1", metadata: obj.metadata };
}

/** A Table of `objects` of type `t`. */
export function toTable(
  t: ResourceType,
  objects: readonly KubeObject[],
  opts: { resourceVersion?: string; includeObject?: IncludeObject; noHeaders?: boolean },
): Record<string, unknown> {
  const include = opts.includeObject ?? "Metadata";
  const columnDefinitions = opts.noHeaders
    ? []
    : [
        NAME_COLUMN,
        ...t.columns.map((c) => ({
          name: c.name,
          type: c.type,
          format: c.format ?? "",
          description: c.description ?? "",
          priority: c.priority,
        })),
      ];
  const rows = objects.map((obj) => {
    const cells: unknown[] = [obj.metadata.name];
    for (const c of t.columns) {
      let v: unknown;
      try {
        v = c.value(obj);
      } catch {
        v = null;
      }
      cells.push(cell(c.type, v));
    }
    return {
      cells,
      ...(include === "None" ? {} : { object: include === "Object" ? obj : partialMetadata(obj) }),
    };
  });
  return {
    kind: "Table",
    apiVersion: "meta.k8s.io/v1",
    metadata: opts.resourceVersion ? { resourceVersion: opts.resourceVersion } : {},
    columnDefinitions,
    rows,
  };
}

/** What the client asked for in `Accept`: a Table (and which object form rows carry), or plain JSON. */
export function wantsTable(accept: string | undefined): boolean {
  if (!accept) return false;
  for (const part of accept.split(",")) {
    const params = part.split(";").map((s) => s.trim());
    if (
      params.includes("as=Table") &&
      (params.includes("g=meta.k8s.io") || !params.some((p) => p.startsWith("g=")))
    )
      return true;
  }
  return false;
}
