/**
 * Decoding a request body against a kind's OpenAPI schema, as the API server's strict JSON decoder does: the first
 * type mismatch is fatal (`json: cannot unmarshal bool into Go struct field ObjectMeta.metadata.labels of type
 * string`), and every field the schema does not know is collected (`unknown field "spec.foo"`), to be rejected
 * (`Strict`), returned as warnings (`Warn`) or dropped (`Ignore`).
 */
import { goStructNames } from "../registry/k8s.ts";
import type { JsonSchema } from "../types.ts";
import { getOwn, isObject } from "../../shared/object.ts";

export interface DecodeResult {
  /** Unknown fields, in document order, as `spec.containers[0].foo`. */
  unknown: string[];
  /** The first type mismatch, in the Go decoder's words. */
  typeError?: string;
  /** Where the type mismatch is, as a JSON path (for validation-style messages). */
  typeErrorPath?: string;
  /** The expected JSON type at `typeErrorPath`. */
  typeErrorExpected?: string;
}

const jsonKind = (v: unknown): string =>
  v === null
    ? "null"
    : Array.isArray(v)
      ? "array"
      : typeof v === "object"
        ? "object"
        : typeof v === "boolean"
          ? "bool"
          : typeof v;

function goType(s: JsonSchema, structName: string): string {
  if (s["x-kubernetes-int-or-string"]) return "intstr.IntOrString";
  switch (s.type) {
    case "string":
      return "string";
    case "boolean":
      return "bool";
    case "integer":
      return s.format === "int64" ? "int64" : "int32";
    case "number":
      return "float64";
    case "array":
      return `[]${goType((s.items as JsonSchema) ?? {}, structName)}`;
    case "object":
      if (s.additionalProperties && !s.properties)
        return `map[string]${goType(s.additionalProperties as JsonSchema, structName)}`;
      return `v1.${structName}`;
    default:
      return "interface {}";
  }
}

/** The Go struct a field of `path` belongs to, from the schema's description when we know it, else from the path. */
function structOf(parentPath: string[], topKind: string): string {
  const last = parentPath[parentPath.length - 1];
  if (!last) return topKind;
  if (last === "metadata") return "ObjectMeta";
  if (last === "spec") return `${topKind}Spec`;
  if (last === "status") return `${topKind}Status`;
  return last.charAt(0).toUpperCase() + last.slice(1).replace(/s$/, "");
}

const QUANTITY_FORMAT_WRONG =
  "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";
const QUANTITY_SUFFIXES = new Set([
  "",
  "Ki",
  "Mi",
  "Gi",
  "Ti",
  "Pi",
  "Ei",
  "n",
  "u",
  "m",
  "k",
  "M",
  "G",
  "T",
  "P",
  "E",
]);
const DIGITS = /[0-9]/;

/**
 * `resource.ParseQuantity` as `Quantity.UnmarshalJSON` runs it: the error for a string that is not a quantity (its
 * sign, digits, an optional fraction, then a suffix of SI/binary letters or a decimal exponent), else undefined.
 */
export function quantityError(raw: string): string | undefined {
  const str = raw.trim();
  if (str === "") return QUANTITY_FORMAT_WRONG;
  const end = str.length;
  let pos = str[0] === "+" || str[0] === "-" ? 1 : 0;
  while (pos < end && DIGITS.test(str[pos]!)) pos++;
  if (pos < end && str[pos] === ".") {
    pos++;
    while (pos < end && DIGITS.test(str[pos]!)) pos++;
  }
  const suffixStart = pos;
  while (pos < end && "eEinumkKMGTP".includes(str[pos]!)) pos++;
  if (pos < end && (str[pos] === "-" || str[pos] === "+")) pos++;
  while (pos < end && DIGITS.test(str[pos]!)) pos++;
  if (pos < end) return QUANTITY_FORMAT_WRONG;
  const suffix = str.slice(suffixStart);
  if (QUANTITY_SUFFIXES.has(suffix) || /^[eE][+-]?[0-9]+$/.test(suffix)) return undefined;
  return "unable to parse quantity's suffix";
}

/** Renders a path of segments (`spec`, `containers`, 0, `ports`) as `spec.containers[0].ports`. */
function renderPath(segments: (string | number)[]): string {
  let out = "";
  for (const seg of segments) out += typeof seg === "number" ? `[${seg}]` : out ? `.${seg}` : seg;
  return out;
}

/** One decode: the recursion keeps its state here rather than in closures (it runs for every write). */
class Walker {
  readonly out: DecodeResult = { unknown: [] };
  private readonly path: (string | number)[] = [];
  private readonly goPath: string[] = [];

  constructor(
    private readonly kind: string,
    private readonly prune: boolean,
  ) {}

  private fail(v: unknown, s: JsonSchema, struct: string | undefined, expected: string): void {
    const goPath = this.goPath;
    const fieldPath = goPath.join(".");
    const owner = struct ?? structOf(goPath.slice(0, -1), this.kind);
    const shown = jsonKind(v) === "number" && !Number.isInteger(v) ? `number ${String(v)}` : jsonKind(v);
    this.out.typeError = fieldPath
      ? `json: cannot unmarshal ${shown} into Go struct field ${owner}.${fieldPath} of type ${goType(s, goStructNames.get(s) ?? structOf(goPath, this.kind))}`
      : `json: cannot unmarshal ${shown} into Go value of type ${goType(s, this.kind)}`;
    this.out.typeErrorPath = renderPath(this.path);
    this.out.typeErrorExpected = expected;
  }

  walk(v: unknown, s: JsonSchema, struct: string | undefined): void {
    if (v === null || v === undefined) return;
    if (s["x-kubernetes-preserve-unknown-fields"] && !s.properties) return;
    if (s["x-kubernetes-int-or-string"]) {
      if (typeof v !== "string" && typeof v !== "number") this.fail(v, s, struct, "integer-or-string");
      else if (s.format === "quantity" && typeof v === "string") {
        const err = quantityError(v);
        if (err) this.out.typeError = err;
      }
      return;
    }
    switch (s.type) {
      case "string":
        if (typeof v !== "string") this.fail(v, s, struct, "string");
        return;
      case "boolean":
        if (typeof v !== "boolean") this.fail(v, s, struct, "boolean");
        return;
      case "integer":
        if (typeof v !== "number" || !Number.isInteger(v)) this.fail(v, s, struct, "integer");
        return;
      case "number":
        if (typeof v !== "number") this.fail(v, s, struct, "number");
        return;
      case "array": {
        if (!Array.isArray(v)) return this.fail(v, s, struct, "array");
        const items = (s.items as JsonSchema | undefined) ?? {};
        for (let i = 0; i < v.length; i++) {
          this.path.push(i);
          this.walk(v[i], items, struct);
          this.path.pop();
          if (this.out.typeError) return;
        }
        return;
      }
      case "object": {
        if (typeof v !== "object" || Array.isArray(v)) return this.fail(v, s, struct, "object");
        const rec = v as Record<string, unknown>;
        const props = s.properties as Record<string, JsonSchema> | undefined;
        const here = props ? (goStructNames.get(s) ?? (this.goPath.length ? undefined : this.kind)) : struct;
        const additional = s.additionalProperties as JsonSchema | boolean | undefined;
        for (const k of Object.keys(rec)) {
          const own = getOwn(props, k);
          const prop = isObject(own) ? (own as JsonSchema) : undefined;
          const child = prop ?? (typeof additional === "object" ? additional : undefined);
          this.path.push(k);
          if (!child) {
            if (additional !== true && !s["x-kubernetes-preserve-unknown-fields"]) {
              this.out.unknown.push(renderPath(this.path));
              if (this.prune) delete rec[k];
            }
            this.path.pop();
            continue;
          }
          if (prop) this.goPath.push(k);
          this.walk(rec[k], child, prop ? here : struct);
          if (prop) this.goPath.pop();
          this.path.pop();
          if (this.out.typeError) return;
        }
        return;
      }
      default:
        return;
    }
  }
}

/**
 * Walks `value` against `schema`. `kind` names the top-level Go struct for type errors; `prune` removes unknown
 * fields in place.
 */
export function decodeAgainstSchema(
  value: unknown,
  schema: JsonSchema,
  kind: string,
  prune = false,
): DecodeResult {
  const w = new Walker(kind, prune);
  w.walk(value, schema, undefined);
  return w.out;
}
