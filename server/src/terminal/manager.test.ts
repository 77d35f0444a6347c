import { afterAll, describe, expect, it } from "vitest";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { TerminalManager } from "./manager.ts";
import { defaultShellLimits } from "./limits.ts";
import type { TerminalClient } from "./session.ts";
import { setUpCgroups } from "./cgroups.ts";
import { FakeCgroup2 } from "../../../test/fixtures/cgroup2.ts";

const root = mkdtempSync(path.join(tmpdir(), "egl-mgr-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const client = (): TerminalClient & { text: string } => {
  const c = {
    text: "",
    output: (o: { data: string }) => void (c.text += o.data),
    reset() {},
    replaced() {},
    exited() {},
  };
  return c;
};

describe("TerminalManager", () => {
  it("prepares a private home and ends a shell idle past the timeout, but not one a page watches", async () => {
    let now = 1_000_000;
    const m = new TerminalManager({
      root,
      mode: "local",
      hostPath: process.env.PATH ?? "/usr/bin:/bin",
      idleTimeoutMs: 60_000,
      now: () => now,
    });
    await m.prepare("l-a", {
      kubeconfig: "kind: Config\n",
      dirs: ["stage-0"],
      files: [{ path: "stage-0/hello.txt", content: "hi" }],
      completion: "# none\n",
    });
    const home = m.homeOf("l-a");
    expect(readFileSync(path.join(home, ".kube", "config"), "utf8")).toBe("kind: Config\n");
    expect(statSync(path.join(home, ".kube", "config")).mode & 0o777).toBe(0o600);
    expect(readFileSync(path.join(home, "stage-0", "hello.txt"), "utf8")).toBe("hi");
    await m.prepare("l-b", {
      kubeconfig: "kind: Config\n",
      dirs: ["stage-0"],
      files: [],
      completion: "# none\n",
    });

    const a = client();
    const b = client();
    await m.attach("l-a", a, { cols: 80, rows: 24, startDir: "stage-0" });
    const sb = await m.attach("l-b", b, { cols: 80, rows: 24, startDir: "stage-0" });
    sb.detach(b);
    now += 61_000;
    expect(m.reapIdle()).toBe(1);
    expect(m.get("l-b")).toBeUndefined();
    expect(m.get("l-a")).toBeDefined();
    m.close();
    expect(m.size).toBe(0);
  });
});

describe("home size", () => {
  it("tells the learner in their terminal, once, when their home is over its size", async () => {
    const m = new TerminalManager({
      root,
      mode: "local",
      hostPath: process.env.PATH ?? "/usr/bin:/bin",
      idleTimeoutMs: 60_000,
      sandbox: {
        connectApi: (_l, socket) => socket.destroy(),
        limits: { ...defaultShellLimits, homeMiB: 1 },
      },
    });
    try {
      await m.prepare("l-big", {
        kubeconfig: "kind: Config\n",
        dirs: ["stage-0"],
        files: [],
        completion: "#\n",
      });
      const c = client();
      await m.attach("l-big", c, { cols: 80, rows: 24, startDir: "stage-0" });
      await m.checkHomes();
      expect(c.text).not.toContain("MiB allowed");
      writeFileSync(path.join(m.homeOf("l-big"), "big.bin"), Buffer.alloc(3 * 1024 * 1024, 1));
      await m.checkHomes();
      await m.checkHomes();
      expect(c.text.match(/more than the 1 MiB allowed/g)).toHaveLength(1);
    } finally {
      m.close();
    }
  });
});

describe("a sandboxed shell's cgroup (a fake cgroup v2 tree)", () => {
  it("joins its own group with the shell's limits, and the group goes once the shell ends", async () => {
    const fs = new FakeCgroup2(path.join(root, "cgroup"));
    fs.write(path.join(fs.root, "cgroup.subtree_control"), "+cpu +memory +pids");
    fs.group("server", [process.pid]);
    writeFileSync(path.join(root, "self-cgroup"), "0::/server\n");
    const { layout } = setUpCgroups({ root: fs.root, selfCgroup: path.join(root, "self-cgroup"), fs });
    expect(layout?.version).toBe(2);
    const limits = { ...defaultShellLimits, processes: 64, memoryMiB: 300 };
    const m = new TerminalManager({
      root,
      mode: "bwrap",
      hostPath: process.env.PATH ?? "/usr/bin:/bin",
      idleTimeoutMs: 60_000,
      sandbox: { connectApi: (_l, socket) => socket.destroy(), cgroups: layout!, limits },
    });
    try {
      await m.prepare("l-cg", {
        kubeconfig: "kind: Config\n",
        dirs: ["stage-0"],
        files: [],
        completion: "#\n",
      });
      const c = client();
      const s = await m.attach("l-cg", c, { cols: 80, rows: 24, startDir: "stage-0" });
      const group = path.join(layout!.parents.pids!, "l-cg");
      await until(() => c.text.includes("$ "), "the prompt");
      expect(fs.procs(group)).toEqual([s.pid]);
      expect(fs.read(path.join(group, "pids.max"))).toBe("64");
      expect(fs.read(path.join(group, "memory.max"))).toBe(String(300 * 1024 * 1024));
      s.input("exit\r");
      await until(() => !existsSync(group), "the shell's group to go", 15_000);
      expect(fs.children(layout!.parents.pids!)).toEqual([]);
    } finally {
      m.close();
    }
  });
});

async function until(ok: () => boolean, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
