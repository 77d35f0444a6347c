/**
 * A learner's shell when the server does not run as root: bubblewrap's user namespace as the server's own user, no
 * cgroups. Run as the server would run it (as root the test drops to an unprivileged uid in a child first), with
 * other processes of that same uid outside the sandbox: each shell still gets its own process count (counted in its
 * user namespace), and per-process memory, data, open files, file size and CPU time limits; nothing of the host's
 * paths shows in its mount table, environment or command lines.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { chownSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { shellLaunch, writeIdentity } from "../../server/src/terminal/sandbox.ts";
import { defaultShellLimits, type ShellLimits } from "../../server/src/terminal/limits.ts";
import { ApiSockets } from "../../server/src/terminal/api-socket.ts";

const asRoot = process.getuid?.() === 0;
/** The unprivileged user the "server" runs as (as root: a uid no one uses; otherwise this test's own). */
const uid = asRoot ? 1_499_999_917 : process.getuid!();
const drop = asRoot ? ["setpriv", `--reuid=${uid}`, `--regid=${uid}`, "--clear-groups", "--"] : [];
const limits: ShellLimits = {
  ...defaultShellLimits,
  processes: 24,
  uidProcesses: 400,
  addressSpaceMiB: 1024,
  dataMiB: 160,
  openFiles: 64,
  fileSizeMiB: 1,
  cpuSeconds: 2,
};

let dir: string;
let home: string;
let etcDir: string;
let sockets: ApiSockets;
let socketDir: string;
const sleepers: ChildProcess[] = [];

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "egl-nonroot-"));
  home = path.join(dir, "data", "learners", "l-1", "home");
  etcDir = path.join(dir, "data", "learners", "l-1", "etc");
  mkdirSync(path.join(home, "stage-0"), { recursive: true });
  writeIdentity(etcDir);
  if (asRoot)
    for (const d of [dir, path.join(dir, "data"), path.dirname(home), home, path.join(home, "stage-0")])
      chownSync(d, uid, uid);
  sockets = new ApiSockets((_id, socket) => socket.end());
  socketDir = await sockets.open("l-1", { uid, gid: uid });
  // Thirty processes of the same user outside any sandbox (the server and other shells, say).
  for (let i = 0; i < 30; i++) {
    const [file, ...args] = [...drop, "sleep", "120"];
    sleepers.push(spawn(file!, args, { stdio: "ignore" }));
  }
  await Promise.all(sleepers.map((s) => new Promise((r) => s.once("spawn", r))));
});

afterAll(() => {
  for (const s of sleepers) s.kill("SIGKILL");
  sockets?.closeAll();
  rmSync(dir, { recursive: true, force: true });
});

/** Runs `script` in the learner's sandbox, launched exactly as the terminal manager launches the shell. */
function inSandbox(script: string): { out: string; code: number | null } {
  const launch = shellLaunch("bwrap", {
    home,
    etcDir,
    startDir: "stage-0",
    hostPath: "/usr/bin:/bin",
    limits,
    socketDir,
  });
  const args = launch.args.slice(0, launch.args.lastIndexOf("egresslab") + 1);
  const [file, ...rest] = [...drop, launch.file, ...args, "-c", script];
  const r = spawnSync(file!, rest, { env: launch.env, cwd: launch.cwd, encoding: "utf8", timeout: 60_000 });
  return { out: `${r.stdout}${r.stderr}`, code: r.status };
}

const forkBomb = `python3 -c '
import os, sys, time, errno
n = 0
try:
    while n < 300:
        if os.fork() == 0:
            time.sleep(2); os._exit(0)
        n += 1
    print("NO-LIMIT", n)
except OSError as e:
    print("FORK-FAILED", errno.errorcode[e.errno], n)
sys.stdout.flush()
'`;

describe("a shell of a server that is not root", () => {
  it("runs as the server's own user through a user namespace, with the hard rlimits of one shell", () => {
    const r = inSandbox(
      "echo ID=$(id -u) U=$(ulimit -Hu) V=$(ulimit -Hv) D=$(ulimit -Hd) N=$(ulimit -Hn) F=$(ulimit -Hf) T=$(ulimit -Ht) C=$(ulimit -Hc); grep ^Uid /proc/self/status; ulimit -u 1000 2>/dev/null || echo RAISE-REFUSED",
    );
    expect(r.out).toContain(
      `ID=1000 U=${limits.processes} V=${limits.addressSpaceMiB * 1024} D=${limits.dataMiB! * 1024} N=${limits.openFiles} F=${limits.fileSizeMiB * 1024} T=${limits.cpuSeconds} C=0`,
    );
    expect(r.out).toContain("RAISE-REFUSED");
  });

  it("counts a fork bomb's processes per shell, not with the same user's processes outside", () => {
    const r = inSandbox(forkBomb);
    const m = /FORK-FAILED EAGAIN (\d+)/.exec(r.out);
    expect(r.out, r.out).toMatch(/FORK-FAILED EAGAIN/);
    const n = Number(m![1]);
    // The shell, python and n children: at most the shell's limit, although 30 processes of the uid run outside.
    expect(n).toBeLessThan(limits.processes);
    expect(n).toBeGreaterThan(limits.processes - 8);
  });

  it("stops a memory hog (data), a file too large, too many open files and a CPU spinner", () => {
    const r = inSandbox(
      [
        `python3 -c 'b = bytearray(${limits.dataMiB! + 64} * 1024 * 1024); print("ALLOCATED")' 2>&1 | tail -1`,
        "head -c 3M /dev/zero > ~/big 2>&1; echo FSIZE-RC=$?",
        `python3 -c 'fs = [open("/dev/null") for _ in range(${limits.openFiles + 10})]; print("OPENED")' 2>&1 | tail -1`,
        "python3 -c 'while True: pass'; echo CPU-RC=$?",
      ].join("; "),
    );
    expect(r.out).toContain("MemoryError");
    expect(r.out).not.toContain("ALLOCATED");
    expect(r.out).toContain("FSIZE-RC=153"); // SIGXFSZ
    expect(r.out).toMatch(/Too many open files/);
    expect(r.out).not.toContain("OPENED");
    expect(r.out).toMatch(/CPU-RC=(152|137)/); // SIGXCPU, or SIGKILL at the hard limit
  }, 60_000);

  it("shows no host path in its mount table, environment, command lines or open files", () => {
    const r = inSandbox(
      "cat /proc/self/mountinfo /proc/mounts; for p in /proc/[0-9]*; do tr '\\0' ' ' < $p/cmdline; echo; tr '\\0' '\\n' < $p/environ; ls -l $p/fd $p/cwd $p/root 2>/dev/null; done; env",
    );
    expect(r.out).toContain("/home/learner");
    const lines = r.out.split("\n");
    const homeMount = lines.filter((l) => [l.split(" ")[1], l.split(" ")[4]].includes("/home/learner"));
    expect(homeMount).toHaveLength(2); // mountinfo and /proc/mounts
    const mentions = (text: string, p: string): boolean =>
      new RegExp(`(^|[\\s=:'"])${p.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}(/|[\\s'"]|$)`).test(text);
    for (const hostPath of [dir, socketDir, process.cwd(), process.env.HOME ?? "/root"]) {
      const leaks = lines.filter((l) => mentions(l, hostPath) && !homeMount.includes(l));
      expect([hostPath, leaks]).toEqual([hostPath, []]);
    }
    // The one exception, the home's own bind mount, shows the home's place on the host filesystem (see
    // `homeMountNote`): in mountinfo only, and in /proc/mounts not at all.
    expect(homeMount.filter((l) => l.includes(dir))).toHaveLength(1);
    expect(homeMount.find((l) => !l.includes(dir))).toMatch(/^\S+ \/home\/learner /);
  });
});
