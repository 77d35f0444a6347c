/**
 * What lets an attendee come back from another browser or device: a personal resume code, or the workshop's join
 * code with their name and a PIN they chose. Both are attacker input: codes are compared by hash in constant time,
 * PINs are stored only as scrypt hashes (computed off the event loop), and guessing is rate-limited by the caller.
 */
import { createHmac, randomBytes, scrypt, timingSafeEqual } from "node:crypto";
import type { Problem } from "../shared/errors.ts";
import { hashToken } from "./tokens.ts";

/** Crockford's base32: no I, L, O or U, so a code read aloud or typed from a screen is not misread. */
const alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const codeChars = 16;

/**
 * Resume codes: 80 bits derived from the server's secret and the learner (HMAC), so the page can show a learner their
 * code at any time while the database keeps only its hash. A new generation makes a new code and retires the old.
 */
export class ResumeCodes {
  constructor(private readonly secret: string) {}

  /** The code of `learnerId` at `generation`, as `XXXX-XXXX-XXXX-XXXX`. */
  code(learnerId: string, generation: number): string {
    const mac = createHmac("sha256", this.secret).update(`resume\0${learnerId}\0${generation}`).digest();
    let bits = 0;
    let acc = 0;
    let out = "";
    for (const byte of mac) {
      acc = (acc << 8) | byte;
      bits += 8;
      while (bits >= 5 && out.length < codeChars) {
        out += alphabet[(acc >>> (bits - 5)) & 31];
        bits -= 5;
      }
      acc &= (1 << bits) - 1;
      if (out.length === codeChars) break;
    }
    return out.match(/.{4}/g)!.join("-");
  }

  /** The stored form of a code (its hash). */
  hash(code: string): string {
    return hashToken(code.replace(/-/g, ""));
  }
}

/**
 * A typed code in canonical form (upper case; spaces and dashes dropped; O read as 0, I and L as 1), or undefined
 * when it cannot be a resume code, so malformed guesses never reach the database.
 */
export function normalizeResumeCode(input: unknown): string | undefined {
  if (typeof input !== "string" || input.length > 64) return undefined;
  const s = input.toUpperCase().replace(/[\s-]/g, "").replace(/O/g, "0").replace(/[IL]/g, "1");
  if (s.length !== codeChars) return undefined;
  for (const c of s) if (!alphabet.includes(c)) return undefined;
  return s.match(/.{4}/g)!.join("-");
}

/** A PIN is 4 to 12 digits. */
export function pinProblem(pin: unknown): Problem | undefined {
  if (typeof pin !== "string" || !/^\d{4,12}$/.test(pin))
    return { where: "pin", message: "a PIN is 4 to 12 digits" };
  return undefined;
}

const N = 16384;
const r = 8;
const p = 1;
const keyLength = 32;

function derive(pin: string, salt: Buffer, n: number, rr: number, pp: number): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(pin, salt, keyLength, { N: n, r: rr, p: pp, maxmem: 64 * 1024 * 1024 }, (err, key) =>
      err ? reject(err) : resolve(key),
    ),
  );
}

/** The stored form of a PIN: `scrypt$N$r$p$salt$key` (base64url), salted per learner. */
export async function hashPin(pin: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(pin, salt, N, r, p);
  return ["scrypt", N, r, p, salt.toString("base64url"), key.toString("base64url")].join("$");
}

/** True when `pin` is the one `stored` was made from (constant-time comparison). */
export async function pinMatches(pin: string, stored: string): Promise<boolean> {
  const parts = stored.split("$");
  if (parts.length !== 6 || parts[0] !== "scrypt") return false;
  const [n, rr, pp] = parts.slice(1, 4).map(Number) as [number, number, number];
  const salt = Buffer.from(parts[4]!, "base64url");
  const want = Buffer.from(parts[5]!, "base64url");
  const got = await derive(pin, salt, n, rr, pp);
  return got.length === want.length && timingSafeEqual(got, want);
}
