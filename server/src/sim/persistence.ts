/**
 * Saving and restoring a simulated cluster's state under `<dataDir>/clusters/`: `<id>.json` is a snapshot of the
 * objects, `<id>.journal` the transactions since (see `journal.ts`), `<id>.dataplane.json` the rotations and flow log.
 * Every file is replaced atomically and durably (temp file, sync, rename, sync the directory) through `DiskIO`, the
 * seam where tests put a full disk; a failed write leaves no temp file behind.
 */
import {
  closeSync,
  existsSync,
  fdatasyncSync,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from "node:fs";
import { open, rename, rm } from "node:fs/promises";
import path from "node:path";
import { EgresslabError } from "../shared/errors.ts";
import type { Logger } from "../shared/logger.ts";
import {
  dataplaneStateBytes,
  dataplaneStateText,
  parseDataplaneState,
  type DataplaneState,
} from "../net/state.ts";
import type { KubeObject, ResourceKey } from "../store/types.ts";
import type { CalicoEdition } from "./types.ts";

/** The file operations state is written with. Every method throws the system's error when it fails. */
export interface DiskIO {
  /** Opens `file` for writing at its end (creating it); returns the descriptor and the current size. */
  openAppend(file: string): { fd: number; size: number };
  /** Writes all of `data` at `position` and syncs the file's data to the disk. */
  append(fd: number, data: Buffer, position: number): void;
  /** Cuts the file to `length` bytes and syncs it. */
  truncate(fd: number, length: number): void;
  close(fd: number): void;
  /**
   * Replaces `file` atomically and durably: a temp file next to it, synced, renamed over it, the directory synced. On
   * failure the temp file is removed and the old file is untouched.
   */
  replaceFile(file: string, data: string, mode?: number): void;
  /**
   * `replaceFile` with the writing and syncing off the event loop, for files of megabytes (the dataplane state with
   * pods' files); `data` is the file's bytes in pieces. Without it, `replaceFile` is used.
   */
  replaceFileAsync?(file: string, data: readonly Buffer[], mode?: number): Promise<void>;
}

function writeAll(fd: number, data: Buffer, position: number | null): void {
  let off = 0;
  while (off < data.length) {
    const n = writeSync(fd, data, off, data.length - off, position === null ? null : position + off);
    if (n <= 0) throw Object.assign(new Error("short write"), { code: "EIO" });
    off += n;
  }
}

function syncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, "r");
    fsyncSync(fd);
  } catch (err) {
    // Some filesystems refuse to sync a directory; the rename is still atomic there.
    if ((err as NodeJS.ErrnoException).code !== "EISDIR" && (err as NodeJS.ErrnoException).code !== "EINVAL")
      throw err;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Temp files of `replaceFileAsync` have names of their own (two writes may overlap). */
let asyncTemps = 0;

/** The real disk. */
export const nodeDisk: DiskIO = {
  openAppend(file) {
    mkdirSync(path.dirname(file), { recursive: true });
    const created = !existsSync(file);
    const fd = openSync(file, "a+", 0o600);
    if (created) syncDir(path.dirname(file));
    return { fd, size: fstatSync(fd).size };
  },
  append(fd, data, position) {
    writeAll(fd, data, position);
    fdatasyncSync(fd);
  },
  truncate(fd, length) {
    ftruncateSync(fd, length);
    fdatasyncSync(fd);
  },
  close(fd) {
    closeSync(fd);
  },
  replaceFile(file, data, mode = 0o600) {
    mkdirSync(path.dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    try {
      const fd = openSync(tmp, "w", mode);
      try {
        writeAll(fd, Buffer.from(data), null);
        fdatasyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, file);
    } catch (err) {
      rmSync(tmp, { force: true });
      throw err;
    }
    syncDir(path.dirname(file));
  },
  async replaceFileAsync(file, data, mode = 0o600) {
    mkdirSync(path.dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}.${++asyncTemps}.tmp`;
    try {
      const fh = await open(tmp, "w", mode);
      try {
        let bufs = data.filter((b) => b.length > 0);
        while (bufs.length) {
          const { bytesWritten } = await fh.writev(bufs);
          if (bytesWritten <= 0) throw Object.assign(new Error("short write"), { code: "EIO" });
          let n = bytesWritten;
          let i = 0;
          while (i < bufs.length && n >= bufs[i]!.length) n -= bufs[i++]!.length;
          bufs = bufs.slice(i);
          if (n > 0) bufs[0] = bufs[0]!.subarray(n);
        }
        await fh.datasync();
      } finally {
        await fh.close();
      }
      await rename(tmp, file);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
    syncDir(path.dirname(file));
  },
};

/** Removes temp files a crash (or a full disk) left in `dir`; returns the names removed. */
export function removeTempFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const removed: string[] = [];
  for (const name of readdirSync(dir))
    if (/\.tmp$|\.tmp-\d+$/.test(name)) {
      rmSync(path.join(dir, name), { force: true });
      removed.push(name);
    }
  return removed;
}

/** A cluster's saved state cannot be read: its files are damaged or from an unknown format. */
export class CorruptStateError extends EgresslabError {
  constructor(
    readonly file: string,
    readonly reason: string,
  ) {
    super("internal", `cannot read ${file}: ${reason}`);
  }
}

export interface ClusterState {
  version: 1;
  id: string;
  profile: string;
  edition: CalicoEdition;
  seed: number;
  resourceVersion: number;
  objects: Record<ResourceKey, KubeObject[]>;
}

const SAFE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export function stateFile(dataDir: string, id: string): string {
  if (!SAFE_ID.test(id) || id.includes(".."))
    throw new EgresslabError("invalid", `invalid cluster id "${id}": use letters, digits, '.', '_' and '-'`);
  return path.join(dataDir, "clusters", `${id}.json`);
}

/** The saved snapshot, or undefined when there is none. Throws `CorruptStateError` when it cannot be read. */
export function readState(dataDir: string, id: string): ClusterState | undefined {
  const file = stateFile(dataDir, id);
  if (!existsSync(file)) return undefined;
  return parseClusterState(readFileSync(file, "utf8"), file);
}

/** A snapshot from its JSON text; throws `CorruptStateError` (naming `where`) when it is not one. */
export function parseClusterState(text: string, where: string): ClusterState {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new CorruptStateError(where, err instanceof Error ? err.message : String(err));
  }
  const s = parsed as Partial<ClusterState> | null;
  if (
    !s ||
    s.version !== 1 ||
    typeof s.resourceVersion !== "number" ||
    !s.objects ||
    typeof s.objects !== "object" ||
    !Object.values(s.objects).every(
      (items) =>
        Array.isArray(items) &&
        items.every(
          (o: Partial<KubeObject> | null) =>
            !!o && typeof o === "object" && !!o.metadata && typeof o.metadata.name === "string",
        ),
    )
  )
    throw new CorruptStateError(where, "not a cluster state this version understands");
  return s as ClusterState;
}

/** Writes the snapshot atomically and durably: a reader sees the old file or the new one, never half of one. */
export function writeState(dataDir: string, state: ClusterState, disk: DiskIO = nodeDisk): void {
  disk.replaceFile(stateFile(dataDir, state.id), JSON.stringify(state));
}

export function dataplaneStateFile(dataDir: string, id: string): string {
  return stateFile(dataDir, id).replace(/\.json$/, ".dataplane.json");
}

/**
 * The saved dataplane state, or undefined when there is none. Tolerant: an unreadable or malformed file (or part of
 * one) is dropped with a warning, never an error — the cluster's objects matter more than its flow log.
 */
export function readDataplaneState(dataDir: string, id: string, logger: Logger): DataplaneState | undefined {
  const file = dataplaneStateFile(dataDir, id);
  if (!existsSync(file)) return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, "utf8"));
  } catch (err) {
    logger.warn("ignoring the saved dataplane state", {
      file,
      error: err instanceof Error ? err.message : String(err),
    });
    return undefined;
  }
  const { state, problems } = parseDataplaneState(raw);
  if (problems.length) logger.warn("saved dataplane state partly ignored", { file, problems });
  return state;
}

/** Writes the dataplane state atomically, like `writeState`. */
export function writeDataplaneState(
  dataDir: string,
  id: string,
  state: DataplaneState,
  disk: DiskIO = nodeDisk,
): void {
  disk.replaceFile(dataplaneStateFile(dataDir, id), dataplaneStateText(state));
}

/**
 * `writeDataplaneState` with the writing and syncing off the event loop when `disk` can (what stays on it is
 * copying the pods' files' base64 into the pieces written).
 */
export async function writeDataplaneStateAsync(
  dataDir: string,
  id: string,
  state: DataplaneState,
  disk: DiskIO = nodeDisk,
): Promise<void> {
  if (!disk.replaceFileAsync) return writeDataplaneState(dataDir, id, state, disk);
  await disk.replaceFileAsync(dataplaneStateFile(dataDir, id), dataplaneStateBytes(state));
}

export function journalFile(dataDir: string, id: string): string {
  return stateFile(dataDir, id).replace(/\.json$/, ".journal");
}

/** Every file a cluster keeps (that exists). */
export function clusterFiles(dataDir: string, id: string): string[] {
  return [stateFile(dataDir, id), journalFile(dataDir, id), dataplaneStateFile(dataDir, id)].filter((f) =>
    existsSync(f),
  );
}

/** Forgets a cluster's saved state (no error when there is none). */
export function deleteSimClusterState(dataDir: string, id: string): void {
  for (const f of clusterFiles(dataDir, id)) rmSync(f, { force: true });
}

/**
 * Moves a cluster's files aside to `<dataDir>/quarantine/<id>-<time>/`, kept for recovery by hand; returns that
 * directory.
 */
export function quarantineClusterState(dataDir: string, id: string, now = new Date()): string {
  const dir = path.join(dataDir, "quarantine", `${id}-${now.toISOString().replace(/[:.]/g, "-")}`);
  mkdirSync(dir, { recursive: true });
  for (const f of clusterFiles(dataDir, id)) renameSync(f, path.join(dir, path.basename(f)));
  return dir;
}

/** Calls `save` at most once per `delayMs` after `touch()`, and at once on `flush()`. */
export class DebouncedSaver {
  private timer: NodeJS.Timeout | undefined;
  private dirty = false;
  constructor(
    private readonly save: () => void,
    private readonly delayMs = 250,
    private readonly onError: (err: unknown) => void = () => {},
  ) {}
  touch(): void {
    this.dirty = true;
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flush();
    }, this.delayMs);
    this.timer.unref?.();
  }
  /** Forgets what is waiting to be saved (another process owns the state now). */
  cancel(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.dirty = false;
  }
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.dirty) return;
    this.dirty = false;
    try {
      this.save();
    } catch (err) {
      this.onError(err);
    }
  }
}

/**
 * Runs `save` for whoever asks, one save at a time: what is asked while a save runs is done by the next save (one
 * waits at most, shared by everyone who asks meanwhile), which starts when the running one has ended and saves the
 * state as it is then. `request()` resolves once a save that started after it was called has ended, so a change made
 * before calling it is saved by then. A save that fails is reported to `onError` (and `request()` still resolves).
 */
export class CoalescingSaver {
  private running: Promise<void> = Promise.resolve();
  private pending: Promise<void> | undefined;
  private stopped = false;
  /** Saves started (for tests and figures). */
  saves = 0;
  constructor(
    private readonly save: () => Promise<void>,
    private readonly onError: (err: unknown) => void = () => {},
  ) {}
  request(): Promise<void> {
    this.pending ??= this.running
      // A turn of the event loop first, so that what ends in the same turn is saved once.
      .then(() => new Promise<void>((r) => setImmediate(r)))
      .then(async () => {
        this.pending = undefined;
        if (this.stopped) return;
        this.saves++;
        const run = (async () => this.save())().catch(this.onError);
        this.running = run;
        await run;
      });
    return this.pending;
  }
  /** Saves nothing more (another process owns the state now); what waits resolves without saving. */
  stop(): void {
    this.stopped = true;
  }
}
