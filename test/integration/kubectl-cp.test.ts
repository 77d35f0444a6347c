/**
 * `kubectl cp` against the simulated cluster: the real kubectl runs `test -d` and `tar -xmf - -C DIR` to copy in and
 * `tar cf - PATH` to copy out, through exec; the pod's `tar` reads and writes its files.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startKubectlEnv, type Kubectl, type KubectlEnv } from "../helpers/kubectl.ts";

let env: KubectlEnv;
let k: Kubectl;
let local: string;

beforeAll(async () => {
  env = await startKubectlEnv();
  k = await env.cluster({ id: "cp" });
  local = mkdtempSync(path.join(os.tmpdir(), "egresslab-cp-"));
  const r = await k(["run", "box", "--image=busybox:1.36", "--", "sleep", "infinity"]);
  expect(r.exitCode).toBe(0);
  await k(["wait", "--for=condition=Ready", "pod/box", "--timeout=20s"]);
});

afterAll(async () => {
  await env.close();
  rmSync(local, { recursive: true, force: true });
});

describe("kubectl cp", () => {
  it("copies a file into the pod and back out, unchanged", async () => {
    // Large enough to arrive in several messages, with characters that straddle them.
    const text = "server=10.0.0.1\nname=café ☕\n".repeat(20_000);
    writeFileSync(path.join(local, "app.conf"), text);
    const put = await k(["cp", path.join(local, "app.conf"), "box:/tmp/app.conf"], { timeout: 20_000 });
    expect(put.stderr).toBe("");
    expect(put.exitCode).toBe(0);
    const cat = await k(["exec", "box", "--", "cat", "/tmp/app.conf"]);
    // execa drops the output's final newline.
    expect(cat.stdout + "\n").toBe(text);

    const get = await k(["cp", "box:/tmp/app.conf", path.join(local, "back.conf")], { timeout: 20_000 });
    expect(get.exitCode).toBe(0);
    expect(readFileSync(path.join(local, "back.conf"), "utf8")).toBe(text);
  });

  it("copies a pod's file the pod wrote itself, and says so when it does not exist", async () => {
    await k(["exec", "box", "--", "sh", "-c", "echo hello > /tmp/hello.txt"]);
    const get = await k(["cp", "box:/tmp/hello.txt", path.join(local, "hello.txt")], { timeout: 20_000 });
    expect(get.exitCode).toBe(0);
    expect(readFileSync(path.join(local, "hello.txt"), "utf8")).toBe("hello\n");
    const missing = await k(["cp", "box:/tmp/nope.txt", path.join(local, "nope.txt")], { timeout: 20_000 });
    // kubectl passes the remote tar's complaint on, as it does from a real pod.
    expect(missing.stdout + missing.stderr).toContain("tar: /tmp/nope.txt: No such file or directory");
  });

  it("a hostile archive cannot write outside the pod's files or past its limits", async () => {
    const put = await k(["exec", "-i", "box", "--", "tar", "-xmf", "-", "-C", "/tmp"], {
      input: "garbage that is not an archive".repeat(40),
    });
    expect(put.exitCode).not.toBe(0);
    expect(put.stderr).toContain("tar:");
    const proc = await k([
      "exec",
      "box",
      "--",
      "sh",
      "-c",
      "echo x > /tmp/a; tar cf /tmp/a.tar /tmp/a && tar xf /tmp/a.tar -C /proc",
    ]);
    expect(proc.stderr).toContain("can't open");
  });
});

describe("kubectl cp of binary files", () => {
  it("copies random bytes and a gzip into the pod and back out, byte for byte", async () => {
    const random = randomBytes(300_000);
    const text = "server=10.0.0.1\nname=café ☕\n".repeat(5_000);
    const gz = gzipSync(text);
    writeFileSync(path.join(local, "random.bin"), random);
    writeFileSync(path.join(local, "conf.gz"), gz);
    for (const f of ["random.bin", "conf.gz"]) {
      const put = await k(["cp", path.join(local, f), `box:/tmp/${f}`], { timeout: 20_000 });
      expect(put.stderr).toBe("");
      expect(put.exitCode).toBe(0);
    }
    // The pod sees the bytes too: their count, and the gzip's magic.
    const wc = await k(["exec", "box", "--", "sh", "-c", "wc -c < /tmp/random.bin; wc -c < /tmp/conf.gz"]);
    expect(wc.stdout.split(/\s+/).filter(Boolean)).toEqual([String(random.length), String(gz.length)]);

    for (const f of ["random.bin", "conf.gz"]) {
      const get = await k(["cp", `box:/tmp/${f}`, path.join(local, `back-${f}`)], { timeout: 20_000 });
      expect(get.exitCode).toBe(0);
    }
    expect(readFileSync(path.join(local, "back-random.bin")).equals(random)).toBe(true);
    expect(readFileSync(path.join(local, "back-conf.gz")).equals(gz)).toBe(true);
    expect(gunzipSync(readFileSync(path.join(local, "back-conf.gz"))).toString("utf8")).toBe(text);
  });

  it("binary bytes pass unchanged through the pod's pipes and redirections", async () => {
    const r = await k([
      "exec",
      "box",
      "--",
      "sh",
      "-c",
      "cat /tmp/random.bin | cat > /tmp/copy.bin; cat /tmp/copy.bin >> /tmp/twice.bin; cat /tmp/random.bin >> /tmp/twice.bin; tar cf /tmp/r.tar /tmp/copy.bin /tmp/twice.bin 2>/dev/null; tar xf /tmp/r.tar -C /root/x",
    ]);
    expect(r.stderr).toBe("");
    for (const f of ["tmp/copy.bin", "root/x/tmp/copy.bin", "root/x/tmp/twice.bin"]) {
      const get = await k(["cp", `box:/${f}`, path.join(local, "piped.bin")], { timeout: 20_000 });
      expect(get.exitCode).toBe(0);
      const want = readFileSync(path.join(local, "random.bin"));
      const got = readFileSync(path.join(local, "piped.bin"));
      expect(got.equals(f.endsWith("twice.bin") ? Buffer.concat([want, want]) : want)).toBe(true);
    }
  });

  it("an oversized file fails as a full filesystem does, and changes nothing else in the pod", async () => {
    writeFileSync(path.join(local, "big.bin"), randomBytes(5 * 1024 * 1024));
    const put = await k(["cp", path.join(local, "big.bin"), "box:/tmp/big.bin"], { timeout: 30_000 });
    expect(put.exitCode).not.toBe(0);
    expect(put.stderr).toContain("tar: write error: No space left on device");
    // What was there stays as it was.
    const get = await k(["cp", "box:/tmp/random.bin", path.join(local, "still.bin")], { timeout: 20_000 });
    expect(get.exitCode).toBe(0);
    expect(
      readFileSync(path.join(local, "still.bin")).equals(readFileSync(path.join(local, "random.bin"))),
    ).toBe(true);
    // A file grown past the limit by a redirection: the writer stops with the system's error.
    const full = await k([
      "exec",
      "box",
      "--",
      "sh",
      "-c",
      "i=0; while [ $i -lt 30 ] && cat /tmp/random.bin >> /tmp/grow; do i=$((i+1)); done; echo $i; wc -c < /tmp/grow",
    ]);
    expect(full.stderr).toBe("cat: write error: No space left on device");
    const [stoppedAt, size] = full.stdout.split("\n").map(Number);
    expect(stoppedAt).toBeLessThan(30);
    expect(size).toBeLessThanOrEqual(4 * 1024 * 1024);
  });
});

describe("pod files across a restart", () => {
  it("a binary file copied into a pod is there, byte for byte, after the server restarts", async () => {
    const dataDir = path.join(env.dir, "data");
    const first = await startKubectlEnv({ dataDir });
    const kc = await first.cluster({ id: "kept-files" });
    await kc(["run", "keeper", "--image=busybox:1.36", "--", "sleep", "infinity"]);
    await kc(["wait", "--for=condition=Ready", "pod/keeper", "--timeout=20s"]);
    const bytes = Buffer.concat([gzipSync(randomBytes(50_000)), Buffer.from([0, 255, 10, 13])]);
    writeFileSync(path.join(local, "kept.bin"), bytes);
    const put = await kc(["cp", path.join(local, "kept.bin"), "keeper:/tmp/kept.bin"], { timeout: 20_000 });
    expect(put.exitCode).toBe(0);
    await first.host.close();
    const second = await startKubectlEnv({ dataDir });
    try {
      const get = await kc(["cp", "keeper:/tmp/kept.bin", path.join(local, "kept-back.bin")], {
        timeout: 20_000,
      });
      expect(get.stderr).toBe("");
      expect(get.exitCode).toBe(0);
      expect(readFileSync(path.join(local, "kept-back.bin")).equals(bytes)).toBe(true);
    } finally {
      await second.close();
      await first.close();
    }
  });
});

describe("images without tar or a shell", () => {
  // containerd and runc's words, wrapped by the kubelet's NewInternalError; kubectl prints it after "error: ".
  const notFound = (program: string): RegExp =>
    new RegExp(
      `^error: Internal error occurred: error executing command in container: failed to exec in container: failed to start exec "[0-9a-f]{64}": OCI runtime exec failed: exec failed: unable to start container process: exec: "${program}": executable file not found in \\$PATH: unknown$`,
      "m",
    );

  const corednsPod = async (): Promise<string> => {
    const r = await k(["get", "pods", "-n", "kube-system", "-l", "k8s-app=kube-dns", "-o", "name"]);
    expect(r.exitCode).toBe(0);
    const name = r.stdout.split("\n")[0]?.replace(/^pod\//, "") ?? "";
    expect(name).toMatch(/^coredns-/);
    return name;
  };

  it("exec into CoreDNS (distroless) finds no shell, as on a real cluster", async () => {
    const pod = await corednsPod();
    const r = await k(["exec", "-n", "kube-system", pod, "--", "sh", "-c", "echo hi"]);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(notFound("sh"));
    expect(r.exitCode).toBe(1);
  });

  it("kubectl cp into and out of CoreDNS fails because the image has no tar, and changes nothing", async () => {
    const pod = await corednsPod();
    writeFileSync(path.join(local, "x.bin"), Buffer.from([0, 1, 2, 255]));
    const put = await k(["cp", path.join(local, "x.bin"), `kube-system/${pod}:/tmp/x.bin`], {
      timeout: 20_000,
    });
    expect(put.exitCode).toBe(1);
    expect(put.stderr).toMatch(notFound("tar"));
    const get = await k(["cp", `kube-system/${pod}:/etc/resolv.conf`, path.join(local, "rc")], {
      timeout: 20_000,
    });
    expect(get.exitCode).not.toBe(0);
    expect(get.stderr).toMatch(notFound("tar"));
  });
});
