import { describe, expect, it } from "vitest";
import { VirtualClock } from "../shared/clock.ts";
import { expandWord, runText } from "./interp.ts";
import { parseScript, ShellSyntaxError } from "./parse.ts";
import { imageProfile } from "../sim/runtime/images.ts";
import { PodFileSystem } from "./files.ts";
import type { ShellEnv } from "./types.ts";

function env(vars: Record<string, string> = {}): ShellEnv {
  return {
    vars: new Map(Object.entries(vars)),
    exported: new Set(Object.keys(vars)),
    lastStatus: 0,
    clock: new VirtualClock(),
    signal: new AbortController().signal,
    net: { pod: { hostname: "pod-a" } } as ShellEnv["net"],
    files: new PodFileSystem(() => ({
      "/etc/hostname": "pod-a\n",
      "/etc/resolv.conf": "nameserver 10.96.0.10\n",
    })),
    tools: new Set(),
    image: imageProfile("busybox"),
    tty: false,
  };
}

async function run(
  text: string,
  vars: Record<string, string> = {},
): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await runText(text, env(vars), {
    stdin: Buffer.alloc(0),
    out: (s) => (out += s),
    err: (s) => (err += s),
  });
  return { code, out, err };
}

describe("parseScript", () => {
  it.each([
    ["a | b && c || d; e", 2],
    ["echo 'a b' \"c $X\" d\\ e", 1],
    ["for i in 1 2 3; do echo $i; done", 1],
    ["(cd /tmp; ls) > /dev/null 2>&1", 1],
    ["echo a\necho b\n", 2],
  ])("parses %j into %i list items", (src, n) => {
    expect(parseScript(src)).toHaveLength(n);
  });

  it.each([
    ["echo 'unterminated", "syntax error: unterminated quoted string"],
    ['echo "x', "syntax error: unterminated quoted string"],
    ["| echo", 'syntax error: unexpected "|"'],
    ["echo a &&", 'syntax error: unexpected "end of file"'],
    ["for i in 1; echo; done", 'syntax error: unexpected "echo"'],
    ["echo $(hostname", "syntax error: unterminated $("],
    ["if true; then echo", 'syntax error: unexpected "end of file"'],
    ["while true; echo; done", 'syntax error: unexpected "done"'],
  ])("rejects %j with busybox's message", (src, msg) => {
    expect(() => parseScript(src)).toThrow(ShellSyntaxError);
    expect(() => parseScript(src)).toThrow(msg);
  });
});

describe("expansion", () => {
  it("splits unquoted variables and keeps quoted ones whole", () => {
    const [cmd] = parseScript('x $V "$V" "" $EMPTY').map((a) => a.first.commands[0]!);
    if (cmd?.kind !== "cmd") throw new Error("expected a simple command");
    const e = env({ V: "a  b", EMPTY: "" });
    expect(cmd.words.flatMap((w) => expandWord(w, e))).toEqual(["x", "a", "b", "a  b", ""]);
  });
});

describe("interpreter", () => {
  it.each([
    ["echo hello world", 0, "hello world\n"],
    ["false; echo $?", 0, "1\n"],
    ["true && echo yes || echo no", 0, "yes\n"],
    ["false && echo yes || echo no", 0, "no\n"],
    ["echo a b c | wc -w", 0, "3\n"],
    ["printf '%s-%d\\n' x 42", 0, "x-42\n"],
    ["printf 'a\\nb\\nc\\n' | tail -n 2 | head -n 1", 0, "b\n"],
    ["printf 'one\\ntwo\\nthree\\n' | grep -c o", 0, "2\n"],
    ["printf 'one\\ntwo\\n' | grep -v one", 0, "two\n"],
    ["echo $HOME", 0, "/root\n"],
    ["for i in 1 2 3; do echo n$i; done", 0, "n1\nn2\nn3\n"],
    ["X=5; echo $X ${X}", 0, "5 5\n"],
    ["echo hi > /tmp/f; cat /tmp/f /tmp/f", 0, "hi\nhi\n"],
    ["echo x >> /tmp/g; echo y >> /tmp/g; wc -l < /tmp/g", 0, "2\n"],
    ["exit 3; echo not", 3, ""],
    ["sh -c 'exit 4'; echo $?", 0, "4\n"],
    ["! false && echo negated", 0, "negated\n"],
    ["[ a = a ] && test 2 -gt 1 && echo ok", 0, "ok\n"],
    ["cat /etc/hostname; hostname", 0, "pod-a\npod-a\n"],
    ["echo out; echo err >&2 2>/dev/null", 0, "out\n"],
    ["whoami; id -u >/dev/null", 0, "root\n"],
    ["for i in $(seq 1 3); do echo n$i; done", 0, "n1\nn2\nn3\n"],
    ['echo "host: $(hostname)" `echo back`', 0, "host: pod-a back\n"],
    ["X=$(printf 'a b\\n\\n'); echo \"[$X]\" [$(echo $X)]", 0, "[a b] [a b]\n"],
    ["seq 5 -2 1 | wc -l", 0, "3\n"],
    ["i=0; while [ $i -lt 3 ]; do echo w$i; i=$((i + 1)); done", 0, "w0\nw1\nw2\n"],
    ["echo $(( (7 + 3) * 2 / 3 % 5 )) $((-4 - -1))", 0, "1 -3\n"],
    ["n=x; until [ $n = xxx ]; do n=${n}x; done; echo $n", 0, "xxx\n"],
    ["if false; then echo a; elif true; then echo b; else echo c; fi", 0, "b\n"],
    ["if grep -q nope /etc/hostname; then echo found; else echo missing; fi", 0, "missing\n"],
  ])("%s", async (src, code, out) => {
    const r = await run(src, { HOME: "/root" });
    expect(r.code).toBe(code);
    expect(r.out).toBe(out);
  });

  it("redirects stdout to stderr, in order", async () => {
    const r = await run("echo out; echo err >&2 2>/dev/null; (echo sub; echo hidden >&2) 2>/dev/null");
    expect(r.out).toBe("out\nsub\n");
    expect(r.err).toBe("err\n");
  });

  it("reports unknown commands as sh does, with exit 127", async () => {
    const r = await run("curl http://x; echo $?");
    expect(r.err).toBe("sh: curl: not found\n");
    expect(r.out).toBe("127\n");
  });

  it("prints syntax errors with exit 2", async () => {
    const r = await run("echo 'x");
    expect(r).toEqual({ code: 2, out: "", err: "sh: syntax error: unterminated quoted string\n" });
  });

  it("cat of a missing file fails with busybox's message", async () => {
    const r = await run("cat /nope");
    expect(r.code).toBe(1);
    expect(r.err).toBe("cat: can't open '/nope': No such file or directory\n");
  });

  it("sleep waits on the cluster clock", async () => {
    const e = env();
    const clock = e.clock as VirtualClock;
    let done = false;
    const p = runText("sleep 2; echo done", e, { stdin: Buffer.alloc(0), out: () => {}, err: () => {} }).then(
      () => (done = true),
    );
    await new Promise<void>((r) => setImmediate(r));
    expect(clock.pending).toBe(1);
    await clock.advance(1999);
    expect(done).toBe(false);
    await clock.advance(1);
    await p;
    expect(done).toBe(true);
  });
});
