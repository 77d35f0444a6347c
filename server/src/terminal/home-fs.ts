/**
 * Each learner's home as a filesystem of its own, when the server runs as root and loop devices work: an ext4 image
 * of the home's size limit (`<learners>/<id>/home.img`, sparse, journalled) mounted (loop, nosuid, nodev) on
 * `<learners>/<id>/home` while the learner is active. So the filesystem itself enforces the home's size (a full home
 * is ENOSPC inside the sandbox), and a sandbox's mount table shows its home as `/` of `/dev/loopN`, no host path.
 *
 * - Made on first use; a home that was a plain directory is copied into it (`cp -a`, which follows no link) and the
 *   plain copy removed once the image holds it. An image is checked (`e2fsck -p`) before it is mounted, and grown
 *   (`resize2fs`) when the home size was raised since it was made.
 * - Mounted while something holds it (`acquire`/`release`: preparing the home, a running shell), and unmounted a
 *   while (`lingerMs`) after the last holder let go, so preparing then starting a shell mounts once; `close`
 *   unmounts every home this server mounted (unmounting writes everything back).
 * - A mount left by a server that was killed is reused by the next one (a mount of the same image shares its loop
 *   device and filesystem), and `sweep` unmounts those not in use when the server starts.
 * - When a home cannot be mounted (no free loop device, a damaged image, a full image on migration) it is a plain
 *   directory for that shell, as without this, and the log says why; a join never fails for it.
 */
import { execFile, execFileSync } from "node:child_process";
import {
  chmodSync,
  chownSync,
  closeSync,
  constants,
  ftruncateSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  unlinkSync,
} from "node:fs";
import { randomBytes } from "node:crypto";
import path from "node:path";
import type { Logger } from "../shared/logger.ts";
import { noopLogger } from "../shared/logger.ts";
import type { HomeOwner } from "./home.ts";

/** What a learner's home is for one holder: its own filesystem, or a plain directory of the data directory's. */
export type HomeKind = "filesystem" | "directory";

/** Runs a program; resolves with its stdout, rejects with an error whose message ends with its stderr. */
export type Run = (file: string, args: string[]) => Promise<string>;

export interface HomeFilesystemOptions {
  /** Where learners' directories are (`<root>/<id>/home`). */
  root: string;
  /** Size of each image, in MiB (the home's size limit). */
  sizeMiB: number;
  /** The server's PATH (the filesystem tools are looked up there and in /usr/sbin, /sbin). */
  hostPath: string;
  /** How long a home stays mounted after its last holder let go (default 60 s). */
  lingerMs?: number;
  run?: Run;
  /** This process's mount table (default /proc/self/mountinfo). */
  mountinfo?: () => string;
  logger?: Logger;
}

/** Mount options of every home: no setuid program or device file in it takes effect; scripts still run. */
export const homeMountOptions = "loop,nosuid,nodev";

const toolPath = (hostPath: string): string => `${hostPath}:/usr/sbin:/sbin:/usr/bin:/bin`;

/** Runs the filesystem tools as children (never holding the event loop), with `hostPath` and the sbin directories. */
export function commandRunner(hostPath: string): Run {
  return (file, args) =>
    new Promise((resolve, reject) =>
      execFile(
        file,
        args,
        { env: { PATH: toolPath(hostPath), LC_ALL: "C" }, timeout: 120_000, maxBuffer: 1 << 20 },
        (err, stdout, stderr) => {
          if (!err) return resolve(stdout);
          const why = stderr.trim().split("\n").slice(-2).join(" ") || err.message;
          reject(Object.assign(new Error(`${file}: ${why}`), { code: err.code, stderr }));
        },
      ),
    );
}

/** Unescapes the octal escapes (`\040`) of a mountinfo field. */
export const unescapeMountField = (s: string): string =>
  s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));

export interface MountEntry {
  /** Path inside the source's filesystem (`/` for a filesystem's own root). */
  root: string;
  point: string;
  fstype: string;
  source: string;
}

/** The entries of a mountinfo text. */
export function parseMountinfo(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split("\n")) {
    const f = line.split(" ");
    const dash = f.indexOf("-");
    if (f.length < 5 || dash < 6) continue;
    out.push({
      root: unescapeMountField(f[3]!),
      point: unescapeMountField(f[4]!),
      fstype: f[dash + 1] ?? "",
      source: unescapeMountField(f[dash + 2] ?? ""),
    });
  }
  return out;
}

function readMountinfo(): string {
  try {
    return readFileSync("/proc/self/mountinfo", "utf8");
  } catch {
    return "";
  }
}

/** The file behind a loop device (`/dev/loop3`), or undefined. */
function loopBackingFile(device: string): string | undefined {
  const m = /^\/dev\/(loop\d+)$/.exec(device);
  if (!m) return undefined;
  try {
    return readFileSync(`/sys/block/${m[1]}/loop/backing_file`, "utf8").trim();
  } catch {
    return undefined;
  }
}

/** Why a mount failed, in words an operator can act on. */
export function mountFailure(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  if (/loop device|no free loop|could not find any free loop/i.test(text))
    return `no free loop device (${text.replace(/^[^:]*: /, "")})`;
  return text;
}

export class HomeFilesystems {
  private readonly holders = new Map<string, number>();
  private readonly lingering = new Map<string, NodeJS.Timeout>();
  private readonly chains = new Map<string, Promise<unknown>>();
  /** Homes this server mounted or reused (unmounted by `close`). */
  private readonly mounted = new Set<string>();
  private readonly run: Run;
  private readonly log: Logger;
  private readonly mountinfo: () => string;
  private closed = false;

  constructor(private readonly opts: HomeFilesystemOptions) {
    this.run = opts.run ?? commandRunner(opts.hostPath);
    this.log = opts.logger ?? noopLogger;
    this.mountinfo = opts.mountinfo ?? readMountinfo;
  }

  /** The learner's directory, home (the mount point) and image. */
  paths(learnerId: string): { dir: string; home: string; image: string; staging: string } {
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(learnerId)) throw new Error(`"${learnerId}" is not a learner id`);
    const dir = path.join(this.opts.root, learnerId);
    return {
      dir,
      home: path.join(dir, "home"),
      image: path.join(dir, "home.img"),
      staging: path.join(dir, ".home-staging"),
    };
  }

  /**
   * Makes the learner's home ready for one more holder: mounted when it can be (made, or migrated from a plain
   * directory, on first use), else the plain directory; says which. Never rejects: a home that cannot be mounted is
   * a plain directory, and the log says why. Each `acquire` is matched by one `release`.
   */
  acquire(learnerId: string, owner?: HomeOwner): Promise<HomeKind> {
    const p = this.paths(learnerId);
    const timer = this.lingering.get(learnerId);
    if (timer) clearTimeout(timer);
    this.lingering.delete(learnerId);
    const others = this.holders.get(learnerId) ?? 0;
    this.holders.set(learnerId, others + 1);
    return this.serial(learnerId, async () => {
      try {
        return await this.ensureMounted(learnerId, p, owner, others === 0);
      } catch (err) {
        this.log.warn(
          "a learner's home is a plain directory for now: it could not be mounted as its own filesystem",
          {
            learner: learnerId,
            reason: mountFailure(err),
            ...(exists(p.image)
              ? { note: "their files in its image come back when it can be mounted again" }
              : {}),
          },
        );
        return "directory";
      }
    });
  }

  /** One holder let go; the home is unmounted `lingerMs` after the last one did. */
  release(learnerId: string): void {
    const n = (this.holders.get(learnerId) ?? 0) - 1;
    if (n > 0) {
      this.holders.set(learnerId, n);
      return;
    }
    this.holders.delete(learnerId);
    if (this.closed) return;
    this.scheduleUnmount(learnerId, this.opts.lingerMs ?? 60_000);
  }

  /** True while the learner's image is mounted on their home. */
  isMounted(learnerId: string): boolean {
    const p = this.paths(learnerId);
    return this.mountOf(p.home, p.image) === "ours";
  }

  /** Unmounts every home this server mounted (after the shells ended): everything written is on disk after it. */
  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.lingering.values()) clearTimeout(t);
    this.lingering.clear();
    await Promise.all(
      [...this.mounted].map((id) =>
        this.serial(id, async () => {
          const p = this.paths(id);
          if (this.mountOf(p.home, p.image) !== "ours") return;
          if (!(await this.unmount(p.home, 10))) {
            this.log.warn(
              "a learner's home is still in use; detached it, it is unmounted once its last user ends",
              {
                learner: id,
              },
            );
            await this.run("umount", ["-l", p.home]).catch(() => undefined);
          }
          this.mounted.delete(id);
        }),
      ),
    );
  }

  /**
   * When the server starts: unmounts what a killed server left (homes and interrupted migrations) that nothing uses,
   * and removes half-made images and plain copies already migrated. Runs before the first `acquire`; returns how
   * many mounts it removed.
   */
  sweep(): number {
    let n = 0;
    for (const m of parseMountinfo(this.mountinfo())) {
      const rel = path.relative(this.opts.root, m.point);
      const parts = rel.split(path.sep);
      if (rel.startsWith("..") || parts.length !== 2 || !["home", ".home-staging"].includes(parts[1]!))
        continue;
      try {
        execFileSync("umount", [m.point], { env: { PATH: toolPath(this.opts.hostPath) }, stdio: "pipe" });
        n++;
      } catch {
        /* in use: reused by the next acquire */
      }
    }
    let ids: string[] = [];
    try {
      ids = readdirSync(this.opts.root);
    } catch {
      /* no learners yet */
    }
    for (const id of ids) {
      const dir = path.join(this.opts.root, id);
      let names: string[];
      try {
        names = readdirSync(dir);
      } catch {
        continue;
      }
      for (const name of names)
        if (name === "home.img.new" || name.startsWith("home.migrated-"))
          rmSync(path.join(dir, name), { recursive: true, force: true });
    }
    if (n) this.log.info("unmounted learners' homes a stopped server left mounted", { count: n });
    return n;
  }

  private serial<T>(learnerId: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.chains.get(learnerId) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.catch(() => undefined);
    this.chains.set(learnerId, tail);
    void tail.then(() => {
      if (this.chains.get(learnerId) === tail) this.chains.delete(learnerId);
    });
    return next;
  }

  private scheduleUnmount(learnerId: string, ms: number): void {
    const t = setTimeout(() => {
      this.lingering.delete(learnerId);
      void this.serial(learnerId, async () => {
        if (this.holders.has(learnerId) || this.closed) return;
        const p = this.paths(learnerId);
        if (this.mountOf(p.home, p.image) !== "ours" || (await this.unmount(p.home, 1)))
          this.mounted.delete(learnerId);
        else if (!this.holders.has(learnerId)) this.scheduleUnmount(learnerId, Math.max(ms, 5000));
      });
    }, ms);
    t.unref();
    this.lingering.set(learnerId, t);
  }

  /** What is mounted on `home`: our image, something else, or nothing. */
  private mountOf(home: string, image: string): "ours" | "other" | undefined {
    let found: MountEntry | undefined;
    for (const m of parseMountinfo(this.mountinfo())) if (m.point === home) found = m;
    if (!found) return undefined;
    const backing = loopBackingFile(found.source);
    return backing !== undefined && samePath(backing, image) ? "ours" : "other";
  }

  private async ensureMounted(
    learnerId: string,
    p: ReturnType<HomeFilesystems["paths"]>,
    owner: HomeOwner | undefined,
    alone: boolean,
  ): Promise<HomeKind> {
    const now = this.mountOf(p.home, p.image);
    if (now === "ours") {
      this.mounted.add(learnerId);
      return "filesystem";
    }
    if (now === "other") throw new Error(`something other than its image is mounted on ${p.home}`);
    mkdirSync(p.dir, { recursive: true, mode: 0o755 });
    ensurePlainDir(p.home, owner);
    const hasPlainFiles = readdirSync(p.home).length > 0;
    // A shell already runs in the plain directory (an earlier mount failed): it stays that for this shell.
    if (!alone && !exists(p.image)) return "directory";
    let created = false;
    if (!exists(p.image)) {
      // A new image gets the plain home's files before it takes the image's name: a copy cut short leaves no image.
      const fresh = await this.makeImage(p.image, owner);
      try {
        if (hasPlainFiles) await this.copyIn(p, fresh, owner);
        renameSync(fresh, p.image);
      } catch (err) {
        rmSync(fresh, { force: true });
        throw err;
      }
      created = true;
    } else {
      if (!(await this.attached(p.image))) {
        await this.check(p.image);
        await this.grow(learnerId, p.image);
      }
      // Files written in the plain directory while the image could not be mounted: kept in a new directory of the
      // home, never merged into what the learner has there (a link they planted must not redirect the copy).
      if (hasPlainFiles && alone)
        await this.copyIn(p, p.image, owner, `recovered-${new Date().toISOString().replace(/[:.]/g, "-")}`);
    }
    if (hasPlainFiles && alone) await this.removePlain(p, owner);
    await this.run("mount", ["-o", homeMountOptions, p.image, p.home]);
    this.mounted.add(learnerId);
    if (owner) chownSync(p.home, owner.uid, owner.gid);
    chmodSync(p.home, 0o700);
    if (created)
      this.log.info("made a learner's home its own filesystem", {
        learner: learnerId,
        mib: this.opts.sizeMiB,
      });
    return "filesystem";
  }

  /** A sparse image of the size limit with an empty ext4 on it, under a name of its own (`<image>.new`). */
  private async makeImage(image: string, owner: HomeOwner | undefined): Promise<string> {
    const tmp = `${image}.new`;
    rmSync(tmp, { force: true });
    const fd = openSync(
      tmp,
      constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
      0o600,
    );
    try {
      ftruncateSync(fd, this.opts.sizeMiB * 1024 * 1024);
    } finally {
      closeSync(fd);
    }
    try {
      await this.run("mkfs.ext4", [
        "-q",
        "-F",
        "-m",
        "0",
        "-E",
        // The file is new and sparse, so it reads as zeros already: nothing to zero or discard (about 0.4 MB on
        // disk instead of 4 MB, and a faster join).
        `root_owner=${owner?.uid ?? 0}:${owner?.gid ?? 0},lazy_itable_init=1,lazy_journal_init=1,nodiscard`,
        "-L",
        "home",
        tmp,
      ]);
    } catch (err) {
      rmSync(tmp, { force: true });
      throw err;
    }
    return tmp;
  }

  /** True when a loop device already serves `image` (mounted elsewhere, or by a sandbox still ending). */
  private async attached(image: string): Promise<boolean> {
    const out = await this.run("losetup", ["-j", image]).catch(() => "");
    return out.trim() !== "";
  }

  /** `e2fsck -p`: replays the journal and fixes what is safe; a home needing more is not mounted. */
  private async check(image: string): Promise<void> {
    try {
      await this.run("e2fsck", ["-p", image]);
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      // 1: errors corrected; 2: corrected, reboot advised (for a root filesystem).
      if (code === 1 || code === 2) return;
      throw new Error(`its image needs a check by hand (e2fsck -f ${image}): ${(err as Error).message}`, {
        cause: err,
      });
    }
  }

  /** Grows an image made for a smaller home size to the current one (a larger one stays as it is). */
  private async grow(learnerId: string, image: string): Promise<void> {
    const want = this.opts.sizeMiB * 1024 * 1024;
    const size = statSync(image).size;
    if (size >= want) return;
    const fd = openSync(image, constants.O_WRONLY | constants.O_NOFOLLOW);
    try {
      ftruncateSync(fd, want);
    } finally {
      closeSync(fd);
    }
    await this.run("e2fsck", ["-f", "-p", image]).catch((err: unknown) => {
      const code = (err as { code?: unknown }).code;
      if (code !== 1 && code !== 2) throw err;
    });
    await this.run("resize2fs", [image]);
    this.log.info("grew a learner's home to the home size", {
      learner: learnerId,
      fromMiB: Math.round(size / 1048576),
      toMiB: this.opts.sizeMiB,
    });
  }

  /**
   * Copies the plain home into `image`, mounted aside: into its root when the image is new (nothing there but
   * lost+found), else into the new directory `into`, so nothing already in the image (a link) is written through.
   */
  private async copyIn(
    p: ReturnType<HomeFilesystems["paths"]>,
    image: string,
    owner: HomeOwner | undefined,
    into?: string,
  ): Promise<void> {
    mkdirSync(p.staging, { recursive: true, mode: 0o700 });
    await this.run("mount", ["-o", homeMountOptions, image, p.staging]);
    try {
      let target = p.staging;
      if (into) {
        target = path.join(p.staging, into);
        mkdirSync(target, { mode: 0o700 });
        if (owner) chownSync(target, owner.uid, owner.gid);
      }
      await this.run("cp", ["-a", "--", `${p.home}/.`, `${target}/`]);
      if (owner) chownSync(p.staging, owner.uid, owner.gid);
      chmodSync(p.staging, 0o700);
    } finally {
      await this.run("umount", [p.staging]);
      rmSync(p.staging, { recursive: true, force: true });
    }
  }

  /** Removes the plain home once its image holds its files (the mount point stays, empty). */
  private async removePlain(
    p: ReturnType<HomeFilesystems["paths"]>,
    owner: HomeOwner | undefined,
  ): Promise<void> {
    const aside = path.join(p.dir, `home.migrated-${randomBytes(4).toString("hex")}`);
    renameSync(p.home, aside);
    ensurePlainDir(p.home, owner);
    await this.run("rm", ["-rf", "--one-file-system", "--", aside]);
    this.log.info("moved a learner's home into its own filesystem", { learner: path.basename(p.dir) });
  }

  /** Unmounts `point`, trying `tries` times half a second apart; false when it stays busy. */
  private async unmount(point: string, tries: number): Promise<boolean> {
    for (let i = 0; i < tries; i++) {
      try {
        await this.run("umount", [point]);
        return true;
      } catch (err) {
        if (i === tries - 1) {
          this.log.warn("could not unmount a learner's home yet", {
            home: point,
            error: (err as Error).message,
          });
          return false;
        }
        await new Promise((r) => setTimeout(r, 500));
      }
    }
    return false;
  }
}

function exists(p: string): boolean {
  try {
    lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

function samePath(a: string, b: string): boolean {
  try {
    const x = statSync(a);
    const y = statSync(b);
    return x.dev === y.dev && x.ino === y.ino;
  } catch {
    return path.resolve(a) === path.resolve(b);
  }
}

/** The mount point: a real directory (a link or file in its place is removed), owned by the learner, 0700. */
function ensurePlainDir(home: string, owner: HomeOwner | undefined): void {
  try {
    const st = lstatSync(home);
    if (!st.isDirectory()) unlinkSync(home);
  } catch {
    /* absent */
  }
  mkdirSync(home, { recursive: true, mode: 0o700 });
  if (owner) chownSync(home, owner.uid, owner.gid);
  chmodSync(home, 0o700);
}

/**
 * Proves that homes can be filesystems of their own here: makes, mounts and unmounts a small image under `root`
 * (so on the data directory's filesystem). Returns why not, or undefined when they can. Runs once, at start.
 */
export function probeHomeFilesystems(root: string, hostPath: string): string | undefined {
  if (process.getuid?.() !== 0) return "the server does not run as root";
  const env = { PATH: toolPath(hostPath), LC_ALL: "C" };
  let dir: string | undefined;
  let mounted = false;
  try {
    mkdirSync(root, { recursive: true });
    dir = mkdtempSync(path.join(root, ".probe-"));
    const image = path.join(dir, "probe.img");
    const point = path.join(dir, "mnt");
    mkdirSync(point);
    const fd = openSync(image, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
    ftruncateSync(fd, 8 * 1024 * 1024);
    closeSync(fd);
    execFileSync("mkfs.ext4", ["-q", "-F", image], { env, stdio: "pipe", timeout: 30_000 });
    execFileSync("mount", ["-o", homeMountOptions, image, point], { env, stdio: "pipe", timeout: 30_000 });
    mounted = true;
    const fstype = parseMountinfo(readMountinfo()).findLast((m) => m.point === point)?.fstype;
    if (fstype !== "ext4") return `a mounted image does not show as ext4 (${fstype ?? "not mounted"})`;
    return undefined;
  } catch (err) {
    const stderr = String((err as { stderr?: unknown }).stderr ?? "").trim();
    return mountFailure(new Error(stderr || (err instanceof Error ? err.message : String(err))));
  } finally {
    if (mounted && dir)
      try {
        execFileSync("umount", [path.join(dir, "mnt")], { env, stdio: "pipe" });
      } catch {
        /* left for the next sweep */
      }
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
}
