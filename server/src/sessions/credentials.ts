/**
 * Secrets kept in the data directory: the instructor credential (the server owner's token, which opens every
 * workshop's board and creates workshops) and the server's own secret (the key that resume codes are derived with).
 * Each is one line in a file of mode 0600, written atomically (a temporary file, fsynced, renamed), so a crash never
 * leaves half a token and a restart finds the same one.
 */
import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  writeSync,
} from "node:fs";
import path from "node:path";
import { constantTimeEqual, newToken } from "./tokens.ts";

/** The instructor credential's file in a data directory. */
export const instructorTokenFile = (dataDir: string): string => path.join(dataDir, "instructor-token");
/** The server secret's file in a data directory. */
export const serverSecretFile = (dataDir: string): string => path.join(dataDir, "server-secret");

/** Writes `value` to `file` (mode 0600) so that a reader sees the old value or the new one, never a mix. */
export function writeSecretFile(file: string, value: string): void {
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  const fd = openSync(tmp, "w", 0o600);
  try {
    writeSync(fd, value + "\n");
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
  // The rename is durable once the directory is synced.
  try {
    const dir = openSync(path.dirname(file), "r");
    try {
      fsyncSync(dir);
    } finally {
      closeSync(dir);
    }
  } catch {
    // Some filesystems cannot sync a directory; the file itself is synced.
  }
}

/** The secret in `file`, or undefined when the file does not exist or is empty. */
export function readSecretFile(file: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
  const v = text.trim();
  return v || undefined;
}

/** The secret in `file`, made (random, 256 bits) and written on first use. */
export function readOrCreateSecretFile(file: string): string {
  const found = readSecretFile(file);
  if (found) return found;
  const made = newToken();
  writeSecretFile(file, made);
  return made;
}

/**
 * The instructor credential of a running server. Kept in the data directory and re-read when the file changes, so
 * `egresslab instructor rotate` (another process) takes effect at once; or fixed by `--instructor-token`.
 */
export class InstructorCredential {
  private value: string;
  private stamp = "";
  private checkedAt = 0;

  private constructor(
    private readonly file: string | undefined,
    value: string,
    private readonly now: () => number,
  ) {
    this.value = value;
    if (file) this.stamp = this.fileStamp();
  }

  /** The credential kept in `dataDir` (created on first start), or `fixed` when one is given. */
  static open(dataDir: string, fixed?: string, now: () => number = Date.now): InstructorCredential {
    if (fixed) return new InstructorCredential(undefined, fixed, now);
    const file = instructorTokenFile(dataDir);
    return new InstructorCredential(file, readOrCreateSecretFile(file), now);
  }

  /** Whether the token is the data directory's (rotatable) rather than given on the command line. */
  get rotatable(): boolean {
    return this.file !== undefined;
  }

  /** The current token. */
  get token(): string {
    this.refresh();
    return this.value;
  }

  /** True when `presented` is the current token (compared in constant time). */
  matches(presented: string | undefined): boolean {
    if (!presented) return false;
    return constantTimeEqual(presented, this.token);
  }

  /** Replaces the token with a new random one (written to the data directory) and returns it. */
  rotate(): string {
    if (!this.file)
      throw new Error("the instructor token was given with --instructor-token; change it there instead");
    this.value = rotateInstructorToken(path.dirname(this.file));
    this.stamp = this.fileStamp();
    return this.value;
  }

  private fileStamp(): string {
    try {
      const s = statSync(this.file!);
      return `${s.mtimeMs}:${s.size}:${s.ino}`;
    } catch {
      return "";
    }
  }

  /** Re-reads the file when it changed (looked at most once a second). */
  private refresh(): void {
    if (!this.file) return;
    const t = this.now();
    if (t - this.checkedAt < 1000) return;
    this.checkedAt = t;
    const stamp = this.fileStamp();
    if (stamp === this.stamp) return;
    this.stamp = stamp;
    const v = readSecretFile(this.file);
    if (v) this.value = v;
  }
}

/** Writes a new random instructor token to `dataDir` and returns it. */
export function rotateInstructorToken(dataDir: string): string {
  const token = newToken();
  writeSecretFile(instructorTokenFile(dataDir), token);
  return token;
}
