/** A structured logger: a message plus a metadata object. Libraries default to the no-op logger. */
export type LogLevel = "debug" | "info" | "warn" | "error";
export type LogMeta = Record<string, unknown>;

export interface Logger {
  debug(msg: string, meta?: LogMeta): void;
  info(msg: string, meta?: LogMeta): void;
  warn(msg: string, meta?: LogMeta): void;
  error(msg: string, meta?: LogMeta): void;
  /** A logger that adds `meta` to every line. */
  child(meta: LogMeta): Logger;
}

const order: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export const noopLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child() {
    return noopLogger;
  },
};

/** Writes one line per entry to stderr: human-readable on a TTY, JSON otherwise or when `json` is set. */
export function createLogger(opts: { level?: LogLevel; json?: boolean; base?: LogMeta } = {}): Logger {
  const min = order[opts.level ?? "info"];
  const json = opts.json ?? !process.stderr.isTTY;
  const base = opts.base ?? {};
  const write = (level: LogLevel, msg: string, meta?: LogMeta): void => {
    if (order[level] < min) return;
    const all = { ...base, ...meta };
    if (json) {
      process.stderr.write(JSON.stringify({ time: new Date().toISOString(), level, msg, ...all }) + "\n");
    } else {
      const extra = Object.entries(all)
        .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
        .join(" ");
      process.stderr.write(`${level.padEnd(5)} ${msg}${extra ? " " + extra : ""}\n`);
    }
  };
  return {
    debug: (m, x) => write("debug", m, x),
    info: (m, x) => write("info", m, x),
    warn: (m, x) => write("warn", m, x),
    error: (m, x) => write("error", m, x),
    child: (meta) => createLogger({ ...opts, base: { ...base, ...meta } }),
  };
}
