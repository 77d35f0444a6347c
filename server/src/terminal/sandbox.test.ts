import { describe, expect, it } from "vitest";
import { bwrapArgs, sandboxHome, shellEnv, shellLaunch } from "./sandbox.ts";
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
    expect(pairs("--ro-bind")).toContainEqual(["/etc/resolv.conf", "/etc/resolv.conf"]);
    expect(pairs("--bind")).toEqual([[input.home, sandboxHome]]);
    expect(args.join(" ")).not.toMatch(/\/data\/learners(?!\/l-1)/);
    expect(pairs("--ro-bind").map(([src]) => src)).not.toContain("/etc");
  });

  it("keeps merged-/usr symlinks and skips what the host lacks", () => {
    expect(pairs("--symlink")).toContainEqual(["usr/bin", "/bin"]);
    expect(args).not.toContain("/lib32");
    expect(args).not.toContain("/etc/hosts");
  });

  it("isolates processes, users and the environment, and dies with the server", () => {
    for (const f of ["--unshare-pid", "--unshare-user", "--unshare-ipc", "--die-with-parent", "--clearenv"])
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
    expect(boxed.file).toBe("bwrap");
    expect(boxed.env).toEqual({ PATH: input.hostPath });
    const i = boxed.args.indexOf("KUBECONFIG");
    expect(boxed.args[i + 1]).toBe("/home/learner/.kube/config");
    expect(boxed.args.slice(-4)).toEqual(["--noprofile", "--rcfile", "/home/learner/.bashrc", "-i"]);
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
