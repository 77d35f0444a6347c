/** mkdir, rm, cp, mv, touch and chmod in a pod: busybox's and GNU's words, the file limits, hostile trees. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestCluster, type TestCluster } from "../../net/testkit.ts";
import { LIMITS } from "../budget.ts";

let c: TestCluster;
beforeAll(() => {
  c = createTestCluster({ traffic: false });
  c.addPod({ name: "bb", ip: "192.168.1.11", image: "busybox:1.36" });
  c.addPod({ name: "deb", ip: "192.168.1.12", image: "debian:12" });
  c.addPod({ name: "dl", ip: "192.168.1.13", image: "registry.k8s.io/kube-scheduler:v1.32.0" });
  c.addPod({ name: "tb", ip: "192.168.1.14", image: "alpine/k8s:1.32.0" });
});
afterAll(() => c.close());

const bb = (cmd: string) => c.exec("default", "bb", cmd);
const deb = (cmd: string) => c.exec("default", "deb", cmd);
/** A shell command that writes a 3 MB file (six appends of 512 KiB); fails if an append does. */
const fill = (path: string) =>
  `(s=0123456789abcdef; for i in $(seq 15); do s=$s$s; done; for i in $(seq 6); do printf %s "$s" >> ${path} || exit 1; done)`;

describe("mkdir", () => {
  it("makes directories, -p makes the parents, and says why it cannot (busybox)", async () => {
    let r = await bb("mkdir /tmp/m && ls /tmp/m && [ -d /tmp/m ] && echo dir");
    expect(r).toMatchObject({ code: 0, stdout: "dir\n" });
    r = await bb("mkdir /tmp/m");
    expect(r).toMatchObject({ code: 1, stderr: "mkdir: can't create directory '/tmp/m': File exists\n" });
    r = await bb("cd /tmp && mkdir a/b");
    expect(r).toMatchObject({
      code: 1,
      stderr: "mkdir: can't create directory 'a/b': No such file or directory\n",
    });
    r = await bb("mkdir -p /tmp/p/q/r && mkdir -p /tmp/p/q/r && ls /tmp/p/q");
    expect(r).toMatchObject({ code: 0, stdout: "r\n", stderr: "" });
    r = await bb("mkdir /proc/x");
    expect(r).toMatchObject({
      code: 1,
      stderr: "mkdir: can't create directory '/proc/x': Read-only file system\n",
    });
    r = await bb("mkdir");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("Usage: mkdir");
  });

  it("speaks GNU coreutils in a Debian image", async () => {
    const r = await deb("mkdir /tmp/x/y; echo $?; mkdir; echo $?");
    expect(r.stdout).toBe("1\n1\n");
    expect(r.stderr).toBe(
      "mkdir: cannot create directory '/tmp/x/y': No such file or directory\n" +
        "mkdir: missing operand\nTry 'mkdir --help' for more information.\n",
    );
  });

  it("is not in a distroless image", async () => {
    await expect(c.exec("default", "dl", ["mkdir", "-p", "/tmp/x"])).rejects.toThrow(
      'exec: "mkdir": executable file not found in $PATH',
    );
  });
});

describe("rm", () => {
  it("removes files, -r trees, -f says nothing of missing files", async () => {
    let r = await bb("rm /tmp/nope");
    expect(r).toMatchObject({ code: 1, stderr: "rm: can't remove '/tmp/nope': No such file or directory\n" });
    r = await bb("rm -f /tmp/nope; echo $?");
    expect(r).toMatchObject({ stdout: "0\n", stderr: "" });
    r = await bb("mkdir -p /tmp/t/u && echo hi > /tmp/t/u/f && rm /tmp/t");
    expect(r).toMatchObject({ code: 1, stderr: "rm: '/tmp/t' is a directory\n" });
    r = await bb("rm -r /tmp/t && [ ! -e /tmp/t ] && echo gone");
    expect(r).toMatchObject({ code: 0, stdout: "gone\n" });
    r = await bb("echo x > /tmp/one && rm /tmp/one && cat /tmp/one");
    expect(r.stderr).toBe("cat: can't open '/tmp/one': No such file or directory\n");
    r = await deb("rm /tmp/nope; mkdir /tmp/d; rm /tmp/d");
    expect(r.stderr).toBe(
      "rm: cannot remove '/tmp/nope': No such file or directory\nrm: cannot remove '/tmp/d': Is a directory\n",
    );
  });

  it("gives the space back, and leaves the kubelet's files", async () => {
    // 3 MB a file: two fit in the pod's 8 MB, a third does not until one is removed.
    let r = await bb(`${fill("/tmp/big1")} && ${fill("/tmp/big2")} && ${fill("/tmp/big3")}; echo $?`);
    expect(r.stdout).toBe("1\n");
    r = await bb(`rm /tmp/big1 /tmp/big3 && ${fill("/tmp/big3")}; echo $?; rm -f /tmp/big2 /tmp/big3`);
    expect(r.stdout).toBe("0\n");
    r = await bb("rm /etc/hosts; cat /etc/hosts >/dev/null && echo kept");
    expect(r.stdout).toBe("kept\n");
    expect(r.stderr).toMatch(/^rm: can't remove '\/etc\/hosts': /);
  });
});

describe("cp and mv", () => {
  it("copies bytes, into a directory, -r trees; says why not", async () => {
    let r = await bb(
      "echo YQFi | base64 -d > /tmp/s && cp /tmp/s /tmp/d && mkdir -p /tmp/in && cp /tmp/s /tmp/in && cat /tmp/in/s",
    );
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("a\x01b");
    r = await bb("cp /tmp/none /tmp/x");
    expect(r).toMatchObject({ code: 1, stderr: "cp: can't stat '/tmp/none': No such file or directory\n" });
    r = await bb("cp /tmp/in /tmp/in2");
    expect(r).toMatchObject({ code: 1, stderr: "cp: omitting directory '/tmp/in'\n" });
    r = await bb(
      "mkdir -p /tmp/tree/a/b && echo 1 > /tmp/tree/a/b/f && cp -r /tmp/tree /tmp/copy && cat /tmp/copy/a/b/f",
    );
    expect(r).toMatchObject({ code: 0, stdout: "1\n" });
    r = await bb("cp -r /tmp/tree /tmp/tree/a");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("into itself");
    r = await deb("cp /tmp/none /tmp/x; mkdir /tmp/dd; cp /tmp/dd /tmp/ee");
    expect(r.stderr).toBe(
      "cp: cannot stat '/tmp/none': No such file or directory\ncp: -r not specified; omitting directory '/tmp/dd'\n",
    );
  });

  it("a copy past the pod's space fails as a full disk, and a -r copy of many files finishes", async () => {
    let r = await bb(
      `${fill("/tmp/f1")} && cp /tmp/f1 /tmp/f2 && cp /tmp/f1 /tmp/f3; echo $?; wc -c < /tmp/f3`,
    );
    expect(r.stdout).toBe("1\n0\n");
    expect(r.stderr).toBe("cp: write error: No space left on device\n");
    r = await deb(`${fill("/tmp/f1")} && cp /tmp/f1 /tmp/f2 && cp /tmp/f1 /tmp/f3; echo $?`);
    expect(r.stdout).toBe("1\n");
    expect(r.stderr).toBe("cp: error writing '/tmp/f3': No space left on device\n");
    await bb("rm -f /tmp/f1 /tmp/f2 /tmp/f3");
    await deb("rm -f /tmp/f1 /tmp/f2 /tmp/f3");
    r = await bb("mkdir /tmp/many && cd /tmp/many && touch $(seq 1 4500) && echo made");
    expect(r).toMatchObject({ code: 0, stdout: "made\n" });
    // The copy and the removal give the event loop turns while they work through the entries.
    let turns = 0;
    let done = false;
    const spin = (): void => {
      turns++;
      if (!done) setImmediate(spin);
    };
    setImmediate(spin);
    r = await bb(
      "cp -r /tmp/many /tmp/many2 && ls /tmp/many2 | wc -l && rm -r /tmp/many /tmp/many2 && echo done",
    );
    done = true;
    expect(r).toMatchObject({ code: 0, stdout: "4500\ndone\n" });
    // 4,500 copies and 9,000 removals, at most LIMITS.itemsPerTurn entries a turn.
    expect(turns).toBeGreaterThanOrEqual(Math.floor(13_500 / LIMITS.itemsPerTurn));
  });

  it("mv renames files and trees", async () => {
    let r = await bb(
      "echo m > /tmp/m1 && mv /tmp/m1 /tmp/m2 && cat /tmp/m2 && [ ! -e /tmp/m1 ] && echo moved",
    );
    expect(r).toMatchObject({ code: 0, stdout: "m\nmoved\n" });
    r = await bb(
      "mkdir -p /tmp/mt/x && echo y > /tmp/mt/x/y && mv /tmp/mt /tmp/mt2 && cat /tmp/mt2/x/y && ls /tmp/mt",
    );
    expect(r.stdout).toBe("y\n");
    expect(r.stderr).toBe("ls: /tmp/mt: No such file or directory\n");
    r = await bb("mv /tmp/none /tmp/x");
    expect(r).toMatchObject({ code: 1, stderr: "mv: can't rename '/tmp/none': No such file or directory\n" });
    r = await deb("mv /tmp/none /tmp/x");
    expect(r).toMatchObject({ code: 1, stderr: "mv: cannot stat '/tmp/none': No such file or directory\n" });
  });
});

describe("touch and chmod", () => {
  it("touch makes empty files; chmod checks the mode and the file", async () => {
    let r = await bb(
      "touch /tmp/e && wc -c < /tmp/e && chmod 755 /tmp/e && chmod u+x,go-w /tmp/e && echo ok",
    );
    expect(r).toMatchObject({ code: 0, stdout: "0\nok\n" });
    r = await bb("touch /tmp/no/e");
    expect(r).toMatchObject({ code: 1, stderr: "touch: /tmp/no/e: No such file or directory\n" });
    r = await bb("chmod 755 /tmp/none; chmod zz /tmp/e");
    expect(r.stderr).toBe("chmod: /tmp/none: No such file or directory\nchmod: invalid mode 'zz'\n");
    r = await deb("touch /tmp/no/e; chmod 644 /tmp/none");
    expect(r.stderr).toBe(
      "touch: cannot touch '/tmp/no/e': No such file or directory\nchmod: cannot access '/tmp/none': No such file or directory\n",
    );
  });
});

describe("set -e (as scripts that use these utilities start)", () => {
  it("exits on the first failed command, but not in a condition, before && or ||, or after !", async () => {
    let r = await bb("set -e; echo one; rm /tmp/nope; echo two");
    expect(r).toMatchObject({ code: 1, stdout: "one\n" });
    r = await bb(
      "set -e; if rm /tmp/nope 2>/dev/null; then :; fi; while false; do :; done; false && echo no; false || echo or; ! true; echo end",
    );
    expect(r).toMatchObject({ code: 0, stdout: "or\nend\n" });
    r = await bb("set -e; (false); echo after");
    expect(r).toMatchObject({ code: 1, stdout: "" });
    r = await bb("set -e; set +e; false; echo still; set -o errexit; false; echo never");
    expect(r).toMatchObject({ code: 1, stdout: "still\n" });
    r = await bb("set -e; sh -c 'false; echo inner'; echo outer");
    expect(r).toMatchObject({ code: 0, stdout: "inner\nouter\n" });
    r = await bb("set -z");
    expect(r).toMatchObject({ code: 2, stderr: "sh: set: illegal option -z\n" });
  });
});
