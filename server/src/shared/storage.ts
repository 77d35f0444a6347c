/**
 * Storage faults in the user's terms: a failed write to the data directory becomes "the server's disk is full" (or
 * read-only, or failing), and `StorageHealth` remembers the current fault so the page, the instructor's board and the
 * console can say so once instead of logging a stack trace per write.
 */
import { EventEmitter } from "node:events";
import { EgresslabError } from "./errors.ts";

export type StorageFault = "disk-full" | "read-only" | "io";

export interface StorageProblem {
  fault: StorageFault;
  /** For people: "the server's disk is full". */
  message: string;
  /** The system's own words (`ENOSPC: no space left on device, write`), for the log. */
  detail: string;
  /** ISO time the fault was first seen. */
  since: string;
}

/** The system error code of a failed file operation, if it has one. */
const codeOf = (err: unknown): string | undefined =>
  err && typeof err === "object" && "code" in err && typeof err.code === "string" ? err.code : undefined;

/** Classifies a failed write; `undefined` for errors that are not about storage. */
export function storageFault(err: unknown): StorageFault | undefined {
  if (err instanceof StorageError) return err.fault;
  const code = codeOf(err);
  // SQLite (better-sqlite3) reports its own codes, with extended forms such as SQLITE_IOERR_WRITE.
  if (code === "SQLITE_FULL") return "disk-full";
  if (code?.startsWith("SQLITE_READONLY")) return "read-only";
  if (code?.startsWith("SQLITE_IOERR")) return "io";
  switch (code) {
    case "ENOSPC":
    case "EDQUOT":
    case "EFBIG":
      return "disk-full";
    case "EROFS":
    case "EACCES":
    case "EPERM":
      return "read-only";
    case "EIO":
    case "ENXIO":
    case "ESTALE":
      return "io";
    default:
      return undefined;
  }
}

/** What to tell people about a fault. */
export function faultMessage(fault: StorageFault): string {
  switch (fault) {
    case "disk-full":
      return "the server's disk is full";
    case "read-only":
      return "the server cannot write to its data directory (read-only or not permitted)";
    case "io":
      return "the server's disk is failing (input/output error)";
  }
}

/** A write that could not be made durable; `message` starts with `faultMessage`. */
export class StorageError extends EgresslabError {
  constructor(
    readonly fault: StorageFault,
    what: string,
    options?: { cause?: unknown },
  ) {
    super("unavailable", `${faultMessage(fault)}: ${what}`, options);
  }
}

/** Wraps any failed write as a `StorageError` (unknown causes count as failing I/O). */
export function toStorageError(err: unknown, what: string): StorageError {
  if (err instanceof StorageError) return err;
  return new StorageError(storageFault(err) ?? "io", what, { cause: err });
}

export interface StorageHealthEvents {
  /** A fault appeared (or changed kind). Sent once per fault, not per failed write. */
  problem: [p: StorageProblem];
  /** Writes succeed again. */
  recovered: [];
}

/** The data directory's health: the current fault, if any, and events when it appears and clears. */
export class StorageHealth extends EventEmitter<StorageHealthEvents> {
  private current: StorageProblem | undefined;

  /** The current fault, if writes are failing. */
  get problem(): StorageProblem | undefined {
    return this.current;
  }

  /** Records a failed write; emits `problem` only when the fault is new. */
  failed(err: unknown): void {
    const fault = err instanceof StorageError ? err.fault : (storageFault(err) ?? "io");
    if (this.current?.fault === fault) return;
    const cause = err instanceof StorageError ? err.cause : err;
    this.current = {
      fault,
      message: faultMessage(fault),
      detail: cause instanceof Error ? cause.message : String(cause),
      since: new Date().toISOString(),
    };
    this.emit("problem", this.current);
  }

  /** Records a successful write; emits `recovered` when a fault clears. */
  succeeded(): void {
    if (!this.current) return;
    this.current = undefined;
    this.emit("recovered");
  }
}

/** The process's storage health (one data directory per server). */
export const storageHealth = new StorageHealth();
