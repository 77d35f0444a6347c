/**
 * Renders a Helm chart the way `helm template` does, for the subset of Go templates and Helm functions egresslab's
 * chart uses: actions with `{{-`/`-}}` trimming and comments, `define`/`include`, `if`/`else if`/`else`, pipelines,
 * parenthesised calls, and the functions listed in `FUNCS`. Helm itself is not packaged for Debian, so the tests that
 * check the chart use this; anything outside the subset is an error, never a silent pass, so the chart stays within
 * what this renderer and Helm agree on.
 */
import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { parseAllDocuments, parse as parseYaml, stringify } from "yaml";

type Value = unknown;

interface Scope {
  dot: Value;
}

type Node =
  | { kind: "text"; text: string }
  | { kind: "action"; pipe: Pipeline }
  | { kind: "if"; branches: { cond: Pipeline; body: Node[] }[]; otherwise: Node[] };

type Operand =
  | { kind: "field"; path: string[] }
  | { kind: "literal"; value: Value }
  | { kind: "ident"; name: string }
  | { kind: "sub"; pipe: Pipeline };
type Command = Operand[];
type Pipeline = Command[];

/** Splits template text into text and actions, applying the trim markers and dropping comments. */
function lex(src: string, file: string): { kind: "text" | "action"; text: string }[] {
  const out: { kind: "text" | "action"; text: string }[] = [];
  let i = 0;
  let trimNext = false;
  while (i < src.length) {
    const open = src.indexOf("{{", i);
    let text = src.slice(i, open === -1 ? src.length : open);
    if (trimNext) text = text.replace(/^\s+/, "");
    if (open === -1) {
      out.push({ kind: "text", text });
      break;
    }
    const close = src.indexOf("}}", open);
    if (close === -1) throw new Error(`${file}: unclosed action`);
    let body = src.slice(open + 2, close);
    if (body.startsWith("- ")) {
      text = text.replace(/\s+$/, "");
      body = body.slice(2);
    }
    trimNext = body.endsWith(" -");
    if (trimNext) body = body.slice(0, -2);
    out.push({ kind: "text", text });
    body = body.trim();
    if (!(body.startsWith("/*") && body.endsWith("*/"))) out.push({ kind: "action", text: body });
    i = close + 2;
  }
  return out.filter((t) => t.kind === "action" || t.text !== "");
}

/** Tokens of one action: strings, parentheses, pipes and words. */
function tokens(action: string): string[] {
  const out: string[] = [];
  const re = /\s*("(?:[^"\\]|\\.)*"|\(|\)|\||[^\s()|"]+)/y;
  let m: RegExpExecArray | null;
  let end = 0;
  while ((m = re.exec(action))) {
    out.push(m[1]!);
    end = re.lastIndex;
  }
  if (action.slice(end).trim()) throw new Error(`cannot read action {{ ${action} }}`);
  return out;
}

function parsePipeline(toks: string[], pos: { i: number }): Pipeline {
  const pipe: Pipeline = [];
  let cmd: Command = [];
  while (pos.i < toks.length) {
    const t = toks[pos.i++]!;
    if (t === ")") {
      pos.i--;
      break;
    }
    if (t === "|") {
      if (!cmd.length) throw new Error("empty command in pipeline");
      pipe.push(cmd);
      cmd = [];
    } else if (t === "(") {
      cmd.push({ kind: "sub", pipe: parsePipeline(toks, pos) });
      if (toks[pos.i++] !== ")") throw new Error("missing )");
    } else if (t.startsWith('"')) cmd.push({ kind: "literal", value: JSON.parse(t) as string });
    else if (/^-?\d+$/.test(t)) cmd.push({ kind: "literal", value: Number(t) });
    else if (t === "true" || t === "false") cmd.push({ kind: "literal", value: t === "true" });
    else if (t === "nil") cmd.push({ kind: "literal", value: null });
    else if (t === ".") cmd.push({ kind: "field", path: [] });
    else if (t.startsWith(".")) cmd.push({ kind: "field", path: t.slice(1).split(".") });
    else if (/^[A-Za-z][A-Za-z0-9]*$/.test(t)) cmd.push({ kind: "ident", name: t });
    else throw new Error(`unsupported token ${t}`);
  }
  if (cmd.length) pipe.push(cmd);
  return pipe;
}

const pipelineOf = (text: string): Pipeline => parsePipeline(tokens(text), { i: 0 });

/** Builds the tree of one file; `define`d blocks go to `defines`. */
function parse(src: string, file: string, defines: Map<string, Node[]>): Node[] {
  const items = lex(src, file);
  let i = 0;
  const block = (stopAt: string[]): { nodes: Node[]; stop: string } => {
    const nodes: Node[] = [];
    while (i < items.length) {
      const it = items[i++]!;
      if (it.kind === "text") {
        nodes.push({ kind: "text", text: it.text });
        continue;
      }
      const word = it.text.split(/\s+/, 1)[0]!;
      if (stopAt.includes(word)) return { nodes, stop: it.text };
      if (word === "define") {
        const name = /^define\s+"([^"]+)"$/.exec(it.text)?.[1];
        if (!name) throw new Error(`${file}: bad define ${it.text}`);
        const body = block(["end"]);
        defines.set(name, body.nodes);
      } else if (word === "if") {
        const branches: { cond: Pipeline; body: Node[] }[] = [];
        let cond = pipelineOf(it.text.slice(2));
        let otherwise: Node[] = [];
        for (;;) {
          const b = block(["else", "end"]);
          branches.push({ cond, body: b.nodes });
          if (b.stop === "end") break;
          const rest = b.stop.slice(4).trim();
          if (rest.startsWith("if ")) {
            cond = pipelineOf(rest.slice(3));
            continue;
          }
          if (rest) throw new Error(`${file}: unsupported ${b.stop}`);
          otherwise = block(["end"]).nodes;
          break;
        }
        nodes.push({ kind: "if", branches, otherwise });
      } else if (
        ["range", "with", "template", "block", "else", "end"].includes(word) ||
        it.text.includes(":=")
      )
        throw new Error(`${file}: {{ ${it.text} }} is outside the supported subset`);
      else nodes.push({ kind: "action", pipe: pipelineOf(it.text) });
    }
    if (stopAt.length) throw new Error(`${file}: missing {{ end }}`);
    return { nodes, stop: "" };
  };
  return block([]).nodes;
}

const isEmpty = (v: Value): boolean =>
  v === undefined ||
  v === null ||
  v === false ||
  v === 0 ||
  v === "" ||
  (Array.isArray(v) && v.length === 0) ||
  (typeof v === "object" && !Array.isArray(v) && Object.keys(v).length === 0);

/** Go's `%v` for the values a chart prints. */
function show(v: Value): string {
  if (v === undefined || v === null) return "<no value>";
  if (typeof v === "object") throw new Error(`printing a ${Array.isArray(v) ? "list" : "map"}; use toYaml`);
  return String(v);
}

/** Helm's `indent`: every line, empty ones too. */
const indent = (n: number, s: string): string => " ".repeat(n) + s.replaceAll("\n", "\n" + " ".repeat(n));

class Renderer {
  readonly defines = new Map<string, Node[]>();

  private readonly FUNCS: Record<string, (...args: Value[]) => Value> = {
    and: (...a) => a.find((x) => isEmpty(x)) ?? a.at(-1),
    or: (...a) => a.find((x) => !isEmpty(x)) ?? a.at(-1),
    not: (a) => isEmpty(a),
    eq: (a, b) => a === b,
    ne: (a, b) => a !== b,
    gt: (a, b) => Number(a) > Number(b),
    lt: (a, b) => Number(a) < Number(b),
    int: (a) => Math.trunc(Number(a ?? 0)),
    toString: (a: Value) => show(a),
    empty: (a) => isEmpty(a),
    default: (d, v) => (isEmpty(v) ? d : v),
    quote: (v) => JSON.stringify(v === undefined || v === null ? "" : show(v)),
    b64enc: (v) => Buffer.from(show(v)).toString("base64"),
    trunc: (n, s) => show(s).slice(0, Number(n)),
    trimSuffix: (suf, s) => {
      const t = show(s);
      return t.endsWith(show(suf)) ? t.slice(0, -show(suf).length) : t;
    },
    printf: (fmt, ...args) => {
      let k = 0;
      return show(fmt).replace(/%[sdv]/g, () => show(args[k++]));
    },
    indent: (n, s) => indent(Number(n), show(s)),
    nindent: (n, s) => "\n" + indent(Number(n), show(s)),
    toYaml: (v) =>
      isEmpty(v) && typeof v === "object"
        ? Array.isArray(v)
          ? "[]"
          : "{}"
        : stringify(v, { lineWidth: 0 }).replace(/\n$/, ""),
    required: (msg, v) => {
      if (isEmpty(v) && v !== false && v !== 0) throw new Error(show(msg));
      return v;
    },
    fail: (msg) => {
      throw new Error(show(msg));
    },
  };

  private operand(o: Operand, scope: Scope): Value {
    switch (o.kind) {
      case "literal":
        return o.value;
      case "field":
        return o.path.reduce<Value>(
          (v, k) => (v && typeof v === "object" ? (v as Record<string, Value>)[k] : undefined),
          scope.dot,
        );
      case "sub":
        return this.pipeline(o.pipe, scope);
      case "ident":
        return this.call(o.name, [], scope);
    }
  }

  private call(name: string, args: Value[], scope: Scope): Value {
    if (name === "include") {
      const [tpl, dot] = args;
      const body = this.defines.get(show(tpl));
      if (!body) throw new Error(`no template "${show(tpl)}"`);
      return this.nodes(body, { dot: dot ?? scope.dot });
    }
    const f = this.FUNCS[name];
    if (!f) throw new Error(`function ${name} is outside the supported subset`);
    return f(...args);
  }

  pipeline(pipe: Pipeline, scope: Scope): Value {
    let piped: Value = undefined;
    pipe.forEach((cmd, i) => {
      const [head, ...rest] = cmd;
      const extra = i > 0 ? [piped] : [];
      if (head!.kind === "ident")
        piped = this.call(head!.name, [...rest.map((o) => this.operand(o, scope)), ...extra], scope);
      else {
        if (rest.length || extra.length) throw new Error("a value cannot take arguments");
        piped = this.operand(head!, scope);
      }
    });
    return piped;
  }

  nodes(list: Node[], scope: Scope): string {
    let out = "";
    for (const n of list) {
      if (n.kind === "text") out += n.text;
      else if (n.kind === "action") {
        const v = this.pipeline(n.pipe, scope);
        out += v === undefined || v === null ? "" : show(v);
      } else {
        const hit = n.branches.find((b) => !isEmpty(this.pipeline(b.cond, scope)));
        out += this.nodes(hit ? hit.body : n.otherwise, scope);
      }
    }
    return out;
  }
}

/** Merges `over` into `base` as Helm merges `-f`/`--set` values: maps deeply, everything else replaced. */
export function mergeValues(base: Value, over: Value): Value {
  if (!over || typeof over !== "object" || Array.isArray(over)) return over;
  if (!base || typeof base !== "object" || Array.isArray(base)) return over;
  const out: Record<string, Value> = { ...(base as Record<string, Value>) };
  for (const [k, v] of Object.entries(over)) out[k] = mergeValues(out[k], v);
  return out;
}

export interface Rendered {
  /** Every object, in file order. */
  objects: Record<string, unknown>[];
  /** The manifests as `helm template` prints them (documents separated by `---`). */
  yaml: string;
  notes: string;
}

/** `helm template <release> <chartDir> -n <namespace>` with `values` merged over the chart's values.yaml. */
export function renderChart(
  chartDir: string,
  opts: { release: string; namespace: string; values?: Record<string, unknown> },
): Rendered {
  const chart = parseYaml(readFileSync(path.join(chartDir, "Chart.yaml"), "utf8")) as Record<string, string>;
  const values = mergeValues(
    parseYaml(readFileSync(path.join(chartDir, "values.yaml"), "utf8")),
    opts.values ?? {},
  );
  const dot = {
    Values: values,
    Release: { Name: opts.release, Namespace: opts.namespace, Service: "Helm", IsInstall: true },
    Chart: { Name: chart.name, Version: chart.version, AppVersion: chart.appVersion },
  };
  const r = new Renderer();
  const dir = path.join(chartDir, "templates");
  const files = readdirSync(dir).sort();
  const trees = new Map<string, Node[]>();
  for (const f of files) trees.set(f, parse(readFileSync(path.join(dir, f), "utf8"), f, r.defines));
  const docs: string[] = [];
  let notes = "";
  for (const [f, tree] of trees) {
    const text = r.nodes(tree, { dot });
    if (f === "NOTES.txt") notes = text;
    else if (!f.startsWith("_")) docs.push(`# Source: egresslab/templates/${f}\n${text}`);
  }
  const yaml = docs.join("\n---\n");
  const objects: Record<string, unknown>[] = [];
  for (const d of parseAllDocuments(yaml)) {
    if (d.errors.length) throw new Error(`rendered YAML does not parse: ${d.errors[0]!.message}`);
    const o = d.toJS() as Record<string, unknown> | null;
    if (o) objects.push(o);
  }
  return { objects, yaml, notes };
}
