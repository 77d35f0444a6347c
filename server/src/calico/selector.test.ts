import { describe, expect, it } from "vitest";
import { SelectorParseError, parseSelector, prefixLabels } from "./selector.ts";
import { loadVectors } from "./testdata/vectors.ts";

interface MatchVector {
  selector: string;
  labels: Record<string, string>;
  expected: boolean;
}
interface Extra {
  canonicalisation: { input: string; canonical: string }[];
  tokenizer: { input: string; tokens: { kind: string; value?: string }[] }[];
}

const matches = loadVectors<MatchVector[]>("calico-selector-vectors.json");
const bad = loadVectors<{ selector: string }[]>("calico-selector-parse-errors.json");
const extra = loadVectors<Extra>("calico-selector-extra.json");

describe("B.3: selector vectors from Calico's parser tests", () => {
  it("has the upstream vectors", () => {
    expect(matches.length).toBeGreaterThanOrEqual(98);
  });
  it.each(matches.map((v) => [v.selector, JSON.stringify(v.labels), v.expected, v] as const))(
    "%s on %s → %s",
    (_s, _l, expected, v) => {
      const sel = parseSelector(v.selector);
      expect(sel.matches(v.labels)).toBe(expected);
      // The canonical form means the same thing.
      expect(parseSelector(sel.toString()).matches(v.labels)).toBe(expected);
    },
  );
});

describe("B.1/B.2: selectors that must not parse", () => {
  it.each(bad.map((v) => [v.selector] as const))("%s", (s) => {
    let err: unknown;
    try {
      parseSelector(s);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SelectorParseError);
    const pe = err as SelectorParseError;
    expect(pe.position).toBeGreaterThanOrEqual(0);
    expect(pe.position).toBeLessThanOrEqual(s.length);
    expect(pe.problems[0]?.message).toMatch(/position \d+/);
  });
});

describe("B.4: canonical form", () => {
  it.each(extra.canonicalisation.map((v) => [v.input, v.canonical] as const))(
    "%j → %j",
    (input, canonical) => {
      expect(parseSelector(input).toString()).toBe(canonical);
      expect(parseSelector(canonical).toString()).toBe(canonical);
    },
  );
});

describe("B.1: tokenizer vectors parse (or fail) consistently", () => {
  // Inputs with a label in value position are tokenizer-valid but parser-invalid.
  it.each(extra.tokenizer.map((v) => [v.input, v] as const))("%s", (input, v) => {
    const parserValid =
      !v.tokens.some(
        (t, i) =>
          t.kind === "TokLabel" &&
          i > 0 &&
          v.tokens[i - 1]?.kind !== "TokAnd" &&
          v.tokens[i - 1]?.kind !== "TokOr" &&
          v.tokens[i - 1]?.kind !== "TokNot" &&
          v.tokens[i - 1]?.kind !== "TokLParen",
      ) &&
      !v.tokens.some(
        (t, i) => (t.kind === "TokIn" || t.kind === "TokNotIn") && v.tokens[i + 1]?.kind !== "TokLBrace",
      );
    if (parserValid) expect(() => parseSelector(input)).not.toThrow();
    else expect(() => parseSelector(input)).toThrow(SelectorParseError);
  });
});

describe("B: specific behaviours", () => {
  const table: [string, Record<string, string>, boolean][] = [
    ['a != "a"', {}, true],
    ['!a in {"a"}', { a: "b" }, true],
    ['!a == "x" && b == "y"', { b: "y" }, true],
    ["!!has(b)", { b: "" }, true],
    ["has(b)", { b: "" }, true],
    ['a not in {"x"}', {}, true],
    ["a in {}", { a: "" }, false],
    ["a not in {}", { a: "" }, true],
    ['a contains "b"', { a: "abc" }, true],
    ['a starts with "ab"', { a: "abc" }, true],
    ['a startswith "b"', { a: "abc" }, false],
    ['a ends with "bc"', { a: "abc" }, true],
    ['a endswith "BC"', { a: "abc" }, false],
    ["global()", {}, true],
    ["", { x: "y" }, true],
    ["   ", {}, true],
    ['contains contains "x"', { contains: "axb" }, true],
    ['a in {"a",}', { a: "a" }, true],
    ['constructor == "x"', {}, false],
  ];
  it.each(table)("%s on %j → %s", (s, labels, expected) => {
    expect(parseSelector(s).matches(labels)).toBe(expected);
  });

  it("B.4: empty and whitespace-only selectors are all()", () => {
    expect(parseSelector("").toString()).toBe("all()");
    expect(parseSelector(" \t").toString()).toBe("all()");
  });

  it("B.1: a 512-character label is fine, 513 is too long", () => {
    expect(() => parseSelector(`${"a".repeat(512)} == "v"`)).not.toThrow();
    expect(() => parseSelector(`${"a".repeat(513)} == "v"`)).toThrow(/too long/);
  });

  it("B.1: newlines are not whitespace", () => {
    expect(() => parseSelector('a == "b"\n')).toThrow(SelectorParseError);
  });

  it("reports where and what was expected", () => {
    try {
      parseSelector('app == "web" && tier');
      expect.unreachable();
    } catch (e) {
      const pe = e as SelectorParseError;
      expect(pe.position).toBe(20);
      expect(pe.reason).toMatch(/expected an operator/);
    }
    try {
      parseSelector("app == web");
      expect.unreachable();
    } catch (e) {
      const pe = e as SelectorParseError;
      expect(pe.position).toBe(7);
      expect(pe.reason).toMatch(/quoted string/);
    }
    try {
      parseSelector("a = 'b'");
      expect.unreachable();
    } catch (e) {
      expect((e as SelectorParseError).position).toBe(2);
    }
  });

  it("A.6: prefixing labels matches the upstream rendering", () => {
    const sel = prefixLabels(parseSelector("!has(key) || (has(key) && !key in {'value'})"), "pcns.");
    expect(sel.toString()).toBe('(!has(pcns.key) || (has(pcns.key) && !pcns.key in {"value"}))');
  });

  it("label restrictions say what every match needs", () => {
    const r = parseSelector("app == 'a' && (env in {'x','y'} || env == 'z') && !has(q)").labelRestrictions();
    expect(r.get("app")).toEqual({ mustBePresent: true, mustBeAbsent: false, oneOf: ["a"] });
    expect(r.get("env")?.oneOf?.sort()).toEqual(["x", "y", "z"]);
    expect(r.get("q")?.mustBeAbsent).toBe(true);
    expect(parseSelector("a == 'x' || has(b)").labelRestrictions().size).toBe(0);
  });
});

describe("selectors that would hold the server", () => {
  it.each([
    ["100,000 (", "(".repeat(100000)],
    ["65 nested groups", `${"(".repeat(65)}a == "b"${")".repeat(65)}`],
    ["a selector past 64 KiB", `a in {${'"x",'.repeat(20000)}"x"}`],
  ])("refuses %s with a parse error", (_name, src) => {
    expect(() => parseSelector(src)).toThrow(SelectorParseError);
  });
  it("still parses nesting up to the limit", () => {
    const sel = parseSelector(`${"(".repeat(64)}a == "b"${")".repeat(64)}`);
    expect(sel.matches({ a: "b" })).toBe(true);
  });
});
