/**
 * Go's `time.Parse(time.RFC3339, s)`, which the API server uses for time query parameters (`sinceTime`), with its
 * error texts: `parsing time "x" as "2006-01-02T15:04:05Z07:00": cannot parse "x" as "2006"`, `…: month out of range`,
 * `…: extra text: "…"`. Follows the general parser of Go's `time/format.go` (what a value the fast path refuses
 * falls back to), element by element.
 */
import { ApiError } from "../store/types.ts";

const LAYOUT = "2006-01-02T15:04:05Z07:00";

/** Go's `time.quote`: ASCII as is (`"` and `\` escaped), every other byte as `\xNN`. */
function quote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (c < 0x20 || c >= 0x80)
      for (const b of Buffer.from(ch)) out += `\\x${b.toString(16).padStart(2, "0")}`;
    else out += ch === '"' || ch === "\\" ? `\\${ch}` : ch;
  }
  return out + '"';
}

const isDigit = (s: string, i: number): boolean => i < s.length && s[i]! >= "0" && s[i]! <= "9";

/** Go's `getnum`: one or two digits (two when `fixed`). */
function getnum(s: string, fixed: boolean): [number, string] | undefined {
  if (!isDigit(s, 0)) return undefined;
  if (!isDigit(s, 1)) return fixed ? undefined : [Number(s[0]), s.slice(1)];
  return [Number(s.slice(0, 2)), s.slice(2)];
}

function daysIn(month: number, year: number): number {
  const t = new Date(0);
  t.setUTCFullYear(year, month, 0);
  return t.getUTCDate();
}

/** Milliseconds since the epoch of an RFC 3339 time, or the API server's 400 with Go's parse error. */
export function parseRfc3339(value: string): number {
  const fail = (message: string): ApiError =>
    new ApiError(400, "BadRequest", `parsing time ${quote(value)}${message}`);
  const cannot = (elem: string, layoutElem: string): ApiError =>
    fail(` as ${quote(LAYOUT)}: cannot parse ${quote(elem)} as ${quote(layoutElem)}`);
  let v = value;
  const literal = (c: string): void => {
    if (v[0] !== c) throw cannot(v, c);
    v = v.slice(1);
  };
  const range = (what: string): ApiError => fail(`: ${what} out of range`);

  if (!/^[0-9]{4}/.test(v)) throw cannot(v, "2006");
  const year = Number(v.slice(0, 4));
  v = v.slice(4);
  literal("-");
  let hold = v;
  const mo = getnum(v, true);
  if (!mo) throw cannot(hold, "01");
  [, v] = mo;
  if (mo[0] < 1 || mo[0] > 12) throw range("month");
  literal("-");
  hold = v;
  const d = getnum(v, true);
  if (!d) throw cannot(hold, "02");
  [, v] = d;
  literal("T");
  hold = v;
  const h = getnum(v, false);
  if (!h) throw cannot(hold, "15");
  [, v] = h;
  if (h[0] >= 24) throw range("hour");
  literal(":");
  hold = v;
  const mi = getnum(v, true);
  if (!mi) throw cannot(hold, "04");
  [, v] = mi;
  if (mi[0] >= 60) throw range("minute");
  literal(":");
  hold = v;
  const se = getnum(v, true);
  if (!se) throw cannot(hold, "05");
  [, v] = se;
  if (se[0] >= 60) throw range("second");
  let ms = 0;
  if (v.length >= 2 && (v[0] === "." || v[0] === ",") && isDigit(v, 1)) {
    let n = 2;
    while (isDigit(v, n)) n++;
    ms = Math.floor(Number(`0.${v.slice(1, Math.min(n, 10))}`) * 1000);
    v = v.slice(n);
  }
  hold = v;
  let offsetMin = 0;
  if (v[0] === "Z") v = v.slice(1);
  else {
    if (v.length < 6 || v[3] !== ":") throw cannot(hold, "Z07:00");
    const hr = getnum(v.slice(1, 3), true);
    const mm = getnum(v.slice(4, 6), true);
    if (!hr || !mm) throw cannot(hold, "Z07:00");
    if (hr[0] > 24) throw range("time zone offset hour");
    if (mm[0] > 60) throw range("time zone offset minute");
    if (v[0] !== "+" && v[0] !== "-") throw cannot(hold, "Z07:00");
    offsetMin = (v[0] === "-" ? -1 : 1) * (hr[0] * 60 + mm[0]);
    v = v.slice(6);
  }
  if (v.length) throw fail(`: extra text: ${quote(v)}`);
  if (d[0] < 1 || d[0] > daysIn(mo[0], year)) throw range("day");
  const t = new Date(0);
  // setUTCFullYear, unlike Date.UTC, keeps years below 100 as they are.
  t.setUTCFullYear(year, mo[0] - 1, d[0]);
  t.setUTCHours(h[0], mi[0], se[0], ms);
  return t.getTime() - offsetMin * 60_000;
}
