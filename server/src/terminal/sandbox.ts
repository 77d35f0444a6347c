/**
 * How a learner's shell is started. In multi-user mode each shell is a tenant boundary, run in bubblewrap:
 * - the system read-only, the learner's own HOME read-write (nosuid, nodev), a private /tmp, /run and PID namespace,
 *   and nothing else of the host (no data directory, no other learners, no server source, no host environment; the
 *   sandbox's arguments are passed on a file descriptor, so even its PID 1 shows no host path; /etc/passwd and
 *   /etc/group are copied in from file descriptors and the API socket's directory is on a tmpfs; the home is a
 *   filesystem of its own where the server runs as root and loop devices work (`home-fs.ts`), so the sandbox's mount
 *   table names no host directory; a home that is a plain directory shows its host path there, see `homeMountNote`);
 * - its own network namespace: only loopback, where a forwarder (socat) listens on 127.0.0.1:6443 and pipes to the
 *   learner's unix socket (`api-socket.ts`), the only way to the learner's own cluster; the web server, host ports and
 *   other learners are unreachable;
 * - as an unprivileged host user: when the server runs as root, the learner's own uid (`uids.ts`), switched to inside
 *   the sandbox with every capability dropped and no_new_privs; otherwise bubblewrap's unprivileged user namespace;
 * - within limits (`limits.ts`): rlimits always, and its own cgroup where the server may create one.
 * `--local` (one user on their own machine) runs a plain shell.
 */
import { execFileSync } from "node:child_process";
import {
  chownSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { EgresslabError } from "../shared/errors.ts";
import { defaultShellLimits, insideUlimit, ulimitCommands, type ShellLimits } from "./limits.ts";
import { sandboxApiPort, sandboxSocketDir } from "./api-socket.ts";

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
  /** Host directory holding the learner's API socket, bound read-only at /run/egresslab; absent: no network at all. */
  socketDir?: string;
  /** The learner's own host user (server running as root); absent: bubblewrap's user namespace as the server's user. */
  user?: { uid: number; gid: number };
  limits?: ShellLimits;
  /** `cgroup.procs` files the shell's first process writes itself into before the sandbox starts. */
  cgroupProcs?: string[];
  /**
   * Sets the shell's process limit again inside the sandbox (default true), where the kernel counts it per user
   * namespace (Linux 5.14 and later); on older kernels without a uid per learner it would count all shells together.
   */
  processesInside?: boolean;
}

/** Descriptors on which the host side hands bwrap the sandbox's /etc/passwd and /etc/group. */
const passwdFd = 4;
const groupFd = 5;

/** /etc entries a shell and kubectl need; only those present on the host are bound. */
const etcEntries = [
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
  "vim",
  "nanorc",
];

const sandboxPath = "/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin";

/** The bwrap arguments (everything before the command). Pure apart from looking at which host paths exist. */
export function bwrapArgs(
  input: LaunchInput,
  exists: (p: string) => "dir" | "link" | "file" | undefined = probePath,
): string[] {
  const limits = input.limits ?? defaultShellLimits;
  const args = ["--ro-bind", "/usr", "/usr"];
  for (const top of ["/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"]) {
    const kind = exists(top);
    if (kind === "link") args.push("--symlink", `usr${top}`, top);
    else if (kind) args.push("--ro-bind", top, top);
  }
  // bwrap running as root would create /etc 0700; the learner must read it.
  args.push("--perms", "0755", "--dir", "/etc");
  for (const e of etcEntries) {
    const p = `/etc/${e}`;
    if (exists(p)) args.push("--ro-bind", p, p);
  }
  args.push(
    "--perms", "0644", "--ro-bind-data", String(passwdFd), "/etc/passwd",
    "--perms", "0644", "--ro-bind-data", String(groupFd), "/etc/group",
    "--proc", "/proc",
    "--dev", "/dev",
    "--size", String(limits.tmpMiB * 1024 * 1024), "--tmpfs", "/tmp",
    "--tmpfs", "/run",
    "--dir", "/home",
    "--bind", input.home, sandboxHome,
  ); // prettier-ignore
  if (input.socketDir) args.push("--ro-bind", input.socketDir, sandboxSocketDir);
  if (!input.user) args.push("--unshare-user", "--uid", "1000", "--gid", "1000");
  args.push(
    "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-net", "--unshare-cgroup-try",
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

/**
 * Sets the shell's own process limit, starts the forwarder to the learner's API socket (in its own session, off the
 * terminal), then the shell.
 */
const insideScript = (limits: string): string =>
  `${limits}${limits ? " || exit 125; " : ""}if [ -S ${sandboxSocketDir}/api.sock ]; then ` +
  `setsid -f socat TCP-LISTEN:${sandboxApiPort},bind=127.0.0.1,fork,reuseaddr UNIX-CONNECT:${sandboxSocketDir}/api.sock ` +
  `</dev/null >/dev/null 2>&1; fi; exec /bin/bash "$@"`;

/**
 * Runs on the host, as the user bwrap runs as: joins the shell's cgroups, sets the hard rlimits, opens the sandbox's
 * passwd and group files, then starts bwrap with an empty environment, at the shells' nice level, and its options on
 * fd 3 (so that the sandbox's PID 1, a copy of bwrap, shows no host path in its command line). Arguments: how many
 * cgroup.procs files follow, those files, the passwd and group files, the nice level, bwrap, how many bwrap options
 * follow, those options, then the command to run inside.
 */
const hostScript = [
  'n=$1; shift; while [ "$n" -gt 0 ]; do echo $$ > "$1" || exit 125; shift; n=$((n-1)); done',
  `exec ${passwdFd}<"$1" ${groupFd}<"$2" || exit 125; shift 2`,
  "nice=$1; bwrap=$2; nopts=$3; shift 3",
  "LIMITS || exit 125",
  `exec 3< <(printf '%s\\0' "\${@:1:nopts}")`,
  'shift "$nopts"',
  'exec env -i nice -n "$nice" "$bwrap" --args 3 -- "$@"',
].join("\n");

/** The command that starts the learner's interactive shell. */
export function shellLaunch(mode: ShellMode, input: LaunchInput): ShellLaunch {
  const env = shellEnv(mode, input);
  const rc = path.posix.join(env.HOME!, ".bashrc");
  const bash = ["--noprofile", "--rcfile", rc, "-i"];
  if (mode === "local") {
    return { file: "/bin/bash", args: bash, env, cwd: path.join(input.home, input.startDir) };
  }
  const limits = input.limits ?? defaultShellLimits;
  const setenv = Object.entries(env).flatMap(([k, v]) => ["--setenv", k, v]);
  const drop = input.user
    ? [
        "/usr/bin/setpriv", "--reuid", String(input.user.uid), "--regid", String(input.user.gid), "--clear-groups",
        "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--",
      ]
    : []; // prettier-ignore
  const cgroups = input.cgroupProcs ?? [];
  const options = [...bwrapArgs(input), ...setenv];
  return {
    file: "/bin/bash",
    args: [
      "--norc",
      "--noprofile",
      "-c",
      hostScript.replace("LIMITS", ulimitCommands(limits)),
      "egresslab-shell",
      String(cgroups.length),
      ...cgroups,
      path.join(input.etcDir, "passwd"),
      path.join(input.etcDir, "group"),
      String(limits.nice),
      input.bwrapPath ?? "bwrap",
      String(options.length),
      ...options,
      ...drop,
      "/bin/bash",
      "--norc",
      "--noprofile",
      "-c",
      insideScript(input.processesInside === false ? "" : insideUlimit(limits)),
      "egresslab",
      ...bash,
    ],
    env: { PATH: sandboxPath },
    cwd: "/",
  };
}

/** Why the sandbox cannot run here, and how to get it. */
export class SandboxUnavailable extends EgresslabError {
  constructor(
    /** What is missing or failing, e.g. "bubblewrap is not installed". */
    readonly reason: string,
    /** The one-line way to get the sandbox, e.g. "install it: apt-get install bubblewrap socat". */
    readonly remedy: string,
    options?: { cause?: unknown },
  ) {
    super(
      "unavailable",
      `multi-user mode runs each learner's shell in a sandbox, but ${reason}: ${remedy}, or run with --local for a single user`,
      options,
    );
  }
}

/**
 * Proves that the sandbox can start a shell here (bubblewrap installed and allowed to create namespaces, socat
 * present), as it will run: with the learner user when `user` is given. Throws `SandboxUnavailable` otherwise, so
 * multi-user mode fails closed instead of running learners unsandboxed.
 */
export function assertSandboxWorks(
  hostPath: string,
  bwrapPath = "bwrap",
  user?: { uid: number; gid: number },
): void {
  const found = (cmd: string): boolean =>
    cmd.includes("/") ? existsSync(cmd) : hostPath.split(":").some((d) => d && existsSync(path.join(d, cmd)));
  if (!found(bwrapPath))
    throw new SandboxUnavailable(
      "bubblewrap is not installed",
      "install it (apt-get install bubblewrap socat)",
    );
  if (!found("socat") && !existsSync("/usr/bin/socat"))
    throw new SandboxUnavailable(
      "socat, which connects each sandbox to its cluster, is not installed",
      "install it (apt-get install socat)",
    );
  const dir = mkdtempSync(path.join(tmpdir(), "egresslab-bwrap-"));
  try {
    const home = path.join(dir, "home");
    mkdirSync(path.join(home, "probe"), { recursive: true });
    if (user) for (const d of [home, path.join(home, "probe")]) chownSync(d, user.uid, user.gid);
    writeIdentity(dir, user);
    const launch = shellLaunch("bwrap", { home, etcDir: dir, startDir: "probe", hostPath, bwrapPath, user });
    const args = [...launch.args];
    args.splice(args.lastIndexOf("egresslab") - 1, 1, "test ! -e /work && test -w /home/learner && echo ok");
    const out = execFileSync(launch.file, args.slice(0, args.lastIndexOf("egresslab") + 1), {
      env: launch.env,
      cwd: launch.cwd,
      encoding: "utf8",
      timeout: 10_000,
      stdio: "pipe",
    });
    if (out.trim() !== "ok") throw new Error(`unexpected output: ${out.trim()}`);
  } catch (err) {
    const stderr = String((err as { stderr?: unknown }).stderr ?? "").trim();
    const why = stderr || (err instanceof Error ? err.message.split("\n")[0] : String(err));
    throw new SandboxUnavailable(
      `bubblewrap does not work here (${why})`,
      user
        ? "check that bwrap can create namespaces when run as root"
        : "enable unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1 or user.max_user_namespaces), or run the server as root",
      { cause: err },
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Writes the sandbox's /etc/passwd and /etc/group (one user, `learner`: `user`'s uid, or 1000) into `etcDir`. */
export function writeIdentity(etcDir: string, user?: { uid: number; gid: number }): void {
  const uid = user?.uid ?? 1000;
  const gid = user?.gid ?? 1000;
  mkdirSync(etcDir, { recursive: true });
  writeFileIfChanged(
    path.join(etcDir, "passwd"),
    `root:x:0:0:root:/root:/usr/sbin/nologin\nlearner:x:${uid}:${gid}:learner:${sandboxHome}:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n`,
  );
  writeFileIfChanged(path.join(etcDir, "group"), `root:x:0:\nlearner:x:${gid}:\nnogroup:x:65534:\n`);
}

function writeFileIfChanged(file: string, text: string): void {
  try {
    if (readFileSync(file, "utf8") === text) return;
  } catch {
    /* absent: written below */
  }
  writeFileSync(file, text);
}
