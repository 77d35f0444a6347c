/**
 * The pod's file utilities through the real `kubectl exec`: busybox's mkdir, cp, mv, rm, touch and chmod with their
 * words and exit codes, and the toolbox's home-sync script (mkdir -p, chmod, mv -f) in a simulated alpine/k8s pod.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { homeSyncScript } from "../../server/src/terminal/toolbox.ts";
import { startKubectlEnv, type Kubectl, type KubectlEnv } from "../helpers/kubectl.ts";

let env: KubectlEnv;
let k: Kubectl;

beforeAll(async () => {
  env = await startKubectlEnv();
  k = await env.cluster({ id: "fileutils" });
  for (const [name, image] of [
    ["box", "busybox:1.36"],
    ["tb", "alpine/k8s:1.32.0"],
  ] as const) {
    const r = await k(["run", name, `--image=${image}`, "--", "sleep", "infinity"]);
    expect(r.exitCode).toBe(0);
  }
  await k(["wait", "--for=condition=Ready", "pod/box", "pod/tb", "--timeout=20s"]);
});

afterAll(async () => {
  await env.close();
});

describe("file utilities through kubectl exec", () => {
  it("mkdir -p, cp, mv, touch, chmod and rm -r work, and fail with busybox's words and codes", async () => {
    const made = await k(["exec", "box", "--", "mkdir", "-p", "/tmp/x/y"]);
    expect(made.exitCode).toBe(0);
    const work = await k([
      "exec",
      "box",
      "--",
      "sh",
      "-c",
      "echo hi > /tmp/x/y/f && cp -r /tmp/x /tmp/z && mv /tmp/z/y/f /tmp/z/g && touch /tmp/z/t && chmod 600 /tmp/z/g && ls /tmp/z && cat /tmp/z/g",
    ]);
    expect(work.stderr).toBe("");
    expect(work.stdout).toBe("g\nt\ny\nhi");
    const missing = await k(["exec", "box", "--", "rm", "/tmp/nope"]);
    expect(missing.exitCode).toBe(1);
    // kubectl adds its own line about the exit code.
    expect(missing.stderr.split("\n")[0]).toBe("rm: can't remove '/tmp/nope': No such file or directory");
    const noParent = await k(["exec", "box", "--", "mkdir", "/tmp/a/b"]);
    expect(noParent.exitCode).toBe(1);
    expect(noParent.stderr.split("\n")[0]).toBe(
      "mkdir: can't create directory '/tmp/a/b': No such file or directory",
    );
    const gone = await k(["exec", "box", "--", "sh", "-c", "rm -r /tmp/x /tmp/z && ls /tmp"]);
    expect(gone.exitCode).toBe(0);
    expect(gone.stdout.split("\n")).not.toContain("x");
  });

  it("the toolbox's home-sync script runs in a simulated alpine/k8s pod without a warning", async () => {
    const script = homeSyncScript({
      dirs: ["stage-0", "stage-1"],
      files: [{ path: "stage-1/policy.yaml", content: "kind: NetworkPolicy\n" }],
    });
    // The real toolbox mounts a volume at HOME; a plain pod of the image makes the directory first.
    expect((await k(["exec", "tb", "--", "mkdir", "-p", "/home/learner"])).exitCode).toBe(0);
    const sync = await k(["exec", "-i", "tb", "--", "sh", "-s"], { input: script });
    expect(sync.stderr).toBe("");
    expect(sync.stdout).toBe("synced");
    expect(sync.exitCode).toBe(0);
    const ls = await k([
      "exec",
      "tb",
      "--",
      "sh",
      "-c",
      "cd /home/learner && ls && cat stage-1/policy.yaml bin/flows | head -1",
    ]);
    expect(ls.stdout.split("\n").slice(0, 3)).toEqual(["bin", "stage-0", "stage-1"]);
    expect(ls.stdout).toContain("kind: NetworkPolicy");
    // Run again (as each session does): the learner's edit stays, the server's files are replaced.
    await k(["exec", "tb", "--", "sh", "-c", "echo edited > /home/learner/stage-1/policy.yaml"]);
    const again = await k(["exec", "-i", "tb", "--", "sh", "-s"], { input: script });
    expect(again.stdout).toBe("synced");
    const kept = await k(["exec", "tb", "--", "cat", "/home/learner/stage-1/policy.yaml"]);
    expect(kept.stdout).toBe("edited");
  });
});
