/**
 * Terminal scrollback in the shared Postgres database, so a page that reconnects to another replica (after a
 * failover) sees the screen it had, at the offsets it had. Output is kept as chunks `(learner, start offset, text)`;
 * every `flushMs` one statement writes the new chunks of every terminal of this replica and deletes the chunks that
 * fell out of the kept tail, so a learner's rows stay about `maxChars` long.
 *
 * Nothing on the keystroke path waits for the database: `append` adds to a buffer, at most `maxChars` per terminal
 * (older unsaved output is dropped first: it is out of the scrollback anyway). When the database does not answer, the
 * buffers wait and are written once it is back. If this replica stops before then, what they held is lost: a page
 * reconnecting elsewhere shows the screen as of the last write, and a learner whose output has gone unsaved for
 * `warnAfterMs` is told so in their terminal (and told again once it is saved).
 */
import type { Logger } from "../shared/logger.ts";
import { noopLogger } from "../shared/logger.ts";
import type { SavedScrollback } from "../terminal/scrollback-log.ts";
import type { RestoredScrollback, ScrollbackStore, ScrollbackWriter } from "../terminal/scrollback-store.ts";
import type pg from "pg";
import type { PgPool } from "./pg-db.ts";

/** A statement with the driver's per-query read timeout (which its types leave out). */
type TimedQuery = pg.QueryConfig & { query_timeout?: number };

export interface PgScrollbackOptions {
  /** Characters kept per learner (the terminal's scrollback size). */
  maxChars: number;
  /** How often buffered output is written (default one second). */
  flushMs?: number;
  /** How long output may go unsaved before the learner is told (default five seconds). */
  warnAfterMs?: number;
  /** Most characters one statement writes; more are written by several (default 1 Mi). */
  batchChars?: number;
  /** A statement that takes longer fails (and its output waits for the next try). */
  queryTimeoutMs?: number;
  /** How long a starting shell waits for its earlier output before it starts with an empty screen (default 3 s). */
  readTimeoutMs?: number;
  logger?: Logger;
  now?: () => number;
}

/** Output of one terminal not yet written: `text` starts at offset `start`. */
interface Pending {
  start: number;
  text: string;
}

/** A chunk as the table holds it. */
export interface ScrollbackChunk {
  start: number;
  text: string;
}

export const LOST_NOTICE =
  "the database does not answer, so this terminal's output is not being saved; it is kept here and saved when the database is back (if this server stops first, a reconnect will not show it)";
export const SAVED_AGAIN_NOTICE = "the database answers again: this terminal's output is saved";
const READ_PROBLEM =
  "the earlier output of this terminal could not be read from the database; it starts with an empty screen";

class PgWriter implements ScrollbackWriter {
  /** Offset of the next character appended. */
  next: number;
  pending: Pending | undefined;
  /** Since when (clock ms) this writer holds output it could not save, if it does. */
  unsavedSince: number | undefined;
  warned = false;
  closed = false;

  constructor(
    readonly learnerId: string,
    start: number,
    readonly notice: (text: string) => void,
    private readonly store: PgScrollback,
  ) {
    this.next = start;
  }

  append(data: string): void {
    if (this.closed || !data) return;
    if (this.pending) this.pending.text += data;
    else this.pending = { start: this.next, text: data };
    this.next += data.length;
    this.store.trim(this.pending);
    this.store.dirty(this);
  }

  flush(): void {
    if (this.pending) this.store.flushSoon();
  }

  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    this.store.closed(this);
  }
}

export class PgScrollback implements ScrollbackStore {
  private readonly writers = new Set<PgWriter>();
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> | undefined;
  private again = false;
  private failing = false;
  private stopped = false;
  private readonly log: Logger;
  private readonly now: () => number;

  constructor(
    private readonly pool: PgPool,
    private readonly opts: PgScrollbackOptions,
  ) {
    this.log = opts.logger ?? noopLogger;
    this.now = opts.now ?? Date.now;
  }

  async read(learnerId: string): Promise<RestoredScrollback | undefined> {
    let rows: ScrollbackChunk[];
    try {
      const q: TimedQuery = {
        text: "SELECT start_offset, chars, data FROM scrollback_chunks WHERE learner_id = $1 ORDER BY start_offset",
        values: [learnerId],
        query_timeout: this.opts.queryTimeoutMs ?? 10_000,
      };
      // A shell waits for this before it starts: a database that does not answer soon costs the old screen, not the
      // terminal (the pool's own connection timeout is longer).
      let timer: NodeJS.Timeout | undefined;
      const r = await Promise.race([
        this.pool.query<{ start_offset: number; chars: number; data: Buffer }>(q),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error("the database did not answer in time")),
            this.opts.readTimeoutMs ?? 3000,
          );
        }),
      ]).finally(() => clearTimeout(timer));
      rows = r.rows.map((row) => {
        const text = row.data.toString("utf8");
        // A chunk whose text does not span its offsets cannot be placed: it is left out (a gap).
        return text.length === row.chars
          ? { start: row.start_offset, text }
          : { start: row.start_offset, text: "" };
      });
    } catch (err) {
      this.log.warn("could not read a terminal's scrollback from the database; the shell starts afresh", {
        learner: learnerId,
        error: err instanceof Error ? err.message : String(err),
      });
      // Offsets past anything written before, so what this shell saves is never mixed with older chunks.
      return { start: this.now() * 1024, data: "", problem: READ_PROBLEM };
    }
    // Output of this replica's earlier shells not written yet is newer than every row.
    for (const w of this.writers) if (w.learnerId === learnerId && w.pending) rows.push({ ...w.pending });
    return assembleScrollback(rows, this.opts.maxChars);
  }

  open(learnerId: string, tail: () => SavedScrollback, notice: (text: string) => void): ScrollbackWriter {
    const t = tail();
    const w = new PgWriter(learnerId, t.start + t.data.length, notice, this);
    // An ended shell's output still waiting to be written (`read` gave it to this one) is written by this writer,
    // so a learner has one buffer however often their shell restarts while the database is away.
    for (const old of this.writers) {
      if (old.learnerId !== learnerId || !old.closed || !old.pending) continue;
      if (old.pending.start + old.pending.text.length === w.next) {
        w.pending = old.pending;
        old.pending = undefined;
        this.writers.delete(old);
        this.dirty(w);
      }
    }
    return w;
  }

  /** Drops the oldest unsaved output of a buffer past `maxChars`. */
  trim(p: Pending): void {
    const cut = p.text.length - this.opts.maxChars;
    if (cut <= 0) return;
    p.text = p.text.slice(cut);
    p.start += cut;
  }

  /** A writer has output to write: within `flushMs`. */
  dirty(w: PgWriter): void {
    this.writers.add(w);
    if (this.timer || this.stopped) return;
    this.timer = setTimeout(() => void this.write(), this.opts.flushMs ?? 1000);
    this.timer.unref();
  }

  /** A writer wants its output written now. */
  flushSoon(): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.write(), 0);
    this.timer.unref();
  }

  closed(w: PgWriter): void {
    if (!w.pending) this.writers.delete(w);
  }

  /** Writes every buffer; one write at a time (a write asked for meanwhile runs when it ends). */
  write(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.writing) {
      this.again = true;
      return this.writing;
    }
    this.writing = this.writeOnce().finally(() => {
      this.writing = undefined;
      if (this.again) {
        this.again = false;
        if (this.pendingWriters().length) this.flushSoon();
      }
    });
    return this.writing;
  }

  private pendingWriters(): PgWriter[] {
    return [...this.writers].filter((w) => w.pending);
  }

  private async writeOnce(): Promise<void> {
    const taken = this.pendingWriters().map((w) => {
      const p = w.pending!;
      w.pending = undefined;
      return { w, p };
    });
    if (!taken.length) return;
    const limit = this.opts.batchChars ?? 1 << 20;
    let batch: typeof taken = [];
    let size = 0;
    const batches: (typeof taken)[] = [];
    for (const t of taken) {
      if (batch.length && size + t.p.text.length > limit) {
        batches.push(batch);
        batch = [];
        size = 0;
      }
      batch.push(t);
      size += t.p.text.length;
    }
    batches.push(batch);
    let failed: unknown;
    for (const b of batches) {
      if (failed === undefined) {
        try {
          await this.insert(b.map((t) => ({ learnerId: t.w.learnerId, ...t.p })));
          for (const { w } of b) this.saved(w);
          continue;
        } catch (err) {
          failed = err;
        }
      }
      for (const { w, p } of b) this.unsaved(w, p);
    }
    if (failed !== undefined) {
      if (!this.failing)
        this.log.warn("could not save terminals' scrollback to the database; trying again", {
          error: failed instanceof Error ? failed.message : String(failed),
        });
      this.failing = true;
      if (!this.stopped) {
        this.timer ??= setTimeout(() => void this.write(), this.opts.flushMs ?? 1000);
        this.timer.unref();
      }
    } else if (this.failing) {
      this.failing = false;
      this.log.info("terminals' scrollback is saved to the database again");
    }
  }

  private saved(w: PgWriter): void {
    w.unsavedSince = undefined;
    if (w.warned) {
      w.warned = false;
      if (!w.closed) w.notice(SAVED_AGAIN_NOTICE);
    }
    if (w.closed && !w.pending) this.writers.delete(w);
  }

  /** Puts output that could not be written back in front of what came since, and tells the learner if it is long. */
  private unsaved(w: PgWriter, p: Pending): void {
    if (w.pending && p.start + p.text.length === w.pending.start)
      w.pending = { start: p.start, text: p.text + w.pending.text };
    else w.pending ??= p;
    this.trim(w.pending);
    const now = this.now();
    w.unsavedSince ??= now;
    if (!w.warned && !w.closed && now - w.unsavedSince >= (this.opts.warnAfterMs ?? 5000)) {
      w.warned = true;
      w.notice(LOST_NOTICE);
    }
  }

  /** One statement: the new chunks, and the deletion of each learner's chunks that end before its kept tail. */
  private async insert(chunks: { learnerId: string; start: number; text: string }[]): Promise<void> {
    const ends = new Map<string, number>();
    for (const c of chunks)
      ends.set(c.learnerId, Math.max(ends.get(c.learnerId) ?? 0, c.start + c.text.length));
    const q: TimedQuery = {
      text: `WITH added AS (
               INSERT INTO scrollback_chunks (learner_id, start_offset, chars, data)
               SELECT * FROM unnest($1::text[], $2::bigint[], $3::integer[], $4::bytea[])
               ON CONFLICT (learner_id, start_offset) DO NOTHING
             )
             DELETE FROM scrollback_chunks s USING unnest($5::text[], $6::bigint[]) AS k(learner_id, keep_from)
             WHERE s.learner_id = k.learner_id AND s.start_offset + s.chars <= k.keep_from`,
      values: [
        chunks.map((c) => c.learnerId),
        chunks.map((c) => c.start),
        chunks.map((c) => c.text.length),
        chunks.map((c) => Buffer.from(c.text, "utf8")),
        [...ends.keys()],
        [...ends.values()].map((end) => end - this.opts.maxChars),
      ],
      query_timeout: this.opts.queryTimeoutMs ?? 10_000,
    };
    await this.pool.query(q);
  }

  /** Writes what is buffered (once more if the database does not answer) and stops. */
  async close(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.write();
    if (this.pendingWriters().length) await this.write();
    const lost = this.pendingWriters();
    if (lost.length)
      this.log.error("terminals' latest output could not be saved before stopping", {
        learners: lost.map((w) => w.learnerId),
      });
  }
}

/**
 * The kept tail of a learner's chunks (oldest first): the newest run of contiguous output, at most `maxChars` long.
 * Chunks that overlap (two replicas wrote the same offsets) keep the older text; a gap ends the run.
 */
export function assembleScrollback(
  chunks: readonly ScrollbackChunk[],
  maxChars: number,
): SavedScrollback | undefined {
  const sorted = chunks.filter((c) => c.text).sort((a, b) => a.start - b.start);
  let start: number | undefined;
  let parts: string[] = [];
  let end = 0;
  for (const c of sorted) {
    const cEnd = c.start + c.text.length;
    if (start === undefined || c.start > end) {
      start = c.start;
      parts = [c.text];
      end = cEnd;
    } else if (cEnd > end) {
      parts.push(c.text.slice(end - c.start));
      end = cEnd;
    }
  }
  if (start === undefined) return undefined;
  const data = parts.join("");
  const cut = Math.max(0, data.length - maxChars);
  return { start: start + cut, data: data.slice(cut) };
}
