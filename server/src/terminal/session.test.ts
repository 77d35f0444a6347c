import { afterAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { TerminalSession, type TerminalClient } from "./session.ts";
import { shellLaunch, writeIdentity } from "./sandbox.ts";
import { prepareHome } from "./home.ts";
import type { TermOutput } from "../realtime/protocol.ts";

const root = mkdtempSync(path.join(tmpdir(), "egl-term-"));
const sessions: TerminalSession[] = [];
afterAll(() => {
  for (const s of sessions) s.kill();
  rmSync(root, { recursive: true, force: true });
});

class Page implements TerminalClient {
  text = "";
  end = 0;
  resets = 0;
  replacedCount = 0;
  exitCode: number | undefined;
  chunks: (TermOutput & { replay?: boolean })[] = [];
  output(out: TermOutput & { replay?: boolean }): void {
    this.chunks.push(out);
    this.text += out.data;
    this.end = out.end;
  }
  reset(): void {
    this.resets++;
    this.text = "";
  }
  replaced(): void {
    this.replacedCount++;
  }
  exited(code: number): void {
    this.exitCode = code;
  }
  plain(): string {
    return this.text.replace(new RegExp(String.fromCharCode(27) + "\\[[0-9;?]*[a-zA-Z]", "g"), "");
  }
  async waitFor(re: RegExp, ms = 10_000): Promise<void> {
    const t0 = Date.now();
    while (!re.test(this.plain())) {
      if (Date.now() - t0 > ms)
        throw new Error(`timed out waiting for ${re}; saw: ${JSON.stringify(this.plain().slice(-500))}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

function start(
  mode: "local" | "bwrap",
  opts: { highWater?: number; lowWater?: number; scrollbackFile?: string; dir?: string } = {},
): TerminalSession {
  const dir = opts.dir ?? mkdtempSync(path.join(root, "l-"));
  const home = path.join(dir, "home");
  prepareHome(home, { kubeconfig: "apiVersion: v1\nkind: Config\n", dirs: ["stage-1"], files: [] });
  writeFileSync(path.join(home, "stage-1", "note.txt"), "lab file\n");
  writeIdentity(path.join(dir, "etc"));
  const launch = shellLaunch(mode, {
    home,
    etcDir: path.join(dir, "etc"),
    startDir: "stage-1",
    hostPath: process.env.PATH ?? "/usr/bin:/bin",
  });
  // Completion needs a server for nothing, but keep the rc quick and quiet in tests.
  const { dir: _dir, ...rest } = opts;
  void _dir;
  const s = new TerminalSession({ launch, cols: 100, rows: 30, ...rest });
  sessions.push(s);
  return s;
}

describe("TerminalSession", () => {
  it("runs a shell with the learner's prompt, HOME and KUBECONFIG", async () => {
    const s = start("local");
    const page = new Page();
    s.attach(page, undefined, { cols: 100, rows: 30 });
    await page.waitFor(/learner@egresslab.*stage-1/);
    s.input('echo "K=$KUBECONFIG" && cat note.txt\r');
    await page.waitFor(/lab file/);
    expect(page.text).toMatch(/K=\/.*\/home\/\.kube\/config/);
  });

  it("replays only what a reattaching page missed, and tells a replaced page", async () => {
    const s = start("local");
    const a = new Page();
    s.attach(a, undefined, { cols: 80, rows: 24 });
    s.input("echo first-$((1+1))\r");
    await a.waitFor(/first-2/);
    const seen = a.end;
    s.detach(a);
    s.input("echo missed-$((2+2))\r");
    await new Promise((r) => setTimeout(r, 300));
    const b = new Page();
    s.attach(b, seen, { cols: 80, rows: 24 });
    expect(b.resets).toBe(0);
    expect(b.chunks[0]!.replay).toBe(true);
    expect(b.text).toContain("missed-4");
    expect(b.text).not.toContain("first-2");
    const c = new Page();
    s.attach(c, undefined, { cols: 80, rows: 24 });
    expect(b.replacedCount).toBe(1);
    expect(c.text).toContain("first-2");
    s.input("echo only-c\r");
    await c.waitFor(/only-c\r?\n/);
    expect(b.text).not.toContain("only-c\r\n");
  });

  it("shows a reloaded page what was there before the server restarted", async () => {
    const dir = mkdtempSync(path.join(root, "l-"));
    const scrollbackFile = path.join(dir, "scrollback");
    const before = start("local", { dir, scrollbackFile });
    const a = new Page();
    before.attach(a, undefined, { cols: 80, rows: 24 });
    before.input("echo before-$((20+1))\r");
    await a.waitFor(/before-21/);
    // The server stops: its shells end and the scrollback is flushed.
    before.kill();
    await new Promise((r) => setTimeout(r, 200));
    const after = start("local", { dir, scrollbackFile });
    const reloaded = new Page();
    after.attach(reloaded, undefined, { cols: 80, rows: 24 });
    expect(reloaded.chunks[0]!.replay).toBe(true);
    expect(reloaded.plain()).toContain("before-21");
    expect(reloaded.plain()).toContain("[a new shell]");
    await reloaded.waitFor(/\[a new shell\][\s\S]*learner@egresslab/);
    // A page that stayed open through the restart gets only what is new.
    const open = new Page();
    after.attach(open, a.end, { cols: 80, rows: 24 });
    expect(open.resets).toBe(0);
    expect(open.text).not.toContain("before-21");
    expect(open.plain()).toContain("[a new shell]");
  });

  it("pauses a flooding shell until the page acknowledges, then finishes", async () => {
    const s = start("local", { highWater: 4096, lowWater: 1024 });
    const page = new Page();
    s.attach(page, undefined, { cols: 80, rows: 24 });
    await page.waitFor(/\$ $/);
    s.ack(page, page.end);
    s.input("head -c 300000 /dev/zero | tr '\\0' x; echo; echo FLOOD-$((1+2))\r");
    await new Promise((r) => setTimeout(r, 500));
    expect(s.isPaused).toBe(true);
    const received = page.text.length;
    expect(received).toBeLessThan(100_000);
    expect(page.text).not.toContain("FLOOD-3");
    // A page that keeps acknowledging gets everything.
    const t0 = Date.now();
    while (!page.text.includes("FLOOD-3") && Date.now() - t0 < 20_000) {
      s.ack(page, page.end);
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(page.text).toContain("FLOOD-3");
    expect(page.text.split("x").length - 1).toBeGreaterThanOrEqual(300_000);
  });

  it("confines a multi-user shell with bubblewrap: own HOME only, no server files", async () => {
    const s = start("bwrap");
    const page = new Page();
    s.attach(page, undefined, { cols: 120, rows: 30 });
    await page.waitFor(/learner@egresslab:~\/stage-1/);
    s.input(
      `id -un; echo HOME=$HOME; ls ${JSON.stringify(root)} >/dev/null 2>&1 && echo SEES-HOST || echo NO-HOST; ls /work >/dev/null 2>&1 && echo SEES-WORK || echo NO-WORK; cat note.txt\r`,
    );
    await page.waitFor(/lab file/);
    expect(page.plain()).toMatch(/\n\r?learner\r?\n/);
    expect(page.text).toContain("HOME=/home/learner");
    expect(page.text).toContain("NO-HOST");
    expect(page.text).toContain("NO-WORK");
  });
});
