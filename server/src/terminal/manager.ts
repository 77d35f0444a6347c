/**
 * The terminals of all learners: one shell per learner, started on first attach, kept across dropped connections and
 * ended after the idle timeout (no page attached and no input for that long). In sandbox mode it also keeps each
 * learner's API socket, host uid and cgroup, and checks the size of each running shell's HOME.
 */
import path from "node:path";
import type { Socket } from "node:net";
import { execFile } from "node:child_process";
import { mkdirSync } from "node:fs";
import { TerminalSession, type TerminalClient, type TerminalWatcher } from "./session.ts";
import {
  defaultScrollbackChars,
  fileScrollbackStore,
  type RestoredScrollback,
  type ScrollbackStore,
} from "./scrollback-store.ts";
import { shellLaunch, writeIdentity, type ShellMode } from "./sandbox.ts";
import { prepareHome, type HomeSpec } from "./home.ts";
import { ApiSockets, sandboxKubeconfig } from "./api-socket.ts";
import { defaultShellLimits, type ShellLimits } from "./limits.ts";
import { removeShellCgroup, shellCgroup, type CgroupLayout } from "./cgroups.ts";
import type { LearnerUids } from "./uids.ts";
import type { HomeFilesystems } from "./home-fs.ts";
import type { Toolboxes } from "./toolbox.ts";
import { InFlight } from "../providers/in-flight.ts";
import type { Logger } from "../shared/logger.ts";
import { noopLogger } from "../shared/logger.ts";

export interface SandboxOptions {
  /** Hands a connection from the learner's socket to their cluster's API; `upstream` is the kubeconfig's address. */
  connectApi: (
    learner: { id: string; clusterId?: string; upstream?: { host: string; port: number } },
    socket: Socket,
  ) => void;
  /** Per-learner host users (the server runs as root); absent: the server's own user in a user namespace. */
  uids?: LearnerUids;
  limits?: ShellLimits;
  /** The shells' cgroups, where the server may create them. */
  cgroups?: CgroupLayout;
  /** The bubblewrap program (default `bwrap` on PATH). */
  bwrapPath?: string;
  /** How often to measure each running shell's HOME (default one minute). */
  homeCheckMs?: number;
  /** Sets each shell's process limit inside its sandbox too (default true; see `LaunchInput.processesInside`). */
  processesInside?: boolean;
  /** Each home a filesystem of its own (`home-fs.ts`), mounted while it is prepared and while its shell runs. */
  homes?: HomeFilesystems;
}

export interface TerminalManagerOptions {
  /** Where learners' homes live: `<root>/<learnerId>/home`. */
  root: string;
  mode: ShellMode;
  hostPath: string;
  idleTimeoutMs: number;
  scrollbackChars?: number;
  highWater?: number;
  lowWater?: number;
  logger?: Logger;
  now?: () => number;
  /** Sandbox mode only: the way out to the cluster, users, limits. */
  sandbox?: SandboxOptions;
  /** Real clusters: every terminal is `kubectl exec` into a toolbox pod in the learner's cluster (no host shell). */
  toolbox?: Toolboxes;
  /** Where scrollback is kept between shells (default a file per learner under `root`). */
  scrollback?: ScrollbackStore;
}

export class TerminalManager {
  private readonly sessions = new Map<string, TerminalSession>();
  /** Read-only viewers per learner: they follow the learner's shell, and the next one when it is started again. */
  private readonly watchers = new Map<string, Set<TerminalWatcher>>();
  private readonly timer: NodeJS.Timeout;
  private readonly homeTimer: NodeJS.Timeout | undefined;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly sockets: ApiSockets | undefined;
  /** Per learner: the cluster the last prepared kubeconfig names. */
  private readonly apiOf = new Map<
    string,
    { clusterId?: string; upstream?: { host: string; port: number } }
  >();
  private readonly overQuota = new Set<string>();
  private readonly toolboxPrepare = new InFlight<void>();
  private readonly scrollback: ScrollbackStore;

  constructor(private readonly opts: TerminalManagerOptions) {
    this.log = opts.logger ?? noopLogger;
    this.now = opts.now ?? Date.now;
    this.scrollback =
      opts.scrollback ??
      fileScrollbackStore(opts.root, opts.scrollbackChars ?? defaultScrollbackChars, this.log);
    const every = Math.max(1000, Math.min(60_000, Math.floor(opts.idleTimeoutMs / 4)));
    this.timer = setInterval(() => this.reapIdle(), every);
    this.timer.unref();
    const sb = opts.mode === "bwrap" ? opts.sandbox : undefined;
    if (sb) {
      this.sockets = new ApiSockets(
        (id, socket) => sb.connectApi({ id, ...this.apiOf.get(id) }, socket),
        this.log,
      );
      this.homeTimer = setInterval(() => void this.checkHomes(), sb.homeCheckMs ?? 60_000);
      this.homeTimer.unref();
    }
  }

  private get homes(): HomeFilesystems | undefined {
    return this.opts.mode === "bwrap" ? this.opts.sandbox?.homes : undefined;
  }

  private get limits(): ShellLimits {
    return this.opts.sandbox?.limits ?? defaultShellLimits;
  }

  /** The learner's home directory on the host. */
  homeOf(learnerId: string): string {
    return path.join(this.opts.root, learnerId, "home");
  }

  /** The learner's host user, when each learner has one. */
  userOf(learnerId: string): { uid: number; gid: number } | undefined {
    return this.opts.mode === "bwrap" ? this.opts.sandbox?.uids?.of(learnerId) : undefined;
  }

  private completion: Promise<string> | undefined;

  /** kubectl's bash completion, generated once (empty when kubectl is not installed). */
  kubectlCompletion(): Promise<string> {
    this.completion ??= new Promise((resolve) =>
      execFile(
        "kubectl",
        ["completion", "bash"],
        { env: { PATH: this.opts.hostPath }, timeout: 20_000, maxBuffer: 4 << 20 },
        (err, out) => resolve(err ? "" : out),
      ),
    );
    return this.completion;
  }

  /** Writes (or refreshes) the learner's home; in sandbox mode the kubeconfig points at the sandbox's forwarder. */
  async prepare(learnerId: string, spec: HomeSpec): Promise<void> {
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(learnerId)) throw new Error(`"${learnerId}" is not a learner id`);
    const completion = spec.completion ?? (await this.kubectlCompletion());
    let kubeconfig = spec.kubeconfig;
    if (this.opts.mode === "bwrap") {
      const r = sandboxKubeconfig(spec.kubeconfig);
      kubeconfig = r.kubeconfig;
      this.apiOf.set(learnerId, {
        ...(spec.clusterId !== undefined ? { clusterId: spec.clusterId } : {}),
        ...(r.upstream ? { upstream: r.upstream } : {}),
      });
    }
    const user = this.userOf(learnerId);
    const homes = this.homes;
    if (homes) await homes.acquire(learnerId, user);
    try {
      prepareHome(this.homeOf(learnerId), { ...spec, kubeconfig, completion }, user);
    } catch (err) {
      // A home that is its own filesystem can be full: the shell still starts, so the learner can make room.
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== "ENOSPC" && code !== "EDQUOT") throw err;
      this.log.warn("a learner's home is full: its files are kept as they are", { learner: learnerId });
    } finally {
      homes?.release(learnerId);
    }
    writeIdentity(path.join(this.opts.root, learnerId, "etc"), user);
    const toolbox = this.opts.toolbox;
    if (toolbox)
      await this.toolboxPrepare.run(learnerId, () =>
        toolbox.prepare(this.kubeconfigOf(learnerId), spec, (step) =>
          this.log.info(step, { learner: learnerId }),
        ),
      );
  }

  /** The kubeconfig of the learner's cluster as written in their (server-side) home. */
  private kubeconfigOf(learnerId: string): string {
    return path.join(this.homeOf(learnerId), ".kube", "config");
  }

  /** The learner's running shell, if any. */
  get(learnerId: string): TerminalSession | undefined {
    const s = this.sessions.get(learnerId);
    return s && !s.exited ? s : undefined;
  }

  /** Attaches `client` to the learner's shell, starting one (in `startDir`) if none runs. */
  async attach(
    learnerId: string,
    client: TerminalClient,
    req: { cols: number; rows: number; since?: number; startDir: string },
  ): Promise<TerminalSession> {
    let s = this.get(learnerId);
    if (!s) {
      const sandboxed = this.opts.mode === "bwrap" && this.opts.sandbox;
      const user = this.userOf(learnerId);
      const saved = await this.scrollback.read(learnerId);
      const socketDir = sandboxed ? await this.sockets!.open(learnerId, user) : undefined;
      const layout = sandboxed ? this.opts.sandbox?.cgroups : undefined;
      let cgroupProcs: string[] | undefined;
      if (layout) {
        try {
          cgroupProcs = shellCgroup(layout, learnerId, this.limits);
        } catch (err) {
          this.log.warn("could not create the shell's cgroup; rlimits only", {
            learner: learnerId,
            error: err instanceof Error ? err.message : String(err),
          });
        }
      }
      // Another attach may have started the shell while this one waited for the socket.
      s = this.get(learnerId);
      if (!s && this.opts.toolbox) {
        const cacheDir = path.join(this.opts.root, learnerId, "kubectl");
        mkdirSync(cacheDir, { recursive: true, mode: 0o700 });
        const kubeconfig = this.kubeconfigOf(learnerId);
        await this.opts.toolbox.setStartDir(kubeconfig, req.startDir).catch((err: unknown) =>
          this.log.warn("the toolbox terminal starts in HOME: could not record the stage directory", {
            learner: learnerId,
            error: err instanceof Error ? err.message : String(err),
          }),
        );
        // Another attach may have started the shell while this one recorded the directory.
        s =
          this.get(learnerId) ??
          this.start(
            learnerId,
            this.opts.toolbox.launch(kubeconfig, this.opts.hostPath, cacheDir),
            req,
            saved,
          );
      }
      const homes = !s && sandboxed ? this.homes : undefined;
      if (homes) {
        await homes.acquire(learnerId, user);
        // Another attach may have started the shell while this one mounted the home.
        s = this.get(learnerId);
        if (s) homes.release(learnerId);
      }
      if (!s) {
        const launch = shellLaunch(this.opts.mode, {
          home: this.homeOf(learnerId),
          etcDir: path.join(this.opts.root, learnerId, "etc"),
          startDir: req.startDir,
          hostPath: this.opts.hostPath,
          limits: this.limits,
          ...(this.opts.sandbox?.bwrapPath ? { bwrapPath: this.opts.sandbox.bwrapPath } : {}),
          ...(socketDir ? { socketDir } : {}),
          ...(user ? { user } : {}),
          ...(cgroupProcs ? { cgroupProcs } : {}),
          ...(this.opts.sandbox?.processesInside === false ? { processesInside: false } : {}),
        });
        try {
          s = this.start(learnerId, launch, req, saved);
        } catch (err) {
          homes?.release(learnerId);
          throw err;
        }
        if (homes) s.onExit(() => homes.release(learnerId));
      }
    }
    s.attach(client, req.since, req);
    return s;
  }

  private start(
    learnerId: string,
    launch: ReturnType<typeof shellLaunch>,
    req: { cols: number; rows: number },
    saved: RestoredScrollback | undefined,
  ): TerminalSession {
    const s = new TerminalSession({
      launch,
      cols: req.cols,
      rows: req.rows,
      scrollbackChars: this.opts.scrollbackChars,
      highWater: this.opts.highWater,
      lowWater: this.opts.lowWater,
      now: this.now,
      persist: {
        saved,
        open: (tail, notice) => this.scrollback.open(learnerId, tail, notice),
      },
      logger: this.log,
    });
    this.sessions.set(learnerId, s);
    for (const w of this.watchers.get(learnerId) ?? []) s.watch(w);
    s.onExit((code) => {
      this.log.info("terminal ended", { learner: learnerId, code });
      if (this.sessions.get(learnerId) === s) this.sessions.delete(learnerId);
      if (!this.sessions.has(learnerId)) {
        this.sockets?.close(learnerId);
        const layout = this.opts.sandbox?.cgroups;
        if (layout) this.removeCgroup(layout, learnerId);
      }
    });
    this.log.info("terminal started", {
      learner: learnerId,
      pid: s.pid,
      mode: this.opts.mode,
      ...(launch.args.includes("--reuid") ? { uid: this.userOf(learnerId)?.uid } : {}),
    });
    return s;
  }

  /** Removes an ended shell's group once its last processes are gone (a second, then a few more tries). */
  private removeCgroup(layout: CgroupLayout, learnerId: string, delays = [1000, 5000, 30_000]): void {
    const [delay, ...rest] = delays;
    if (delay === undefined) return;
    setTimeout(() => {
      if (this.sessions.has(learnerId) || removeShellCgroup(layout, learnerId)) return;
      if (rest.length) this.removeCgroup(layout, learnerId, rest);
      else this.log.warn("a shell's cgroup is still busy; the next start sweeps it", { learner: learnerId });
    }, delay).unref();
  }

  /**
   * Adds a read-only viewer of the learner's terminal: the running shell's scrollback and output, or, with no shell
   * running, what was saved of the last one, then the next shell's when the learner starts it. Returns the way out.
   */
  watch(learnerId: string, w: TerminalWatcher): () => void {
    let set = this.watchers.get(learnerId);
    if (!set) this.watchers.set(learnerId, (set = new Set()));
    set.add(w);
    const s = this.get(learnerId);
    if (s) s.watch(w);
    else {
      void this.scrollback.read(learnerId).then((saved) => {
        // Unless it went away, or a shell started (and replayed its own scrollback) while this was read.
        if (set.has(w) && !this.sessions.has(learnerId))
          w.output(saved?.data ?? "", saved ? saved.start + saved.data.length : 0, true);
      });
    }
    return () => {
      set.delete(w);
      if (!set.size && this.watchers.get(learnerId) === set) this.watchers.delete(learnerId);
      this.sessions.get(learnerId)?.unwatch(w);
    };
  }

  /** How many shells run. */
  get size(): number {
    return this.sessions.size;
  }

  /** Measures the HOME of each running shell; tells the learner (once, until back under) when it is over the limit. */
  async checkHomes(): Promise<void> {
    const limit = this.limits.homeMiB * 1024 * 1024;
    for (const id of [...this.sessions.keys()]) {
      const used = await diskUsage(this.homeOf(id), this.opts.hostPath);
      const s = this.get(id);
      if (used === undefined || !s) continue;
      if (used > limit && !this.overQuota.has(id)) {
        this.overQuota.add(id);
        this.log.warn("a learner's home is over its size", { learner: id, bytes: used, limit });
        s.notice(
          `your home uses ${Math.round(used / 1048576)} MiB, more than the ${this.limits.homeMiB} MiB allowed; ` +
            `remove what you do not need (du -sh ~/* ~/.[!.]*)`,
        );
      } else if (used <= limit) this.overQuota.delete(id);
    }
  }

  /** Ends shells with no page attached whose last activity is older than the idle timeout. */
  reapIdle(): number {
    let n = 0;
    for (const [id, s] of this.sessions) {
      if (!s.attached && this.now() - s.lastActivity > this.opts.idleTimeoutMs) {
        this.log.info("terminal idle, ending it", { learner: id });
        s.kill();
        this.sessions.delete(id);
        this.sockets?.close(id);
        n++;
      }
    }
    return n;
  }

  /** Unmounts the homes that are filesystems of their own (after `close`): what learners wrote is on disk. */
  async unmountHomes(): Promise<void> {
    await this.homes?.close();
  }

  /** Ends every shell (their last output goes to the scrollback store, which its owner closes after this). */
  close(): void {
    clearInterval(this.timer);
    if (this.homeTimer) clearInterval(this.homeTimer);
    for (const s of this.sessions.values()) s.kill();
    this.sessions.clear();
    this.sockets?.closeAll();
  }
}

/** Bytes used under `dir` (du, in a child process: never follows links, never holds the event loop). */
function diskUsage(dir: string, hostPath: string): Promise<number | undefined> {
  return new Promise((resolve) =>
    execFile(
      "du",
      ["-s", "-x", "-P", "-B1", dir],
      { timeout: 30_000, env: { PATH: hostPath } },
      (err, out) => {
        const n = Number(out.split(/\s/)[0]);
        resolve(!err && Number.isFinite(n) ? n : undefined);
      },
    ),
  );
}
