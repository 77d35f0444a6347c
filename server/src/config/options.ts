/**
 * One typed way to declare a command's options: type, default, environment variable and description, declared once.
 * Precedence: command line > environment > defaults. `--help` text is generated from the declarations.
 * This is the only module that reads `process.env`.
 */
import { ValidationError, type Problem } from "../shared/errors.ts";

export type OptionType = "string" | "number" | "boolean" | "list";

export interface OptionSpec {
  type: OptionType;
  description: string;
  default?: string | number | boolean | string[];
  /** Environment variable that supplies the value when the flag is absent. */
  env?: string;
  /** One-letter alias, e.g. `f` for `-f`. */
  short?: string;
  /** Allowed values (for strings). */
  choices?: readonly string[];
  /** Placeholder shown in help, e.g. `N`, `FILE`. */
  arg?: string;
}

export type OptionSpecs = Record<string, OptionSpec>;

type ValueOf<S extends OptionSpec> = S["type"] extends "number"
  ? number
  : S["type"] extends "boolean"
    ? boolean
    : S["type"] extends "list"
      ? string[]
      : string;

export type ParsedOptions<S extends OptionSpecs> = {
  [K in keyof S]: S[K]["default"] extends undefined ? ValueOf<S[K]> | undefined : ValueOf<S[K]>;
} & { _: string[]; help: boolean };

const TRUE_WORDS = ["1", "true", "yes", "on"];
const FALSE_WORDS = ["0", "false", "no", "off"];
const BOOLEAN_WORDS = "1/0, true/false, yes/no, on/off";

/** A boolean written as 1/0, true/false, yes/no or on/off (any case); undefined for anything else. */
export function parseBoolean(raw: string): boolean | undefined {
  const w = raw.trim().toLowerCase();
  if (TRUE_WORDS.includes(w)) return true;
  if (FALSE_WORDS.includes(w)) return false;
  return undefined;
}

/** Optimal string alignment distance (Levenshtein plus adjacent transpositions): how far a typo is from a name. */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  return d[a.length]![b.length]!;
}

/**
 * The candidate nearest to `typed`, when it is near enough to be what was meant: within a third of its length in
 * edits (at least 1, at most 3), or a unique name that starts with what was typed. Undefined otherwise.
 */
export function nearest(typed: string, candidates: readonly string[]): string | undefined {
  const t = typed.toLowerCase();
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const dist = editDistance(t, c.toLowerCase());
    if (dist < bestD) [best, bestD] = [c, dist];
  }
  if (best !== undefined && bestD <= Math.min(3, Math.max(1, Math.floor(best.length / 3)))) return best;
  const prefixed = t.length >= 2 ? candidates.filter((c) => c.toLowerCase().startsWith(t)) : [];
  return prefixed.length === 1 ? prefixed[0] : undefined;
}

function unknownOption(typed: string, specs: OptionSpecs): string {
  if (typed.length === 1) {
    const shorts = Object.values(specs).flatMap((s) => (s.short ? [s.short] : []));
    return shorts.length
      ? `unknown option (short options: ${shorts.map((s) => `-${s}`).join(", ")})`
      : "unknown option";
  }
  const guess = nearest(typed, [...Object.keys(specs), "help"]);
  return guess ? `unknown option; did you mean --${guess}?` : "unknown option";
}

/** Parses `argv` against `specs`. Unknown flags and bad values are collected and thrown together. */
export function parseOptions<S extends OptionSpecs>(
  specs: S,
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): ParsedOptions<S> {
  const problems: Problem[] = [];
  const out: Record<string, unknown> = { _: [], help: false };
  const byShort = new Map<string, string>();
  for (const [name, spec] of Object.entries(specs)) if (spec.short) byShort.set(spec.short, name);
  const seen = new Set<string>();

  const assign = (name: string, raw: string | undefined, from: string): void => {
    const spec = specs[name]!;
    if (spec.type === "boolean") {
      const b = raw === undefined ? true : parseBoolean(raw);
      if (b === undefined)
        problems.push({ where: from, message: `expects one of ${BOOLEAN_WORDS}; got "${raw}"` });
      else out[name] = b;
      return;
    }
    if (raw === undefined) {
      problems.push({ where: from, message: `needs a value${spec.arg ? ` (${spec.arg})` : ""}` });
      return;
    }
    if (spec.type === "number") {
      const n = Number(raw);
      if (raw.trim() === "" || !Number.isFinite(n))
        problems.push({ where: from, message: `expects a number, got "${raw}"` });
      else out[name] = n;
    } else if (spec.type === "list") {
      const prev = seen.has(name) && Array.isArray(out[name]) ? (out[name] as string[]) : [];
      out[name] = [...prev, raw];
    } else {
      if (spec.choices && !spec.choices.includes(raw))
        problems.push({ where: from, message: `must be one of ${spec.choices.join(", ")}; got "${raw}"` });
      else out[name] = raw;
    }
    seen.add(name);
  };

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") {
      (out._ as string[]).push(...argv.slice(i + 1));
      break;
    }
    if (arg === "-h" || arg === "--help") {
      out.help = true;
      continue;
    }
    let name: string | undefined;
    let value: string | undefined;
    if (arg.startsWith("--")) {
      const eq = arg.indexOf("=");
      name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
      value = eq >= 0 ? arg.slice(eq + 1) : undefined;
      if (!(name in specs) && name.startsWith("no-") && specs[name.slice(3)]?.type === "boolean") {
        out[name.slice(3)] = false;
        seen.add(name.slice(3));
        continue;
      }
    } else if (arg.startsWith("-") && arg.length > 1 && !/^-\d/.test(arg)) {
      name = byShort.get(arg.slice(1, 2));
      if (!name) {
        problems.push({ where: arg, message: unknownOption(arg.slice(1, 2), specs) });
        continue;
      }
      value = arg.length > 2 ? arg.slice(2) : undefined;
    } else {
      (out._ as string[]).push(arg);
      continue;
    }
    const spec = specs[name];
    if (!spec) {
      problems.push({ where: `--${name}`, message: unknownOption(name, specs) });
      continue;
    }
    if (value === undefined && spec.type !== "boolean") {
      const next = argv[i + 1];
      if (next !== undefined && !(next.startsWith("-") && next.length > 1 && !/^-\d/.test(next))) {
        value = next;
        i++;
      }
    }
    assign(name, value, `--${name}`);
  }

  for (const [name, spec] of Object.entries(specs)) {
    if (seen.has(name) || name in out) continue;
    const fromEnv = spec.env ? env[spec.env] : undefined;
    if (fromEnv !== undefined && fromEnv !== "") {
      if (spec.type === "list") out[name] = fromEnv.split(",").filter(Boolean);
      else assign(name, fromEnv, spec.env!);
    } else if (spec.default !== undefined) out[name] = spec.default;
  }
  if (problems.length) throw new ValidationError(problems);
  return out as ParsedOptions<S>;
}

/** Help text generated from the declarations. */
export function formatHelp(usage: string, specs: OptionSpecs): string {
  const rows = Object.entries(specs).map(([name, s]) => {
    const flag = `${s.short ? `-${s.short}, ` : "    "}--${name}${s.type === "boolean" ? "" : ` ${s.arg ?? s.type.toUpperCase()}`}`;
    const extra = [
      s.choices ? `one of: ${s.choices.join(", ")}` : "",
      s.default !== undefined && s.default !== false ? `default: ${String(s.default)}` : "",
      s.env ? `env: ${s.env}` : "",
    ]
      .filter(Boolean)
      .join("; ");
    return [flag, s.description + (extra ? ` (${extra})` : "")] as const;
  });
  const width = Math.max(0, ...rows.map(([f]) => f.length)) + 2;
  return [
    `Usage: ${usage}`,
    "",
    "Options:",
    ...rows.map(([f, d]) => `  ${f.padEnd(width)}${d}`),
    "  -h, --help".padEnd(width + 2) + "Show this help",
  ].join("\n");
}

/** The environment, for the few places outside this module that need to pass it on (child processes). */
export function environment(): NodeJS.ProcessEnv {
  return process.env;
}
