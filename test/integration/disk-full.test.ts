/**
 * A full disk is visible, not silent: writes answer `500 InternalError` naming the cause and change nothing, the
 * fault is reported once, a restart on the full disk serves what was saved (read-only), and writes work again once
 * there is space. One variant injects the failure (always runs); one fills a real tmpfs (where mounting is allowed).
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { execa } from "execa";
import { afterAll, describe, expect, it } from "vitest";
import { environment } from "../../server/src/config/options.ts";
import { SimHost } from "../../server/src/sim/host.ts";
import { nodeDisk, type DiskIO } from "../../server/src/sim/persistence.ts";
import { StorageHealth } from "../../server/src/shared/storage.ts";
import { call, killHard, readTarget, startSim, type SimChild } from "../helpers/sim-child.ts";

const dir = mkdtempSync(path.join(os.tmpdir(), "egresslab-diskfull-"));
const cleanups: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
  rmSync(dir, { recursive: true, force: true });
});

/** Every temp file under `d`, recursively. */
const tempFiles = (d: string): string[] =>
  readdirSync(d, { recursive: true, encoding: "utf8" }).filter((f) => /\.tmp($|-)/.test(f));

function kubectl(kubeconfig: string, args: string[]) {
  return execa("kubectl", args, {
    env: { ...environment(), KUBECONFIG: kubeconfig, HOME: path.join(dir, "home") },
    extendEnv: false,
    reject: false,
  });
}

describe("a full disk (injected write failure)", () => {
  it("answers an error that names it, changes nothing, says so once, and starts read-only", async () => {
    const dataDir = path.join(dir, "injected");
    const full = { on: false };
    const fail = () => {
      if (full.on)
        throw Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
    };
    const disk: DiskIO = {
      ...nodeDisk,
      append(fd, data, position) {
        fail();
        nodeDisk.append(fd, data, position);
      },
      replaceFile(file, data, mode) {
        fail();
        nodeDisk.replaceFile(file, data, mode);
      },
      async replaceFileAsync(file, data, mode) {
        fail();
        await nodeDisk.replaceFileAsync!(file, data, mode);
      },
    };
    const health = new StorageHealth();
    const problems: string[] = [];
    health.on("problem", (p) => problems.push(p.message));
    let host = await SimHost.start({ dataDir, disk, storage: health });
    cleanups.push(() => host.close());
    const created = await host.createCluster({ id: "a" });
    const kc = path.join(dir, "a.kubeconfig");
    writeFileSync(kc, created.kubeconfig);
    expect((await kubectl(kc, ["create", "cm", "one", "--from-literal=k=1"])).exitCode).toBe(0);

    full.on = true;
    const two = await kubectl(kc, ["create", "cm", "two", "--from-literal=k=2"]);
    expect(two.exitCode).toBe(1);
    expect(two.stderr).toContain(
      "Internal error occurred: the server's disk is full: the change was not saved; nothing was changed, try again later",
    );
    const deploy = await kubectl(kc, ["create", "deployment", "web", "--image=nginx", "--replicas=2"]);
    expect(deploy.stderr).toContain("the server's disk is full");
    const raw = await call(readTarget(kc), "POST", "/api/v1/namespaces/default/configmaps", {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "three" },
    });
    expect(raw.status).toBe(500);
    expect(JSON.parse(raw.body)).toMatchObject({ kind: "Status", reason: "InternalError", code: 500 });
    expect((await kubectl(kc, ["get", "cm", "-o", "name"])).stdout.split("\n").sort()).toEqual([
      "configmap/kube-root-ca.crt",
      "configmap/one",
    ]);
    expect((await kubectl(kc, ["get", "deploy,pods", "-o", "name"])).stdout).toBe("");
    await expect(host.createCluster({ id: "b" })).rejects.toThrow(/the server's disk is full/);
    expect(host.clusterIds()).toEqual(["a"]);
    expect(problems).toEqual(["the server's disk is full"]);

    // Restart on the full disk: it comes up, serves what was saved and still refuses changes.
    await host.close();
    host = await SimHost.start({ dataDir, disk, storage: health });
    expect(health.problem?.message).toBe("the server's disk is full");
    writeFileSync(kc, host.kubeconfig("a"));
    expect((await kubectl(kc, ["get", "cm", "one", "-o", "jsonpath={.data.k}"])).stdout).toBe("1");
    expect((await kubectl(kc, ["create", "cm", "four"])).stderr).toContain("the server's disk is full");

    full.on = false;
    expect((await kubectl(kc, ["create", "cm", "five"])).exitCode).toBe(0);
    expect(health.problem).toBeUndefined();
    expect(problems).toEqual(["the server's disk is full"]);
    expect(tempFiles(dataDir)).toEqual([]);
  }, 60_000);
});

/** Mounts a tmpfs of `size` at `at`; false (and why) where mounting is not permitted. */
function mountTmpfs(at: string, size: string): true | string {
  if (process.platform !== "linux") return "tmpfs needs Linux";
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", at], { stdio: "pipe" });
    return true;
  } catch (err) {
    return err instanceof Error ? err.message.split("\n")[0]! : String(err);
  }
}

/** Writes zeros to `file` until the file system is full (tmpfs: every free page taken). */
function fill(file: string): void {
  try {
    writeFileSync(file, Buffer.alloc(64 * 1024 * 1024));
  } catch {
    // ENOSPC: the file took what was left
  }
}

describe("a full disk (a real tmpfs)", () => {
  it("keeps every acknowledged write across a kill -9 and a restart on the full disk", async (ctx) => {
    const mnt = path.join(dir, "tmpfs");
    mkdirSync(mnt, { recursive: true });
    mkdirSync(path.join(dir, "home"), { recursive: true });
    const mounted = mountTmpfs(mnt, "1m");
    if (mounted !== true) {
      process.stderr.write(
        `disk-full.test.ts: skipping the tmpfs variant: cannot mount a tmpfs (${mounted})\n`,
      );
      ctx.skip();
      return;
    }
    cleanups.push(() => {
      execFileSync("umount", ["-l", mnt]);
    });
    // Space an operator frees at the end: the fillers only hold what was left when the disk first refused, which can
    // be less than one more write (tmpfs allocates by page).
    writeFileSync(path.join(mnt, "reserve"), Buffer.alloc(64 * 1024));
    const data = path.join(mnt, "data");
    const kc = path.join(dir, "tmpfs.kubeconfig");
    let child: SimChild | undefined = await startSim(dir, ["--data", data, "--kubeconfig", kc]);
    cleanups.push(async () => {
      if (child) await killHard(child);
    });
    const t = readTarget(kc);
    const big = "x".repeat(100 * 1024);
    const acked: string[] = [];
    let refused: { status: number; body: string } | undefined;
    for (let i = 0; i < 40 && !refused; i++) {
      const r = await call(t, "POST", "/api/v1/namespaces/default/configmaps", {
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: `big-${i}` },
        data: { v: big },
      });
      if (r.status === 201) acked.push(`big-${i}`);
      else refused = r;
    }
    expect(acked.length).toBeGreaterThan(2);
    expect(refused?.status).toBe(500);
    expect(JSON.parse(refused!.body)).toMatchObject({
      reason: "InternalError",
      message: expect.stringContaining("the server's disk is full") as unknown,
    });
    fill(path.join(mnt, "filler"));
    await killHard(child);
    child = await startSim(dir, ["--data", data, "--kubeconfig", kc]);
    expect(child.stderr()).toContain("starting read-only");
    expect(child.stderr()).toContain("the server's disk is full");
    const list = JSON.parse((await call(t, "GET", "/api/v1/namespaces/default/configmaps")).body) as {
      items: { metadata: { name: string } }[];
    };
    expect(list.items.map((o) => o.metadata.name)).toEqual(expect.arrayContaining(acked));
    // Start-up removed the temp files the killed server left, which gave some pages back: take them again. The
    // write below needs whole new pages (tmpfs allocates by page; a few bytes could still land in the journal's
    // last, partly used page, and rightly succeed).
    fill(path.join(mnt, "filler-2"));
    const small = await call(t, "POST", "/api/v1/namespaces/default/configmaps", {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "small" },
      data: { v: "y".repeat(16 * 1024) },
    });
    expect(small.status).toBe(500);
    expect(small.body).toContain("the server's disk is full");
    expect(tempFiles(mnt)).toEqual([]);

    rmSync(path.join(mnt, "filler"), { force: true });
    rmSync(path.join(mnt, "filler-2"), { force: true });
    rmSync(path.join(mnt, "reserve"), { force: true });
    const after = await call(t, "POST", "/api/v1/namespaces/default/configmaps", {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "small" },
    });
    expect(after.status, after.body).toBe(201);
    await killHard(child);
    child = undefined;
  }, 90_000);
});

/** Starts `egresslab serve --local` and resolves with its URL once it printed it. */
async function startServe(
  cwd: string,
  data: string,
): Promise<{ url: string; child: ReturnType<typeof execa> }> {
  const child = execa(
    process.execPath,
    [
      path.join(import.meta.dirname, "..", "..", "scripts", "egresslab.mjs"),
      "serve",
      "--local",
      "--data",
      data,
      "--port",
      "0",
      "--pool",
      "1",
    ],
    {
      cwd,
      env: { ...environment(), HOME: path.join(cwd, "home") },
      extendEnv: false,
      reject: false,
      stdin: "ignore",
    },
  );
  let err = "";
  child.stderr!.on("data", (c: Buffer) => (err += c.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (c: Buffer) => {
      out += c.toString();
      const m = /open (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    void child.then((r) => reject(new Error(`serve exited early (${r.exitCode}): ${err}`)));
  });
  return { url, child };
}

describe("egresslab serve on a full disk (a real tmpfs)", () => {
  it("starts read-only after a kill -9 instead of crashing, and says why a join cannot work", async (ctx) => {
    const mnt = path.join(dir, "serve-tmpfs");
    mkdirSync(mnt, { recursive: true });
    mkdirSync(path.join(dir, "home"), { recursive: true });
    const mounted = mountTmpfs(mnt, "16m");
    if (mounted !== true) {
      process.stderr.write(
        `disk-full.test.ts: skipping the serve tmpfs variant: cannot mount a tmpfs (${mounted})\n`,
      );
      ctx.skip();
      return;
    }
    cleanups.push(() => {
      execFileSync("umount", ["-l", mnt]);
    });
    const data = path.join(mnt, "data");
    let s = await startServe(dir, data);
    cleanups.push(() => {
      s.child.kill("SIGKILL");
    });
    expect((await fetch(`${s.url}/healthz`)).status).toBe(200);
    fill(path.join(mnt, "filler"));
    s.child.kill("SIGKILL");
    await s.child;
    s = await startServe(dir, data);
    expect((await fetch(`${s.url}/healthz`)).status).toBe(200);
    fill(path.join(mnt, "filler-2"));
    const join = await fetch(`${s.url}/api/join`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ name: "Zed" }),
    });
    expect(join.status).toBe(503);
    expect(((await join.json()) as { error: { message: string } }).error.message).toContain(
      "the server's disk is full",
    );
    s.child.kill("SIGKILL");
    await s.child;
  }, 120_000);
});
