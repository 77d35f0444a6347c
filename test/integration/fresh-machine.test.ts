/**
 * The README's two commands on a fresh machine, as far as a test can make one: a clean checkout (only the files git
 * tracks: no web/dist, no .egresslab), a throwaway HOME, and a PATH without bubblewrap. `npm install` is not run again
 * (CI's own `npm ci --strict-allow-scripts` has just done it on a fresh clone, and it takes minutes): the checkout
 * borrows this repository's node_modules. Then `npm start` must serve the page in single-user mode and say how to get
 * the sandbox, and a room (`--host 0.0.0.0`) must be refused with the fix.
 */
import { execa, type ResultPromise } from "execa";
import { execFileSync } from "node:child_process";
import {
  accessSync,
  constants,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  realpathSync,
  rmSync,
  symlinkSync,
} from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { environment } from "../../server/src/config/options.ts";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
let scratch: string;
let checkout: string;
let home: string;
let bin: string;
const started: ResultPromise[] = [];

/** A directory of links to every program on PATH except those named: PATH as on a machine without them. */
function pathWithout(names: readonly string[], into: string): string {
  mkdirSync(into, { recursive: true });
  for (const dir of (environment().PATH ?? "").split(path.delimiter).filter(Boolean)) {
    let entries: string[];
    try {
      entries = readdirSync(dir);
    } catch {
      continue;
    }
    for (const e of entries) {
      if (names.includes(e) || existsSync(path.join(into, e))) continue;
      const full = path.join(dir, e);
      try {
        accessSync(full, constants.X_OK);
        symlinkSync(realpathSync(full), path.join(into, e));
      } catch {
        /* not an executable file */
      }
    }
  }
  return into;
}

/** The tracked files of the working tree, copied: what a clone of this commit (plus uncommitted edits) holds. */
function cleanCheckout(into: string): void {
  const files = execFileSync("git", ["ls-files", "-z", "--cached"], { cwd: repo, encoding: "utf8" })
    .split("\0")
    .filter(Boolean);
  for (const f of files) {
    const from = path.join(repo, f);
    if (!existsSync(from)) continue; // deleted in the working tree
    mkdirSync(path.dirname(path.join(into, f)), { recursive: true });
    copyFileSync(from, path.join(into, f));
  }
  symlinkSync(realpathSync(path.join(repo, "node_modules")), path.join(into, "node_modules"));
}

function env(): Record<string, string> {
  return {
    HOME: home,
    PATH: bin,
    LANG: "C.UTF-8",
    TMPDIR: path.join(scratch, "tmp"),
    npm_config_update_notifier: "false",
  };
}

/** Starts `npm start -- ARGS` in the checkout and resolves to everything printed once `done` matches (or it exits). */
async function npmStart(
  args: string[],
  done: RegExp,
): Promise<{ output: string; exited: boolean; code?: number }> {
  const child = execa("npm", ["start", "--", ...args], {
    cwd: checkout,
    env: env(),
    extendEnv: false,
    reject: false,
    all: true,
    buffer: false,
    // Its own process group, so the server under npm ends with it.
    detached: true,
  });
  started.push(child);
  let output = "";
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve({ output, exited: false }), 90_000);
    child.all?.on("data", (chunk: Buffer) => {
      output += chunk.toString("utf8");
      if (done.test(output)) {
        clearTimeout(timer);
        resolve({ output, exited: false });
      }
    });
    void child.then((r) => {
      clearTimeout(timer);
      resolve({ output, exited: true, code: r.exitCode ?? -1 });
    });
  });
}

beforeAll(() => {
  scratch = mkdtempSync(path.join(tmpdir(), "egresslab-fresh-"));
  checkout = path.join(scratch, "egresslab");
  home = path.join(scratch, "home");
  mkdirSync(home);
  mkdirSync(path.join(scratch, "tmp"));
  cleanCheckout(checkout);
  bin = pathWithout(["bwrap"], path.join(scratch, "bin"));
});

afterAll(async () => {
  for (const c of started) {
    if (c.pid !== undefined && c.exitCode === null) {
      try {
        process.kill(-c.pid, "SIGTERM");
      } catch {
        /* already gone */
      }
    }
    await c.catch(() => undefined);
  }
  rmSync(scratch, { recursive: true, force: true });
});

describe("the README's two commands on a fresh machine", () => {
  it("starts from a clean checkout: nothing built, no bubblewrap on PATH", () => {
    expect(existsSync(path.join(checkout, "web", "dist"))).toBe(false);
    expect(existsSync(path.join(checkout, ".egresslab"))).toBe(false);
    expect(existsSync(path.join(bin, "bwrap"))).toBe(false);
    expect(existsSync(path.join(bin, "node"))).toBe(true);
  });

  it("npm start serves the page on loopback in single-user mode and says how to get the sandbox", async () => {
    const r = await npmStart(["--port", "0", "--pool", "0"], /open http:\/\/\S+:\d+/);
    const url = /open http:\/\/\S+:(\d+)/.exec(r.output)?.[1]?.replace(/^/, "http://127.0.0.1:");
    expect(url, r.output).toBeDefined();
    expect(r.output).toMatch(/single-user/i);
    expect(r.output).toMatch(/apt-get install[^\n]*bubblewrap/);
    const page = await fetch(url!);
    expect(page.status).toBe(200);
    const html = await page.text();
    const script = /<script[^>]+src="([^"]+)"/.exec(html)?.[1];
    expect(script, html).toBeDefined();
    const asset = await fetch(new URL(script!, url).href);
    expect(asset.status).toBe(200);
    expect((await asset.text()).length).toBeGreaterThan(10_000);
    // The bundle was built from the clean checkout, at run time, with what `npm install` installs.
    expect(existsSync(path.join(checkout, "web", "dist", ".built"))).toBe(true);
    // Nothing was written to the real HOME's egresslab state: the data directory is the checkout's.
    expect(existsSync(path.join(checkout, ".egresslab"))).toBe(true);
  }, 120_000);

  it("refuses a room (--host 0.0.0.0) without a working sandbox, with the one-line fix", async () => {
    const r = await npmStart(["--port", "0", "--pool", "0", "--host", "0.0.0.0"], /open http/);
    expect(r.exited, r.output).toBe(true);
    expect(r.code).not.toBe(0);
    expect(r.output).toMatch(/bubblewrap/);
    expect(r.output).toMatch(/apt-get install[^\n]*bubblewrap/);
  }, 120_000);
});
