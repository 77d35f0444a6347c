import { describe, expect, it } from "vitest";
import { bwrapArgs, sandboxHome, shellEnv, shellLaunch } from "./sandbox.ts";
import { defaultShellLimits } from "./limits.ts";
import { safeRelative } from "./home.ts";

const input = {
  home: "/data/learners/l-1/home",
  etcDir: "/data/learners/l-1/etc",
  startDir: "stage-1",
  hostPath: "/opt/node/bin:/usr/bin",
};
const merged = (p: string): "dir" | "link" | "file" | undefined =>
  ["/bin", "/lib", "/lib64", "/sbin"].includes(p) ? "link" : p === "/etc/resolv.conf" ? "file" : undefined;

describe("bwrapArgs", () => {
  const args = bwrapArgs(input, merged);
  const pairs = (flag: string): string[][] =>
    args.flatMap((a, i) => (a === flag ? [[args[i + 1]!, args[i + 2]!]] : []));

  it("binds the system read-only and only the learner's own home read-write", () => {
    expect(pairs("--ro-bind")).toContainEqual(["/usr", "/usr"]);
    // No network but the cluster's: the host's resolver configuration is not shown.
    expect(args).not.toContain("/etc/resolv.conf");
    expect(pairs("--bind")).toEqual([[input.home, sandboxHome]]);
    expect(args.join(" ")).not.toMatch(/\/data\/learners(?!\/l-1)/);
    expect(pairs("--ro-bind").map(([src]) => src)).not.toContain("/etc");
    // passwd and group are copied in from descriptors: no host directory of the server's shows in the mount table.
    expect(pairs("--ro-bind-data")).toEqual([
      ["4", "/etc/passwd"],
      ["5", "/etc/group"],
    ]);
    expect(args.join(" ")).not.toContain(input.etcDir);
  });

  it("keeps merged-/usr symlinks and skips what the host lacks", () => {
    expect(pairs("--symlink")).toContainEqual(["usr/bin", "/bin"]);
    expect(args).not.toContain("/lib32");
    expect(args).not.toContain("/etc/hosts");
  });

  it("isolates processes, users and the environment, and dies with the server", () => {
    for (const f of [
      "--unshare-pid",
      "--unshare-user",
      "--unshare-ipc",
      "--unshare-net",
      "--die-with-parent",
      "--clearenv",
    ])
      expect(args).toContain(f);
    expect(pairs("--tmpfs").map(([p]) => p)).toContain("/tmp");
    expect(args[args.indexOf("--chdir") + 1]).toBe("/home/learner/stage-1");
  });
});

describe("shellLaunch", () => {
  it("passes nothing of the server's environment but PATH (local) and points KUBECONFIG into HOME", () => {
    const local = shellLaunch("local", input);
    expect(local.env).toEqual(shellEnv("local", input));
    expect(local.env.KUBECONFIG).toBe("/data/learners/l-1/home/.kube/config");
    expect(local.cwd).toBe("/data/learners/l-1/home/stage-1");
    const boxed = shellLaunch("bwrap", input);
    expect(boxed.file).toBe("/bin/bash");
    expect(boxed.env.PATH).not.toContain("/opt/node");
    expect(boxed.cwd).toBe("/");
    const i = boxed.args.indexOf("KUBECONFIG");
    expect(boxed.args[i + 1]).toBe("/home/learner/.kube/config");
    expect(boxed.args.slice(-4)).toEqual(["--noprofile", "--rcfile", "/home/learner/.bashrc", "-i"]);
  });

  it("as root, switches to the learner's uid with no capabilities inside, instead of a user namespace", () => {
    const boxed = shellLaunch("bwrap", { ...input, user: { uid: 1_500_000_007, gid: 1_500_000_007 } });
    expect(boxed.args).not.toContain("--unshare-user");
    const at = boxed.args.indexOf("/usr/bin/setpriv");
    expect(boxed.args.slice(at, at + 10)).toEqual([
      "/usr/bin/setpriv",
      "--reuid",
      "1500000007",
      "--regid",
      "1500000007",
      "--clear-groups",
      "--inh-caps=-all",
      "--bounding-set=-all",
      "--no-new-privs",
      "--",
    ]);
  });

  it("joins the given cgroups and sets hard rlimits before bwrap starts, and binds the API socket directory", () => {
    const boxed = shellLaunch("bwrap", {
      ...input,
      socketDir: "/run/x/l-1",
      cgroupProcs: ["/sys/fs/cgroup/pids/g/l-1/cgroup.procs"],
      limits: { ...defaultShellLimits, processes: 77 },
    });
    const script = boxed.args[boxed.args.indexOf("-c") + 1]!;
    expect(script).toContain("ulimit -HS -u 77");
    // The process limit again inside the sandbox, where it counts this shell alone.
    expect(boxed.args[boxed.args.lastIndexOf("egresslab") - 1]).toMatch(/^ulimit -HS -u 77 \|\| exit 125; /);
    const noInside = shellLaunch("bwrap", { ...input, processesInside: false });
    expect(noInside.args[noInside.args.lastIndexOf("egresslab") - 1]).toMatch(/^if \[ -S /);
    expect(boxed.args.slice(boxed.args.indexOf("egresslab-shell") + 1).slice(0, 4)).toEqual([
      "1",
      "/sys/fs/cgroup/pids/g/l-1/cgroup.procs",
      "/data/learners/l-1/etc/passwd",
      "/data/learners/l-1/etc/group",
    ]);
    const ro = boxed.args.indexOf("/run/x/l-1");
    expect(boxed.args.slice(ro - 1, ro + 2)).toEqual(["--ro-bind", "/run/x/l-1", "/run/egresslab"]);
  });
});

describe("safeRelative", () => {
  it.each(["stage-1/x.yaml", "a/../b.txt"])("accepts %s", (p) => {
    expect(() => safeRelative(p)).not.toThrow();
  });
  it.each(["/etc/passwd", "../other/home", "a/../../b"])("rejects %s", (p) => {
    expect(() => safeRelative(p)).toThrow(/inside the learner's home/);
  });
});
