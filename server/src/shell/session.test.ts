import { describe, expect, it } from "vitest";
import type { PodNet } from "../net/podnet.ts";
import { realClock } from "../shared/clock.ts";
import { PodFileSystem } from "./files.ts";
import { imageProfile } from "../sim/runtime/images.ts";
import { execSession } from "./session.ts";
import { LIMITS } from "./budget.ts";
import type { ShellEnv } from "./types.ts";
import type { ExecIO } from "../sim/types.ts";

function shellEnv(signal: AbortSignal): ShellEnv {
  const image = imageProfile("busybox:1.36");
  return {
    vars: new Map([["PWD", "/"]]),
    exported: new Set(),
    lastStatus: 0,
    clock: realClock,
    signal,
    net: { pod: { hostname: "bb" } } as PodNet,
    files: new PodFileSystem(() => ({ "/etc/hostname": "bb\n" })),
    tools: new Set(image.tools),
    image,
    tty: false,
  };
}

/** A non-TTY `sh` fed stdin chunk by chunk, as a client on the v4 exec protocol (which cannot end stdin) feeds it. */
function shWithStdin() {
  const ctl = new AbortController();
  let out = "";
  let err = "";
  const data: ((d: Buffer) => void)[] = [];
  const end: (() => void)[] = [];
  const io: ExecIO = {
    stdout: (d) => void (out += d.toString()),
    stderr: (d) => void (err += d.toString()),
    onStdin: (cb) => void data.push(cb),
    onStdinEnd: (cb) => void end.push(cb),
    onResize: () => {},
    signal: ctl.signal,
  };
  let code: number | undefined;
  const done = execSession(
    { namespace: "default", pod: "bb", command: ["sh"], tty: false, stdin: true },
    io,
    shellEnv(ctl.signal),
  ).then((c) => (code = c));
  const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 20));
  return {
    send: async (s: string) => {
      for (const cb of data) cb(Buffer.from(s));
      await settle();
    },
    end: async () => {
      for (const cb of end) cb();
      await settle();
    },
    leave: () => ctl.abort(),
    out: () => out,
    err: () => err,
    code: () => code,
    done,
  };
}

describe("sh reading its script from stdin without a TTY", () => {
  it("runs each complete command as its lines arrive, waits for unfinished ones, and ends on exit", async () => {
    const sh = shWithStdin();
    await sh.send("X=4");
    expect(sh.out()).toBe("");
    await sh.send("2\necho x=$X\n");
    expect(sh.out()).toBe("x=42\n");
    await sh.send("if true; then\n  echo in-if\n");
    expect(sh.out()).toBe("x=42\n");
    await sh.send("fi\necho 'open quote\n");
    expect(sh.out()).toBe("x=42\nin-if\n");
    await sh.send("still open'\nexit 5\necho never\n");
    expect(sh.out()).toBe("x=42\nin-if\nopen quote\nstill open\n");
    expect(sh.code()).toBe(5);
  });

  it("runs what is left when stdin ends, a syntax error there included, and ends when the client leaves", async () => {
    const sh = shWithStdin();
    await sh.send("echo a\necho b");
    expect(sh.out()).toBe("a\n");
    await sh.end();
    expect(sh.out()).toBe("a\nb\n");
    expect(sh.code()).toBe(0);
    const bad = shWithStdin();
    await bad.send("echo 'never closed");
    await bad.end();
    expect(bad.err()).toMatch(/^sh: syntax error: unterminated quoted string/);
    expect(bad.code()).toBe(2);
    const long = shWithStdin();
    await long.send("echo '\n");
    await long.send("a".repeat(LIMITS.scriptChars) + "\n");
    expect(long.err()).toBe(`sh: a command over ${LIMITS.scriptChars} characters: not run\n`);
    expect(long.code()).toBe(2);
    const left = shWithStdin();
    await left.send("echo hi\n");
    left.leave();
    await left.done;
    expect(left.code()).toBe(130);
  });
});
