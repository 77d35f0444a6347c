import { describe, expect, it } from "vitest";
import { formatHelp, parseOptions } from "./options.ts";
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
  it("generates help from the declarations", () => {
    const h = formatHelp("egresslab x", specs);
    expect(h).toContain("--port N");
    expect(h).toContain("env: EL_PORT");
    expect(h).toContain("one of: enterprise, oss");
  });
});
