/**
 * Kubernetes label selectors (`app=web,tier!=db,env in (a,b),!legacy`) and field selectors (`metadata.name=x`), as the
 * API server parses them for `?labelSelector=` and `?fieldSelector=`. Parse errors are 400 BadRequest `ApiError`s.
 */
import { ApiError, type KubeObject } from "./types.ts";
import { labelValueProblems, qualifiedNameProblems } from "./validation/names.ts";

export type Requirement =
  | { key: string; op: "=" | "!="; value: string }
  | { key: string; op: "in" | "notin"; values: string[] }
  | { key: string; op: "gt" | "lt"; value: number }
  | { key: string; op: "exists" | "!" };

export type LabelSelector = Requirement[];

// The lexer and parser of `k8s.io/apimachinery/pkg/labels/selector.go`, token for token, so that a selector means
// here what it means on a real server (`,` alone is an error, `a in ()` selects the empty value, `x>3` compares
// integers). Both are linear in the input and never recurse.

type Token = "error" | "end" | ")" | "," | "!" | "==" | "=" | ">" | "id" | "in" | "<" | "!=" | "notin" | "(";

const STRING_TO_TOKEN: ReadonlyMap<string, Token> = new Map<string, Token>([
  [")", ")"],
  [",", ","],
  ["!", "!"],
  ["==", "=="],
  ["=", "="],
  [">", ">"],
  ["in", "in"],
  ["<", "<"],
  ["!=", "!="],
  ["notin", "notin"],
  ["(", "("],
]);

const isWhitespace = (c: string): boolean => c === " " || c === "\t" || c === "\r" || c === "\n";
const isSpecial = (c: string): boolean =>
  c === "=" || c === "!" || c === "(" || c === ")" || c === "," || c === ">" || c === "<";

/** The tokens of a selector, one at a time: a parser that fails early never lexes the rest of a long input. */
class Lexer {
  private i = 0;
  constructor(private readonly s: string) {}

  next(): { tok: Token; lit: string } {
    const s = this.s;
    let i = this.i;
    while (i < s.length && isWhitespace(s[i]!)) i++;
    if (i >= s.length) {
      this.i = i;
      return { tok: "end", lit: "" };
    }
    if (isSpecial(s[i]!)) {
      // The longest run of special symbols that is still a token (`!=`, `==`), as scanSpecialSymbol does.
      let buffer = "";
      let last: { tok: Token; lit: string } | undefined;
      while (i < s.length && isSpecial(s[i]!)) {
        buffer += s[i]!;
        const t = STRING_TO_TOKEN.get(buffer);
        if (t) last = { tok: t, lit: buffer };
        else if (last) break;
        i++;
      }
      this.i = i;
      return last ?? { tok: "error", lit: `error expected: keyword found '${buffer}'` };
    }
    const from = i;
    while (i < s.length && !isWhitespace(s[i]!) && !isSpecial(s[i]!)) i++;
    this.i = i;
    const word = s.slice(from, i);
    return { tok: STRING_TO_TOKEN.get(word) ?? "id", lit: word };
  }
}

const parseError = (msg: string) => new ApiError(400, "BadRequest", msg);
const badSelector = (msg: string) => parseError(`unable to parse requirement: ${msg}`);

class LabelParser {
  /** The current token; `end` and `error` stay current once reached. */
  private current: { tok: Token; lit: string };
  constructor(private readonly lexer: Lexer) {
    this.current = lexer.next();
  }

  /** The next token; in a values context `in` and `notin` are identifiers. */
  private lookahead(values: boolean): { tok: Token; lit: string } {
    const it = this.current;
    return values && (it.tok === "in" || it.tok === "notin") ? { tok: "id", lit: it.lit } : it;
  }

  private consume(values: boolean): { tok: Token; lit: string } {
    const it = this.lookahead(values);
    if (this.current.tok !== "end" && this.current.tok !== "error") this.current = this.lexer.next();
    return it;
  }

  parse(): Requirement[] {
    const reqs: Requirement[] = [];
    for (;;) {
      const { tok, lit } = this.lookahead(true);
      if (tok === "end") return reqs;
      if (tok !== "id" && tok !== "!")
        throw parseError(`found '${lit}', expected: !, identifier, or 'end of string'`);
      reqs.push(this.requirement());
      const next = this.consume(true);
      if (next.tok === "end") return reqs;
      if (next.tok !== ",") throw parseError(`found '${next.lit}', expected: ',' or 'end of string'`);
      const after = this.lookahead(true);
      if (after.tok !== "id" && after.tok !== "!")
        throw parseError(`found '${after.lit}', expected: identifier after ','`);
    }
  }

  private requirement(): Requirement {
    let t = this.consume(true);
    let notExists = false;
    if (t.tok === "!") {
      notExists = true;
      t = this.consume(true);
    }
    if (t.tok !== "id") throw badSelector(`found '${t.lit}', expected: identifier`);
    const key = t.lit;
    checkKey(key);
    const ahead = this.lookahead(true).tok;
    if (ahead === "end" || ahead === ",") return { key, op: notExists ? "!" : "exists" };
    if (notExists) throw badSelector("values set must be empty for exists and does not exist");
    const op = this.consume(false);
    switch (op.tok) {
      case "in":
      case "notin": {
        const values = this.values();
        for (const v of values) checkValue(v);
        return { key, op: op.tok, values };
      }
      case "=":
      case "==":
      case "!=":
      case ">":
      case "<": {
        const value = this.exactValue();
        if (op.tok === ">" || op.tok === "<") {
          if (!/^[-+]?\d+$/.test(value) || !Number.isSafeInteger(Number(value)))
            throw badSelector(
              `for 'Gt', 'Lt' operators, the value must be an integer: Invalid value: ${JSON.stringify(value)}`,
            );
          return { key, op: op.tok === ">" ? "gt" : "lt", value: Number(value) };
        }
        checkValue(value);
        return { key, op: op.tok === "!=" ? "!=" : "=", value };
      }
      default:
        throw badSelector(`found '${op.lit}', expected: in, notin, =, ==, !=, gt, lt`);
    }
  }

  private values(): string[] {
    const open = this.consume(true);
    if (open.tok !== "(") throw badSelector(`found '${open.lit}' expected: '('`);
    const ahead = this.lookahead(true);
    if (ahead.tok === ")") {
      this.consume(true);
      return [""];
    }
    if (ahead.tok !== "id" && ahead.tok !== ",")
      throw badSelector(`found '${ahead.lit}', expected: ',', ')' or identifier`);
    const set = new Set<string>();
    for (;;) {
      const t = this.consume(true);
      if (t.tok === "id") {
        set.add(t.lit);
        const next = this.lookahead(true);
        if (next.tok === ",") continue;
        if (next.tok === ")") break;
        throw badSelector(`found '${next.lit}', expected: ',' or ')'`);
      } else if (t.tok === ",") {
        if (set.size === 0) set.add("");
        const next = this.lookahead(true);
        if (next.tok === ")") {
          set.add("");
          break;
        }
        if (next.tok === ",") {
          this.consume(true);
          set.add("");
        }
      } else throw badSelector(`found '${t.lit}', expected: ',', or identifier`);
    }
    const close = this.consume(true);
    if (close.tok !== ")") throw badSelector(`found '${close.lit}', expected: ')'`);
    return [...set].sort();
  }

  private exactValue(): string {
    const ahead = this.lookahead(true);
    if (ahead.tok === "end" || ahead.tok === ",") return "";
    const t = this.consume(true);
    if (t.tok === "id") return t.lit;
    throw badSelector(`found '${t.lit}', expected: identifier`);
  }
}

function checkKey(key: string): void {
  const problems = qualifiedNameProblems(key);
  if (problems.length)
    throw badSelector(`key: Invalid value: ${JSON.stringify(key)}: ${problems.join("; ")}`);
}

function checkValue(v: string): void {
  const problems = labelValueProblems(v);
  if (problems.length)
    throw badSelector(`values[0]: Invalid value: ${JSON.stringify(v)}: ${problems.join("; ")}`);
}

/** Parses a label selector string as `labels.Parse` does; the empty string selects everything. */
export function parseLabelSelector(s: string | undefined): LabelSelector {
  if (!s) return [];
  return new LabelParser(new Lexer(s)).parse();
}

export function matchesLabels(sel: LabelSelector, labels: Record<string, string> | undefined): boolean {
  const l = labels ?? {};
  return sel.every((r) => {
    const has = Object.prototype.hasOwnProperty.call(l, r.key);
    const v = l[r.key];
    switch (r.op) {
      case "=":
        return has && v === r.value;
      case "!=":
        return !has || v !== r.value;
      case "in":
        return has && r.values.includes(v!);
      case "notin":
        return !has || !r.values.includes(v!);
      case "gt":
      case "lt": {
        if (!has || !/^[-+]?\d+$/.test(v!)) return false;
        const n = Number(v);
        return r.op === "gt" ? n > r.value : n < r.value;
      }
      case "exists":
        return has;
      case "!":
        return !has;
    }
  });
}

/** A `metav1.LabelSelector` object (matchLabels + matchExpressions) as a parsed selector. */
export function fromLabelSelectorObject(sel: unknown): LabelSelector {
  const reqs: Requirement[] = [];
  if (!sel || typeof sel !== "object") return reqs;
  const s = sel as { matchLabels?: Record<string, unknown>; matchExpressions?: unknown[] };
  for (const [k, v] of Object.entries(s.matchLabels ?? {})) reqs.push({ key: k, op: "=", value: String(v) });
  for (const e of s.matchExpressions ?? []) {
    const x = e as { key?: string; operator?: string; values?: unknown[] };
    const key = String(x.key ?? "");
    const values = (x.values ?? []).map(String);
    if (x.operator === "In") reqs.push({ key, op: "in", values });
    else if (x.operator === "NotIn") reqs.push({ key, op: "notin", values });
    else if (x.operator === "Exists") reqs.push({ key, op: "exists" });
    else if (x.operator === "DoesNotExist") reqs.push({ key, op: "!" });
  }
  return reqs;
}

/** A `map[string]string` selector (Service `spec.selector`). An empty map selects nothing for services. */
export function fromMap(m: Record<string, string> | undefined): LabelSelector {
  return Object.entries(m ?? {}).map(([key, value]) => ({ key, op: "=" as const, value }));
}

export interface FieldRequirement {
  field: string;
  op: "=" | "!=";
  value: string;
}

/** Fields each kind supports in field selectors, besides `metadata.name` and `metadata.namespace`. */
const supportedFields: Record<string, string[]> = {
  "core/pods": [
    "spec.nodeName",
    "spec.restartPolicy",
    "spec.schedulerName",
    "spec.serviceAccountName",
    "spec.hostNetwork",
    "status.phase",
    "status.podIP",
    "status.nominatedNodeName",
  ],
  "core/events": [
    "involvedObject.kind",
    "involvedObject.namespace",
    "involvedObject.name",
    "involvedObject.uid",
    "involvedObject.apiVersion",
    "involvedObject.resourceVersion",
    "involvedObject.fieldPath",
    "reason",
    "reportingComponent",
    "source",
    "type",
  ],
  "core/namespaces": ["status.phase"],
  "core/nodes": ["spec.unschedulable"],
  "core/secrets": ["type"],
  "apps/replicasets": ["status.replicas"],
  "core/services": ["spec.clusterIP", "spec.type"],
};

/** The comma-separated terms of a field selector; `\\,` is data, not a separator (`fields.splitTerms`). */
function splitTerms(s: string): string[] {
  const terms: string[] = [];
  let start = 0;
  let inSlash = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (inSlash) inSlash = false;
    else if (c === "\\") inSlash = true;
    else if (c === ",") {
      terms.push(s.slice(start, i));
      start = i + 1;
    }
  }
  terms.push(s.slice(start));
  return terms;
}

/** Splits a term at the first operator (`!=`, `==`, `=`), as `fields.splitTerm`: no escapes on the left. */
function splitTerm(term: string): { lhs: string; op: "=" | "!="; rhs: string } | undefined {
  for (let i = 0; i < term.length; i++) {
    const rest = term.slice(i, i + 2);
    if (rest === "!=") return { lhs: term.slice(0, i), op: "!=", rhs: term.slice(i + 2) };
    if (rest === "==") return { lhs: term.slice(0, i), op: "=", rhs: term.slice(i + 2) };
    if (term[i] === "=") return { lhs: term.slice(0, i), op: "=", rhs: term.slice(i + 1) };
  }
  return undefined;
}

/** `fields.UnescapeValue`: `\\\\`, `\\,` and `\\=` are the only escapes; a bare `,` or `=` is an error. */
function unescapeValue(s: string): string {
  if (!/[\\,=]/.test(s)) return s;
  let out = "";
  let inSlash = false;
  for (const c of s) {
    if (inSlash) {
      if (c !== "\\" && c !== "," && c !== "=")
        throw new ApiError(400, "BadRequest", `invalid field selector: invalid escape sequence: \\${c}`);
      out += c;
      inSlash = false;
    } else if (c === "\\") inSlash = true;
    else if (c === "," || c === "=")
      throw new ApiError(400, "BadRequest", `invalid field selector: unescaped character in value: ${c}`);
    else out += c;
  }
  if (inSlash) throw new ApiError(400, "BadRequest", "invalid field selector: invalid escape sequence: \\");
  return out;
}

/**
 * Parses a field selector for the resource `key` (`core/pods`…) as `fields.ParseSelector` does (terms sorted, empty
 * terms skipped, no trimming); unsupported fields are a 400 as on a real server.
 */
export function parseFieldSelector(
  s: string | undefined,
  key: string,
  kind: string,
  apiVersion: string,
): FieldRequirement[] {
  if (!s) return [];
  const out: FieldRequirement[] = [];
  const parts = splitTerms(s).sort();
  for (const part of parts) {
    if (part === "") continue;
    const t = splitTerm(part);
    if (!t) throw new ApiError(400, "BadRequest", `invalid selector: '${s}'; can't understand '${part}'`);
    const value = unescapeValue(t.rhs);
    out.push({ field: t.lhs, op: t.op, value });
  }
  for (const r of out)
    if (
      r.field !== "metadata.name" &&
      r.field !== "metadata.namespace" &&
      !(supportedFields[key] ?? []).includes(r.field)
    )
      throw new ApiError(400, "BadRequest", `field label not supported: ${r.field}`, undefined);
  void kind;
  void apiVersion;
  return out;
}

function fieldValue(obj: KubeObject, field: string): string {
  if (field === "source") return String((obj.source as { component?: string } | undefined)?.component ?? "");
  let cur: unknown = obj;
  for (const p of field.split(".")) {
    if (cur === null || typeof cur !== "object") return "";
    cur = (cur as Record<string, unknown>)[p];
  }
  if (cur === undefined || cur === null)
    return field === "spec.hostNetwork" || field === "spec.unschedulable" ? "false" : "";
  return String(cur);
}

export function matchesFields(reqs: FieldRequirement[], obj: KubeObject): boolean {
  return reqs.every((r) => (fieldValue(obj, r.field) === r.value) === (r.op === "="));
}
