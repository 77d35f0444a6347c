/**
 * Host user ids for learners' shells, when the server runs as root: each learner gets one uid from a configured range
 * (kept as the owner of their HOME, so it survives restarts), so the kernel keeps learners apart (signals, ptrace,
 * files, the process limit) and no shell ever runs as host root.
 */
import { readFileSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { ValidationError } from "../shared/errors.ts";

export interface UidRange {
  first: number;
  last: number;
}

/** Far above ordinary users (1000+) and the usual subordinate id ranges of containers (100000 + 65536 · n). */
export const defaultUidRange = "1500000000-1500999999";

/** Parses `FIRST-LAST`. */
export function parseUidRange(text: string, where = "--learner-uids"): UidRange {
  const m = /^\s*(\d+)\s*-\s*(\d+)\s*$/.exec(text);
  const first = m ? Number(m[1]) : NaN;
  const last = m ? Number(m[2]) : NaN;
  if (!m || !(first >= 1000) || !(last >= first) || last > 4_294_967_294)
    throw new ValidationError([
      { where, message: `expects FIRST-LAST, two user ids from 1000 to 4294967294, got "${text}"` },
    ]);
  return { first, last };
}

/** The user ids /etc/passwd (and /etc/subuid ranges) already use inside `range`, to refuse an overlapping range. */
export function overlapsHostUsers(range: UidRange, etc = "/etc"): string | undefined {
  const read = (f: string): string => {
    try {
      return readFileSync(path.join(etc, f), "utf8");
    } catch {
      return "";
    }
  };
  for (const line of read("passwd").split("\n")) {
    const [name, , uid] = line.split(":");
    const n = Number(uid);
    if (name && uid && n >= range.first && n <= range.last) return `the host user ${name} (uid ${n})`;
  }
  for (const file of ["subuid", "subgid"]) {
    for (const line of read(file).split("\n")) {
      const [name, start, count] = line.split(":");
      const s = Number(start);
      const e = s + Number(count) - 1;
      if (name && Number.isFinite(s) && Number.isFinite(e) && s <= range.last && e >= range.first)
        return `the subordinate ids of ${name} in /etc/${file} (${s}-${e})`;
    }
  }
  return undefined;
}

export class LearnerUids {
  private readonly byLearner = new Map<string, number>();
  private readonly taken = new Set<number>();
  private next: number;

  /** `root` holds `<learnerId>/home`; the owners of existing homes in the range are their learners' uids. */
  constructor(
    private readonly range: UidRange,
    root: string,
  ) {
    this.next = range.first;
    let names: string[] = [];
    try {
      names = readdirSync(root);
    } catch {
      /* no learners yet */
    }
    for (const id of names) {
      try {
        const uid = statSync(path.join(root, id, "home")).uid;
        if (uid >= range.first && uid <= range.last && !this.taken.has(uid)) {
          this.byLearner.set(id, uid);
          this.taken.add(uid);
        }
      } catch {
        /* not a learner directory */
      }
    }
  }

  /** The learner's uid (and gid, the same number), allocating the next free one for a new learner. */
  of(learnerId: string): { uid: number; gid: number } {
    let uid = this.byLearner.get(learnerId);
    if (uid === undefined) {
      const size = this.range.last - this.range.first + 1;
      for (let i = 0; i < size && this.taken.has(this.next); i++)
        this.next = this.next >= this.range.last ? this.range.first : this.next + 1;
      if (this.taken.has(this.next))
        throw new Error(`every user id in ${this.range.first}-${this.range.last} is taken by a learner`);
      uid = this.next;
      this.taken.add(uid);
      this.byLearner.set(learnerId, uid);
    }
    return { uid, gid: uid };
  }
}
