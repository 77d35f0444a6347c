/**
 * POSIX regular expressions for the pod shell's tools, matched by a linear-time engine (re2js, a port of RE2): no
 * pattern an attendee types can backtrack exponentially. Basic (BRE) and extended (ERE) syntax are translated to RE2's
 * as GNU and BusyBox grep read them: `\( \) \{m,n\} \| \+ \?` in BRE, `( ) {m,n} | + ?` in ERE, bracket expressions
 * with `[:class:]`, leftmost-longest matches. What RE2 cannot do in linear time (back-references) is a `RegexError`.
 */
import { RE2JS, RE2JSException } from "re2js";
import { ShellLimitError } from "./budget.ts";

/** A pattern the tool cannot use; the message follows the tool's own (`bad regex '…': …`). */
export class RegexError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RegexError";
  }
}

export type RegexSyntax = "basic" | "extended" | "fixed";

export interface RegexOptions {
  syntax: RegexSyntax;
  /** `-i` */
  ignoreCase?: boolean;
  /** `-w`: the match is a whole word. */
  word?: boolean;
  /** `-x`: the match is the whole line. */
  line?: boolean;
}

/** A compiled pattern, matched against one line at a time. */
export interface LineRegex {
  /** RE2's program size: a match costs at most about (line length + 1) × size steps. */
  readonly size: number;
  /** Whether the line contains a match. */
  test(line: string): boolean;
  /**
   * The non-empty matches in the line, left to right (`grep -o`), and the work spent (an upper bound, as
   * `regexWork`). Throws `ShellLimitError` rather than spend more than `maxWork`.
   */
  matchAll(line: string, maxWork: number): { matches: string[]; work: number };
}

/** The regex work (in the engine's steps, an upper bound) of matching a line once. */
export function regexWork(line: string, re: LineRegex): number {
  return (line.length + 1) * re.size;
}

const CLASSES = new Set([
  "alnum",
  "alpha",
  "blank",
  "cntrl",
  "digit",
  "graph",
  "lower",
  "print",
  "punct",
  "space",
  "upper",
  "xdigit",
]);
/** RE2's metacharacters: a literal one is escaped. */
const META = new Set([..."\\.+*?()|[]{}^$"]);
/** POSIX's RE_DUP_MAX: larger counts are an error in every POSIX regcomp. */
const DUP_MAX = 32767;

function literal(c: string): string {
  return META.has(c) ? `\\${c}` : c;
}

function classChar(c: string): string {
  return /^[A-Za-z0-9]$/.test(c) ? c : `\\x{${c.codePointAt(0)!.toString(16)}}`;
}

/**
 * Reads a bracket expression starting at `p[i] === "["`; returns RE2 syntax and the index after the closing `]`.
 * A backslash is an ordinary character inside brackets, as POSIX says.
 */
function bracket(p: string, i: number): { re: string; next: number } {
  const unmatched = (): never => {
    throw new RegexError("Unmatched [, [^, [:, [., or [=");
  };
  let j = i + 1;
  let neg = false;
  if (p[j] === "^") {
    neg = true;
    j++;
  }
  const items: string[] = [];
  /** One character of the expression: a plain one, or a collating symbol/equivalence class `[.x.]`/`[=x=]`. */
  const char = (): string => {
    const c = p[j];
    if (c === undefined) return unmatched();
    if (c === "[" && (p[j + 1] === "." || p[j + 1] === "=")) {
      const close = p.indexOf(`${p[j + 1]}]`, j + 2);
      if (close < 0) return unmatched();
      const sym = [...p.slice(j + 2, close)];
      if (sym.length !== 1) throw new RegexError("Invalid collation character");
      j = close + 2;
      return sym[0]!;
    }
    const cp = String.fromCodePoint(p.codePointAt(j)!);
    j += cp.length;
    return cp;
  };
  let first = true;
  for (;;) {
    const c = p[j];
    if (c === undefined) return unmatched();
    if (c === "]" && !first) break;
    first = false;
    if (c === "[" && p[j + 1] === ":") {
      const close = p.indexOf(":]", j + 2);
      if (close < 0) return unmatched();
      const name = p.slice(j + 2, close);
      if (!CLASSES.has(name)) throw new RegexError("Invalid character class name");
      items.push(`[:${name}:]`);
      j = close + 2;
      continue;
    }
    const lo = char();
    if (p[j] === "-" && p[j + 1] !== undefined && p[j + 1] !== "]") {
      j++;
      const hi = char();
      if (hi.codePointAt(0)! < lo.codePointAt(0)!) throw new RegexError("Invalid range end");
      items.push(`${classChar(lo)}-${classChar(hi)}`);
    } else items.push(classChar(lo));
  }
  return { re: `[${neg ? "^" : ""}${items.join("")}]`, next: j + 1 };
}

/** Reads `m`, `m,`, `m,n` or `,n` and the closing brace (`}` in ERE, `\}` in BRE) after an opening one at `i`. */
function interval(
  p: string,
  i: number,
  ere: boolean,
): { min: number; max?: number; next: number } | undefined {
  const m = (ere ? /^(\d*)(,(\d*))?\}/ : /^(\d*)(,(\d*))?\\\}/).exec(p.slice(i, i + 32));
  if (!m || (m[1] === "" && (m[3] ?? "") === "")) return undefined;
  const min = m[1] === "" ? 0 : Number(m[1]);
  const max = m[2] === undefined ? min : m[3] === "" ? undefined : Number(m[3]);
  if (min > DUP_MAX || (max !== undefined && max > DUP_MAX))
    throw new RegexError("Regular expression too big");
  if (max !== undefined && max < min) throw new RegexError("Invalid content of \\{\\}");
  return max === undefined ? { min, next: i + m[0].length } : { min, max, next: i + m[0].length };
}

/** Translates one POSIX pattern (basic or extended) to RE2 syntax. */
export function translatePosix(p: string, syntax: "basic" | "extended"): string {
  const ere = syntax === "extended";
  let out = "";
  /** Where the last atom starts in `out` (a quantifier applies to it); -1 where a quantifier has nothing to repeat. */
  let atom = -1;
  let quantified = false;
  const groups: number[] = [];
  const emitAtom = (s: string): void => {
    atom = out.length;
    out += s;
    quantified = false;
  };
  /** Starts a new context (start of pattern, after `(` or `|`): BRE's `^` anchors and `*` is literal here. */
  const boundary = (s: string): void => {
    out += s;
    atom = -1;
    quantified = false;
  };
  const quantify = (q: string): void => {
    // A repeated repetition (`a**`, `a{2}{3}`) means the repetition of the repetition: RE2 wants it grouped.
    if (quantified) out = `${out.slice(0, atom)}(?:${out.slice(atom)})`;
    out += q;
    quantified = true;
  };
  const atStart = (): boolean => atom === -1 && !quantified;
  let i = 0;
  while (i < p.length) {
    const c = p[i]!;
    if (c === "[") {
      const b = bracket(p, i);
      emitAtom(b.re);
      i = b.next;
      continue;
    }
    if (c === "\\") {
      const d = p[i + 1];
      if (d === undefined) throw new RegexError("Trailing backslash");
      i += 2;
      if (d >= "1" && d <= "9") throw new RegexError("back-references (\\1 … \\9) are not supported");
      if (!ere && d === "(") {
        groups.push(out.length);
        boundary("(");
      } else if (!ere && d === ")") {
        const start = groups.pop();
        if (start === undefined) throw new RegexError("Unmatched ) or \\)");
        out += ")";
        atom = start;
        quantified = false;
      } else if (!ere && d === "|") boundary("|");
      else if (!ere && d === "{") {
        const iv = interval(p, i, false);
        if (!iv) throw new RegexError("Unmatched \\{");
        if (atom < 0) throw new RegexError("Invalid preceding regular expression");
        i = iv.next;
        quantify(`{${iv.min},${iv.max ?? ""}}`.replace(/^\{(\d+),\1\}$/, "{$1}"));
      } else if (!ere && (d === "+" || d === "?")) {
        if (atom < 0) emitAtom(literal(d));
        else quantify(d);
      } else if (d === "<" || d === ">" || d === "b") emitAtom("\\b");
      else if (d === "B") emitAtom("\\B");
      else if (d === "w" || d === "W" || d === "s" || d === "S") emitAtom(`\\${d}`);
      else if (d === "`") emitAtom("\\A");
      else if (d === "'") emitAtom("\\z");
      else {
        const cp = String.fromCodePoint(p.codePointAt(i - 1)!);
        i += cp.length - 1;
        emitAtom(literal(cp));
      }
      continue;
    }
    i++;
    if (c === "*" || (ere && (c === "+" || c === "?"))) {
      if (atom >= 0) quantify(c);
      else if (ere && out.endsWith("(")) throw new RegexError("Invalid preceding regular expression");
      else emitAtom(literal(c));
      continue;
    }
    if (ere && c === "{") {
      const iv = interval(p, i, true);
      if (!iv || atom < 0) emitAtom("\\{");
      else {
        i = iv.next;
        quantify(`{${iv.min},${iv.max ?? ""}}`.replace(/^\{(\d+),\1\}$/, "{$1}"));
      }
      continue;
    }
    if (ere && c === "(") {
      groups.push(out.length);
      boundary("(");
      continue;
    }
    if (ere && c === ")") {
      const start = groups.pop();
      if (start === undefined) emitAtom("\\)");
      else {
        out += ")";
        atom = start;
        quantified = false;
      }
      continue;
    }
    if (ere && c === "|") {
      boundary("|");
      continue;
    }
    if (c === "^" && (ere || atStart())) {
      boundary("^");
      continue;
    }
    if (c === "$" && (ere || i === p.length || p.startsWith("\\)", i) || p.startsWith("\\|", i))) {
      boundary("$");
      continue;
    }
    if (c === ".") {
      emitAtom(".");
      continue;
    }
    const cp = String.fromCodePoint(p.codePointAt(i - 1)!);
    i += cp.length - 1;
    emitAtom(literal(cp));
  }
  if (groups.length > 0) throw new RegexError("Unmatched ( or \\(");
  return out;
}

function describe(e: RE2JSException): string {
  const m = e.message.replace(/^error parsing regexp: /, "");
  if (/repeat count|nested repetition/.test(m)) return "repetition count too large (at most 1000 in all)";
  if (/too large|too big/.test(m)) return "Regular expression too big";
  return m;
}

/**
 * Compiles the patterns of a grep-like tool (several patterns, or lines of one, are alternatives) for matching lines.
 * Throws `RegexError` for a pattern the tool rejects or the engine cannot run in linear time.
 */
export function compileLineRegex(patterns: readonly string[], opts: RegexOptions): LineRegex {
  const total = patterns.reduce((n, p) => n + p.length, 0);
  if (total > 64 * 1024) throw new RegexError("Regular expression too big");
  const alts = patterns.flatMap((p) => p.split("\n"));
  let src = alts
    .map((p) => (opts.syntax === "fixed" ? RE2JS.quote(p) : translatePosix(p, opts.syntax)))
    .map((s) => (alts.length > 1 ? `(?:${s})` : s))
    .join("|");
  if (opts.word) src = `\\b(?:${src})\\b`;
  if (opts.line) src = `^(?:${src})$`;
  let re: RE2JS;
  try {
    re = RE2JS.compile(src, RE2JS.LONGEST_MATCH | (opts.ignoreCase ? RE2JS.CASE_INSENSITIVE : 0));
  } catch (e) {
    if (e instanceof RE2JSException) throw new RegexError(describe(e));
    throw e;
  }
  const size = Math.max(1, re.programSize());
  return {
    size,
    test: (line) => re.test(line),
    matchAll: (line, maxWork) => {
      const found: string[] = [];
      const m = re.matcher(line);
      let pos = 0;
      let work = 0;
      while (pos <= line.length) {
        work += (line.length - pos + 1) * size;
        if (work > maxWork) throw new ShellLimitError("line too long for this pattern");
        if (!m.find(pos)) break;
        const start = m.start();
        const end = m.end();
        if (end > start) found.push(line.slice(start, end));
        pos = end > start ? end : end + 1;
      }
      return { matches: found, work };
    },
  };
}
