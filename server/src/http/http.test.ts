import { describe, expect, it } from "vitest";
import { parseCookies, sessionCookieHeader } from "./cookies.ts";
import { toWire } from "./errors.ts";
import { sameOrigin } from "./security.ts";
import { EgresslabError, NotFoundError, ValidationError } from "../shared/errors.ts";

describe("cookies", () => {
  it.each([
    { header: undefined, want: {} },
    { header: "a=1; b=2", want: { a: "1", b: "2" } },
    { header: "a=1; a=2", want: { a: "1" } },
    { header: 'x="quoted%20v"; junk; =nope', want: { x: "quoted v" } },
    { header: "bad=%E0%A4%A", want: { bad: "%E0%A4%A" } },
  ])("parses $header", ({ header, want }) => {
    expect(parseCookies(header)).toEqual(want);
  });

  it("sets an httpOnly, SameSite=Lax session cookie, Secure only over TLS, and clears it", () => {
    expect(sessionCookieHeader("t/k", false)).toBe(
      "egresslab_session=t%2Fk; Max-Age=2592000; Path=/; HttpOnly; SameSite=Lax",
    );
    expect(sessionCookieHeader("t", true)).toContain("; Secure");
    expect(sessionCookieHeader(undefined, false)).toMatch(/^egresslab_session=; Max-Age=0;/);
  });
});

describe("toWire", () => {
  it.each([
    {
      err: new ValidationError([{ where: "name", message: "enter your name" }]),
      status: 400,
      code: "invalid",
    },
    { err: new NotFoundError("no stage 9"), status: 404, code: "not-found" },
    { err: new EgresslabError("rate-limited", "slow down"), status: 429, code: "rate-limited" },
    { err: new EgresslabError("unauthorized", "join again"), status: 401, code: "unauthorized" },
    { err: Object.assign(new Error("x"), { type: "entity.too.large" }), status: 413, code: "too-large" },
    { err: new TypeError("boom at /srv/secret.ts"), status: 500, code: "internal" },
  ])("maps $code to HTTP $status", ({ err, status, code }) => {
    const w = toWire(err);
    expect(w.status).toBe(status);
    expect(w.body.code).toBe(code);
  });

  it("never leaks an unexpected error's message, and lists validation problems", () => {
    expect(toWire(new TypeError("boom at /srv/secret.ts")).body.message).not.toContain("secret");
    expect(
      toWire(
        new ValidationError([
          { where: "a", message: "x" },
          { where: "b", message: "y" },
        ]),
      ).body.problems,
    ).toHaveLength(2);
  });
});

describe("sameOrigin", () => {
  it.each([
    { origin: undefined, host: "h:1", ok: true },
    { origin: "http://h:1", host: "h:1", ok: true },
    { origin: "https://evil.example", host: "h:1", ok: false },
    { origin: "not a url", host: "h:1", ok: false },
  ])("$origin on $host → $ok", ({ origin, host, ok }) => {
    expect(sameOrigin(origin, host)).toBe(ok);
  });
});
