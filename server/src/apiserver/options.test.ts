import { describe, expect, it } from "vitest";
import { ApiError } from "../store/types.ts";
import { boolParam } from "./options.ts";
import { execRequest } from "./exec.ts";

const q = (s: string): URLSearchParams => new URLSearchParams(s);

describe("boolean query parameters (apimachinery's Convert_Slice_string_To_bool)", () => {
  it("absent is false; 0 and false in any case are false", () => {
    expect(boolParam(q(""), "watch")).toBe(false);
    for (const v of ["0", "false", "False", "FALSE", "fAlSe", "fal\u017fe"])
      expect(boolParam(q(`watch=${encodeURIComponent(v)}`), "watch"), v).toBe(false);
  });

  it("any other value, the empty one and the Python client's True included, is true", () => {
    for (const v of ["true", "True", "TRUE", "1", "t", "yes", "", "2", "no"])
      expect(boolParam(q(`watch=${encodeURIComponent(v)}`), "watch"), v).toBe(true);
    expect(boolParam(q("watch"), "watch")).toBe(true);
  });

  it("the first of repeated values decides", () => {
    expect(boolParam(q("follow=false&follow=true"), "follow")).toBe(false);
    expect(boolParam(q("follow=True&follow=false"), "follow")).toBe(true);
  });

  it("exec takes stdout=True/stderr=True/tty=False from the Python client, and still needs one stream", () => {
    const r = execRequest(q("command=ls&stdout=True&stderr=True&tty=False&stdin=False"), "ns", "p", false);
    expect(r).toMatchObject({ command: ["ls"], tty: false, stdin: false });
    expect(() => execRequest(q("command=ls&stdout=False&stderr=0"), "ns", "p", false)).toThrow(ApiError);
  });
});
