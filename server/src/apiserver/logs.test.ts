import { describe, expect, it } from "vitest";
import { parseRfc3339 } from "./go-time.ts";
import { logOptions } from "./logs.ts";

const q = (s: string) => new URLSearchParams(s);
const fails = (query: string) => {
  try {
    logOptions(q(query), "p");
  } catch (err) {
    const e = err as { code: number; reason: string; message: string };
    return { code: e.code, reason: e.reason, message: e.message };
  }
  throw new Error(`${query} was accepted`);
};

describe("PodLogOptions from the query", () => {
  it("decodes booleans as apimachinery does (Python's True included) and integers as strconv.ParseInt", () => {
    expect(logOptions(q("previous=True&follow=1&timestamps=yes"), "p")).toEqual({
      follow: true,
      previous: true,
      timestamps: true,
    });
    expect(logOptions(q("previous=False&follow=0&timestamps=FALSE"), "p")).toEqual({ follow: false });
    expect(logOptions(q("previous&container=c&tailLines=%2B3&limitBytes=10&sinceSeconds=5"), "p")).toEqual({
      follow: false,
      previous: true,
      container: "c",
      tailLines: 3,
      limitBytes: 10,
      sinceSeconds: 5,
    });
    expect(logOptions(q("sinceTime=2026-01-01T10:00:00%2B02:00"), "p").sinceTime).toBe(
      Date.UTC(2026, 0, 1, 8),
    );
  });

  it("answers what does not decode with a 400 carrying Go's error", () => {
    expect(fails("tailLines=ten")).toEqual({
      code: 400,
      reason: "BadRequest",
      message: 'strconv.ParseInt: parsing "ten": invalid syntax',
    });
    expect(fails("limitBytes=").message).toBe('strconv.ParseInt: parsing "": invalid syntax');
    expect(fails("sinceSeconds=99999999999999999999").message).toBe(
      'strconv.ParseInt: parsing "99999999999999999999": value out of range',
    );
    expect(fails("sinceTime=yesterday").message).toBe(
      'parsing time "yesterday" as "2006-01-02T15:04:05Z07:00": cannot parse "yesterday" as "2006"',
    );
  });

  // pkg/apis/core/validation ValidatePodLogOptions, through errors.NewInvalid
  it("answers invalid values with ValidatePodLogOptions' 422", () => {
    expect(fails("tailLines=-1")).toEqual({
      code: 422,
      reason: "Invalid",
      message:
        'PodLogOptions "p" is invalid: tailLines: Invalid value: -1: must be greater than or equal to 0',
    });
    expect(fails("limitBytes=0&sinceSeconds=0").message).toBe(
      'PodLogOptions "p" is invalid: [limitBytes: Invalid value: 0: must be greater than 0, sinceSeconds: Invalid value: 0: must be greater than 0]',
    );
    expect(fails("sinceSeconds=5&sinceTime=2026-01-01T00:00:00Z").message).toBe(
      'PodLogOptions "p" is invalid: : Forbidden: at most one of `sinceTime` or `sinceSeconds` may be specified',
    );
  });
});

describe("Go's time.Parse(time.RFC3339, …)", () => {
  it.each([
    ["2026-01-01T00:00:00Z", Date.UTC(2026, 0, 1)],
    ["2026-01-01T00:00:00.123456789Z", Date.UTC(2026, 0, 1, 0, 0, 0, 123)],
    ["2026-01-01T01:30:00+01:30", Date.UTC(2026, 0, 1)],
    ["2026-01-01T9:00:00-01:00", Date.UTC(2026, 0, 1, 10)],
    ["0001-01-01T00:00:00Z", -62135596800000],
  ])("%s", (s, ms) => expect(parseRfc3339(s)).toBe(ms));

  const L = '"2006-01-02T15:04:05Z07:00"';
  it.each([
    ["2026-01-01", `parsing time "2026-01-01" as ${L}: cannot parse "" as "T"`],
    ["2026-01-01T00:00:00", `parsing time "2026-01-01T00:00:00" as ${L}: cannot parse "" as "Z07:00"`],
    [
      "2026-1-01T00:00:00Z",
      `parsing time "2026-1-01T00:00:00Z" as ${L}: cannot parse "1-01T00:00:00Z" as "01"`,
    ],
    ["2026-13-01T00:00:00Z", 'parsing time "2026-13-01T00:00:00Z": month out of range'],
    ["2026-02-29T00:00:00Z", 'parsing time "2026-02-29T00:00:00Z": day out of range'],
    ["2026-01-01T24:00:00Z", 'parsing time "2026-01-01T24:00:00Z": hour out of range'],
    ["2026-01-01T00:00:00Zjunk", 'parsing time "2026-01-01T00:00:00Zjunk": extra text: "junk"'],
    [
      "2026-01-01T00:00:00+0100",
      `parsing time "2026-01-01T00:00:00+0100" as ${L}: cannot parse "+0100" as "Z07:00"`,
    ],
    ['é"', `parsing time "\\xc3\\xa9\\"" as ${L}: cannot parse "\\xc3\\xa9\\"" as "2006"`],
  ])("%s", (s, message) =>
    expect(() => parseRfc3339(s)).toThrow(expect.objectContaining({ code: 400, message })),
  );
});
