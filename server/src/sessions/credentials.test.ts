import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  InstructorCredential,
  instructorTokenFile,
  readOrCreateSecretFile,
  rotateInstructorToken,
  writeSecretFile,
} from "./credentials.ts";

const dirs: string[] = [];
const tmp = (): string => {
  const d = mkdtempSync(path.join(tmpdir(), "egl-cred-"));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe("the instructor credential", () => {
  it("is made once, kept with mode 0600, and the same after a restart", () => {
    const dir = tmp();
    const a = InstructorCredential.open(dir);
    const file = instructorTokenFile(dir);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(a.token).toMatch(/^[\w-]{43}$/);
    const b = InstructorCredential.open(dir);
    expect(b.token).toBe(a.token);
    expect(b.matches(a.token)).toBe(true);
    expect(b.matches(a.token + "x")).toBe(false);
    expect(b.matches("")).toBe(false);
    expect(b.matches(undefined)).toBe(false);
  });

  it("follows a rotation made by another process, and the old token stops working", () => {
    const dir = tmp();
    let t = 0;
    const running = InstructorCredential.open(dir, undefined, () => t);
    const old = running.token;
    const fresh = rotateInstructorToken(dir);
    expect(fresh).not.toBe(old);
    t += 1500;
    expect(running.matches(fresh)).toBe(true);
    expect(running.matches(old)).toBe(false);
    expect(statSync(instructorTokenFile(dir)).mode & 0o777).toBe(0o600);
  });

  it("rotates from the server too, and a fixed token cannot be rotated", () => {
    const dir = tmp();
    const c = InstructorCredential.open(dir);
    const old = c.token;
    const fresh = c.rotate();
    expect(c.matches(old)).toBe(false);
    expect(InstructorCredential.open(dir).token).toBe(fresh);
    const fixed = InstructorCredential.open(dir, "given");
    expect(fixed.rotatable).toBe(false);
    expect(fixed.matches("given")).toBe(true);
    expect(fixed.matches(fresh)).toBe(false);
    expect(() => fixed.rotate()).toThrow(/--instructor-token/);
  });

  it("writes atomically: no temporary file is left, and an empty file is replaced", () => {
    const dir = tmp();
    const f = path.join(dir, "s");
    writeFileSync(f, "\n");
    const v = readOrCreateSecretFile(f);
    expect(v.length).toBeGreaterThan(20);
    writeSecretFile(f, "second");
    expect(readOrCreateSecretFile(f)).toBe("second");
    expect(readdirSync(dir)).toEqual(["s"]);
  });
});
