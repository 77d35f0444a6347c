/** `egresslab sim` as a user runs it: one ready line, a kubeconfig kubectl uses as is, a clean stop on SIGINT. */
import { afterAll, describe, expect, it } from "vitest";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { execa } from "execa";
import { environment } from "../../server/src/config/options.ts";

const root = path.join(import.meta.dirname, "..", "..");
const dir = mkdtempSync(path.join(os.tmpdir(), "egresslab-sim-cli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const sim = (args: string[], env: Record<string, string> = {}) =>
  execa(process.execPath, [path.join(root, "scripts", "egresslab.mjs"), "sim", ...args], {
    cwd: dir,
    env: { ...environment(), HOME: path.join(dir, "home"), ...env },
    extendEnv: false,
    reject: false,
    stdin: "ignore",
  });

describe("egresslab sim", () => {
  it("prints one ready line, serves kubectl, and stops cleanly on SIGINT", async () => {
    const kubeconfig = path.join(dir, "sim.kubeconfig");
    const child = sim(["--kubeconfig", kubeconfig, "--data", path.join(dir, "data"), "--seed", "7"]);
    const line = await new Promise<string>((resolve, reject) => {
      let buf = "";
      child.stdout!.on("data", (c: Buffer) => {
        buf += c.toString();
        if (buf.includes("\n")) resolve(buf);
      });
      void child.then((r) => reject(new Error(`sim exited early: ${String(r.stderr)}`)));
    });
    expect(line).toMatch(
      new RegExp(
        `^egresslab sim: cluster ready at https://127\\.0\\.0\\.1:\\d+ — export KUBECONFIG=${kubeconfig.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`,
      ),
    );
    expect(readFileSync(kubeconfig, "utf8")).toContain("current-context: egresslab-sim");
    const r = await execa("kubectl", ["get", "ns", "kube-system", "-o", "name"], {
      env: { ...environment(), KUBECONFIG: kubeconfig, HOME: path.join(dir, "home") },
      extendEnv: false,
      reject: false,
    });
    expect(r.stdout).toBe("namespace/kube-system");
    child.kill("SIGINT");
    const done = await child;
    expect(done.exitCode).toBe(0);
  });

  it("keeps the saved cluster on restart and says so when the options ask for another", async () => {
    const kubeconfig = path.join(dir, "sim.kubeconfig");
    const child = sim(["--kubeconfig", kubeconfig, "--data", path.join(dir, "data"), "--edition", "oss"]);
    let err = "";
    child.stderr!.on("data", (c: Buffer) => (err += c.toString()));
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on("data", (c: Buffer) => {
        if (c.toString().includes("cluster ready")) resolve();
      });
      void child.then((r) => reject(new Error(`sim exited early: ${String(r.stderr)}`)));
    });
    child.kill("SIGINT");
    expect((await child).exitCode).toBe(0);
    expect(err).toContain('egresslab sim: keeping the cluster "sim" saved in');
    expect(err).toContain("(profile bare, edition enterprise)");
  });

  it("rejects bad options in the user's terms and never overwrites ~/.kube/config", async () => {
    const blocker = net.createServer().listen(0, "127.0.0.1");
    await new Promise((r) => blocker.once("listening", r));
    const taken = (blocker.address() as net.AddressInfo).port;
    const busy = await sim(["--port", String(taken), "--kubeconfig", path.join(dir, "busy.kubeconfig")]);
    blocker.close();
    expect(busy.exitCode).toBe(1);
    expect(busy.stderr).toContain(`egresslab sim: port ${taken} on 127.0.0.1 is already in use`);
    const bad = await sim(["--edition", "free"]);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain('--edition: must be one of enterprise, oss; got "free"');
    const home = path.join(dir, "home");
    mkdirSync(path.join(home, ".kube"), { recursive: true });
    writeFileSync(path.join(home, ".kube", "config"), "mine\n");
    const clash = await sim(["--kubeconfig", path.join(home, ".kube", "config")]);
    expect(clash.exitCode).toBe(2);
    expect(clash.stderr).toContain("egresslab will not overwrite it");
    expect(readFileSync(path.join(home, ".kube", "config"), "utf8")).toBe("mine\n");
  });
});
