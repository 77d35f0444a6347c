import { afterEach, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { homeMountNote, homesSeenAs, nprocPerUserNamespace, setUpSandbox } from "./sandbox-setup.ts";
import { defaultShellLimits } from "./limits.ts";
import type { Logger, LogMeta } from "../shared/logger.ts";
import { FakeCgroup2 } from "../../../test/fixtures/cgroup2.ts";

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));
const tmp = (): string => {
  const d = mkdtempSync(path.join(tmpdir(), "egl-setup-"));
  dirs.push(d);
  return d;
};

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

const mountinfo = [
  "22 27 0:21 / /proc rw,relatime - proc proc rw",
  "27 1 254:0 / / rw,relatime - ext4 /dev/vda rw",
  "40 27 0:33 / /srv/egl/learners rw,relatime - tmpfs tmpfs rw",
  "41 27 254:0 /volumes/v1 /data rw,relatime - ext4 /dev/vda rw",
  "42 27 254:0 /a\\040b /space\\040dir rw,relatime - ext4 /dev/vda rw",
].join("\n");

describe("what a sandbox's mount table shows of the homes", () => {
  it("is the homes' path inside their filesystem", () => {
    expect(homesSeenAs("/var/lib/egl/learners", mountinfo)).toBe("/var/lib/egl/learners");
    expect(homesSeenAs("/srv/egl/learners", mountinfo)).toBe("/");
    expect(homesSeenAs("/data/learners", mountinfo)).toBe("/volumes/v1/learners");
    expect(homesSeenAs("/space dir/learners", mountinfo)).toBe("/a b/learners");
    expect(homeMountNote("/srv/egl/learners", mountinfo)).toMatch(
      /filesystem of its own: .* \/<learner>\/home$/,
    );
    expect(homeMountNote("/data/learners", mountinfo)).toMatch(
      /shows .* \/volumes\/v1\/learners\/<learner>\/home; put \/data\/learners on a filesystem of its own/,
    );
  });
});

describe("the kernel counts processes per user namespace", () => {
  it.each([
    ["6.18.44-fc", true],
    ["5.14.0", true],
    ["5.10.0-28-amd64", false],
    ["4.19.0", false],
    ["x", false],
  ])("%s: %s", (k, want) => expect(nprocPerUserNamespace(k)).toBe(want));
});

describe("setUpSandbox", () => {
  const base = {
    limits: { ...defaultShellLimits, processes: 40 },
    hostPath: "/usr/bin:/bin",
    bwrapPath: "bwrap",
    range: { first: 1_500_000_000, last: 1_500_000_099 },
    capacity: 10,
    mountinfo,
    skipProbe: true,
  };

  it("on cgroup v2 says so at start, with the per-shell limits, and hands the layout to the shells", () => {
    const dir = tmp();
    const fs = new FakeCgroup2(path.join(dir, "cgroup"));
    fs.write(path.join(fs.root, "cgroup.subtree_control"), "+cpu +memory +pids");
    fs.group("egl", [process.pid]);
    writeFileSync(path.join(dir, "self"), "0::/egl\n");
    const log = capture();
    const sb = setUpSandbox({
      ...base,
      asRoot: true,
      learnersDir: "/srv/egl/learners",
      kernel: "6.1.0",
      cgroups: { root: fs.root, selfCgroup: path.join(dir, "self"), fs, pid: process.pid },
      probeHomes: () => "no free loop device (x)",
      log,
    });
    expect(sb.cgroups?.version).toBe(2);
    expect(sb.uids).toBeDefined();
    expect(sb.limits?.uidProcesses).toBeUndefined();
    const start = log.lines.find((l) => l.msg === "learners' shells are sandboxed");
    expect(start?.meta?.cgroups).toBe(
      `cgroup v2 under ${path.join(fs.root, "egl", "egresslab-shells")} (this server moved to egresslab-server, beside it): 1024 MiB memory, 40 pids, cpu weight below the server's, per shell`,
    );
    expect(start?.meta?.limits).toMatch(/^rlimits: 40 processes per shell \(its own host uid\);/);
    expect(start?.meta?.homes).toMatch(
      /^plain directories \(no free loop device \(x\)\); .*filesystem of its own/,
    );
    expect(sb.homes).toBeUndefined();
  });

  it("as root with working loop devices: each home its own filesystem of the home's size, said at start; off when asked", () => {
    const learnersDir = path.join(tmp(), "learners");
    const log = capture();
    const sb = setUpSandbox({
      ...base,
      limits: { ...base.limits, homeMiB: 64 },
      asRoot: true,
      learnersDir,
      kernel: "6.1.0",
      cgroups: { root: path.join(learnersDir, "none"), selfCgroup: path.join(learnersDir, "none") },
      probeHomes: () => undefined,
      log,
    });
    expect(sb.homes).toBeDefined();
    expect(sb.homes!.paths("l-1").image).toBe(path.join(learnersDir, "l-1", "home.img"));
    const start = log.lines.find((l) => l.msg === "learners' shells are sandboxed")!;
    expect(start.meta?.homes).toMatch(/^each its own ext4 filesystem of 64 MiB .*no host path$/);
    const off = capture();
    let probed = false;
    const sbOff = setUpSandbox({
      ...base,
      asRoot: true,
      learnersDir,
      kernel: "6.1.0",
      cgroups: { root: path.join(learnersDir, "none"), selfCgroup: path.join(learnersDir, "none") },
      homeFilesystems: false,
      probeHomes: () => void (probed = true),
      log: off,
    });
    expect(sbOff.homes).toBeUndefined();
    expect(probed).toBe(false);
    expect(off.lines.find((l) => l.msg === "learners' shells are sandboxed")!.meta?.homes).toMatch(
      /^plain directories \(--no-home-filesystems\); /,
    );
  });

  it("not as root: each shell's process count in its own user namespace, all of them bounded together, and no cgroups said plainly", () => {
    const dir = tmp();
    writeFileSync(path.join(dir, "self"), "0::/\n");
    const log = capture();
    const sb = setUpSandbox({
      ...base,
      asRoot: false,
      learnersDir: "/var/lib/egl/learners",
      kernel: "6.1.0",
      cgroups: { root: path.join(dir, "none"), selfCgroup: path.join(dir, "self") },
      log,
    });
    expect(sb.uids).toBeUndefined();
    expect(sb.cgroups).toBeUndefined();
    expect(sb.processesInside).toBe(true);
    expect(sb.limits?.uidProcesses).toBe(40 * 10 + 1024);
    const start = log.lines.find((l) => l.msg === "learners' shells are sandboxed")!;
    expect(start.meta?.limits).toMatch(
      /^rlimits: 40 processes per shell \(its own user namespace\), 1424 for all shells together .*MiB address space.*s CPU.*home 200 MiB/,
    );
    expect(start.meta?.cgroups).toMatch(/^none \(no cgroup v1 controller is writable: .*\); rlimits only$/);
    expect(start.meta?.homes).toMatch(
      /^plain directories \(the server does not run as root\); .*\/var\/lib\/egl\/learners\/<learner>\/home/,
    );
    // An older kernel counts RLIMIT_NPROC per uid only: no per-shell count, and the log says so.
    const old = capture();
    const sbOld = setUpSandbox({
      ...base,
      asRoot: false,
      learnersDir: "/x",
      kernel: "5.10.0",
      cgroups: { root: path.join(dir, "none"), selfCgroup: path.join(dir, "self") },
      log: old,
    });
    expect(sbOld.processesInside).toBe(false);
    expect(old.lines[0]?.meta?.limits).toMatch(
      /^rlimits: 1424 processes for all shells together .*before 5\.14/,
    );
  });
});
