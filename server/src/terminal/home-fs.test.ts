import { afterAll, afterEach, describe, expect, it } from "vitest";
import { spawn } from "node:child_process";
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import {
  HomeFilesystems,
  commandRunner,
  mountFailure,
  parseMountinfo,
  probeHomeFilesystems,
  type Run,
} from "./home-fs.ts";
import { prepareHome } from "./home.ts";
import type { Logger, LogMeta } from "../shared/logger.ts";

const hostPath = process.env.PATH ?? "/usr/bin:/bin";
const base = mkdtempSync(path.join(tmpdir(), "egl-homefs-"));
/** Why this machine cannot mount homes (not root, no loop device); the tests that need it say so when skipped. */
const cannot = probeHomeFilesystems(path.join(base, "probe"), hostPath);
const owner = { uid: 1_500_000_123, gid: 1_500_000_123 };

const made: HomeFilesystems[] = [];
afterEach(async () => {
  for (const h of made.splice(0)) await h.close();
});
afterAll(() => rmSync(base, { recursive: true, force: true }));

const capture = (): Logger & { lines: { msg: string; meta?: LogMeta }[] } => {
  const lines: { msg: string; meta?: LogMeta }[] = [];
  const log: Logger & { lines: typeof lines } = {
    lines,
    debug: () => undefined,
    info: (msg, meta) => void lines.push({ msg, ...(meta ? { meta } : {}) }),
    warn: (msg, meta) => void lines.push({ msg, ...(meta ? { meta } : {}) }),
    error: (msg, meta) => void lines.push({ msg, ...(meta ? { meta } : {}) }),
    child: () => log,
  };
  return log;
};

function homes(root: string, more: Partial<ConstructorParameters<typeof HomeFilesystems>[0]> = {}) {
  const h = new HomeFilesystems({ root, sizeMiB: 16, hostPath, lingerMs: 0, ...more });
  made.push(h);
  return h;
}

const mountsAt = (point: string) =>
  parseMountinfo(readFileSync("/proc/self/mountinfo", "utf8")).filter((m) => m.point === point);

const settle = async (h: HomeFilesystems, id: string, mounted: boolean): Promise<void> => {
  for (let i = 0; i < 100 && h.isMounted(id) !== mounted; i++) await new Promise((r) => setTimeout(r, 50));
  expect(h.isMounted(id)).toBe(mounted);
};

describe("mount tables and failures", () => {
  it("parses mountinfo with escapes and optional fields", () => {
    const text = [
      "46 27 7:0 / /srv/l/a\\040b/home rw,nosuid,nodev,relatime shared:5 - ext4 /dev/loop0 rw",
      "45 27 254:0 /run/netns /run/netns rw,relatime - ext4 /dev/vda rw",
      "broken line",
    ].join("\n");
    expect(parseMountinfo(text)).toEqual([
      { root: "/", point: "/srv/l/a b/home", fstype: "ext4", source: "/dev/loop0" },
      { root: "/run/netns", point: "/run/netns", fstype: "ext4", source: "/dev/vda" },
    ]);
  });

  it("names a missing loop device as such", () => {
    expect(mountFailure(new Error("mount: /x/home: failed to setup loop device for /x/home.img."))).toMatch(
      /^no free loop device \(/,
    );
    expect(mountFailure(new Error("e2fsck: bad superblock"))).toBe("e2fsck: bad superblock");
  });
});

describe.skipIf(cannot !== undefined)(
  `homes as filesystems of their own (${cannot ?? "loop devices work"})`,
  () => {
    it("makes an image of the home's size on first use, mounts it nosuid,nodev, owned by the learner, and unmounts it after the last holder", async () => {
      const root = path.join(base, "first");
      const h = homes(root);
      const p = h.paths("l-1");
      expect(await h.acquire("l-1", owner)).toBe("filesystem");
      const [m, ...more] = mountsAt(p.home);
      expect(more).toEqual([]);
      expect(m).toMatchObject({ root: "/", fstype: "ext4" });
      expect(m!.source).toMatch(/^\/dev\/loop\d+$/);
      const line = readFileSync("/proc/self/mountinfo", "utf8")
        .split("\n")
        .find((l) => l.split(" ")[4] === p.home)!;
      expect(line.split(" ")[5]).toMatch(/(^|,)nosuid(,|$)/);
      expect(line.split(" ")[5]).toMatch(/(^|,)nodev(,|$)/);
      expect(line.split(" ")[5]).not.toMatch(/noexec/);
      expect(statSync(p.image).size).toBe(16 * 1024 * 1024);
      // Sparse: a new home costs the disk its metadata only.
      expect(statSync(p.image).blocks * 512).toBeLessThan(1024 * 1024);
      expect(statSync(p.home).uid).toBe(owner.uid);
      expect(statSync(p.home).mode & 0o777).toBe(0o700);
      writeFileSync(path.join(p.home, "kept.txt"), "kept\n");
      // A second holder (the shell after preparing): still one mount; it goes only after both let go.
      expect(await h.acquire("l-1", owner)).toBe("filesystem");
      expect(mountsAt(p.home)).toHaveLength(1);
      h.release("l-1");
      await new Promise((r) => setTimeout(r, 200));
      expect(h.isMounted("l-1")).toBe(true);
      h.release("l-1");
      await settle(h, "l-1", false);
      expect(readdirSync(p.home)).toEqual([]);
      // The mount point keeps the learner as owner, which is how the uids are found again after a restart.
      expect(statSync(p.home).uid).toBe(owner.uid);
      expect(await h.acquire("l-1", owner)).toBe("filesystem");
      expect(readFileSync(path.join(p.home, "kept.txt"), "utf8")).toBe("kept\n");
      h.release("l-1");
    });

    it("enforces the home's size: writing past it is ENOSPC", async () => {
      const h = homes(path.join(base, "full"));
      expect(await h.acquire("l-1", owner)).toBe("filesystem");
      const home = h.paths("l-1").home;
      const chunk = Buffer.alloc(1024 * 1024, 7);
      let written = 0;
      let error: NodeJS.ErrnoException | undefined;
      try {
        for (; written < 64; written++) writeFileSync(path.join(home, `f${written}`), chunk);
      } catch (err) {
        error = err as NodeJS.ErrnoException;
      }
      expect(error?.code).toBe("ENOSPC");
      expect(written).toBeGreaterThan(8);
      expect(written).toBeLessThan(16);
      h.release("l-1");
    });

    it("moves a plain home into its image, following no link, and removes the plain copy", async () => {
      const root = path.join(base, "migrate");
      const outside = path.join(base, "migrate-outside");
      mkdirSync(outside, { recursive: true });
      writeFileSync(path.join(outside, "secret"), "host file\n");
      const plain = path.join(root, "l-1", "home");
      prepareHome(plain, { kubeconfig: "apiVersion: v1\n", dirs: ["stage-0"], files: [] });
      writeFileSync(path.join(plain, "stage-0", "mine.yaml"), "kind: Mine\n");
      chmodSync(path.join(plain, "stage-0", "mine.yaml"), 0o640);
      symlinkSync(path.join(outside, "secret"), path.join(plain, "link"));
      symlinkSync(outside, path.join(plain, "dirlink"));
      const h = homes(root);
      expect(await h.acquire("l-1")).toBe("filesystem");
      expect(mountsAt(plain)).toHaveLength(1);
      expect(readFileSync(path.join(plain, "stage-0", "mine.yaml"), "utf8")).toBe("kind: Mine\n");
      expect(statSync(path.join(plain, "stage-0", "mine.yaml")).mode & 0o777).toBe(0o640);
      expect(readFileSync(path.join(plain, ".kube", "config"), "utf8")).toBe("apiVersion: v1\n");
      expect(lstatSync(path.join(plain, "link")).isSymbolicLink()).toBe(true);
      expect(readlinkSync(path.join(plain, "dirlink"))).toBe(outside);
      expect(readdirSync(outside)).toEqual(["secret"]);
      expect(readFileSync(path.join(outside, "secret"), "utf8")).toBe("host file\n");
      expect(readdirSync(path.join(root, "l-1")).sort()).toEqual(["home", "home.img"]);
      h.release("l-1");
      await settle(h, "l-1", false);
      // Under the mount point nothing is left of the plain copy.
      expect(readdirSync(plain)).toEqual([]);
    });

    it("keeps files written in the plain directory while the image was not mounted in a new directory, writing through no link in the image", async () => {
      const root = path.join(base, "recover");
      const outside = path.join(base, "recover-outside");
      mkdirSync(outside, { recursive: true });
      const h = homes(root);
      const p = h.paths("l-1");
      expect(await h.acquire("l-1", owner)).toBe("filesystem");
      // The learner plants links in their own home: a directory name pointing outside it.
      symlinkSync(outside, path.join(p.home, "stage-0"));
      symlinkSync(path.join(outside, "f"), path.join(p.home, "f"));
      h.release("l-1");
      await settle(h, "l-1", false);
      // A shell that ran in the plain directory (the image could not be mounted then) left files of the same names.
      mkdirSync(path.join(p.home, "stage-0"));
      writeFileSync(path.join(p.home, "stage-0", "evil.txt"), "through the link?\n");
      writeFileSync(path.join(p.home, "f"), "through the file link?\n");
      expect(await h.acquire("l-1", owner)).toBe("filesystem");
      expect(readdirSync(outside)).toEqual([]);
      expect(readlinkSync(path.join(p.home, "stage-0"))).toBe(outside);
      const [recovered, ...more] = readdirSync(p.home).filter((n) => n.startsWith("recovered-"));
      expect(more).toEqual([]);
      expect(readFileSync(path.join(p.home, recovered!, "stage-0", "evil.txt"), "utf8")).toBe(
        "through the link?\n",
      );
      expect(readFileSync(path.join(p.home, recovered!, "f"), "utf8")).toBe("through the file link?\n");
      expect(statSync(path.join(p.home, recovered!)).uid).toBe(owner.uid);
      h.release("l-1");
      await settle(h, "l-1", false);
      expect(readdirSync(p.home)).toEqual([]);
    });

    it("grows a home made for a smaller size when the home size is raised, keeping its files", async () => {
      const root = path.join(base, "grow");
      const small = homes(root);
      expect(await small.acquire("l-1", owner)).toBe("filesystem");
      writeFileSync(path.join(small.paths("l-1").home, "kept.txt"), "kept\n");
      await small.close();
      const large = homes(root, { sizeMiB: 40 });
      expect(await large.acquire("l-1", owner)).toBe("filesystem");
      const p = large.paths("l-1");
      expect(statSync(p.image).size).toBe(40 * 1024 * 1024);
      expect(readFileSync(path.join(p.home, "kept.txt"), "utf8")).toBe("kept\n");
      // Room for more than the old size now.
      for (let i = 0; i < 24; i++) writeFileSync(path.join(p.home, `f${i}`), Buffer.alloc(1024 * 1024, 1));
      large.release("l-1");
    });

    it("keeps a plain home that does not fit as it is, and says why", async () => {
      const root = path.join(base, "too-big");
      const plain = path.join(root, "l-1", "home");
      mkdirSync(plain, { recursive: true });
      writeFileSync(path.join(plain, "big"), Buffer.alloc(24 * 1024 * 1024, 1));
      const log = capture();
      const h = homes(root, { logger: log });
      expect(await h.acquire("l-1")).toBe("directory");
      expect(mountsAt(plain)).toEqual([]);
      expect(statSync(path.join(plain, "big")).size).toBe(24 * 1024 * 1024);
      expect(existsSync(h.paths("l-1").image)).toBe(false);
      expect(
        log.lines.find((l) => l.msg.startsWith("a learner's home is a plain directory"))?.meta?.reason,
      ).toMatch(/cp: .*No space left on device/);
      h.release("l-1");
    });

    it("without a free loop device, the home is its plain directory and the log says why", async () => {
      const real = commandRunner(hostPath);
      const noLoop: Run = (file, args) =>
        file === "mount"
          ? Promise.reject(
              new Error(`mount: ${args.at(-1)}: failed to setup loop device for ${args.at(-2)}.`),
            )
          : real(file, args);
      const log = capture();
      const h = homes(path.join(base, "no-loop"), { run: noLoop, logger: log });
      expect(await h.acquire("l-1", owner)).toBe("directory");
      const home = h.paths("l-1").home;
      expect(mountsAt(home)).toEqual([]);
      expect(lstatSync(home).isDirectory()).toBe(true);
      expect(statSync(home).uid).toBe(owner.uid);
      const line = log.lines.find((l) => l.msg.startsWith("a learner's home is a plain directory"));
      expect(line?.meta).toMatchObject({ learner: "l-1" });
      expect(String(line?.meta?.reason)).toMatch(/^no free loop device/);
      h.release("l-1");
    });

    it("two holders at once mount once", async () => {
      const h = homes(path.join(base, "race"));
      const kinds = await Promise.all([
        h.acquire("l-1", owner),
        h.acquire("l-1", owner),
        h.acquire("l-2", owner),
      ]);
      expect(kinds).toEqual(["filesystem", "filesystem", "filesystem"]);
      expect(mountsAt(h.paths("l-1").home)).toHaveLength(1);
      expect(mountsAt(h.paths("l-2").home)).toHaveLength(1);
      await h.close();
      expect(mountsAt(h.paths("l-1").home)).toEqual([]);
      expect(mountsAt(h.paths("l-2").home)).toEqual([]);
    });

    it("keeps what was written when the server is killed: the next one reuses the mount, or unmounts it and checks the image", async () => {
      const root = path.join(base, "killed");
      const runChild = async (id: string, text: string): Promise<void> => {
        const child = spawn(
          process.execPath,
          [
            "--import",
            "tsx",
            path.join(import.meta.dirname, "../../../test/fixtures/hold-home.ts"),
            root,
            id,
            text,
          ],
          { stdio: ["ignore", "pipe", "pipe"] },
        );
        let out = "";
        let err = "";
        child.stderr.on("data", (b: Buffer) => (err += b.toString()));
        await new Promise<void>((resolve, reject) => {
          child.stdout.on("data", (b: Buffer) => {
            out += b.toString();
            if (out.includes("\n")) resolve();
          });
          child.once("exit", (code) => reject(new Error(`exited ${code}: ${err}`)));
        });
        expect(out).toBe("written filesystem\n");
        const gone = new Promise((r) => child.once("exit", r));
        child.kill("SIGKILL");
        await gone;
      };
      await runChild("l-1", "first words");
      await runChild("l-2", "second words");
      const next = homes(root);
      // Reused as it is: still mounted after the kill.
      expect(next.isMounted("l-1")).toBe(true);
      expect(await next.acquire("l-1")).toBe("filesystem");
      expect(readFileSync(path.join(next.paths("l-1").home, "notes.txt"), "utf8")).toBe("first words");
      next.release("l-1");
      // At start, a stale mount nothing uses is unmounted (written back), then mounted again after `e2fsck -p`.
      const calls: string[] = [];
      const real = commandRunner(hostPath);
      const started = homes(root, { run: (f, a) => (calls.push(f), real(f, a)) });
      expect(started.sweep()).toBeGreaterThanOrEqual(1);
      expect(started.isMounted("l-2")).toBe(false);
      expect(await started.acquire("l-2")).toBe("filesystem");
      expect(calls).toContain("e2fsck");
      expect(readFileSync(path.join(started.paths("l-2").home, "notes.txt"), "utf8")).toBe("second words");
      started.release("l-2");
    }, 60_000);
  },
);
