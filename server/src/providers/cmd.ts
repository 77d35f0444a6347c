/**
 * The one adapter that runs external commands (`kind`, `kubectl`, `docker`). Everything else in the providers goes
 * through a `Cmder`, so tests put fake executables first on PATH instead of mocking.
 */
import { accessSync, constants, statSync } from "node:fs";
import path from "node:path";
import { execa } from "execa";
import { environment } from "../config/options.ts";
import { EgresslabError } from "../shared/errors.ts";
import { noopLogger, type Logger } from "../shared/logger.ts";

export interface RunOptions {
  /** Stops the command (SIGTERM, then SIGKILL after a grace period). */
  signal?: AbortSignal;
  /** Milliseconds before the command is stopped; overrides the runner's default. */
  timeoutMs?: number;
  /** Text written to the command's stdin. */
  input?: string;
  cwd?: string;
}

export interface CommandResult {
  command: string;
  args: readonly string[];
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** Why a command did not succeed: it exited non-zero, was not found, timed out or was cancelled. */
export type CommandFailure = "exit" | "not-found" | "timeout" | "cancelled" | "spawn";

/** A command that failed, with everything needed to explain it: the command line, exit code, output and cause. */
export class CommandError extends EgresslabError {
  readonly command: string;
  readonly args: readonly string[];
  readonly exitCode: number | undefined;
  readonly stdout: string;
  readonly stderr: string;
  readonly failure: CommandFailure;
  constructor(
    init: Omit<CommandResult, "exitCode"> & { exitCode?: number; failure: CommandFailure; message?: string },
    options?: { cause?: unknown },
  ) {
    const line = [init.command, ...init.args].join(" ");
    const lastLine = lastNonEmptyLine(init.stderr) ?? lastNonEmptyLine(init.stdout);
    const why =
      init.failure === "not-found"
        ? "command not found on PATH"
        : init.failure === "timeout"
          ? "timed out"
          : init.failure === "cancelled"
            ? "cancelled"
            : init.failure === "spawn"
              ? "could not be started"
              : `exited with code ${init.exitCode ?? "?"}`;
    super(
      init.failure === "exit" || init.failure === "spawn" ? "internal" : "unavailable",
      init.message ?? `\`${line}\` ${why}${lastLine ? `: ${lastLine}` : ""}`,
      options,
    );
    this.command = init.command;
    this.args = init.args;
    this.exitCode = init.exitCode;
    this.stdout = init.stdout;
    this.stderr = init.stderr;
    this.failure = init.failure;
  }
}

function lastNonEmptyLine(text: string): string | undefined {
  const lines = text.split("\n").map((l) => l.trim());
  return lines.filter(Boolean).at(-1);
}

/** Runs external commands. */
export interface Cmder {
  /** Runs `command` with `args` and resolves with its output; rejects with `CommandError` unless it exits 0. */
  run(command: string, args: readonly string[], opts?: RunOptions): Promise<CommandResult>;
  /** The absolute path of `command` on this runner's PATH, or undefined when it is not installed. */
  which(command: string): string | undefined;
}

export interface CmderOptions {
  logger?: Logger;
  /** Variables added to (and overriding) the server's environment for every command, e.g. a PATH with fakes first. */
  env?: Record<string, string | undefined>;
  /** Default timeout in milliseconds (default: 10 minutes). */
  timeoutMs?: number;
}

/** The execa-backed runner. */
export function createCmder(opts: CmderOptions = {}): Cmder {
  const logger = opts.logger ?? noopLogger;
  const env = { ...environment(), ...opts.env };
  const defaultTimeout = opts.timeoutMs ?? 10 * 60_000;

  return {
    async run(command, args, runOpts = {}) {
      const started = Date.now();
      logger.debug("running command", { command, args });
      const result = await execa(command, [...args], {
        env,
        extendEnv: false,
        reject: false,
        timeout: runOpts.timeoutMs ?? defaultTimeout,
        cancelSignal: runOpts.signal,
        forceKillAfterDelay: 5_000,
        input: runOpts.input,
        cwd: runOpts.cwd,
        stripFinalNewline: false,
      });
      const base = {
        command,
        args: [...args],
        stdout: typeof result.stdout === "string" ? result.stdout : "",
        stderr: typeof result.stderr === "string" ? result.stderr : "",
      };
      const ms = Date.now() - started;
      if (!result.failed) {
        logger.debug("command finished", { command, ms });
        return { ...base, exitCode: result.exitCode ?? 0 };
      }
      const failure: CommandFailure = result.timedOut
        ? "timeout"
        : result.isCanceled
          ? "cancelled"
          : result.code === "ENOENT"
            ? "not-found"
            : result.exitCode === undefined
              ? "spawn"
              : "exit";
      logger.debug("command failed", { command, args, failure, exitCode: result.exitCode, ms });
      throw new CommandError(
        { ...base, exitCode: result.exitCode, failure },
        { cause: result.cause ?? result },
      );
    },

    which(command) {
      if (command.includes("/")) return isExecutable(command) ? path.resolve(command) : undefined;
      for (const dir of (env.PATH ?? "").split(path.delimiter)) {
        if (!dir) continue;
        const full = path.join(dir, command);
        if (isExecutable(full)) return full;
      }
      return undefined;
    },
  };
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}
