/**
 * Calico's selector language: tokenizer, parser, canonical form and evaluation, as in libcalico-go
 * `lib/selector/{tokenizer,parser}` (specification §B).
 */
import { ValidationError } from "../shared/errors.ts";

/** A parsed selector. */
export interface Selector {
  /** True when the labels satisfy the selector. */
  matches(labels: Record<string, string>): boolean;
  /** Calico's canonical string form (`parser.Selector.String()`). */
  toString(): string;
}

/** A selector that failed to parse; `position` is the 0-based character offset of the problem. */
export class SelectorParseError extends ValidationError {
  readonly position: number;
  readonly selector: string;
  readonly reason: string;
  constructor(selector: string, position: number, reason: string) {
    super([{ message: `invalid selector ${JSON.stringify(selector)}: ${reason} at position ${position}` }]);
    this.selector = selector;
    this.position = position;
    this.reason = reason;
  }
}

/** What a selector demands of one label for it to match (Felix's label restrictions), used for indexing. */
export interface LabelRestriction {
  mustBePresent: boolean;
  mustBeAbsent: boolean;
  /** When set, the label must have one of these values; an empty list means the selector cannot match. */
  oneOf?: string[];
}

export type SelectorNode =
  | { t: "eq" | "ne" | "contains" | "starts" | "ends"; label: string; value: string }
  | { t: "in" | "notin"; label: string; values: string[] }
  | { t: "has"; label: string }
  | { t: "not"; op: SelectorNode }
  | { t: "and" | "or"; ops: SelectorNode[] }
  | { t: "all" }
  | { t: "global" };

type TokKind =
  | "label"
  | "string"
  | "{"
  | "}"
  | ","
  | "=="
  | "!="
  | "in"
  | "!"
  | "not in"
  | "contains"
  | "starts with"
  | "ends with"
  | "all()"
  | "has"
  | "("
  | ")"
  | "&&"
  | "||"
  | "global()"
  | "EOF";

interface Token {
  kind: TokKind;
  value: string;
  pos: number;
}

const MAX_LABEL = 512;
/**
 * Bounds that keep a selector from holding the server: its length, and how deeply `(` may nest (the parser,
 * evaluation and rendering recurse per level). Real selectors are a few hundred characters, nested a few levels.
 */
export const MAX_SELECTOR_LENGTH = 64 * 1024;
export const MAX_SELECTOR_DEPTH = 64;

function isIdentChar(c: number): boolean {
  return (
    (c >= 97 && c <= 122) ||
    (c >= 65 && c <= 90) ||
    (c >= 48 && c <= 57) ||
    c === 95 ||
    c === 46 ||
    c === 47 ||
    c === 45
  );
}

class Fail {
  constructor(
    readonly pos: number,
    readonly reason: string,
  ) {}
}

/** Splits a selector into tokens (throws `Fail`). Word operators are recognised only right after a label. */
function tokenize(src: string): Token[] {
  const toks: Token[] = [];
  let i = 0;
  const n = src.length;
  const skipWs = (): void => {
    while (i < n && (src[i] === " " || src[i] === "\t")) i++;
  };
  const ident = (at: number): number => {
    let j = at;
    while (j < n && isIdentChar(src.charCodeAt(j))) j++;
    return j - at;
  };
  const word = (w: string): boolean => {
    if (!src.startsWith(w, i)) return false;
    const after = i + w.length;
    return after >= n || !isIdentChar(src.charCodeAt(after));
  };
  const push = (kind: TokKind, pos: number, value = ""): void => {
    toks.push({ kind, value, pos });
  };
  for (;;) {
    skipWs();
    if (i >= n) {
      push("EOF", i);
      return toks;
    }
    const start = i;
    const c = src[i]!;
    const last = toks.length ? toks[toks.length - 1]!.kind : undefined;
    switch (c) {
      case "(":
      case ")":
      case "{":
      case "}":
      case ",":
        push(c, start);
        i++;
        continue;
      case '"':
      case "'": {
        const end = src.indexOf(c, i + 1);
        if (end < 0) throw new Fail(start, "unterminated string");
        push("string", start, src.slice(i + 1, end));
        i = end + 1;
        continue;
      }
      case "=":
        if (src[i + 1] === "=") {
          push("==", start);
          i += 2;
          continue;
        }
        throw new Fail(start, "expected ==");
      case "!":
        if (src[i + 1] === "=") {
          push("!=", start);
          i += 2;
        } else {
          push("!", start);
          i++;
        }
        continue;
      case "&":
        if (src[i + 1] === "&") {
          push("&&", start);
          i += 2;
          continue;
        }
        throw new Fail(start, "expected &&");
      case "|":
        if (src[i + 1] === "|") {
          push("||", start);
          i += 2;
          continue;
        }
        throw new Fail(start, "expected ||");
    }
    if (last === "label") {
      const expectOp = (): never => {
        throw new Fail(
          start,
          `unexpected characters after label '${toks[toks.length - 1]!.value}', was expecting an operator`,
        );
      };
      if (word("contains")) {
        push("contains", start);
        i += 8;
      } else if (word("in")) {
        push("in", start);
        i += 2;
      } else if (word("startswith") || word("endswith") || word("notin")) {
        const w = src.startsWith("startswith", i)
          ? "startswith"
          : src.startsWith("endswith", i)
            ? "endswith"
            : "notin";
        push(w === "startswith" ? "starts with" : w === "endswith" ? "ends with" : "not in", start);
        i += w.length;
      } else if (src.startsWith("starts", i) || src.startsWith("ends", i) || src.startsWith("not", i)) {
        const first = src.startsWith("starts", i) ? "starts" : src.startsWith("ends", i) ? "ends" : "not";
        const second = first === "not" ? "in" : "with";
        const save = i;
        i += first.length;
        skipWs();
        if (!word(second)) {
          i = save;
          expectOp();
        }
        i += second.length;
        push(first === "starts" ? "starts with" : first === "ends" ? "ends with" : "not in", start);
      } else {
        expectOp();
      }
      continue;
    }
    if (src.startsWith("has(", i)) {
      i += 4;
      skipWs();
      const len = ident(i);
      if (len === 0) throw new Fail(i, "no label name in has( expression");
      if (len > MAX_LABEL) throw new Fail(i, `label too long (more than ${MAX_LABEL} characters)`);
      const label = src.slice(i, i + len);
      i += len;
      skipWs();
      if (src[i] !== ")") throw new Fail(i, "no closing ')' after has(");
      i++;
      push("has", start, label);
      continue;
    }
    if (src.startsWith("all(", i) || src.startsWith("global(", i)) {
      const fn = src.startsWith("all(", i) ? "all" : "global";
      i += fn.length + 1;
      skipWs();
      if (src[i] !== ")") throw new Fail(i, `no closing ')' after ${fn}(`);
      i++;
      push(fn === "all" ? "all()" : "global()", start);
      continue;
    }
    const len = ident(i);
    if (len === 0) throw new Fail(start, "unexpected characters");
    if (len > MAX_LABEL) throw new Fail(start, `label too long (more than ${MAX_LABEL} characters)`);
    push("label", start, src.slice(i, i + len));
    i += len;
  }
}

function describe(t: Token): string {
  if (t.kind === "EOF") return "end of selector";
  if (t.kind === "label") return `label '${t.value}'`;
  if (t.kind === "string") return `string "${t.value}"`;
  if (t.kind === "has") return `has(${t.value})`;
  return `'${t.kind}'`;
}

class Parser {
  private i = 0;
  private depth = 0;
  constructor(private readonly toks: Token[]) {}
  private peek(): Token {
    return this.toks[this.i]!;
  }
  private next(): Token {
    const t = this.toks[this.i]!;
    if (t.kind !== "EOF") this.i++;
    return t;
  }
  root(): SelectorNode {
    if (this.peek().kind === "EOF") return { t: "all" };
    const node = this.or();
    const rest = this.peek();
    if (rest.kind !== "EOF")
      throw new Fail(rest.pos, `unexpected ${describe(rest)}, expected && or || or the end of the selector`);
    return node;
  }
  private or(): SelectorNode {
    const ops = [this.and()];
    while (this.peek().kind === "||") {
      this.next();
      ops.push(this.and());
    }
    return ops.length === 1 ? ops[0]! : { t: "or", ops };
  }
  private and(): SelectorNode {
    const ops = [this.operation()];
    while (this.peek().kind === "&&") {
      this.next();
      ops.push(this.operation());
    }
    return ops.length === 1 ? ops[0]! : { t: "and", ops };
  }
  private operation(): SelectorNode {
    let negated = false;
    while (this.peek().kind === "!") {
      this.next();
      negated = !negated;
    }
    const t = this.next();
    let node: SelectorNode;
    switch (t.kind) {
      case "has":
        node = { t: "has", label: t.value };
        break;
      case "all()":
        node = { t: "all" };
        break;
      case "global()":
        node = { t: "global" };
        break;
      case "(": {
        if (++this.depth > MAX_SELECTOR_DEPTH)
          throw new Fail(t.pos, `parentheses nested more than ${MAX_SELECTOR_DEPTH} deep`);
        node = this.or();
        this.depth--;
        const close = this.peek();
        if (close.kind !== ")") throw new Fail(close.pos, `expected ) but found ${describe(close)}`);
        this.next();
        break;
      }
      case "label":
        node = this.comparison(t);
        break;
      default:
        throw new Fail(
          t.pos,
          t.kind === "EOF"
            ? "unexpected end of selector, expected a label, has(), all(), ! or ("
            : `unexpected ${describe(t)}, expected a label, has(), all(), ! or (`,
        );
    }
    return negated ? { t: "not", op: node } : node;
  }
  private comparison(label: Token): SelectorNode {
    const op = this.next();
    const l = label.value;
    switch (op.kind) {
      case "==":
      case "!=":
      case "contains":
      case "starts with":
      case "ends with": {
        const v = this.next();
        if (v.kind !== "string")
          throw new Fail(v.pos, `expected a quoted string after ${op.kind} but found ${describe(v)}`);
        const t =
          op.kind === "=="
            ? "eq"
            : op.kind === "!="
              ? "ne"
              : op.kind === "contains"
                ? "contains"
                : op.kind === "starts with"
                  ? "starts"
                  : "ends";
        return { t, label: l, value: v.value };
      }
      case "in":
      case "not in": {
        const brace = this.next();
        if (brace.kind !== "{")
          throw new Fail(
            brace.pos,
            `expected a set literal {…} after ${op.kind} but found ${describe(brace)}`,
          );
        const values: string[] = [];
        while (this.peek().kind === "string") {
          values.push(this.next().value);
          if (this.peek().kind === ",") this.next();
          else break;
        }
        const close = this.next();
        if (close.kind !== "}")
          throw new Fail(close.pos, `expected } or a quoted string but found ${describe(close)}`);
        const set = [...new Set(values)].sort();
        return { t: op.kind === "in" ? "in" : "notin", label: l, values: set };
      }
      default:
        throw new Fail(
          op.pos,
          `expected an operator (==, !=, in, not in, contains, starts with, ends with) after label '${l}' but found ${describe(op)}`,
        );
    }
  }
}

function quote(s: string): string {
  return s.includes('"') ? `'${s}'` : `"${s}"`;
}

/** Calico's canonical rendering of a node (`collectFragments`). */
export function renderNode(n: SelectorNode): string {
  switch (n.t) {
    case "eq":
      return `${n.label} == ${quote(n.value)}`;
    case "ne":
      return `${n.label} != ${quote(n.value)}`;
    case "contains":
      return `${n.label} contains ${quote(n.value)}`;
    case "starts":
      return `${n.label} starts with ${quote(n.value)}`;
    case "ends":
      return `${n.label} ends with ${quote(n.value)}`;
    case "in":
      return `${n.label} in {${n.values.map(quote).join(", ")}}`;
    case "notin":
      return `${n.label} not in {${n.values.map(quote).join(", ")}}`;
    case "has":
      return `has(${n.label})`;
    case "not":
      return `!${renderNode(n.op)}`;
    case "and":
      return `(${n.ops.map(renderNode).join(" && ")})`;
    case "or":
      return `(${n.ops.map(renderNode).join(" || ")})`;
    case "all":
      return "all()";
    case "global":
      return "global()";
  }
}

function evaluate(n: SelectorNode, labels: Record<string, string>): boolean {
  switch (n.t) {
    case "eq":
      return Object.hasOwn(labels, n.label) && labels[n.label] === n.value;
    case "ne": {
      if (!Object.hasOwn(labels, n.label)) return true;
      return labels[n.label] !== n.value;
    }
    case "contains":
    case "starts":
    case "ends": {
      if (!Object.hasOwn(labels, n.label)) return false;
      const v = labels[n.label]!;
      return n.t === "contains"
        ? v.includes(n.value)
        : n.t === "starts"
          ? v.startsWith(n.value)
          : v.endsWith(n.value);
    }
    case "in":
      return Object.hasOwn(labels, n.label) && n.values.includes(labels[n.label]!);
    case "notin":
      return !Object.hasOwn(labels, n.label) || !n.values.includes(labels[n.label]!);
    case "has":
      return Object.hasOwn(labels, n.label);
    case "not":
      return !evaluate(n.op, labels);
    case "and":
      for (const o of n.ops) if (!evaluate(o, labels)) return false;
      return true;
    case "or":
      for (const o of n.ops) if (evaluate(o, labels)) return true;
      return false;
    case "all":
    case "global":
      return true;
  }
}

/** Felix's label restrictions of a node (`LabelRestrictions()` in ast.go). */
function restrictions(n: SelectorNode): Map<string, LabelRestriction> {
  const one = (label: string, r: LabelRestriction): Map<string, LabelRestriction> => new Map([[label, r]]);
  switch (n.t) {
    case "eq":
      return one(n.label, { mustBePresent: true, mustBeAbsent: false, oneOf: [n.value] });
    case "in":
      return one(n.label, { mustBePresent: true, mustBeAbsent: false, oneOf: [...n.values] });
    case "contains":
    case "starts":
    case "ends":
    case "has":
      return one(n.label, { mustBePresent: true, mustBeAbsent: false });
    case "not":
      if (n.op.t === "has") return one(n.op.label, { mustBePresent: false, mustBeAbsent: true });
      return new Map();
    case "and": {
      const out = new Map<string, LabelRestriction>();
      for (const op of n.ops) {
        for (const [k, r] of restrictions(op)) {
          const base = out.get(k) ?? { mustBePresent: false, mustBeAbsent: false };
          const oneOf =
            base.oneOf === undefined
              ? r.oneOf
              : r.oneOf === undefined
                ? base.oneOf
                : base.oneOf.filter((v) => r.oneOf!.includes(v));
          out.set(k, {
            mustBePresent: base.mustBePresent || r.mustBePresent,
            mustBeAbsent: base.mustBeAbsent || r.mustBeAbsent,
            ...(oneOf !== undefined ? { oneOf } : {}),
          });
        }
      }
      return out;
    }
    case "or": {
      const [first, ...rest] = n.ops.map(restrictions);
      const out = new Map(first);
      for (const other of rest) {
        for (const [k, r] of out) {
          const o = other.get(k);
          const present = r.mustBePresent && (o?.mustBePresent ?? false);
          const absent = r.mustBeAbsent && (o?.mustBeAbsent ?? false);
          const oneOf = present && r.oneOf && o?.oneOf ? [...new Set([...r.oneOf, ...o.oneOf])] : undefined;
          if (present || absent)
            out.set(k, { mustBePresent: present, mustBeAbsent: absent, ...(oneOf ? { oneOf } : {}) });
          else out.delete(k);
        }
      }
      return out;
    }
    default:
      return new Map();
  }
}

/** A parsed selector with access to its syntax tree (for rewriting and indexing). */
export class ParsedSelector implements Selector {
  private str: string | undefined;
  private restr: Map<string, LabelRestriction> | undefined;
  constructor(readonly root: SelectorNode) {}
  matches(labels: Record<string, string>): boolean {
    return evaluate(this.root, labels);
  }
  toString(): string {
    return (this.str ??= renderNode(this.root));
  }
  /** Per-label requirements every match satisfies. */
  labelRestrictions(): Map<string, LabelRestriction> {
    return (this.restr ??= restrictions(this.root));
  }
  /** True if the selector contains `global()` anywhere. */
  hasGlobal(): boolean {
    const walk = (n: SelectorNode): boolean =>
      n.t === "global"
        ? true
        : n.t === "not"
          ? walk(n.op)
          : n.t === "and" || n.t === "or"
            ? n.ops.some(walk)
            : false;
    return walk(this.root);
  }
}

/** Parses a selector; throws `SelectorParseError` (with `.position`) on bad input. */
export function parseSelector(src: string): ParsedSelector {
  if (src.length > MAX_SELECTOR_LENGTH)
    throw new SelectorParseError(
      src.slice(0, 64) + "…",
      MAX_SELECTOR_LENGTH,
      `selector longer than ${MAX_SELECTOR_LENGTH} characters`,
    );
  try {
    return new ParsedSelector(new Parser(tokenize(src)).root());
  } catch (e) {
    if (e instanceof Fail) throw new SelectorParseError(src, e.pos, e.reason);
    throw e;
  }
}

/** Parses a selector, returning undefined instead of throwing. */
export function tryParseSelector(src: string): ParsedSelector | undefined {
  try {
    return parseSelector(src);
  } catch {
    return undefined;
  }
}

/** A copy of the selector with every label name prefixed (Calico's `PrefixVisitor`), e.g. `pcns.` for namespace labels. */
export function prefixLabels(sel: ParsedSelector, prefix: string): ParsedSelector {
  const walk = (n: SelectorNode): SelectorNode => {
    switch (n.t) {
      case "not":
        return { t: "not", op: walk(n.op) };
      case "and":
      case "or":
        return { t: n.t, ops: n.ops.map(walk) };
      case "all":
      case "global":
        return n;
      default:
        return { ...n, label: prefix + n.label };
    }
  };
  return new ParsedSelector(walk(sel.root));
}
