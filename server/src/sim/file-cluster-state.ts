/**
 * The files backend of cluster state (the embedded default): `<dataDir>/clusters/<id>.json` (snapshot),
 * `<id>.journal` (transactions since, appended and synced before a write returns) and `<id>.dataplane.json`; see
 * `persistence.ts` and `journal.ts`.
 */
import { existsSync, statSync } from "node:fs";
import { toStorageError } from "../shared/storage.ts";
import type { ClusterStateBackend, ClusterStateWriter } from "./cluster-state.ts";
import { ClusterJournal, readJournal } from "./journal.ts";
import {
  CorruptStateError,
  deleteSimClusterState,
  journalFile,
  nodeDisk,
  quarantineClusterState,
  readDataplaneState,
  readState,
  writeDataplaneStateAsync,
  writeState,
  type DiskIO,
} from "./persistence.ts";

function journalSize(dataDir: string, id: string): number {
  const file = journalFile(dataDir, id);
  return existsSync(file) ? statSync(file).size : 0;
}

/** The result of `fn` (run now), or its exception, as a promise. */
function settled<T>(fn: () => T): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (err) {
    return Promise.reject(err instanceof Error ? err : new Error(String(err)));
  }
}

/** Cluster state in files under `dataDir`, written through `disk`. */
export function fileClusterState(dataDir: string, disk: DiskIO = nodeDisk): ClusterStateBackend {
  /**
   * What is being written of each cluster off the event loop (its dataplane state): the next write, a delete or a
   * quarantine of the same cluster waits for it, so none lands after them.
   */
  const writing = new Map<string, Promise<unknown>>();
  const after = <T>(id: string, fn: () => T | Promise<T>): Promise<T> => {
    const before = writing.get(id);
    // With nothing being written, `fn` runs at once.
    const run = before ? before.then(fn) : settled(fn).then((v) => v);
    const done = run.catch(() => {});
    writing.set(id, done);
    void done.then(() => {
      if (writing.get(id) === done) writing.delete(id);
    });
    return run;
  };
  return {
    kind: "files",
    load: (id, logger) =>
      settled(() => {
        const state = readState(dataDir, id);
        if (!state) {
          if (existsSync(journalFile(dataDir, id)))
            throw new CorruptStateError(
              journalFile(dataDir, id),
              "a journal without the snapshot it follows",
            );
          return undefined;
        }
        const journal = readJournal(dataDir, id, state.resourceVersion);
        if (journal.tornBytes)
          logger.warn("dropping an unfinished last journal line (a write that was never acknowledged)", {
            file: journalFile(dataDir, id),
            bytes: journal.tornBytes,
          });
        return {
          state,
          entries: journal.entries,
          dataplane: readDataplaneState(dataDir, id, logger),
          journalBytes: journalSize(dataDir, id) - journal.tornBytes,
        };
      }),
    open: (id, from, o) =>
      settled(() => {
        const opts = {
          dataDir,
          id,
          disk,
          snapshot: o.snapshot,
          health: o.health,
          logger: o.logger,
          ...(o.compactBytes !== undefined ? { compactBytes: o.compactBytes } : {}),
        };
        let journal: ClusterJournal;
        if ("fresh" in from) {
          // The first snapshot, then the journal: a cluster the host lists always has both.
          try {
            writeState(dataDir, from.fresh, disk);
            journal = ClusterJournal.open(opts, 0);
          } catch (err) {
            deleteSimClusterState(dataDir, id);
            o.health.failed(err);
            throw toStorageError(err, `the new cluster "${id}" was not saved`);
          }
        } else journal = ClusterJournal.open(opts, from.saved.journalBytes ?? journalSize(dataDir, id));
        const writer: ClusterStateWriter = {
          append: (changes, rv) => journal.append(changes, rv),
          saveDataplane: (state) => after(id, () => writeDataplaneStateAsync(dataDir, id, state, disk)),
          close: () => settled(() => journal.close()),
          abandon: () => {
            try {
              journal.abandon();
            } catch (err) {
              o.logger.error("closing the cluster journal failed", {
                error: err instanceof Error ? err.message : String(err),
              });
            }
          },
        };
        return writer;
      }),
    delete: (id) => after(id, () => deleteSimClusterState(dataDir, id)),
    quarantine: (id) => after(id, () => quarantineClusterState(dataDir, id)),
    close: async () => {
      await Promise.all(writing.values());
    },
  };
}
