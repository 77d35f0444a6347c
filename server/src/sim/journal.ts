/**
 * A simulated cluster's journal, `<dataDir>/clusters/<id>.journal`: one line per store transaction (an API write
 * together with what the controllers did after it), appended and synced before the transaction becomes visible, so a
 * write the API acknowledged survives `kill -9` and power loss. A line is `<crc32 hex> <json>\n` with the JSON
 * `{"rv": <resourceVersion after it>, "c": [[key, type, object], …]}`.
 *
 * When the journal outgrows `compactBytes`, the whole store is written as the snapshot (`<id>.json`) and the journal
 * is emptied, after the write that crossed the line (not in its response path). Replay is the snapshot, then every
 * journal line with a resourceVersion past the snapshot's, so a crash between the two steps loses nothing.
 *
 * A torn last line (a crash in the middle of an append that was never acknowledged) is dropped; a damaged line with
 * good lines after it means the file itself is damaged, and the cluster is quarantined (`CorruptStateError`).
 */
import { existsSync, readFileSync } from "node:fs";
import { crc32 } from "node:zlib";
import type { Logger } from "../shared/logger.ts";
import { toStorageError, type StorageHealth } from "../shared/storage.ts";
import type { ChangeJournal, JournalChange } from "../store/object-store.ts";
import { ApiError } from "../store/types.ts";
import { CorruptStateError, journalFile, writeState, type ClusterState, type DiskIO } from "./persistence.ts";

/** Journal size after which the cluster is compacted into its snapshot. */
export const DEFAULT_COMPACT_BYTES = 4 * 1024 * 1024;

export interface JournalOptions {
  dataDir: string;
  id: string;
  disk: DiskIO;
  /** The whole cluster, for compaction. */
  snapshot: () => ClusterState;
  health: StorageHealth;
  logger: Logger;
  compactBytes?: number;
}

const HEX = /^[0-9a-f]{8}$/;

/** One transaction as JSON: `{"rv": <resourceVersion after it>, "c": [[key, type, object], …]}`. */
export function encodeEntry(changes: readonly JournalChange[], rv: number): string {
  return JSON.stringify({ rv, c: changes.map((c) => [c.key, c.type, c.object]) });
}

function encode(changes: readonly JournalChange[], rv: number): Buffer {
  const body = Buffer.from(encodeEntry(changes, rv));
  return Buffer.concat([
    Buffer.from(`${crc32(body).toString(16).padStart(8, "0")} `),
    body,
    Buffer.from("\n"),
  ]);
}

export interface JournalEntry {
  rv: number;
  changes: JournalChange[];
}

function decode(line: Buffer): JournalEntry | undefined {
  if (line.length < 10 || line[8] !== 0x20) return undefined;
  const sum = line.subarray(0, 8).toString("latin1");
  const body = line.subarray(9);
  if (!HEX.test(sum) || crc32(body) !== parseInt(sum, 16)) return undefined;
  return decodeEntry(body.toString("utf8"));
}

/** A transaction from the JSON `encodeEntry` wrote, or undefined when it is not one. */
export function decodeEntry(json: string): JournalEntry | undefined {
  let v: unknown;
  try {
    v = JSON.parse(json);
  } catch {
    return undefined;
  }
  const e = v as { rv?: unknown; c?: unknown };
  if (typeof e.rv !== "number" || !Array.isArray(e.c)) return undefined;
  const changes: JournalChange[] = [];
  for (const c of e.c as unknown[]) {
    if (!Array.isArray(c) || c.length !== 3) return undefined;
    const [key, type, object] = c as [unknown, unknown, unknown];
    const meta = (object as { metadata?: { name?: unknown } } | null)?.metadata;
    if (
      typeof key !== "string" ||
      (type !== "ADDED" && type !== "MODIFIED" && type !== "DELETED") ||
      typeof meta?.name !== "string"
    )
      return undefined;
    changes.push({ key, type, object: object as JournalChange["object"] });
  }
  return { rv: e.rv, changes };
}

export interface ReadJournal {
  entries: JournalEntry[];
  /** Bytes of a torn last line that were dropped (0 when the file ended cleanly). */
  tornBytes: number;
}

/**
 * The journal's entries after resourceVersion `afterRv`. Throws `CorruptStateError` for a damaged line that is not
 * the last one.
 */
export function readJournal(dataDir: string, id: string, afterRv: number): ReadJournal {
  const file = journalFile(dataDir, id);
  if (!existsSync(file)) return { entries: [], tornBytes: 0 };
  const buf = readFileSync(file);
  const entries: JournalEntry[] = [];
  let start = 0;
  let lineNo = 0;
  let bad: { line: number; at: number } | undefined;
  while (start < buf.length) {
    const nl = buf.indexOf(0x0a, start);
    if (nl < 0) break;
    lineNo++;
    const entry = decode(buf.subarray(start, nl));
    if (!entry) {
      bad ??= { line: lineNo, at: start };
    } else if (bad) {
      throw new CorruptStateError(file, `line ${bad.line} is damaged and later lines are not`);
    } else if (entry.rv > afterRv) entries.push(entry);
    start = nl + 1;
  }
  const tornAt = bad?.at ?? start;
  return { entries, tornBytes: buf.length - tornAt };
}

/** The journal of one cluster, open for appending. */
export class ClusterJournal implements ChangeJournal {
  private size: number;
  /** A failed append may have left bytes past `size`: they are cut before the next append. */
  private dirtyTail = false;
  private compactScheduled = false;
  private closed = false;

  private constructor(
    private readonly o: JournalOptions,
    private readonly fd: number,
    size: number,
  ) {
    this.size = size;
  }

  /** Opens the journal; `keepBytes` cuts off a torn tail `readJournal` reported. */
  static open(o: JournalOptions, keepBytes?: number): ClusterJournal {
    const file = journalFile(o.dataDir, o.id);
    const { fd, size } = o.disk.openAppend(file);
    const j = new ClusterJournal(o, fd, size);
    if (keepBytes !== undefined && keepBytes < size) {
      o.disk.truncate(fd, keepBytes);
      j.size = keepBytes;
    }
    return j;
  }

  /** Bytes in the journal. */
  get bytes(): number {
    return this.size;
  }

  append(changes: readonly JournalChange[], resourceVersion: number): void {
    if (this.closed) throw new ApiError(503, "ServiceUnavailable", "the cluster is shutting down");
    const data = encode(changes, resourceVersion);
    try {
      if (this.dirtyTail) {
        this.o.disk.truncate(this.fd, this.size);
        this.dirtyTail = false;
      }
      this.o.disk.append(this.fd, data, this.size);
    } catch (err) {
      this.dirtyTail = true;
      try {
        this.o.disk.truncate(this.fd, this.size);
        this.dirtyTail = false;
      } catch {
        // Cut before the next append; replay drops a torn tail meanwhile.
      }
      const e = toStorageError(err, "the change was not saved");
      this.o.health.failed(e);
      this.o.logger.error("journal append failed", {
        file: journalFile(this.o.dataDir, this.o.id),
        error: err instanceof Error ? err.message : String(err),
      });
      throw new ApiError(
        500,
        "InternalError",
        `Internal error occurred: ${e.message}; nothing was changed, try again later`,
      );
    }
    this.size += data.length;
    this.o.health.succeeded();
    if (this.size >= (this.o.compactBytes ?? DEFAULT_COMPACT_BYTES) && !this.compactScheduled) {
      this.compactScheduled = true;
      setImmediate(() => {
        this.compactScheduled = false;
        if (!this.closed) this.compact();
      });
    }
  }

  /** Writes the snapshot and empties the journal. Returns false (and logs) when the disk refused. */
  compact(): boolean {
    try {
      writeState(this.o.dataDir, this.o.snapshot(), this.o.disk);
    } catch (err) {
      this.o.health.failed(err);
      this.o.logger.warn("could not write the cluster snapshot; the journal keeps every change", {
        error: err instanceof Error ? err.message : String(err),
      });
      return false;
    }
    try {
      this.o.disk.truncate(this.fd, 0);
      this.size = 0;
      this.dirtyTail = false;
    } catch (err) {
      // The snapshot covers every line; replay skips them.
      this.o.logger.warn("could not empty the journal after a snapshot", {
        error: err instanceof Error ? err.message : String(err),
      });
    }
    return true;
  }

  /** Closes the file without writing anything: another process owns this cluster's state now. */
  abandon(): void {
    if (this.closed) return;
    this.closed = true;
    this.o.disk.close(this.fd);
  }

  /** Compacts (when there is anything to) and closes the file. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.size > 0) this.compact();
    this.o.disk.close(this.fd);
  }
}
