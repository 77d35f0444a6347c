/** Which attendee holds which pooled cluster, kept in a JSON file in the data directory so a restart loses nothing. */
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import path from "node:path";
import { EgresslabError } from "../../shared/errors.ts";

export interface Lease {
  /** The pool entry's name. */
  cluster: string;
  /** ISO time the lease was taken. */
  since: string;
}

interface LeaseFile {
  version: 1;
  leases: Record<string, Lease>;
}

/** Reads the leases; a missing file means none. A damaged file is an error naming it (nothing is overwritten). */
export async function readLeases(file: string): Promise<Map<string, Lease>> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return new Map();
    throw err;
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new EgresslabError(
      "invalid",
      `${file}: the lease file is not valid JSON; fix or remove it (the pool's clusters are then all free)`,
    );
  }
  const leases = (data as Partial<LeaseFile> | null)?.leases;
  if (!leases || typeof leases !== "object")
    throw new EgresslabError("invalid", `${file}: the lease file has no "leases" object`);
  const out = new Map<string, Lease>();
  for (const [id, l] of Object.entries(leases)) {
    if (l && typeof l.cluster === "string")
      out.set(id, { cluster: l.cluster, since: typeof l.since === "string" ? l.since : "" });
  }
  return out;
}

/** Writes the leases atomically (temporary file, then rename). */
export async function writeLeases(file: string, leases: ReadonlyMap<string, Lease>): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const data: LeaseFile = {
    version: 1,
    leases: Object.fromEntries([...leases].sort(([a], [b]) => a.localeCompare(b))),
  };
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(data, null, 2) + "\n");
  await rename(tmp, file);
}
