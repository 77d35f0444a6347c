import { describe, expect, it } from "vitest";
import { ResumeCodes, hashPin, normalizeResumeCode, pinMatches, pinProblem } from "./identity.ts";

describe("resume codes", () => {
  const codes = new ResumeCodes("secret-1");
  it("are 16 unambiguous characters, stable per learner and generation, different otherwise", () => {
    const c = codes.code("l-1", 0);
    expect(c).toMatch(/^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}$/);
    expect(codes.code("l-1", 0)).toBe(c);
    expect(codes.code("l-1", 1)).not.toBe(c);
    expect(codes.code("l-2", 0)).not.toBe(c);
    expect(new ResumeCodes("secret-2").code("l-1", 0)).not.toBe(c);
  });

  it.each([
    { typed: "abcd-efgh-jkmn-pqrs", want: "ABCD-EFGH-JKMN-PQRS" },
    { typed: " ABCD EFGH JKMN PQRS ", want: "ABCD-EFGH-JKMN-PQRS" },
    { typed: "oooo-iiii-llll-0000", want: "0000-1111-1111-0000" },
    { typed: "ABCD-EFGH-JKMN-PQR", want: undefined },
    { typed: "ABCD-EFGH-JKMN-PQRU", want: undefined },
    { typed: "x".repeat(100), want: undefined },
    { typed: 42, want: undefined },
  ])("reads $typed as $want", ({ typed, want }) => {
    expect(normalizeResumeCode(typed)).toBe(want);
  });

  it("hash the same however the code is typed", () => {
    const c = codes.code("l-1", 0);
    expect(codes.hash(normalizeResumeCode(c.toLowerCase().replace(/-/g, " "))!)).toBe(codes.hash(c));
  });
});

describe("PINs", () => {
  it.each([
    { pin: "1234", ok: true },
    { pin: "123456789012", ok: true },
    { pin: "123", ok: false },
    { pin: "1234567890123", ok: false },
    { pin: "12a4", ok: false },
    { pin: 1234, ok: false },
  ])("$pin is acceptable: $ok", ({ pin, ok }) => {
    expect(pinProblem(pin) === undefined).toBe(ok);
  });

  it("are stored as salted scrypt hashes and match only themselves", async () => {
    const a = await hashPin("2468");
    const b = await hashPin("2468");
    expect(a).toMatch(/^scrypt\$16384\$8\$1\$/);
    expect(a).not.toContain("2468");
    expect(a).not.toBe(b);
    expect(await pinMatches("2468", a)).toBe(true);
    expect(await pinMatches("2469", a)).toBe(false);
    expect(await pinMatches("2468", "sha256$abc")).toBe(false);
  });
});
