/** `tar` in a pod: archives of the pod's files, as `kubectl cp` and learners use it; hostile archives. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestCluster, type TestCluster } from "../../net/testkit.ts";

let c: TestCluster;
beforeAll(() => {
  c = createTestCluster({ traffic: false });
  c.addPod({ name: "bb", ip: "192.168.1.11", image: "busybox:1.36" });
});
afterAll(() => c.close());

const sh = (cmd: string | string[], stdin?: string) =>
  c.exec("default", "bb", cmd, stdin === undefined ? {} : { stdin });

/** One ustar entry as Go's archive/tar (kubectl) writes it, with an optional pax path record before it. */
function entry(name: string, body: string, paxPath?: string): Buffer {
  const block = (n: string, size: number, type: string): Buffer => {
    const h = Buffer.alloc(512);
    h.write(n, 0);
    h.write("0000644\0", 100);
    h.write(size.toString(8).padStart(11, "0") + "\0", 124);
    h.write("00000000000\0", 136);
    h.write("        ", 148);
    h.write(type, 156);
    h.write("ustar\0" + "00", 257);
    let sum = 0;
    for (const b of h) sum += b;
    h.write(sum.toString(8).padStart(6, "0") + "\0 ", 148);
    return h;
  };
  const pad = (b: Buffer) => Buffer.concat([b, Buffer.alloc((512 - (b.length % 512)) % 512)]);
  const parts: Buffer[] = [];
  if (paxPath) {
    const rec = ` path=${paxPath}\n`;
    const line = `${rec.length + String(rec.length + 3).length}${rec}`;
    parts.push(block("PaxHeaders/x", Buffer.byteLength(line), "x"), pad(Buffer.from(line)));
  }
  const b = Buffer.from(body);
  parts.push(block(name, b.length, "0"), pad(b));
  return Buffer.concat(parts);
}
const archive = (...entries: Buffer[]) => Buffer.concat([...entries, Buffer.alloc(1024)]).toString("utf8");

describe("tar", () => {
  it("extracts what kubectl sends into -C DIR, long names from pax records included", async () => {
    const long = `deep/${"d".repeat(120)}/file.txt`;
    const r = await sh(
      ["tar", "-xmf", "-", "-C", "/tmp"],
      archive(entry("a.txt", "alpha\n"), entry("x", "long\n", long)),
    );
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect((await sh("cat /tmp/a.txt")).stdout).toBe("alpha\n");
    expect((await sh(`cat /tmp/${long}`)).stdout).toBe("long\n");
  });

  it("creates an archive it can list and extract again (directories recursed, the leading / removed)", async () => {
    await sh("mkdir -p /tmp/src; echo one > /tmp/src/1; echo two > /tmp/src/2");
    const made = await sh("tar cf /tmp/src.tar /tmp/src");
    expect(made.stderr).toBe("tar: removing leading '/' from member names\n");
    const listed = await sh("tar tf /tmp/src.tar");
    expect(listed.stdout).toBe("tmp/src/\ntmp/src/1\ntmp/src/2\n");
    expect((await sh("tar xf /tmp/src.tar -C /root && cat /root/tmp/src/2")).stdout).toBe("two\n");
  });

  it.each([
    ["not an archive", "garbage".repeat(100), "tar: invalid tar magic\n"],
    ["a size past the end", archive(entry("a", "x")).slice(0, 600), "tar: short read\n"],
  ])("refuses %s", async (_what, input, err) => {
    const r = await sh(["tar", "xf", "-", "-C", "/tmp"], input);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(err);
  });

  it("keeps writes inside the pod's own files: .. goes no higher than /, /proc is read-only", async () => {
    const r = await sh(
      ["tar", "xf", "-", "-C", "/tmp"],
      archive(entry("../../../../etc/evil", "x\n"), entry("../proc/x", "y\n")),
    );
    expect(r.stderr).toBe("tar: can't open '../proc/x': Read-only file system\n");
    expect((await sh("cat /etc/evil")).stdout).toBe("x\n");
  });

  it("says what it needs", async () => {
    expect((await sh("tar")).stderr).toBe("tar: need to specify one of -c, -x or -t\n");
    expect((await sh("tar cf -")).stderr).toBe("tar: empty archive\n");
    expect((await sh("tar -q")).stderr).toBe("tar: invalid option -- 'q'\n");
  });
});
