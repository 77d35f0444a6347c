/**
 * How a learner's shell is started. In multi-user mode the shell runs inside bubblewrap: the system read-only, the
 * learner's own HOME read-write, a private /tmp and PID namespace, and nothing else of the host (no data directory,
 * no other learners, no server source). `--local` (one user on their own machine) runs a plain shell.
 */
import { execFileSync } from "node:child_process";
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { EgresslabError } from "../shared/errors.ts";

export type ShellMode = "local" | "bwrap";

/** Where the learner's home is inside the sandbox. */
export const sandboxHome = "/home/learner";

export interface ShellLaunch {
  file: string;
  args: string[];
  env: Record<string, string>;
  cwd: string;
}

export interface LaunchInput {
  /** The learner's home directory on the host. */
  home: string;
  /** Files generated for this learner outside HOME (passwd, group), bound read-only into the sandbox's /etc. */
  etcDir: string;
  /** Directory, relative to HOME, where the shell starts (e.g. `stage-1`). */
  startDir: string;
  /** The host's PATH, for local mode. */
  hostPath: string;
  bwrapPath?: string;
}

/** /etc entries a shell and kubectl need; only those present on the host are bound. */
const etcEntries = [
  "resolv.conf",
  "hosts",
  "nsswitch.conf",
  "host.conf",
  "ssl",
  "ca-certificates",
  "ca-certificates.conf",
  "alternatives",
  "bash.bashrc",
  "bash_completion",
  "bash_completion.d",
  "profile",
  "profile.d",
  "inputrc",
  "terminfo",
  "ld.so.cache",
  "ld.so.conf",
  "ld.so.conf.d",
  "localtime",
  "timezone",
  "mime.types",
  "os-release",
];

const sandboxPath = "/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin";

/** The bwrap arguments (everything before the command). Pure apart from looking at which host paths exist. */
export function bwrapArgs(
  input: LaunchInput,
  exists: (p: string) => "dir" | "link" | "file" | undefined = probePath,
): string[] {
  const args = ["--ro-bind", "/usr", "/usr"];
  for (const top of ["/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"]) {
    const kind = exists(top);
    if (kind === "link") args.push("--symlink", `usr${top}`, top);
    else if (kind) args.push("--ro-bind", top, top);
  }
  for (const e of etcEntries) {
    const p = `/etc/${e}`;
    if (exists(p)) args.push("--ro-bind", p, p);
  }
  args.push(
    "--ro-bind", path.join(input.etcDir, "passwd"), "/etc/passwd",
    "--ro-bind", path.join(input.etcDir, "group"), "/etc/group",
    "--proc", "/proc",
    "--dev", "/dev",
    "--tmpfs", "/tmp",
    "--tmpfs", "/run",
    "--dir", "/home",
    "--bind", input.home, sandboxHome,
    "--unshare-user", "--uid", "1000", "--gid", "1000",
    "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
    "--hostname", "egresslab",
    "--die-with-parent",
    "--clearenv",
    "--chdir", path.posix.join(sandboxHome, input.startDir),
  ); // prettier-ignore
  return args;
}

function probePath(p: string): "dir" | "link" | "file" | undefined {
  try {
    const st = lstatSync(p);
    return st.isSymbolicLink() ? "link" : st.isDirectory() ? "dir" : "file";
  } catch {
    return undefined;
  }
}

/** The environment of a learner's shell; nothing of the server's own environment leaks in. */
export function shellEnv(mode: ShellMode, input: LaunchInput): Record<string, string> {
  const home = mode === "bwrap" ? sandboxHome : input.home;
  return {
    HOME: home,
    USER: "learner",
    LOGNAME: "learner",
    SHELL: "/bin/bash",
    TERM: "xterm-256color",
    COLORTERM: "truecolor",
    LANG: "C.UTF-8",
    PATH: mode === "bwrap" ? sandboxPath : input.hostPath,
    KUBECONFIG: path.posix.join(home, ".kube", "config"),
    KUBECACHEDIR: path.posix.join(home, ".kube", "cache"),
  };
}

/** The command that starts the learner's interactive shell. */
export function shellLaunch(mode: ShellMode, input: LaunchInput): ShellLaunch {
  const env = shellEnv(mode, input);
  const rc = path.posix.join(env.HOME!, ".bashrc");
  const bash = ["--noprofile", "--rcfile", rc, "-i"];
  if (mode === "local") {
    return { file: "/bin/bash", args: bash, env, cwd: path.join(input.home, input.startDir) };
  }
  const setenv = Object.entries(env).flatMap(([k, v]) => ["--setenv", k, v]);
  return {
    file: input.bwrapPath ?? "bwrap",
    args: [...bwrapArgs(input), ...setenv, "/bin/bash", ...bash],
    env: { PATH: input.hostPath },
    cwd: input.home,
  };
}

/**
 * Proves that bubblewrap can start a shell here (installed, user namespaces allowed). Throws a clear error
 * otherwise, so multi-user mode fails closed instead of running learners unsandboxed.
 */
export function assertSandboxWorks(hostPath: string, bwrapPath = "bwrap"): void {
  const dir = mkdtempSync(path.join(tmpdir(), "egresslab-bwrap-"));
  try {
    const home = path.join(dir, "home");
    mkdirSync(path.join(home, "probe"), { recursive: true });
    writeIdentity(dir);
    const launch = shellLaunch("bwrap", { home, etcDir: dir, startDir: "probe", hostPath, bwrapPath });
    const args = [
      ...launch.args.slice(0, launch.args.lastIndexOf("/bin/bash")),
      "/bin/sh",
      "-c",
      "test ! -e /work && echo ok",
    ];
    const out = execFileSync(launch.file, args, {
      env: launch.env,
      encoding: "utf8",
      timeout: 10_000,
      stdio: "pipe",
    });
    if (out.trim() !== "ok") throw new Error(`unexpected output: ${out.trim()}`);
  } catch (err) {
    const stderr = String((err as { stderr?: unknown }).stderr ?? "").trim();
    const why = stderr || (err instanceof Error ? err.message.split("\n")[0] : String(err));
    const missing = !existsSync(bwrapPath) && (err as NodeJS.ErrnoException).code === "ENOENT";
    throw new EgresslabError(
      "unavailable",
      missing
        ? "multi-user mode runs each learner's shell in bubblewrap, which is not installed: install it (apt-get install bubblewrap) or run with --local for a single user"
        : `multi-user mode runs each learner's shell in bubblewrap, which does not work here (${why}); enable unprivileged user namespaces or run with --local for a single user`,
      { cause: err },
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Writes the sandbox's /etc/passwd and /etc/group (one user, `learner`, uid 1000) into `etcDir`. */
export function writeIdentity(etcDir: string): void {
  mkdirSync(etcDir, { recursive: true });
  writeFileIfChanged(
    path.join(etcDir, "passwd"),
    `root:x:0:0:root:/root:/usr/sbin/nologin\nlearner:x:1000:1000:learner:${sandboxHome}:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n`,
  );
  writeFileIfChanged(path.join(etcDir, "group"), "root:x:0:\nlearner:x:1000:\nnogroup:x:65534:\n");
}

function writeFileIfChanged(file: string, text: string): void {
  try {
    if (readFileSync(file, "utf8") === text) return;
  } catch {
    /* absent: written below */
  }
  writeFileSync(file, text);
}
