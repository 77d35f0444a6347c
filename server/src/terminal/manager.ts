/**
 * The terminals of all learners: one shell per learner, started on first attach, kept across dropped connections and
 * ended after the idle timeout (no page attached and no input for that long).
 */
import path from "node:path";
import { execFile } from "node:child_process";
import { TerminalSession, type TerminalClient } from "./session.ts";
import { shellLaunch, writeIdentity, type ShellMode } from "./sandbox.ts";
import { prepareHome, type HomeSpec } from "./home.ts";
import type { Logger } from "../shared/logger.ts";
import { noopLogger } from "../shared/logger.ts";

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
}

export class TerminalManager {
  private readonly sessions = new Map<string, TerminalSession>();
  private readonly timer: NodeJS.Timeout;
  private readonly log: Logger;
  private readonly now: () => number;

  constructor(private readonly opts: TerminalManagerOptions) {
    this.log = opts.logger ?? noopLogger;
    this.now = opts.now ?? Date.now;
    const every = Math.max(1000, Math.min(60_000, Math.floor(opts.idleTimeoutMs / 4)));
    this.timer = setInterval(() => this.reapIdle(), every);
    this.timer.unref();
  }

  /** The learner's home directory on the host. */
  homeOf(learnerId: string): string {
    return path.join(this.opts.root, learnerId, "home");
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

  /** Writes (or refreshes) the learner's home. */
  async prepare(learnerId: string, spec: HomeSpec): Promise<void> {
    const completion = spec.completion ?? (await this.kubectlCompletion());
    prepareHome(this.homeOf(learnerId), { ...spec, completion });
    writeIdentity(path.join(this.opts.root, learnerId, "etc"));
  }

  /** The learner's running shell, if any. */
  get(learnerId: string): TerminalSession | undefined {
    const s = this.sessions.get(learnerId);
    return s && !s.exited ? s : undefined;
  }

  /** Attaches `client` to the learner's shell, starting one (in `startDir`) if none runs. */
  attach(
    learnerId: string,
    client: TerminalClient,
    req: { cols: number; rows: number; since?: number; startDir: string },
  ): TerminalSession {
    let s = this.get(learnerId);
    if (!s) {
      const launch = shellLaunch(this.opts.mode, {
        home: this.homeOf(learnerId),
        etcDir: path.join(this.opts.root, learnerId, "etc"),
        startDir: req.startDir,
        hostPath: this.opts.hostPath,
      });
      s = new TerminalSession({
        launch,
        cols: req.cols,
        rows: req.rows,
        scrollbackChars: this.opts.scrollbackChars,
        highWater: this.opts.highWater,
        lowWater: this.opts.lowWater,
        now: this.now,
        scrollbackFile: path.join(this.opts.root, learnerId, "scrollback"),
        logger: this.log,
      });
      const started = s;
      this.sessions.set(learnerId, s);
      s.onExit((code) => {
        this.log.info("terminal ended", { learner: learnerId, code });
        if (this.sessions.get(learnerId) === started) this.sessions.delete(learnerId);
      });
      this.log.info("terminal started", { learner: learnerId, pid: s.pid, mode: this.opts.mode });
    }
    s.attach(client, req.since, req);
    return s;
  }

  /** How many shells run. */
  get size(): number {
    return this.sessions.size;
  }

  /** Ends shells with no page attached whose last activity is older than the idle timeout. */
  reapIdle(): number {
    let n = 0;
    for (const [id, s] of this.sessions) {
      if (!s.attached && this.now() - s.lastActivity > this.opts.idleTimeoutMs) {
        this.log.info("terminal idle, ending it", { learner: id });
        s.kill();
        this.sessions.delete(id);
        n++;
      }
    }
    return n;
  }

  /** Ends every shell. */
  close(): void {
    clearInterval(this.timer);
    for (const s of this.sessions.values()) s.kill();
    this.sessions.clear();
  }
}
