/**
 * The write pipeline before storage, in the API server's order: decode against the schema (type errors, unknown fields
 * per `fieldValidation`), defaulting, then validation (metadata, kind rules, Calico rules) — every problem reported
 * at once in a 422 Invalid.
 */
import type { CalicoEdition } from "../sim/types.ts";
import type { Problem } from "../shared/errors.ts";
import { applyDefaults } from "./defaults.ts";
import type { Random } from "./random.ts";
import { ApiError, resourceKey, type KubeObject, type ResourceType, type WriteOptions } from "./types.ts";
import { cloneJson } from "./equal.ts";
import { checkTree } from "../shared/object.ts";

/** How deeply a stored object may nest (request bodies have the same limit; patches could otherwise add to it). */
export const MAX_OBJECT_DEPTH = 1000;
import { decodeAgainstSchema } from "./validation/decode.ts";
import { badRequest, invalid, renderValue, type FieldError } from "./validation/errors.ts";
import { validateKind } from "./validation/kinds.ts";
import { validateObjectMeta, type NameRule } from "./validation/names.ts";

export type CalicoValidator = (obj: unknown, opts: { edition: CalicoEdition }) => Problem[];

/** Which name rule a kind's `metadata.name` follows. */
export function nameRuleOf(t: ResourceType): NameRule {
  const key = resourceKey(t);
  if (key === "core/namespaces") return "label";
  if (key === "core/services") return "dns1035";
  // `ValidateRBACName` is `path.IsValidPathSegmentName`: `system:discovery` is a valid ClusterRole name.
  if (t.group === "rbac.authorization.k8s.io") return "path";
  return "subdomain";
}

const isCrd = (t: ResourceType) => t.group === "operator.tigera.io";

/** Decodes `body` for `type`: 400 on type errors and (Strict) unknown fields; returns warnings under Warn. */
export function decodeBody(
  type: ResourceType,
  body: unknown,
  opts: WriteOptions | undefined,
  trusted = false,
): { obj: KubeObject; warnings: string[] } {
  if (!body || typeof body !== "object" || Array.isArray(body))
    throw badRequest(`Object 'Kind' is missing in '${JSON.stringify(body ?? null)}'`);
  // Whatever built the object (a body, a patch, an apply), what is stored stays within the nesting every walk handles.
  const shape = checkTree(body, MAX_OBJECT_DEPTH).problem;
  if (shape)
    throw badRequest(
      shape.problem === "cycle"
        ? "the object refers to itself"
        : `the object is nested more than ${MAX_OBJECT_DEPTH} levels deep`,
    );
  const obj = cloneJson(body) as KubeObject;
  const apiVersion = type.group ? `${type.group}/${type.version}` : type.version;
  if (obj.apiVersion !== undefined && obj.apiVersion !== apiVersion)
    throw badRequest(
      `the API version in the data (${String(obj.apiVersion)}) does not match the expected API version (${apiVersion})`,
    );
  if (
    obj.kind !== undefined &&
    obj.kind !== type.kind &&
    !(type.subresources.includes("scale") && obj.kind === "Scale")
  )
    throw badRequest(
      `${String(obj.kind)} in version "${type.version}" cannot be handled as a ${type.kind}: the kind in the data (${String(obj.kind)}) does not match the expected kind (${type.kind})`,
    );
  obj.apiVersion = apiVersion;
  obj.kind = type.kind;
  if (obj.metadata === undefined || obj.metadata === null) obj.metadata = { name: "" };
  const mode = opts?.fieldValidation ?? "Strict";
  if (trusted) return { obj, warnings: [] };
  const res = decodeAgainstSchema(obj, type.schema, type.kind, mode !== "Strict");
  const prefix = `${type.kind} in version "${type.version}" cannot be handled as a ${type.kind}`;
  if (res.typeError) {
    if (isCrd(type) && res.typeErrorPath) {
      const v = res.typeErrorPath
        .split(/\.|\[|\]/)
        .filter(Boolean)
        .reduce<unknown>((a, k) => (a as Record<string, unknown>)?.[k], obj);
      throw invalid(type, String(obj.metadata?.name ?? ""), [
        {
          field: res.typeErrorPath,
          type: "Invalid",
          value: typeof v === "string" ? v : renderValue(v),
          detail: `${res.typeErrorPath} in body must be of type ${res.typeErrorExpected ?? "object"}: ${JSON.stringify(typeof v === "object" ? JSON.stringify(v) : String(v))}`,
        },
      ]);
    }
    throw badRequest(`${prefix}: ${res.typeError}`);
  }
  const unknown = res.unknown.map((f) => `unknown field "${f}"`);
  if (unknown.length && mode === "Strict")
    throw badRequest(`${prefix}: strict decoding error: ${unknown.join(", ")}`);
  return { obj, warnings: mode === "Warn" ? unknown : [] };
}

function valueAt(obj: unknown, path: string): unknown {
  let cur = obj;
  for (const part of path.split(/\.|\[|\]/).filter(Boolean)) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

/** Applies defaults, then validates; throws one 422 listing every problem. */
export function defaultAndValidate(
  type: ResourceType,
  obj: KubeObject,
  deps: {
    random: Random;
    edition: CalicoEdition;
    validateCalico?: CalicoValidator;
    extra?: FieldError[];
    /** The kind's own validation (its strategy's), run after defaulting. */
    validate?: (obj: KubeObject) => FieldError[];
    /** Defaults only: the object is known to be valid. */
    trusted?: boolean;
  },
): void {
  const key = resourceKey(type);
  applyDefaults(key, obj, deps.random);
  if (deps.trusted) return;
  const errs: FieldError[] = [
    ...validateObjectMeta(obj.metadata as unknown as Record<string, unknown>, nameRuleOf(type)),
    ...validateKind(key, obj),
  ];
  if (
    deps.validateCalico &&
    (type.group === "projectcalico.org" || key === "networking.k8s.io/networkpolicies")
  ) {
    const flagged = new Set(errs.map((e) => e.field));
    for (const p of deps.validateCalico(obj, { edition: deps.edition })) {
      const where = (p.where ?? "").replace(/^\./, "");
      if (where === "metadata.name" && flagged.has(where)) continue;
      errs.push({ field: where, type: "Invalid", value: valueAt(obj, where), detail: p.message });
    }
  }
  if (deps.validate) errs.push(...deps.validate(obj));
  if (deps.extra) errs.push(...deps.extra);
  if (errs.length) throw invalid(type, obj.metadata.name || String(obj.metadata.generateName ?? ""), errs);
}

export { ApiError };
