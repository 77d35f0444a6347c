/**
 * A POSIX-sh subset parser: simple commands with quotes, `$VAR`/`${VAR}`/`$?`, pipes, `&&`, `||`, `;`, newlines,
 * redirections (`>`, `>>`, `<`, `2>&1`), `!`, `( … )`, command substitution (`$(…)`, backquotes), arithmetic
 * (`$((…))`), `for NAME in WORDS; do LIST; done`, `while`/`until LIST; do LIST; done` and `if … then … elif … else … fi`.
 * Pure: text in, tree out. Nesting deeper than `LIMITS.depth` is a syntax error.
 */
import { LIMITS } from "./budget.ts";

export type WordPart =
  | { kind: "lit"; text: string; quoted: boolean }
  | { kind: "var"; name: string; quoted: boolean }
  /** Command substitution: the script's output replaces it (trailing newlines removed). */
  | { kind: "sub"; script: string; quoted: boolean }
  /** Arithmetic expansion `$((…))`: integers, variables, + - * / % and parentheses. */
  | { kind: "arith"; expr: string; quoted: boolean }
  /** A substitution's result, after it ran (split into fields when unquoted, like a variable). */
  | { kind: "val"; text: string; quoted: boolean };
export type Word = WordPart[];

export interface Redirect {
  fd: number;
  op: ">" | ">>" | "<" | ">&";
  /** A file name, or for `>&` the target descriptor as text. */
  target: Word;
}

export interface SimpleCommand {
  kind: "cmd";
  assigns: { name: string; value: Word }[];
  words: Word[];
  redirects: Redirect[];
}
export interface ForLoop {
  kind: "for";
  name: string;
  items: Word[];
  body: Script;
}
export interface Subshell {
  kind: "subshell";
  body: Script;
  redirects: Redirect[];
}
export interface WhileLoop {
  kind: "while";
  /** `until` loops run while the condition fails. */
  until: boolean;
  cond: Script;
  body: Script;
}
export interface IfClause {
  kind: "if";
  branches: { cond: Script; body: Script }[];
  otherwise?: Script;
}
export type Command = SimpleCommand | ForLoop | Subshell | WhileLoop | IfClause;

export interface Pipeline {
  negate: boolean;
  commands: Command[];
}
export interface AndOr {
  first: Pipeline;
  rest: { op: "&&" | "||"; pipeline: Pipeline }[];
}
export type Script = AndOr[];

export class ShellSyntaxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ShellSyntaxError";
  }
}

type Token = { t: "word"; word: Word; raw: string } | { t: "op"; op: string } | { t: "eof" };

const OPS = ["&&", "||", ">>", ">&", ";;", "|", ";", "&", "(", ")", "<", ">", "\n"];

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  // The word being read (its closures are made once, not once per word).
  let parts: Word = [];
  let raw = "";
  let lit = "";
  const flush = (quoted: boolean): void => {
    if (lit) parts.push({ kind: "lit", text: lit, quoted });
    lit = "";
  };
  const readSub = (quoted: boolean): boolean => {
    // at src[i] === "$" followed by "(", or a backquote
    const backquote = src[i] === "`";
    if (!backquote && src[i + 1] !== "(") return false;
    let j = i + (backquote ? 1 : 2);
    let depth = 1;
    while (j < src.length) {
      const d = src[j]!;
      if (backquote && d === "`") break;
      if (!backquote && d === "'") {
        const e = src.indexOf("'", j + 1);
        if (e < 0) break;
        j = e + 1;
        continue;
      }
      if (!backquote && d === "(") depth++;
      if (!backquote && d === ")" && --depth === 0) break;
      j++;
    }
    if (j >= src.length)
      throw new ShellSyntaxError(
        backquote ? "syntax error: unterminated `" : "syntax error: unterminated $(",
      );
    flush(quoted);
    parts.push({ kind: "sub", script: src.slice(i + (backquote ? 1 : 2), j), quoted });
    raw += src.slice(i, j + 1);
    i = j + 1;
    return true;
  };
  const readVar = (quoted: boolean): boolean => {
    // at src[i] === "$"
    if (src.startsWith("((", i + 1)) {
      const end = src.indexOf("))", i + 3);
      if (end < 0) throw new ShellSyntaxError("syntax error: unterminated $((");
      flush(quoted);
      parts.push({ kind: "arith", expr: src.slice(i + 3, end), quoted });
      raw += src.slice(i, end + 2);
      i = end + 2;
      return true;
    }
    if (src[i + 1] === "(") return readSub(quoted);
    const rest = src.slice(i + 1);
    let m = /^\{([A-Za-z_][A-Za-z0-9_]*|[?#$0-9])\}/.exec(rest);
    if (!m) m = /^([A-Za-z_][A-Za-z0-9_]*|[?#$0-9])/.exec(rest);
    if (!m) return false;
    flush(quoted);
    parts.push({ kind: "var", name: m[1]!, quoted });
    raw += "$" + m[0];
    i += 1 + m[0].length;
    return true;
  };
  while (i < src.length) {
    const c = src[i]!;
    if (c === " " || c === "\t") {
      i++;
      continue;
    }
    if (c === "\\" && src[i + 1] === "\n") {
      i += 2;
      continue;
    }
    if (c === "#") {
      while (i < src.length && src[i] !== "\n") i++;
      continue;
    }
    // fd-prefixed redirections: 2>, 2>>, 1>, 2>&1
    const fdRedir = /^([0-9])(>>|>&|>|<)/.exec(src.slice(i));
    if (fdRedir) {
      out.push({ t: "op", op: fdRedir[0] });
      i += fdRedir[0].length;
      continue;
    }
    const op = OPS.find((o) => src.startsWith(o, i));
    if (op) {
      out.push({ t: "op", op });
      i += op.length;
      continue;
    }
    // a word
    parts = [];
    raw = "";
    lit = "";
    while (i < src.length) {
      const ch = src[i]!;
      if (ch === " " || ch === "\t" || ch === "\n" || OPS.some((o) => src.startsWith(o, i))) break;
      if (ch === "'") {
        flush(false);
        const end = src.indexOf("'", i + 1);
        if (end < 0) throw new ShellSyntaxError("syntax error: unterminated quoted string");
        parts.push({ kind: "lit", text: src.slice(i + 1, end), quoted: true });
        raw += src.slice(i, end + 1);
        i = end + 1;
        continue;
      }
      if (ch === '"') {
        flush(false);
        raw += '"';
        i++;
        let closed = false;
        while (i < src.length) {
          const d = src[i]!;
          if (d === '"') {
            closed = true;
            raw += '"';
            i++;
            break;
          }
          if (d === "\\" && i + 1 < src.length && '$`"\\\n'.includes(src[i + 1]!)) {
            lit += src[i + 1];
            raw += src.slice(i, i + 2);
            i += 2;
            continue;
          }
          if (d === "$" && readVar(true)) continue;
          if (d === "`" && readSub(true)) continue;
          lit += d;
          raw += d;
          i++;
        }
        if (!closed) throw new ShellSyntaxError("syntax error: unterminated quoted string");
        // keep an empty quoted string as an (empty) word
        parts.push({ kind: "lit", text: lit, quoted: true });
        lit = "";
        continue;
      }
      if (ch === "\\") {
        flush(false);
        if (i + 1 < src.length) parts.push({ kind: "lit", text: src[i + 1]!, quoted: true });
        raw += src.slice(i, i + 2);
        i += 2;
        continue;
      }
      if (ch === "$" && readVar(false)) continue;
      if (ch === "`" && readSub(false)) continue;
      lit += ch;
      raw += ch;
      i++;
    }
    flush(false);
    out.push({ t: "word", word: parts, raw });
  }
  out.push({ t: "eof" });
  return out;
}

const RESERVED = new Set(["do", "done", "then", "fi", "in", "elif", "else"]);

/** Parses a script. Throws `ShellSyntaxError` with busybox's wording on bad input. */
export function parseScript(src: string): Script {
  const toks = tokenize(src);
  let p = 0;
  const peek = (): Token => toks[p]!;
  const isOp = (op: string): boolean => {
    const t = peek();
    return t.t === "op" && t.op === op;
  };
  const isWord = (w: string): boolean => {
    const t = peek();
    return t.t === "word" && t.raw === w;
  };
  const unexpected = (): never => {
    const t = peek();
    const what = t.t === "eof" ? "end of file" : t.t === "op" ? (t.op === "\n" ? "newline" : t.op) : t.raw;
    throw new ShellSyntaxError(`syntax error: unexpected "${what}"`);
  };
  const skipNewlines = (): void => {
    while (isOp("\n")) p++;
  };

  const parseList = (terminators: string[]): Script => {
    const list: Script = [];
    skipNewlines();
    for (;;) {
      const t = peek();
      if (t.t === "eof") break;
      if (t.t === "op" && t.op === ")" && terminators.includes(")")) break;
      if (t.t === "word" && terminators.includes(t.raw)) break;
      list.push(parseAndOr());
      const s = peek();
      if (s.t === "op" && (s.op === ";" || s.op === "\n" || s.op === "&")) {
        p++;
        skipNewlines();
        continue;
      }
      break;
    }
    return list;
  };

  const parseAndOr = (): AndOr => {
    const first = parsePipeline();
    const rest: AndOr["rest"] = [];
    for (;;) {
      const t = peek();
      if (t.t === "op" && (t.op === "&&" || t.op === "||")) {
        p++;
        skipNewlines();
        rest.push({ op: t.op, pipeline: parsePipeline() });
      } else break;
    }
    return { first, rest };
  };

  const parsePipeline = (): Pipeline => {
    let negate = false;
    while (isWord("!")) {
      negate = !negate;
      p++;
    }
    const commands = [parseCommand()];
    while (isOp("|")) {
      p++;
      skipNewlines();
      commands.push(parseCommand());
    }
    return { negate, commands };
  };

  let depth = 0;
  const parseCommand = (): Command => {
    if (++depth > LIMITS.depth) throw new ShellSyntaxError("syntax error: nested too deeply");
    try {
      return parseCommand1();
    } finally {
      depth--;
    }
  };

  const parseCommand1 = (): Command => {
    if (isOp("(")) {
      p++;
      const body = parseList([")"]);
      if (!isOp(")")) unexpected();
      p++;
      if (body.length === 0) unexpected();
      return { kind: "subshell", body, redirects: parseRedirects() };
    }
    if (isWord("while") || isWord("until")) {
      const until = isWord("until");
      p++;
      const cond = parseList(["do"]);
      if (!isWord("do") || cond.length === 0) unexpected();
      p++;
      const body = parseList(["done"]);
      if (!isWord("done")) unexpected();
      p++;
      return { kind: "while", until, cond, body };
    }
    if (isWord("if")) {
      p++;
      const branches: IfClause["branches"] = [];
      let otherwise: Script | undefined;
      for (;;) {
        const cond = parseList(["then"]);
        if (!isWord("then") || cond.length === 0) unexpected();
        p++;
        const body = parseList(["elif", "else", "fi"]);
        branches.push({ cond, body });
        if (isWord("elif")) {
          p++;
          continue;
        }
        if (isWord("else")) {
          p++;
          otherwise = parseList(["fi"]);
        }
        if (!isWord("fi")) unexpected();
        p++;
        break;
      }
      return { kind: "if", branches, ...(otherwise ? { otherwise } : {}) };
    }
    if (isWord("for")) {
      p++;
      const n = peek();
      if (n.t !== "word" || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(n.raw)) return unexpected();
      p++;
      const items: Word[] = [];
      if (isWord("in")) {
        p++;
        for (let t = peek(); t.t === "word"; t = peek()) {
          items.push(t.word);
          p++;
        }
      }
      if (isOp(";") || isOp("\n")) p++;
      skipNewlines();
      if (!isWord("do")) unexpected();
      p++;
      const body = parseList(["done"]);
      if (!isWord("done")) unexpected();
      p++;
      return { kind: "for", name: n.raw, items, body };
    }
    const cmd: SimpleCommand = { kind: "cmd", assigns: [], words: [], redirects: [] };
    for (;;) {
      const before = p;
      cmd.redirects.push(...parseRedirects());
      const t = peek();
      if (t.t !== "word") {
        if (p === before) break;
        continue;
      }
      if (cmd.words.length === 0 && RESERVED.has(t.raw)) unexpected();
      const m = /^([A-Za-z_][A-Za-z0-9_]*)=/.exec(t.raw);
      const head = t.word[0];
      if (cmd.words.length === 0 && m && head?.kind === "lit" && !head.quoted && head.text.startsWith(m[0])) {
        const value: Word = [{ ...head, text: head.text.slice(m[0].length) }, ...t.word.slice(1)];
        cmd.assigns.push({ name: m[1]!, value });
      } else cmd.words.push(t.word);
      p++;
    }
    if (cmd.words.length === 0 && cmd.assigns.length === 0 && cmd.redirects.length === 0) unexpected();
    return cmd;
  };

  const parseRedirects = (): Redirect[] => {
    const out: Redirect[] = [];
    for (;;) {
      const t = peek();
      if (t.t !== "op") return out;
      if (t.op === "2>&1") {
        out.push({ fd: 2, op: ">&", target: [{ kind: "lit", text: "1", quoted: false }] });
        p++;
        continue;
      }
      const r = /^([0-9]?)(>>|>&|>|<)$/.exec(t.op);
      if (!r) return out;
      p++;
      const target = peek();
      if (target.t !== "word") return unexpected();
      p++;
      const op = r[2] as Redirect["op"];
      out.push({ fd: r[1] ? Number(r[1]) : op === "<" ? 0 : 1, op, target: target.word });
    }
  };

  const script = parseList([]);
  if (peek().t !== "eof") unexpected();
  return script;
}
