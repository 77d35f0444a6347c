import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestCluster, type TestCluster } from "../../net/testkit.ts";

let c: TestCluster;
beforeAll(() => {
  c = createTestCluster({ traffic: false });
  c.addPod({ name: "bb", ip: "192.168.1.11", image: "busybox:1.36" });
});
afterAll(() => c.close());

const sh = (cmd: string) => c.exec("default", "bb", cmd);

describe("grep", () => {
  it.each([
    ["printf 'a1\\nb22\\nc333\\n' | grep '[[:digit:]]\\{2\\}'", 0, "b22\nc333\n", ""],
    ["printf 'ab\\naab\\n' | grep -x 'a*b'", 0, "ab\naab\n", ""],
    ["printf 'a(b\\nab\\n' | grep 'a(b'", 0, "a(b\n", ""],
    ["printf 'a(b\\nab\\n' | grep -E 'a(b)'", 0, "ab\n", ""],
    ["printf 'web\\nwebapp\\n' | grep -w web", 0, "web\n", ""],
    ["printf 'Web\\nx\\n' | grep -ci WEB", 0, "1\n", ""],
    ["printf 'a.b\\naxb\\n' | grep -F a.b", 0, "a.b\n", ""],
    ["printf 'port 80 and 443\\n' | grep -oE '[0-9]+'", 0, "80\n443\n", ""],
    ["printf 'x\\ny\\nz\\n' | grep -n -e x -e z", 0, "1:x\n3:z\n", ""],
    ["printf 'x\\n' | grep -v x", 1, "", ""],
    [
      "printf 'aa\\n' | grep '\\(a\\)\\1'",
      2,
      "",
      "grep: bad regex '\\(a\\)\\1': back-references (\\1 … \\9) are not supported\n",
    ],
    [
      "printf 'a\\n' | grep -E '(?=a)'",
      2,
      "",
      "grep: bad regex '(?=a)': Invalid preceding regular expression\n",
    ],
    [
      "printf 'a\\n' | grep -E 'a{1000}{1000}'",
      2,
      "",
      "grep: bad regex 'a{1000}{1000}': repetition count too large (at most 1000 in all)\n",
    ],
    ["printf 'a\\n' | grep '[a'", 2, "", "grep: bad regex '[a': Unmatched [, [^, [:, [., or [=\n"],
  ])("%s", async (cmd, code, stdout, stderr) => {
    const r = await sh(cmd);
    expect({ code: r.code, stdout: r.stdout, stderr: r.stderr }).toEqual({ code, stdout, stderr });
  });

  it("the issue's regex bomb answers at once, for any length of input", async () => {
    for (const n of [28, 5000]) {
      const g = await sh(`echo ${"a".repeat(n)}! | grep -E '(a+)+$'; echo "status $?"`);
      expect(g.stdout).toBe("status 1\n");
      const o = await sh(`echo ${"a".repeat(n)}! | grep -oE '(a|aa)+'`);
      expect(o.stdout).toBe("a".repeat(n) + "\n");
    }
  });

  it("a line too long for its pattern is refused, not matched for seconds", async () => {
    const r = await sh("printf '%100000s\\n' x | grep -E '( {100}){9}x$'");
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /^grep: line 1 is too long for this pattern \(100000 characters; the pod allows \d+\)\n$/,
    );
  });
});
