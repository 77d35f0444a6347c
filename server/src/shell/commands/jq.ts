/**
 * `jq` as the toolbox image and netshoot ship it, for the filters a learner uses on Whisker's flows: paths (`.a.b`,
 * `.[0]`, `.[]`, `?`), pipes, `,`, `//`, comparisons, `and`/`or`/`not`, `+`/`-`, array and object construction,
 * string interpolation, and the common builtins (`select`, `map`, `length`, `keys`, `sort`, `sort_by`, `unique`,
 * `first`, `last`, `index`, `has`, `test`, `join`, `add`, `to_entries`, …). Options `-r`, `-c`, `-n`, `-j`, `-s`,
 * `-e`. What it does not know (definitions, `reduce`, variables, paths) fails with a compile error that says so, never
 * a wrong answer. Work per input is bounded so a hostile filter cannot hold the event loop.
 */
import { pathIn } from "../files.ts";
import { RE2JS } from "re2js";
import { spend } from "../budget.ts";
import type { CmdIO, ShellEnv } from "../types.ts";

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

type Node =
  | { t: "id" }
  | { t: "lit"; v: Json }
  | { t: "str"; parts: (string | Node)[] }
  | { t: "field"; of: Node; name: Node; opt: boolean }
  | { t: "iter"; of: Node; opt: boolean }
  | { t: "slice"; of: Node; from?: Node; to?: Node }
  | { t: "pipe" | "comma" | "alt" | "and" | "or"; a: Node; b: Node }
  | { t: "bin"; op: string; a: Node; b: Node }
  | { t: "neg"; a: Node }
  | { t: "arr"; of?: Node }
  | { t: "obj"; entries: { key: Node; value: Node }[] }
  | { t: "call"; name: string; args: Node[] };

class JqError extends Error {}
class CompileError extends Error {}

/** Steps (nodes evaluated, values produced) one input may take: about a quarter of a second of work at most. */
const STEPS_PER_INPUT = 300_000;

function tokenize(src: string): string[] {
  const toks: string[] = [];
  const re =
    /\s+|#[^\n]*|("(?:[^"\\]|\\.)*")|(\.\.|\/\/|==|!=|<=|>=|[.[\]{}(),:|<>+\-*/%?$;])|(\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)|([A-Za-z_][A-Za-z0-9_]*(?:::[A-Za-z_][A-Za-z0-9_]*)*)|(@[a-z0-9]+)|(.)/gy;
  let m: RegExpExecArray | null;
  while ((m = re.exec(src)) !== null) {
    if (m[7] !== undefined) throw new CompileError(`syntax error, unexpected INVALID_CHARACTER '${m[7]}'`);
    const tok = m[1] ?? m[2] ?? m[3] ?? m[4] ?? m[5];
    if (tok !== undefined) toks.push(tok);
    if (re.lastIndex >= src.length) break;
  }
  return toks;
}

const KEYWORDS = new Set([
  "and",
  "or",
  "if",
  "then",
  "elif",
  "else",
  "end",
  "as",
  "def",
  "reduce",
  "foreach",
  "try",
]);
const UNSUPPORTED = new Set([
  "if",
  "def",
  "reduce",
  "foreach",
  "try",
  "as",
  "$",
  "..",
  "@base64",
  "@csv",
  "@tsv",
]);

function parse(src: string): Node {
  const toks = tokenize(src);
  let i = 0;
  const peek = (): string | undefined => toks[i];
  const take = (want?: string): string => {
    const t = toks[i];
    if (t === undefined) throw new CompileError("syntax error, unexpected end of file");
    if (want !== undefined && t !== want)
      throw new CompileError(`syntax error, unexpected '${t}', expecting '${want}'`);
    i++;
    return t;
  };
  const unsupported = (t: string): never => {
    throw new CompileError(`'${t}' is not supported by the simulated pod's jq (run it in your own terminal)`);
  };

  const pipe = (): Node => {
    let a = comma();
    while (peek() === "|") {
      take();
      a = { t: "pipe", a, b: comma() };
    }
    return a;
  };
  const comma = (): Node => {
    let a = alt();
    while (peek() === ",") {
      take();
      a = { t: "comma", a, b: alt() };
    }
    return a;
  };
  const alt = (): Node => {
    const a = or();
    if (peek() === "//") {
      take();
      return { t: "alt", a, b: alt() };
    }
    return a;
  };
  const or = (): Node => {
    let a = and();
    while (peek() === "or") {
      take();
      a = { t: "or", a, b: and() };
    }
    return a;
  };
  const and = (): Node => {
    let a = compare();
    while (peek() === "and") {
      take();
      a = { t: "and", a, b: compare() };
    }
    return a;
  };
  const compare = (): Node => {
    const a = additive();
    const op = peek();
    if (op === "==" || op === "!=" || op === "<" || op === "<=" || op === ">" || op === ">=") {
      take();
      return { t: "bin", op, a, b: additive() };
    }
    return a;
  };
  const additive = (): Node => {
    let a = multiplicative();
    while (peek() === "+" || peek() === "-") {
      const op = take();
      a = { t: "bin", op, a, b: multiplicative() };
    }
    return a;
  };
  const multiplicative = (): Node => {
    let a = unary();
    while (peek() === "*" || peek() === "/" || peek() === "%") {
      const op = take();
      a = { t: "bin", op, a, b: unary() };
    }
    return a;
  };
  const unary = (): Node => {
    if (peek() === "-") {
      take();
      return { t: "neg", a: postfix() };
    }
    return postfix();
  };
  const string = (tok: string): Node => {
    const body = tok.slice(1, -1);
    const parts: (string | Node)[] = [];
    let cur = "";
    for (let k = 0; k < body.length; k++) {
      const c = body[k]!;
      if (c !== "\\") {
        cur += c;
        continue;
      }
      const n = body[++k];
      if (n === "(") {
        let depth = 1;
        let j = k + 1;
        for (; j < body.length && depth > 0; j++) {
          if (body[j] === "(") depth++;
          else if (body[j] === ")") depth--;
        }
        if (cur) parts.push(cur);
        cur = "";
        parts.push(parse(body.slice(k + 1, j - 1)));
        k = j - 1;
      } else if (n === "u") {
        cur += String.fromCharCode(parseInt(body.slice(k + 1, k + 5), 16));
        k += 4;
      } else
        cur +=
          ({ n: "\n", t: "\t", r: "\r", b: "\b", f: "\f" } as Record<string, string>)[n ?? ""] ?? n ?? "";
    }
    if (cur || !parts.length) parts.push(cur);
    return parts.every((p) => typeof p === "string") ? { t: "lit", v: parts.join("") } : { t: "str", parts };
  };
  const suffixes = (base: Node): Node => {
    let n = base;
    for (;;) {
      const t = peek();
      if (t === "." && /^[A-Za-z_]/.test(toks[i + 1] ?? "") && !KEYWORDS.has(toks[i + 1]!)) {
        take();
        n = { t: "field", of: n, name: { t: "lit", v: take() }, opt: false };
      } else if (t === "." && toks[i + 1]?.startsWith('"')) {
        take();
        n = { t: "field", of: n, name: string(take()), opt: false };
      } else if (t === "[" || (t === "." && toks[i + 1] === "[")) {
        if (t === ".") take();
        take("[");
        if (peek() === "]") {
          take();
          n = { t: "iter", of: n, opt: false };
        } else if (peek() === ":") {
          take();
          const to = pipe();
          take("]");
          n = { t: "slice", of: n, to };
        } else {
          const idx = pipe();
          if (peek() === ":") {
            take();
            const to = peek() === "]" ? undefined : pipe();
            take("]");
            n = { t: "slice", of: n, from: idx, ...(to ? { to } : {}) };
          } else {
            take("]");
            n = { t: "field", of: n, name: idx, opt: false };
          }
        }
      } else if (t === "?") {
        take();
        if (n.t === "field" || n.t === "iter") n = { ...n, opt: true };
      } else return n;
    }
  };
  const postfix = (): Node => suffixes(primary());
  const primary = (): Node => {
    const t = take();
    if (UNSUPPORTED.has(t)) unsupported(t);
    if (t.startsWith("@")) unsupported(t);
    if (t === ".") {
      const n = peek();
      if (n !== undefined && /^[A-Za-z_]/.test(n) && !KEYWORDS.has(n))
        return { t: "field", of: { t: "id" }, name: { t: "lit", v: take() }, opt: false };
      if (n?.startsWith('"')) return { t: "field", of: { t: "id" }, name: string(take()), opt: false };
      return { t: "id" };
    }
    if (t.startsWith('"')) return string(t);
    if (/^\d/.test(t)) return { t: "lit", v: Number(t) };
    if (t === "(") {
      const e = pipe();
      take(")");
      return e;
    }
    if (t === "[") {
      if (peek() === "]") {
        take();
        return { t: "arr" };
      }
      const of = pipe();
      take("]");
      return { t: "arr", of };
    }
    if (t === "{") {
      const entries: { key: Node; value: Node }[] = [];
      while (peek() !== "}") {
        const k = take();
        let key: Node;
        if (k === "(") {
          key = pipe();
          take(")");
        } else if (k.startsWith('"')) key = string(k);
        else if (/^[A-Za-z_]/.test(k)) key = { t: "lit", v: k };
        else throw new CompileError(`syntax error, unexpected '${k}'`);
        let value: Node;
        if (peek() === ":") {
          take();
          value = alt();
        } else value = { t: "field", of: { t: "id" }, name: key, opt: false };
        entries.push({ key, value });
        if (peek() === ",") take();
        else break;
      }
      take("}");
      return { t: "obj", entries };
    }
    if (t === "null" || t === "true" || t === "false") return { t: "lit", v: JSON.parse(t) as Json };
    if (/^[A-Za-z_]/.test(t)) {
      const args: Node[] = [];
      if (peek() === "(") {
        take();
        args.push(pipe());
        while (peek() === ";") {
          take();
          args.push(pipe());
        }
        take(")");
      }
      if (!BUILTINS.has(`${t}/${args.length}`)) unsupported(`${t}/${args.length}`);
      return { t: "call", name: t, args };
    }
    throw new CompileError(`syntax error, unexpected '${t}'`);
  };

  const root = pipe();
  if (i < toks.length) throw new CompileError(`syntax error, unexpected '${toks[i]!}'`);
  return root;
}

const BUILTINS = new Set(
  [
    "empty/0",
    "not/0",
    "length/0",
    "keys/0",
    "values/0",
    "sort/0",
    "unique/0",
    "reverse/0",
    "first/0",
    "last/0",
    "add/0",
    "tostring/0",
    "tonumber/0",
    "ascii_downcase/0",
    "ascii_upcase/0",
    "to_entries/0",
    "type/0",
    "select/1",
    "map/1",
    "sort_by/1",
    "unique_by/1",
    "group_by/1",
    "index/1",
    "has/1",
    "test/1",
    "join/1",
    "startswith/1",
    "endswith/1",
    "contains/1",
    "split/1",
    "any/0",
    "all/0",
    "min/0",
    "max/0",
    "first/1",
    "last/1",
  ].map((s) => s),
);

const typeOf = (v: Json): string =>
  v === null ? "null" : Array.isArray(v) ? "array" : typeof v === "object" ? "object" : typeof v;
const truthy = (v: Json): boolean => v !== null && v !== false;
const ORDER = ["null", "boolean", "number", "string", "array", "object"];

function compare(a: Json, b: Json): number {
  const ta = ORDER.indexOf(typeOf(a));
  const tb = ORDER.indexOf(typeOf(b));
  if (ta !== tb) return ta - tb;
  if (typeof a === "number" && typeof b === "number") return a - b;
  if (typeof a === "string" && typeof b === "string") return a < b ? -1 : a > b ? 1 : 0;
  if (typeof a === "boolean" && typeof b === "boolean") return Number(a) - Number(b);
  if (Array.isArray(a) && Array.isArray(b)) {
    for (let k = 0; k < Math.min(a.length, b.length); k++) {
      const c = compare(a[k]!, b[k]!);
      if (c) return c;
    }
    return a.length - b.length;
  }
  return JSON.stringify(a) < JSON.stringify(b) ? -1 : JSON.stringify(a) > JSON.stringify(b) ? 1 : 0;
}

const show = (v: Json): string => {
  const s = JSON.stringify(v);
  return s.length > 11 ? s.slice(0, 10) + "..." : s;
};

/** Steps one stage of a filter may take for one value without a turn of the event loop (some tens of ms). */
const STEPS_PER_STAGE = 40_000;

/** Work done: `steps` left for the input, `chunk` done since the event loop last had a turn. */
interface Budget {
  steps: number;
  chunk: number;
}

/** Counts one step of work (a node evaluated, a value produced); past the budget the filter is stopped. */
function tick(budget: Budget, n = 1): void {
  budget.steps -= n;
  budget.chunk += n;
  if (budget.steps < 0 || budget.chunk > STEPS_PER_STAGE)
    throw new JqError("the filter does too much work for the pod; stopped");
}

function evaluate(n: Node, input: Json, budget: Budget): Json[] {
  const out: Json[] = [];
  tick(budget);
  switch (n.t) {
    case "id":
      out.push(input);
      return out;
    case "lit":
      out.push(n.v);
      return out;
    case "str": {
      let outs = [""];
      for (const p of n.parts) {
        if (typeof p === "string") outs = outs.map((o) => o + p);
        else {
          const next: string[] = [];
          for (const o of outs)
            for (const v of evaluate(p, input, budget)) {
              tick(budget);
              next.push(o + (typeof v === "string" ? v : JSON.stringify(v)));
            }
          outs = next;
        }
      }
      for (const x of outs) out.push(x);
      return out;
    }
    case "field":
      for (const base of evaluate(n.of, input, budget))
        for (const key of evaluate(n.name, input, budget)) {
          if (base === null) out.push(null);
          else if (typeof key === "string" && typeof base === "object" && !Array.isArray(base))
            out.push(base[key] ?? null);
          else if (typeof key === "number" && Array.isArray(base))
            out.push(base[key < 0 ? base.length + Math.trunc(key) : Math.trunc(key)] ?? null);
          else if (!n.opt)
            throw new JqError(
              `Cannot index ${typeOf(base)} with ${typeof key === "string" ? `"${key}"` : typeOf(key)}`,
            );
        }
      return out;
    case "iter":
      for (const base of evaluate(n.of, input, budget)) {
        if (Array.isArray(base) || (base !== null && typeof base === "object"))
          for (const v of Array.isArray(base) ? base : Object.values(base)) {
            tick(budget);
            out.push(v);
          }
        else if (!n.opt)
          throw new JqError(`Cannot iterate over ${typeOf(base)}${base === null ? "" : ` (${show(base)})`}`);
      }
      return out;
    case "slice":
      for (const base of evaluate(n.of, input, budget)) {
        const from = n.from ? [...evaluate(n.from, input, budget)][0] : null;
        const to = n.to ? [...evaluate(n.to, input, budget)][0] : null;
        if (base === null) out.push(null);
        else if (typeof base === "string" || Array.isArray(base))
          out.push(base.slice(typeof from === "number" ? from : 0, typeof to === "number" ? to : undefined));
        else throw new JqError(`Cannot index ${typeOf(base)} with object`);
      }
      return out;
    case "pipe":
      for (const v of evaluate(n.a, input, budget)) for (const x of evaluate(n.b, v, budget)) out.push(x);
      return out;
    case "comma":
      for (const x of evaluate(n.a, input, budget)) out.push(x);
      for (const x of evaluate(n.b, input, budget)) out.push(x);
      return out;
    case "alt": {
      let any = false;
      try {
        for (const v of evaluate(n.a, input, budget))
          if (truthy(v)) {
            any = true;
            out.push(v);
          }
      } catch (e) {
        if (!(e instanceof JqError) || budget.steps < 0 || budget.chunk > STEPS_PER_STAGE) throw e;
      }
      if (!any) for (const x of evaluate(n.b, input, budget)) out.push(x);
      return out;
    }
    case "and":
    case "or":
      for (const a of evaluate(n.a, input, budget)) {
        if (n.t === "and" && !truthy(a)) out.push(false);
        else if (n.t === "or" && truthy(a)) out.push(true);
        else for (const b of evaluate(n.b, input, budget)) out.push(truthy(b));
      }
      return out;
    case "neg":
      for (const a of evaluate(n.a, input, budget)) {
        if (typeof a !== "number") throw new JqError(`${typeOf(a)} (${show(a)}) cannot be negated`);
        out.push(-a);
      }
      return out;
    case "bin":
      for (const b of evaluate(n.b, input, budget))
        for (const a of evaluate(n.a, input, budget)) out.push(binary(n.op, a, b));
      return out;
    case "arr":
      out.push(n.of ? [...evaluate(n.of, input, budget)] : []);
      return out;
    case "obj": {
      let outs: { [k: string]: Json }[] = [{}];
      for (const e of n.entries) {
        const next: { [k: string]: Json }[] = [];
        for (const o of outs)
          for (const k of evaluate(e.key, input, budget)) {
            if (typeof k !== "string") throw new JqError(`Object keys must be strings`);
            for (const v of evaluate(e.value, input, budget)) {
              tick(budget, n.entries.length);
              next.push({ ...o, [k]: v });
            }
          }
        outs = next;
      }
      for (const x of outs) out.push(x);
      return out;
    }
    case "call":
      for (const x of call(n.name, n.args, input, budget)) out.push(x);
      return out;
  }
}

function binary(op: string, a: Json, b: Json): Json {
  switch (op) {
    case "==":
      return compare(a, b) === 0;
    case "!=":
      return compare(a, b) !== 0;
    case "<":
      return compare(a, b) < 0;
    case "<=":
      return compare(a, b) <= 0;
    case ">":
      return compare(a, b) > 0;
    case ">=":
      return compare(a, b) >= 0;
  }
  if (op === "+") {
    if (a === null) return b;
    if (b === null) return a;
    if (typeof a === "number" && typeof b === "number") return a + b;
    if (typeof a === "string" && typeof b === "string") return a + b;
    if (Array.isArray(a) && Array.isArray(b)) return [...a, ...b];
    if (typeOf(a) === "object" && typeOf(b) === "object")
      return { ...(a as object), ...(b as object) } as Json;
  } else if (op === "-") {
    if (typeof a === "number" && typeof b === "number") return a - b;
    if (Array.isArray(a) && Array.isArray(b)) return a.filter((x) => !b.some((y) => compare(x, y) === 0));
  } else if (typeof a === "number" && typeof b === "number") {
    if ((op === "/" || op === "%") && b === 0)
      throw new JqError(
        `${typeOf(a)} (${show(a)}) and ${typeOf(b)} (${show(b)}) cannot be divided because the divisor is zero`,
      );
    return op === "*" ? a * b : op === "/" ? a / b : Math.trunc(a) % Math.trunc(b);
  } else if (op === "/" && typeof a === "string" && typeof b === "string") return a.split(b);
  const verb =
    { "+": "added", "-": "subtracted", "*": "multiplied", "/": "divided", "%": "divided" }[op] ?? op;
  throw new JqError(`${typeOf(a)} (${show(a)}) and ${typeOf(b)} (${show(b)}) cannot be ${verb}`);
}

/** The values of an array or object (what a builtin that takes a list iterates). */
function listOf(input: Json): Json[] {
  if (Array.isArray(input)) return input;
  if (input !== null && typeof input === "object") return Object.values(input);
  throw new JqError(`Cannot iterate over ${typeOf(input)}`);
}

function call(name: string, args: Node[], input: Json, budget: Budget): Json[] {
  const out: Json[] = [];
  const arg = (k: number): Json[] => evaluate(args[k]!, input, budget);
  const list = (): Json[] => listOf(input);
  const by = (f: Node): [Json, Json][] => listOf(input).map((v) => [evaluate(f, v, budget), v]);
  switch (name) {
    case "empty":
      return out;
    case "not":
      out.push(!truthy(input));
      return out;
    case "length":
      if (input === null) out.push(0);
      else if (typeof input === "boolean") throw new JqError(`boolean (${String(input)}) has no length`);
      else if (typeof input === "number") out.push(Math.abs(input));
      else if (typeof input === "string") out.push([...input].length);
      else out.push(Array.isArray(input) ? input.length : Object.keys(input).length);
      return out;
    case "keys":
      if (Array.isArray(input)) out.push(input.map((_, k) => k));
      else if (input !== null && typeof input === "object") out.push(Object.keys(input).sort());
      else throw new JqError(`${typeOf(input)} (${show(input)}) has no keys`);
      return out;
    case "values":
      if (input !== null) out.push(input);
      return out;
    case "sort":
      out.push([...list()].sort(compare));
      return out;
    case "unique":
      out.push([...list()].sort(compare).filter((v, k, a) => k === 0 || compare(a[k - 1]!, v) !== 0));
      return out;
    case "reverse":
      out.push(typeof input === "string" ? [...input].reverse().join("") : [...list()].reverse());
      return out;
    case "first":
      if (args.length) {
        for (const v of evaluate(args[0]!, input, budget)) {
          out.push(v);
          return out;
        }
      } else out.push(list()[0] ?? null);
      return out;
    case "last":
      if (args.length) {
        const all = arg(0);
        if (all.length) out.push(all[all.length - 1]!);
      } else out.push(list().at(-1) ?? null);
      return out;
    case "min":
    case "max": {
      const s = [...list()].sort(compare);
      out.push((name === "min" ? s[0] : s.at(-1)) ?? null);
      return out;
    }
    case "any":
      out.push(list().some(truthy));
      return out;
    case "all":
      out.push(list().every(truthy));
      return out;
    case "add": {
      let acc: Json = null;
      for (const v of list()) acc = binary("+", acc, v);
      out.push(acc);
      return out;
    }
    case "tostring":
      out.push(typeof input === "string" ? input : JSON.stringify(input));
      return out;
    case "tonumber": {
      const v = typeof input === "number" ? input : Number(input);
      if (typeof input !== "number" && (typeof input !== "string" || input.trim() === "" || Number.isNaN(v)))
        throw new JqError(`Cannot parse '${String(input)}' as JSON`);
      out.push(v);
      return out;
    }
    case "ascii_downcase":
    case "ascii_upcase":
      if (typeof input !== "string") throw new JqError(`${name} input must be a string`);
      out.push(name === "ascii_downcase" ? input.toLowerCase() : input.toUpperCase());
      return out;
    case "to_entries":
      if (input === null || typeof input !== "object" || Array.isArray(input))
        throw new JqError(`${typeOf(input)} (${show(input)}) has no keys`);
      out.push(Object.entries(input).map(([key, value]) => ({ key, value })));
      return out;
    case "type":
      out.push(typeOf(input));
      return out;
    case "select":
      for (const c of evaluate(args[0]!, input, budget)) if (truthy(c)) out.push(input);
      return out;
    case "map":
      out.push(list().flatMap((v) => [...evaluate(args[0]!, v, budget)]));
      return out;
    case "sort_by":
      out.push(
        by(args[0]!)
          .sort((x, y) => compare(x[0], y[0]))
          .map((x) => x[1]),
      );
      return out;
    case "unique_by":
    case "group_by": {
      const sorted = by(args[0]!).sort((x, y) => compare(x[0], y[0]));
      const groups: [Json, Json[]][] = [];
      for (const [k, v] of sorted) {
        const g = groups.at(-1);
        if (g && compare(g[0], k) === 0) g[1].push(v);
        else groups.push([k, [v]]);
      }
      out.push(name === "group_by" ? groups.map((g) => g[1]) : groups.map((g) => g[1][0]!));
      return out;
    }
    case "index":
      for (const s of arg(0)) {
        if (typeof input === "string" && typeof s === "string") {
          const k = input.indexOf(s);
          out.push(k < 0 ? null : k);
        } else if (Array.isArray(input)) {
          const k = input.findIndex((v) => compare(v, s) === 0);
          out.push(k < 0 ? null : k);
        } else if (input === null) out.push(null);
        else throw new JqError(`Cannot determine the index of ${typeOf(s)} in ${typeOf(input)}`);
      }
      return out;
    case "has":
      for (const k of arg(0)) {
        if (typeof k === "string" && input !== null && typeof input === "object" && !Array.isArray(input))
          out.push(Object.hasOwn(input, k));
        else if (typeof k === "number" && Array.isArray(input)) out.push(k >= 0 && k < input.length);
        else throw new JqError(`Cannot check whether ${typeOf(input)} has a ${typeOf(k)} key`);
      }
      return out;
    case "test":
      for (const re of arg(0)) {
        if (typeof input !== "string" || typeof re !== "string")
          throw new JqError(`${typeOf(input)} (${show(input)}) cannot be matched, as it is not a string`);
        let compiled: RE2JS;
        try {
          // RE2: linear time, whatever the pattern.
          compiled = RE2JS.compile(re);
        } catch {
          throw new JqError(`${re} (at offset 0) is not a valid regex`);
        }
        out.push(compiled.matcher(input).find());
      }
      return out;
    case "join":
      for (const sep of arg(0)) {
        if (typeof sep !== "string") throw new JqError("join separator must be a string");
        out.push(
          list()
            .map((v) =>
              v === null
                ? ""
                : typeof v === "string"
                  ? v
                  : typeOf(v) === "object" || Array.isArray(v)
                    ? fail(v)
                    : String(v),
            )
            .join(sep),
        );
      }
      return out;
    case "startswith":
    case "endswith":
      for (const s of arg(0)) {
        if (typeof input !== "string" || typeof s !== "string")
          throw new JqError(`${name}() requires string inputs`);
        out.push(name === "startswith" ? input.startsWith(s) : input.endsWith(s));
      }
      return out;
    case "contains":
      for (const s of arg(0)) out.push(contains(input, s));
      return out;
    case "split":
      for (const s of arg(0)) {
        if (typeof input !== "string" || typeof s !== "string")
          throw new JqError("split input and separator must be strings");
        out.push(input.split(s));
      }
      return out;
  }
  throw new JqError(`${name}/${args.length} is not defined`);
}

const fail = (v: Json): never => {
  throw new JqError(`Cannot join with ${typeOf(v)}`);
};

function contains(a: Json, b: Json): boolean {
  if (typeof a === "string" && typeof b === "string") return a.includes(b);
  if (Array.isArray(a) && Array.isArray(b)) return b.every((x) => a.some((y) => contains(y, x)));
  if (
    a !== null &&
    b !== null &&
    typeof a === "object" &&
    typeof b === "object" &&
    !Array.isArray(a) &&
    !Array.isArray(b)
  )
    return Object.entries(b).every(([k, v]) => Object.hasOwn(a, k) && contains(a[k]!, v));
  if (typeOf(a) !== typeOf(b))
    throw new JqError(
      `${typeOf(a)} (${show(a)}) and ${typeOf(b)} (${show(b)}) cannot have their containment checked`,
    );
  return compare(a, b) === 0;
}

/** A filter's pipe as its stages, in order (`a | b | c`). */
function pipeStages(n: Node): Node[] {
  return n.t === "pipe" ? [...pipeStages(n.a), ...pipeStages(n.b)] : [n];
}

/** The JSON values of a text, one after another (jq reads a stream of them). */
function* values(text: string): Generator<Json> {
  let k = 0;
  const ws = /\s*/y;
  while (true) {
    ws.lastIndex = k;
    ws.exec(text);
    k = ws.lastIndex;
    if (k >= text.length) return;
    const end = valueEnd(text, k);
    let v: Json;
    try {
      v = JSON.parse(text.slice(k, end)) as Json;
    } catch {
      throw new JqError(`Cannot parse the input as JSON (at <stdin>:${text.slice(0, k).split("\n").length})`);
    }
    yield v;
    k = end;
  }
}

/** Where the JSON value that starts at `k` ends. */
function valueEnd(text: string, k: number): number {
  const c = text[k];
  if (c === "{" || c === "[") {
    let depth = 0;
    for (let j = k; j < text.length; j++) {
      const d = text[j];
      if (d === '"') {
        for (j++; j < text.length && text[j] !== '"'; j++) if (text[j] === "\\") j++;
      } else if (d === "{" || d === "[") depth++;
      else if (d === "}" || d === "]") {
        if (--depth === 0) return j + 1;
      }
    }
    return text.length;
  }
  if (c === '"') {
    let j = k + 1;
    for (; j < text.length && text[j] !== '"'; j++) if (text[j] === "\\") j++;
    return j + 1;
  }
  const m = /[^\s{}[\]"]+/y;
  m.lastIndex = k;
  m.exec(text);
  return Math.max(m.lastIndex, k + 1);
}

export async function jq(args: string[], io: CmdIO, env: ShellEnv): Promise<number> {
  let raw = false;
  let compact = false;
  let nullInput = false;
  let join = false;
  let slurp = false;
  let exitStatus = false;
  let filter: string | undefined;
  const files: string[] = [];
  for (const a of args) {
    if (filter === undefined && /^-[rcnjseM]+$/.test(a)) {
      raw ||= a.includes("r") || a.includes("j");
      join ||= a.includes("j");
      compact ||= a.includes("c");
      nullInput ||= a.includes("n");
      slurp ||= a.includes("s");
      exitStatus ||= a.includes("e");
    } else if (
      filter === undefined &&
      ["--raw-output", "--compact-output", "--null-input", "--slurp"].includes(a)
    ) {
      raw ||= a === "--raw-output";
      compact ||= a === "--compact-output";
      nullInput ||= a === "--null-input";
      slurp ||= a === "--slurp";
    } else if (filter === undefined && a.startsWith("-") && a !== "-") {
      io.err(
        `jq: Unknown arguments: ${a}\nUse jq --help for help with command-line options,\nor see the jq manpage, or online docs  at https://jqlang.github.io/jq\n`,
      );
      return 2;
    } else if (filter === undefined) filter = a;
    else files.push(a);
  }
  filter ??= ".";
  let program: Node;
  try {
    program = parse(filter);
  } catch (e) {
    if (!(e instanceof CompileError)) throw e;
    io.err(`jq: error: ${e.message} at <top-level>, line 1:\n${filter}\njq: 1 compile error\n`);
    return 3;
  }
  let text = "";
  for (const f of files) {
    const data = env.files.read(pathIn(env, f));
    if (data === undefined) {
      io.err(`jq: error: Could not open ${f}: No such file or directory\n`);
      return 2;
    }
    text += data.toString("utf8");
  }
  if (!files.length) text = io.stdin.toString("utf8");
  const out = (v: Json): void => {
    const s = raw && typeof v === "string" ? v : compact ? JSON.stringify(v) : JSON.stringify(v, null, 2);
    io.out(join ? s : s + "\n");
  };
  let last: Json | undefined;
  try {
    const inputs: Json[] = nullInput ? [null] : slurp ? [[...values(text)]] : [];
    const stream = nullInput || slurp ? inputs : values(text);
    const stages = pipeStages(program);
    for (const input of stream) {
      const budget: Budget = { steps: STEPS_PER_INPUT, chunk: 0 };
      let paid = budget.steps;
      // Stage by stage, value by value (`.items[] | select(…) | …` one flow at a time), with a turn of the event
      // loop whenever a share of work has been done.
      const through = async (k: number, v: Json): Promise<void> => {
        if (k === stages.length) {
          out(v);
          last = v;
          return;
        }
        budget.chunk = 0;
        const vs = evaluate(stages[k]!, v, budget);
        if (paid - budget.steps > 500) {
          await spend((paid - budget.steps) / 5_000, env.signal);
          paid = budget.steps;
        }
        for (const w of vs) await through(k + 1, w);
      };
      await through(0, input);
      await spend(1 / 16, env.signal);
    }
  } catch (e) {
    if (!(e instanceof JqError)) throw e;
    io.err(`jq: error (at <stdin>:0): ${e.message}\n`);
    return 5;
  }
  if (exitStatus) return last === undefined ? 4 : truthy(last) ? 0 : 1;
  return 0;
}
