/**
 * Host user ids for learners' shells, when the server runs as root: each learner gets one uid from a configured range
 * (kept as the owner of their HOME, so it survives restarts), so the kernel keeps learners apart (signals, ptrace,
 * files, the process limit) and no shell ever runs as host root.
 */
import { mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
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

/**
 * Each learner's host uid. Several replicas may share the learners' directory (a volume every replica mounts): a uid is
 * claimed by creating `<root>/.uids/<uid>` exclusively (holding the learner's id), so two replicas never hand out the
 * same one, and a learner this process has not seen keeps the uid claimed (or owning their home) elsewhere.
 */
export class LearnerUids {
  private readonly byLearner = new Map<string, number>();
  private readonly taken = new Set<number>();
  private readonly claims: string;
  private next: number;

  /** `root` holds `<learnerId>/home`; the owners of existing homes in the range are their learners' uids. */
  constructor(
    private readonly range: UidRange,
    private readonly root: string,
  ) {
    this.next = range.first;
    this.claims = path.join(root, ".uids");
    let names: string[] = [];
    try {
      names = readdirSync(root);
    } catch {
      /* no learners yet */
    }
    for (const id of names) this.adoptHome(id);
    let claimed: string[] = [];
    try {
      claimed = readdirSync(this.claims);
    } catch {
      /* none claimed yet */
    }
    for (const name of claimed) this.readClaim(Number(name));
  }

  private inRange(uid: number): boolean {
    return Number.isInteger(uid) && uid >= this.range.first && uid <= this.range.last;
  }

  /** Takes the owner of the learner's existing home as their uid. */
  private adoptHome(id: string): number | undefined {
    try {
      const uid = statSync(path.join(this.root, id, "home")).uid;
      if (this.inRange(uid) && !this.taken.has(uid)) {
        this.byLearner.set(id, uid);
        this.taken.add(uid);
        return uid;
      }
    } catch {
      /* not a learner directory */
    }
    return undefined;
  }

  /** Records a claimed uid and whose it is; returns the learner id, or undefined when it cannot be read. */
  private readClaim(uid: number): string | undefined {
    if (!this.inRange(uid)) return undefined;
    let id: string;
    try {
      id = readFileSync(path.join(this.claims, String(uid)), "utf8");
    } catch {
      return undefined;
    }
    this.taken.add(uid);
    if (id && !this.byLearner.has(id)) this.byLearner.set(id, uid);
    return id;
  }

  /** Claims `uid` for the learner on the shared volume: false when another claimed it first. */
  private claim(uid: number, learnerId: string): boolean {
    try {
      mkdirSync(this.claims, { recursive: true, mode: 0o700 });
      writeFileSync(path.join(this.claims, String(uid)), learnerId, { flag: "wx", mode: 0o600 });
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") return true; // no claims here (read-only, no root): this process alone
      return this.readClaim(uid) === learnerId;
    }
  }

  /** The learner's uid (and gid, the same number), allocating the next free one for a new learner. */
  of(learnerId: string): { uid: number; gid: number } {
    let uid = this.byLearner.get(learnerId) ?? this.adoptHome(learnerId);
    if (uid === undefined) {
      const size = this.range.last - this.range.first + 1;
      for (let tries = 0; tries < size; tries++) {
        const candidate = this.next;
        this.next = this.next >= this.range.last ? this.range.first : this.next + 1;
        if (this.taken.has(candidate)) continue;
        if (this.claim(candidate, learnerId)) {
          uid = candidate;
          break;
        }
        // Another replica claimed it (for someone else, or for this learner: then it is theirs).
        const mine = this.byLearner.get(learnerId);
        if (mine !== undefined) return { uid: mine, gid: mine };
      }
      if (uid === undefined)
        throw new Error(`every user id in ${this.range.first}-${this.range.last} is taken by a learner`);
      this.taken.add(uid);
      this.byLearner.set(learnerId, uid);
    }
    return { uid, gid: uid };
  }
}
