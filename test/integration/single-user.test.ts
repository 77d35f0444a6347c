/**
 * `npm start` on a fresh machine without bubblewrap: on loopback the server runs in single-user mode and says so in
 * one line (with how to get the sandbox); on any other address it refuses to start, with the one-line fix.
 */
import { afterEach, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { startWorkshopServer, type WorkshopServerOptions } from "../../server/src/http/server.ts";
import type { Logger, LogMeta } from "../../server/src/shared/logger.ts";
import { FakeProvider, fakeLab } from "./web-doubles.ts";
import { Learner, TermWatcher, connected } from "./web-client.ts";

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

function capture(): Logger & { lines: { level: string; msg: string }[] } {
  const lines: { level: string; msg: string }[] = [];
  const log = {
    lines,
    debug: (msg: string) => void lines.push({ level: "debug", msg }),
    info: (msg: string) => void lines.push({ level: "info", msg }),
    warn: (msg: string) => void lines.push({ level: "warn", msg }),
    error: (msg: string) => void lines.push({ level: "error", msg }),
    child: (_m: LogMeta) => log,
  };
  return log;
}

function options(host: string, logger: Logger): WorkshopServerOptions {
  const dataDir = mkdtempSync(path.join(tmpdir(), "egl-single-"));
  dirs.push(dataDir);
  const provider = new FakeProvider();
  return {
    port: 0,
    host,
    dataDir,
    provider,
    lab: fakeLab(provider),
    local: false,
    idleTimeoutSeconds: 60,
    pool: 0,
    buildWeb: false,
    bwrapPath: "/nonexistent/bwrap",
    logger,
  };
}

describe("without bubblewrap", () => {
  it("on loopback, runs a single user's plain shell and says so in one line, with how to get the sandbox", async () => {
    const log = capture();
    const server = await startWorkshopServer(options("127.0.0.1", log));
    try {
      const said = log.lines.filter((l) => /single-user/.test(l.msg));
      expect(said).toHaveLength(1);
      expect(said[0]!.level).toBe("warn");
      expect(said[0]!.msg).toContain("bubblewrap is not installed");
      expect(said[0]!.msg).toContain("apt-get install bubblewrap socat");
      const l = new Learner(server.url);
      await l.join("Solo");
      const s = l.socket();
      try {
        const w = new TermWatcher(s);
        await connected(s);
        s.emit("term:attach", { cols: 120, rows: 30 });
        await w.waitText(/learner@egresslab/, 15_000);
        s.emit("term:input", { data: 'echo "HOME=$HOME"\r' });
        // A plain shell: HOME is the real directory on this machine, not the sandbox's /home/learner.
        await w.waitText(/HOME=\/.*\/learners\/.*\/home/);
      } finally {
        s.close();
      }
    } finally {
      await server.close();
    }
  });

  it.each(["0.0.0.0", "192.0.2.10"])("on %s, refuses to start with the one-line fix", async (host) => {
    const log = capture();
    const err = await startWorkshopServer(options(host, log)).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err?.message).toBe(
      "multi-user mode runs each learner's shell in a sandbox, but bubblewrap is not installed: install it (apt-get install bubblewrap socat), or run with --local for a single user",
    );
    expect(log.lines.filter((l) => /single-user/.test(l.msg))).toEqual([]);
  });
});
