/**
 * `kubectl cp` against the simulated cluster: the real kubectl runs `test -d` and `tar -xmf - -C DIR` to copy in and
 * `tar cf - PATH` to copy out, through exec; the pod's `tar` reads and writes its files.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
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
