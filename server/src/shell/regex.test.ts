import { describe, expect, it } from "vitest";
import { compileLineRegex, regexWork, RegexError, translatePosix, type RegexOptions } from "./regex.ts";

const basic: RegexOptions = { syntax: "basic" };
const extended: RegexOptions = { syntax: "extended" };

describe("translatePosix", () => {
  // BRE/ERE as GNU grep and BusyBox (musl regcomp) read them.
  it.each([
    ["a\\(b\\)*c", "basic", "a(b)*c"],
    ["a(b)*c", "basic", "a\\(b\\)*c"],
    ["a(b)*c", "extended", "a(b)*c"],
    ["x\\{2,\\}", "basic", "x{2,}"],
    ["x\\{3\\}", "basic", "x{3}"],
    ["x{2,}", "basic", "x\\{2,\\}"],
    ["a{,3}", "extended", "a{0,3}"],
    ["a\\|b", "basic", "a|b"],
    ["a|b", "basic", "a\\|b"],
    ["a\\+b\\?", "basic", "a+b?"],
    ["a+b?", "basic", "a\\+b\\?"],
    ["^*a", "basic", "^\\*a"],
    ["*a", "extended", "\\*a"],
    ["a^b$c", "basic", "a\\^b\\$c"],
    ["\\(^a$\\)", "basic", "(^a$)"],
    ["a**", "extended", "(?:a*)*"],
    ["a{2}{3}", "extended", "(?:a{2}){3}"],
    ["[]a-]", "basic", "[\\x{5d}a\\x{2d}]"],
    ["[^[:digit:]\\]", "basic", "[^[:digit:]\\x{5c}]"],
    ["[[.-.]x]", "extended", "[\\x{2d}x]"],
    ["{1}", "extended", "\\{1\\}"],
    ["a)", "extended", "a\\)"],
    ["\\<foo\\>", "basic", "\\bfoo\\b"],
    ["\\.\\*\\[", "basic", "\\.\\*\\["],
  ] as const)("%s (%s) → %s", (p, syntax, want) => {
    expect(translatePosix(p, syntax)).toBe(want);
  });

  it.each([
    ["\\(a\\)\\1", "basic", /back-references/],
    ["(a)\\1", "extended", /back-references/],
    ["\\(a", "basic", /Unmatched \( or \\\(/],
    ["(a", "extended", /Unmatched \( or \\\(/],
    ["a\\)", "basic", /Unmatched \) or \\\)/],
    ["[abc", "basic", /Unmatched \[/],
    ["[[:nope:]]", "basic", /Invalid character class name/],
    ["[z-a]", "basic", /Invalid range end/],
    ["a\\{3,1\\}", "basic", /Invalid content/],
    ["a\\{1", "basic", /Unmatched \\\{/],
    ["a{99999}", "extended", /too big/],
    ["a\\", "basic", /Trailing backslash/],
    // Perl's lookaround and inline groups are not POSIX: the tool says so instead of crashing.
    ["(?=a)", "extended", /Invalid preceding regular expression/],
    ["(?!a)b", "extended", /Invalid preceding regular expression/],
    ["(?<=a)b", "extended", /Invalid preceding regular expression/],
    ["(*a)", "extended", /Invalid preceding regular expression/],
  ] as const)("%s (%s) is an error", (p, syntax, msg) => {
    expect(() => translatePosix(p, syntax)).toThrow(RegexError);
    expect(() => translatePosix(p, syntax)).toThrow(msg);
  });
});

describe("compileLineRegex", () => {
  it("matches as grep does: classes, -i, -w, -x, fixed strings, several patterns", () => {
    expect(compileLineRegex(["[[:digit:]]\\{3\\}"], basic).test("port 443")).toBe(true);
    expect(compileLineRegex(["[[:digit:]]\\{3\\}"], basic).test("port 80")).toBe(false);
    expect(compileLineRegex(["NGINX"], { ...basic, ignoreCase: true }).test("nginx/1.27")).toBe(true);
    expect(compileLineRegex(["web"], { ...basic, word: true }).test("webapp")).toBe(false);
    expect(compileLineRegex(["web"], { ...basic, word: true }).test("the web app")).toBe(true);
    expect(compileLineRegex(["web"], { ...basic, line: true }).test("web ")).toBe(false);
    expect(compileLineRegex(["a.b"], { syntax: "fixed" }).test("axb")).toBe(false);
    expect(compileLineRegex(["a.b"], { syntax: "fixed" }).test("xa.bx")).toBe(true);
    const two = compileLineRegex(["^x", "y$"], basic);
    expect([two.test("xa"), two.test("ay"), two.test("ax")]).toEqual([true, true, false]);
  });

  it("-o finds the leftmost-longest matches, skipping empty ones", () => {
    const re = compileLineRegex(["a|ab|abc"], extended);
    expect(re.matchAll("abc xab", 1e6).matches).toEqual(["abc", "ab"]);
    expect(compileLineRegex(["x*"], extended).matchAll("axxbx", 1e6).matches).toEqual(["xx", "x"]);
  });

  it("refuses to spend more than the work it is given on one line", () => {
    const re = compileLineRegex(["(a|aa)+$"], extended);
    const line = "a".repeat(5000) + "!";
    expect(() => re.matchAll(line, regexWork(line, re) - 1)).toThrow(/too long for this pattern/);
  });

  it("rejects repetition counts whose product passes RE2's 1000", () => {
    for (const p of ["a{1000}{1000}", "(a{100}){100}", "a{1001}", "((a{10}){10}){11}"])
      expect(() => compileLineRegex([p], extended), p).toThrow(/repetition count too large/);
    expect(compileLineRegex(["(a{10}){10}"], extended).test("a".repeat(100))).toBe(true);
  });

  // Each of these takes exponential time (or a stack overflow) in a backtracking engine on a 5,000-character line
  // that almost matches; RE2 runs it in time linear in the line, bounded by regexWork().
  it.each([
    ["(a+)+$", "extended", false],
    ["(a*)*b", "extended", false],
    ["(a|aa)+$", "extended", false],
    ["(a|a?)+$", "extended", true],
    ["(.*a){12}$", "extended", false],
    ["\\(a*\\)*\\(b\\|c\\)", "basic", false],
    ["^(([a-z])+.)+[A-Z]([a-z])+$", "extended", false],
    ["(a|b|c|d|e|f|g|h|i|j|aa|bb|cc|dd)*z", "extended", false],
    ["(x+x+)+y", "extended", false],
    ["((((((((((a*)*)*)*)*)*)*)*)*)*)*!b", "extended", false],
  ] as const)("pathological %s completes on a 5,000-character line", (p, syntax, matches) => {
    const re = compileLineRegex([p], { syntax });
    const line = (p.startsWith("(x") ? "x" : "a").repeat(5000) + "!";
    expect(re.size).toBeLessThan(200);
    expect(re.test(line)).toBe(matches);
    expect(re.matchAll(line, regexWork(line, re) * 2).matches).toEqual([]);
  });
});
