/**
 * A terminal's scrollback on disk, so a page reloaded after a server restart still shows what was there. One file per
 * learner, outside their home (the shell cannot write it): a header line `egresslab-scrollback 1 <start offset>`,
 * then the output. Output is appended in batches (every `flushMs`) and at once on `flush()`/`close()`; a `kill -9`
 * loses at most the last batch, which is acceptable for scrollback. When the file holds more than twice what is kept,
 * it is rewritten with only the kept tail (temp file + rename), so it stays bounded.
 */
import path from "node:path";
import {
  appendFileSync,
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import type { Logger } from "../shared/logger.ts";
import { noopLogger } from "../shared/logger.ts";

const MAGIC = "egresslab-scrollback 1 ";

export interface SavedScrollback {
  /** Offset of the first character of `data`. */
  start: number;
  data: string;
}

/** The saved scrollback, or undefined when there is none or it cannot be read (then it starts afresh). */
export function readScrollback(
  file: string,
  maxChars: number,
  log: Logger = noopLogger,
): SavedScrollback | undefined {
  if (!existsSync(file)) return undefined;
  try {
    const text = readFileSync(file, "utf8");
    const nl = text.indexOf("\n");
    const start = Number(text.slice(MAGIC.length, nl));
    if (!text.startsWith(MAGIC) || nl < 0 || !Number.isSafeInteger(start) || start < 0) {
      log.warn("ignoring a scrollback file in an unknown format", { file });
      return undefined;
    }
    const data = text.slice(nl + 1);
    const cut = Math.max(0, data.length - maxChars);
    return { start: start + cut, data: data.slice(cut) };
  } catch (err) {
    log.warn("ignoring an unreadable scrollback file", {
      file,
      error: err instanceof Error ? err.message : String(err),
    });
    return undefined;
  }
}

function hasHeader(file: string): boolean {
  if (!existsSync(file)) return false;
  let fd: number | undefined;
  try {
    fd = openSync(file, "r");
    const head = Buffer.alloc(MAGIC.length);
    return readSync(fd, head, 0, head.length, 0) === head.length && head.toString() === MAGIC;
  } catch {
    return false;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

export class ScrollbackLog {
  private pending = "";
  private timer: NodeJS.Timeout | undefined;
  private bytes: number;
  private failed = false;
  private closed = false;

  /** `tail()` returns what the scrollback keeps now (its start offset and text), for rewriting the file. */
  constructor(
    private readonly file: string,
    private readonly maxChars: number,
    private readonly tail: () => SavedScrollback,
    private readonly log: Logger = noopLogger,
    private readonly flushMs = 1000,
  ) {
    // A missing file, or one in another format, is started afresh.
    this.bytes = hasHeader(file) ? statSync(file).size : 0;
    if (!this.bytes) this.guarded(() => this.rewrite());
  }

  /** Records output; it reaches the disk within `flushMs`. */
  append(data: string): void {
    if (this.closed || !data) return;
    this.pending += data;
    if (this.timer) return;
    this.timer = setTimeout(() => this.flush(), this.flushMs);
    this.timer.unref();
  }

  /** Writes what is buffered now. */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.pending) return;
    const data = this.pending;
    this.pending = "";
    this.guarded(() => {
      if (this.bytes === 0 || this.bytes > 2 * 4 * this.maxChars) this.rewrite();
      else {
        appendFileSync(this.file, data, { mode: 0o600 });
        this.bytes += Buffer.byteLength(data);
      }
    });
  }

  /** Runs a write; a failure is logged once per run of failures and the terminal goes on (best effort). */
  private guarded(write: () => void): void {
    try {
      write();
      this.failed = false;
    } catch (err) {
      if (!this.failed)
        this.log.warn("could not save the terminal's scrollback", {
          file: this.file,
          error: err instanceof Error ? err.message : String(err),
        });
      this.failed = true;
    }
  }

  /** Replaces the file with what the scrollback keeps now. */
  private rewrite(): void {
    const t = this.tail();
    const tmp = `${this.file}.${process.pid}.tmp`;
    mkdirSync(path.dirname(this.file), { recursive: true });
    const text = `${MAGIC}${t.start}\n${t.data}`;
    try {
      writeFileSync(tmp, text, { mode: 0o600 });
      renameSync(tmp, this.file);
    } catch (err) {
      rmSync(tmp, { force: true });
      throw err;
    }
    this.bytes = Buffer.byteLength(text);
  }

  /** Flushes and stops. */
  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
  }
}
