import { describe, expect, it } from "vitest";
import { editDistance, formatHelp, nearest, parseBoolean, parseOptions } from "./options.ts";
import { ValidationError } from "../shared/errors.ts";

const specs = {
  port: { type: "number", description: "Port", default: 3000, env: "EL_PORT", arg: "N" },
  file: { type: "list", description: "Files", short: "f", arg: "PATH" },
  edition: { type: "string", description: "Edition", choices: ["enterprise", "oss"], default: "enterprise" },
  local: { type: "boolean", description: "Local", default: false },
} as const;

describe("parseOptions", () => {
  it("takes flags over the environment over defaults", () => {
    expect(parseOptions(specs, [], {}).port).toBe(3000);
    expect(parseOptions(specs, [], { EL_PORT: "4000" }).port).toBe(4000);
    expect(parseOptions(specs, ["--port", "5000"], { EL_PORT: "4000" }).port).toBe(5000);
    expect(parseOptions(specs, ["--port=6000"], {}).port).toBe(6000);
  });
  it("collects repeated list flags and short aliases", () => {
    const o = parseOptions(specs, ["-f", "a.yaml", "--file", "b.yaml", "-fc.yaml", "rest"], {});
    expect(o.file).toEqual(["a.yaml", "b.yaml", "c.yaml"]);
    expect(o._).toEqual(["rest"]);
  });
  it("reports every bad flag at once", () => {
    try {
      parseOptions(specs, ["--nope", "--port", "x", "--edition", "free"], {});
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ValidationError);
      expect((e as ValidationError).problems.map((p) => p.where)).toEqual(["--nope", "--port", "--edition"]);
    }
  });
  it("parses booleans with --no- prefix", () => {
    expect(parseOptions(specs, ["--local"], {}).local).toBe(true);
    expect(parseOptions(specs, ["--no-local"], {}).local).toBe(false);
  });
  it("reads booleans as 1/0, true/false, yes/no, on/off from the environment and --flag=value", () => {
    const env = { type: "boolean", description: "x", env: "EL_X", default: false } as const;
    const cases: [string, boolean][] = [
      ["1", true],
      ["0", false],
      ["true", true],
      ["FALSE", false],
      ["yes", true],
      ["No", false],
      ["on", true],
      ["off", false],
    ];
    for (const [raw, want] of cases) {
      expect(parseOptions({ x: env }, [], { EL_X: raw }).x, raw).toBe(want);
      expect(parseOptions({ x: env }, [`--x=${raw}`], {}).x, raw).toBe(want);
    }
    expect(() => parseOptions({ x: env }, [], { EL_X: "maybe" })).toThrow(
      /EL_X: expects one of 1\/0, true\/false/,
    );
    expect(() => parseOptions({ x: env }, [], { EL_X: "2" })).toThrow(ValidationError);
  });
  it("suggests the nearest option for a typo, and none for something unrelated", () => {
    const problem = (argv: string[]): string => {
      try {
        parseOptions(specs, argv, {});
      } catch (e) {
        return (e as ValidationError).problems.map((p) => `${p.where}: ${p.message}`).join("\n");
      }
      return "";
    };
    expect(problem(["--prot", "1"])).toBe("--prot: unknown option; did you mean --port?");
    expect(problem(["--edtion", "oss"])).toBe("--edtion: unknown option; did you mean --edition?");
    expect(problem(["--lcoal"])).toBe("--lcoal: unknown option; did you mean --local?");
    expect(problem(["--hepl"])).toBe("--hepl: unknown option; did you mean --help?");
    expect(problem(["--ed"])).toBe("--ed: unknown option; did you mean --edition?");
    expect(problem(["--kubeconfig", "x"])).toBe("--kubeconfig: unknown option");
    expect(problem(["-z"])).toBe("-z: unknown option (short options: -f)");
  });
  it("measures edits with transpositions and refuses far guesses", () => {
    expect(editDistance("host", "hsot")).toBe(1);
    expect(editDistance("", "abc")).toBe(3);
    expect(editDistance("join-code", "joincode")).toBe(1);
    expect(nearest("jion-code", ["join-code", "port"])).toBe("join-code");
    expect(nearest("xyz", ["port", "host"])).toBeUndefined();
    expect(parseBoolean(" Yes ")).toBe(true);
    expect(parseBoolean("y")).toBeUndefined();
  });
  it("generates help from the declarations", () => {
    const h = formatHelp("egresslab x", specs);
    expect(h).toContain("--port N");
    expect(h).toContain("env: EL_PORT");
    expect(h).toContain("one of: enterprise, oss");
  });
});
