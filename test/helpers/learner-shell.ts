/**
 * A learner's shell for tests that run guide commands as the terminal does: one long-lived bash (started from the
 * terminal's own launch: its program, arguments, environment and directory), fed one command at a time, each command's
 * output (stdout and stderr together, as a terminal shows them) and exit code returned. Background jobs (`kubectl
 * port-forward … &`), the working directory and shell variables carry over from one command to the next.
 *
 * With `network`, the shell runs in a network namespace of its own, like the sandbox's (and like a toolbox pod), so
 * that the fixed ports guides use (Whisker's 8081) never meet another test's: only loopback, where a forwarder (socat)
 * listens on the cluster API's port and pipes to a unix socket whose connections go to that API (`ApiSockets` of the
 * terminal); the sandbox's own launch brings its namespace and forwarder itself. It is a plain pipe, not a pty: no
 * prompt, the echo of what is typed taken out, and commands cannot read the test's input (each runs with stdin from
 * /dev/null).
 */
import { spawn, type ChildProcess } from "node:child_process";
import type { Socket } from "node:net";
import path from "node:path";
import { ApiSockets } from "../../server/src/terminal/api-socket.ts";
import type { ShellLaunch } from "../../server/src/terminal/sandbox.ts";
import { onPath } from "../setup/host-tools.ts";

export interface CommandResult {
  exitCode: number;
  /** stdout and stderr, interleaved as the shell wrote them. */
  output: string;
  /** The command did not finish in time (the shell is then unusable). */
  timedOut?: boolean;
}

export interface LearnerShellOptions {
  launch: ShellLaunch;
  /**
   * Runs the launch in a network namespace of its own where only the cluster's API is reachable (a launch that makes
   * its own, such as the sandbox's, goes without).
   */
  network?: {
    /** The port of the cluster's API on 127.0.0.1 (the kubeconfig's server), offered inside the namespace. */
    apiPort: number;
    /** Hands a connection made inside the namespace to that API (a pipe, or the provider's `connectApi`). */
    connect: (socket: Socket) => void;
  };
}

function hostProgram(name: string): string {
  for (const dir of ["/usr/sbin", "/sbin", "/usr/bin", "/bin", "/usr/local/bin"])
    if (onPath(name, dir)) return path.join(dir, name);
  throw new Error(`${name} is not installed (the learner shell's network namespace needs it)`);
}

/** Sets up the namespace's loopback and the forwarder, then becomes the launch's program. */
const namespaceScript = [
  "ip=$1 socat=$2 port=$3 sock=$4 cwd=$5; shift 5",
  '"$ip" link set lo up || exit 125',
  '"$socat" TCP-LISTEN:"$port",bind=127.0.0.1,fork,reuseaddr UNIX-CONNECT:"$sock" </dev/null >/dev/null 2>&1 &',
  'for _ in $(seq 1 200); do (: <>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.05; done',
  'cd "$cwd" || exit 125',
  "exec 2>&1",
  'exec "$@"',
].join("\n");

/** What follows each command: its exit code between two ASCII separators (RS, US) that no command prints. */
const RS = String.fromCharCode(0x1e);
const US = String.fromCharCode(0x1f);

function findMarker(buffer: string): { index: number; end: number; code: number } | undefined {
  const index = buffer.indexOf(RS);
  const close = index < 0 ? -1 : buffer.indexOf(US, index);
  if (close < 0) return undefined;
  const end = buffer[close + 1] === "\n" ? close + 2 : close + 1;
  return { index, end, code: Number(buffer.slice(index + 1, close)) };
}

export class LearnerShell {
  private buffer = "";
  private exited: number | undefined;
  private waiting: (() => void) | undefined;
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly child: ChildProcess,
    private readonly sockets: ApiSockets,
  ) {
    child.stdout!.setEncoding("utf8");
    child.stdout!.on("data", (d: string) => {
      this.buffer += d;
      this.waiting?.();
    });
    child.on("exit", (code) => {
      this.exited = code ?? -1;
      this.waiting?.();
    });
  }

  static async start(o: LearnerShellOptions): Promise<LearnerShell> {
    const sockets = new ApiSockets((_id, socket) => o.network?.connect(socket));
    let child: ChildProcess;
    if (o.network) {
      const dir = await sockets.open("learner");
      const asRoot = process.getuid?.() === 0;
      child = spawn(
        hostProgram("unshare"),
        [
          ...(asRoot ? ["--net"] : ["--user", "--map-root-user", "--net"]),
          "--",
          "/bin/bash",
          "--norc",
          "--noprofile",
          "-c",
          namespaceScript,
          "learner-shell",
          hostProgram("ip"),
          hostProgram("socat"),
          String(o.network.apiPort),
          path.join(dir, "api.sock"),
          o.launch.cwd,
          o.launch.file,
          ...o.launch.args,
        ],
        { env: o.launch.env, stdio: ["pipe", "pipe", "inherit"], detached: true },
      );
    } else {
      child = spawn(
        "/bin/bash",
        [
          "--norc",
          "--noprofile",
          "-c",
          'exec 2>&1; exec "$@"',
          "learner-shell",
          o.launch.file,
          ...o.launch.args,
        ],
        { env: o.launch.env, cwd: o.launch.cwd, stdio: ["pipe", "pipe", "inherit"], detached: true },
      );
    }
    const shell = new LearnerShell(child, sockets);
    // The interactive shell's prompt would land in every command's output.
    const first = await shell.run("PS1= PS2=", 30_000);
    if (first.exitCode !== 0) throw new Error(`the learner shell did not start: ${first.output}`);
    return shell;
  }

  /** Runs `command` (one or more lines, heredocs included) as if typed at the prompt. */
  run(command: string, timeoutMs = 90_000): Promise<CommandResult> {
    const next = this.queue.then(() => this.runNow(command, timeoutMs));
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async runNow(command: string, timeoutMs: number): Promise<CommandResult> {
    if (this.exited !== undefined) return { exitCode: -1, output: `the shell has exited (${this.exited})` };
    const b64 = Buffer.from(command, "utf8").toString("base64");
    const typed = `eval "$(printf '%s' '${b64}' | base64 -d)" </dev/null; printf '\\036%s\\037\\n' "$?"\n`;
    this.child.stdin!.write(typed);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = findMarker(this.buffer);
      if (m) {
        // An interactive bash without a terminal echoes each line it reads (on stderr): not the command's output.
        const output = this.buffer.slice(0, m.index).replace(typed, "");
        this.buffer = this.buffer.slice(m.end);
        return { exitCode: m.code, output };
      }
      if (this.exited !== undefined)
        return { exitCode: -1, output: `${this.buffer}\n(the shell exited with ${this.exited})` };
      const left = deadline - Date.now();
      if (left <= 0) return { exitCode: -1, output: this.buffer, timedOut: true };
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiting = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.waiting = undefined;
    }
  }

  /** Ends the shell and everything it started (background jobs, the forwarder). */
  close(): void {
    if (this.child.pid !== undefined && this.exited === undefined) {
      try {
        process.kill(-this.child.pid, "SIGKILL");
      } catch {
        /* gone */
      }
    }
    this.sockets.closeAll();
  }
}
