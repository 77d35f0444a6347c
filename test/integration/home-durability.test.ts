/**
 * Acknowledged means durable, for a learner's home that is a filesystem of its own: `egresslab serve` (the real entry
 * point, real bubblewrap) is killed with SIGKILL right after a learner's shell wrote a file; the next server on the same
 * data finds the home still mounted and the learner's next shell sees the file; a clean stop unmounts every home, and
 * the image is then clean by `e2fsck`.
 */
import { afterAll, describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { execa, type ResultPromise } from "execa";
import { environment } from "../../server/src/config/options.ts";
import { parseMountinfo, probeHomeFilesystems } from "../../server/src/terminal/home-fs.ts";
import { freePort } from "../helpers/services.ts";
import { Learner, TermWatcher, connected } from "./web-client.ts";

const root = path.join(import.meta.dirname, "..", "..");
const dir = mkdtempSync(path.join(tmpdir(), "egl-home-durable-"));
const dataDir = path.join(dir, "data");
/** Why homes cannot be filesystems of their own here (not root, no loop device), or undefined. */
const cannot = probeHomeFilesystems(path.join(dir, "probe"), process.env.PATH ?? "/usr/bin:/bin");
const children: ResultPromise[] = [];

afterAll(async () => {
  for (const c of children) {
    c.kill("SIGTERM");
    await c;
  }
  rmSync(dir, { recursive: true, force: true });
});

async function serve(port: number): Promise<{ child: ResultPromise; log: () => string }> {
  const child = execa(
    process.execPath,
    [
      path.join(root, "scripts", "egresslab.mjs"),
      "serve",
      "--port",
      String(port),
      "--host",
      "127.0.0.1",
      "--data",
      dataDir,
      "--capacity",
      "2",
      "--home-size",
      "32",
    ],
    {
      cwd: dir,
      env: { ...environment(), HOME: dir },
      extendEnv: false,
      reject: false,
      stdin: "ignore",
      all: true,
    },
  );
  children.push(child);
  let out = "";
  child.all!.on("data", (b: Buffer) => (out += b.toString()));
  await new Promise<void>((resolve, reject) => {
    const t = setInterval(() => {
      if (out.includes("egresslab: open ")) {
        clearInterval(t);
        resolve();
      }
    }, 50);
    void child.then((r) => {
      clearInterval(t);
      reject(new Error(`serve exited (${r.signal ?? r.exitCode}):\n${out}`));
    });
  });
  return { child, log: () => out };
}

async function shell(l: Learner): Promise<{ run: (cmd: string) => Promise<string>; close: () => void }> {
  const s = l.socket();
  const w = new TermWatcher(s);
  await connected(s);
  s.emit("term:attach", { cols: 200, rows: 50 });
  await w.waitText(/learner@egresslab:~\/stage-0\$ $/, 60_000);
  let n = 0;
  return {
    async run(cmd) {
      const mark = `__DONE_${++n}__`;
      const from = w.plain().length;
      s.emit("term:input", { data: `${cmd}; echo "${mark.slice(0, 4)}""${mark.slice(4)}"\r` });
      await w.waitFor(() => w.plain().slice(from).includes(`${mark}\r`), cmd, 30_000);
      const out = w.plain().slice(from);
      return out.slice(out.indexOf("\n") + 1, out.lastIndexOf(mark));
    },
    close: () => s.close(),
  };
}

const homeMounts = (): string[] =>
  parseMountinfo(readFileSync("/proc/self/mountinfo", "utf8"))
    .filter((m) => m.point.startsWith(path.join(dataDir, "learners") + "/"))
    .map((m) => m.point);

describe.skipIf(cannot !== undefined)(
  `a learner's home across a kill -9 (${cannot ?? "loop devices work"})`,
  () => {
    it("keeps what the shell wrote when the server is killed, and a clean stop unmounts every home", async () => {
      const port = await freePort();
      const first = await serve(port);
      expect(first.log()).toMatch(/each its own ext4 filesystem of 32 MiB/);
      const l = new Learner(`http://127.0.0.1:${port}`);
      const id = (await l.join("Durable")).learner.id as string;
      const sh = await shell(l);
      expect(await sh.run("echo durable-$((6*7)) > ~/stage-0/kept.txt && echo WROTE")).toContain("WROTE");
      first.child.kill("SIGKILL");
      await first.child;
      sh.close();
      const home = path.join(dataDir, "learners", id, "home");
      // The kernel keeps the mount (and what was written to it) after the server's death.
      expect(homeMounts()).toContain(home);

      const second = await serve(port);
      const again = await shell(l);
      expect(await again.run("cat ~/stage-0/kept.txt")).toContain("durable-42");
      again.close();
      second.child.kill("SIGTERM");
      const r = await second.child;
      expect(r.exitCode).toBe(0);
      expect(homeMounts()).toEqual([]);
      // Unmounted cleanly: the image needs nothing from e2fsck, and holds the file.
      const image = path.join(dataDir, "learners", id, "home.img");
      const env = { PATH: `${process.env.PATH ?? "/usr/bin:/bin"}:/usr/sbin:/sbin` };
      expect(() => execFileSync("e2fsck", ["-fn", image], { stdio: "pipe", env })).not.toThrow();
      const listed = execFileSync("debugfs", ["-R", "cat /stage-0/kept.txt", image], {
        encoding: "utf8",
        stdio: "pipe",
      });
      expect(listed).toContain("durable-42");
    }, 240_000);
  },
);
