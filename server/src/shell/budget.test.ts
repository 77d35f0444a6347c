/**
 * Hostile input to the pod shell: nothing typed inside a pod may hold the server's event loop. Each test counts the
 * event-loop turns another task gets while the command runs (a chain of setImmediate callbacks), never wall-clock time:
 * a command that held the loop would let that chain run once.
 */
import { describe, expect, it } from "vitest";
import type { PodNet } from "../net/podnet.ts";
import { realClock } from "../shared/clock.ts";
import { Interrupted, LIMITS } from "./budget.ts";
import { PodFileSystem } from "./files.ts";
import { imageProfile } from "../sim/runtime/images.ts";
import { runText } from "./interp.ts";
import { execSession } from "./session.ts";
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
    // The commands tried here never touch the network; the prompt names the pod.
    net: { pod: { hostname: "bb" } } as PodNet,
    files: new PodFileSystem(() => ({ "/etc/hostname": "bb\n" })),
    tools: new Set(image.tools),
    image,
    tty: false,
  };
}

interface Run {
  status: number | "interrupted";
  out: string;
  err: string;
  /** Event-loop turns another task got while the command ran. */
  turns: number;
}

/** Runs a script; `abortAfterTurns` interrupts it (as Ctrl-C does) after the loop has turned that often. */
async function run(script: string, abortAfterTurns = Infinity): Promise<Run> {
  const ctl = new AbortController();
  let turns = 0;
  let done = false;
  const tick = (): void => {
    if (done) return;
    if (++turns >= abortAfterTurns) ctl.abort();
    setImmediate(tick);
  };
  setImmediate(tick);
  let out = "";
  let err = "";
  let status: Run["status"];
  try {
    status = await runText(script, shellEnv(ctl.signal), {
      stdin: Buffer.alloc(0),
      out: (s) => void (out += s),
      err: (s) => void (err += s),
    });
  } catch (e) {
    if (!(e instanceof Interrupted)) throw e;
    status = "interrupted";
  }
  done = true;
  return { status, out, err, turns };
}

describe("the interpreter gives the event loop a turn", () => {
  it("at least every LIMITS.stepsPerTurn commands of a long script", async () => {
    const r = await run("true; ".repeat(4000) + "echo end");
    expect(r.out).toBe("end\n");
    expect(r.turns).toBeGreaterThanOrEqual(Math.floor(4000 / LIMITS.stepsPerTurn) - 1);
  });

  it.each([
    ["while true; do :; done"],
    ["until false; do true; done"],
    ["while :; do for i in 1 2 3; do (true); done; done"],
    ["while true; do x=$(echo y); done"],
    ["while true; do echo x >/dev/null; done | cat"],
  ])("%s runs until it is interrupted, and lets the loop turn meanwhile", async (script) => {
    const r = await run(script, 200);
    expect(r.status).toBe("interrupted");
    expect(r.turns).toBeGreaterThanOrEqual(200);
  });

  it("one budget per turn for all shells: twenty endless loops cost a turn no more than one does", async () => {
    const ctl = new AbortController();
    let writes = 0;
    let most = 0;
    let turns = 0;
    const tick = (): void => {
      most = Math.max(most, writes);
      writes = 0;
      if (++turns >= 100) ctl.abort();
      else setImmediate(tick);
    };
    setImmediate(tick);
    const loops = Array.from({ length: 20 }, () =>
      runText("while true; do echo x; done", shellEnv(ctl.signal), {
        stdin: Buffer.alloc(0),
        out: () => void writes++,
        err: () => {},
      }).catch((e: unknown) => {
        if (!(e instanceof Interrupted)) throw e;
        return "interrupted" as const;
      }),
    );
    expect(await Promise.all(loops)).toEqual(Array(20).fill("interrupted"));
    // Each iteration is at least two commands (`true`, `echo`): one shell alone may do stepsPerTurn / 2 of them.
    expect(most).toBeGreaterThan(0);
    expect(most).toBeLessThanOrEqual(LIMITS.stepsPerTurn / 2 + 1);
  });

  it("for over 20,000 words", async () => {
    const r = await run("for i in $(seq 1 20000); do :; done; echo $i");
    expect(r.out).toBe("20000\n");
    expect(r.turns).toBeGreaterThanOrEqual(Math.floor(20000 / LIMITS.stepsPerTurn) - 1);
  });

  it.each([
    ["seq 1 1000000000 | tail -n 1", "100001\n", 100000],
    ["printf '%s\\n' $(seq 1 100000) | tail -n 1", "100000\n", 200000],
    ["seq 1 50000 | cat -n | tail -n 1", "50000\t50000\n", 100000],
    ["seq 1 100000 | grep -c 9", "40951\n", 200000],
  ])("%s works a chunk per turn", async (script, want, items) => {
    const r = await run(script);
    expect(r.out.trimStart()).toBe(want);
    expect(r.turns).toBeGreaterThanOrEqual(Math.floor(items / LIMITS.itemsPerTurn) - 1);
  });

  it("grep matches a bounded amount of regex work per turn, however evil the pattern", async () => {
    const line = "a".repeat(2000) + "!";
    const r = await run(`x=${line}; for i in $(seq 1 200); do echo $x; done | grep -cE '(a|aa)+$'`);
    expect(r.out).toBe("0\n");
    expect(r.turns).toBeGreaterThanOrEqual(10);
  });
});

describe("limits stop a command with a clear error", () => {
  const cases: [string, string, number, RegExp][] = [
    [
      "x=$x$x without end",
      "x=a; while true; do x=$x$x; done; echo after",
      2,
      /^sh: word too long \(\d+ characters; the pod allows 1048576\)\n$/,
    ],
    [
      "a script that runs itself",
      "echo 'sh /tmp/r' > /tmp/r; sh /tmp/r; echo $?",
      0,
      /^sh: shells nested too deeply \(the pod allows 100\)\n$/,
    ],
    ["nested substitutions within the limit", "x=$(x=$(x=$(echo ok))); echo $x", 0, /^$/],
    [
      "5,000 nested parentheses in $(( ))",
      `echo $((${"(".repeat(5000)}1${")".repeat(5000)}))`,
      2,
      /^sh: syntax error|^sh: arithmetic expression nested too deeply/,
    ],
    [
      "5,000 unary minus in $(( ))",
      `echo $((${"-".repeat(5000)}1))`,
      2,
      /^sh: arithmetic expression nested too deeply\n$/,
    ],
    [
      "5,000 nested subshells",
      `${"(".repeat(5000)}true${")".repeat(5000)}`,
      2,
      /^sh: syntax error: nested too deeply\n$/,
    ],
    [
      "500 nested ifs",
      `${"if true; then ".repeat(500)}:${" fi;".repeat(500)}`,
      2,
      /^sh: syntax error: nested too deeply\n$/,
    ],
    [
      "a command line over 64 KiB",
      "echo " + "x".repeat(LIMITS.scriptChars),
      2,
      /^sh: script too long \(\d+ characters; the pod allows 65536\)\n$/,
    ],
    [
      "400,000 arguments",
      "echo $(seq 1 100000) $(seq 1 100000) $(seq 1 100000) $(seq 1 100000) | wc -c",
      2,
      /^sh: argument list too long/,
    ],
    [
      "variables without end",
      'x=$(seq 1 100000); i=0; while true; do i=$((i+1)); export v$i="$x$i"; done',
      2,
      /^sh: too many variables \(the pod allows 10000, 4194304 characters in all\)\n$/,
    ],
    [
      "exported names without end",
      "i=0; while true; do i=$((i+1)); export v$i; done",
      2,
      /^sh: too many exported names \(the pod allows 10000\)\n$/,
    ],
    [
      "set and unset without end stays within the limit",
      "for i in $(seq 1 2000); do x=$(seq 1 10000); unset x; done; echo $i",
      0,
      /^$/,
    ],
    ["a printf width of 999,999,999", "printf '%999999999s' x | wc -c", 0, /^$/],
    [
      "cat of one file 1,001 times",
      "cat /etc/hostname" + " /etc/hostname".repeat(1000) + " >/dev/null",
      0,
      /^$/,
    ],
  ];
  it.each(cases)("%s", async (_name, script, status, err) => {
    const r = await run(script);
    expect(r.err).toMatch(err);
    expect(r.status).toBe(status);
    expect(r.out.length).toBeLessThanOrEqual(LIMITS.pipeChars + 16);
  });

  it("a pipe stage that writes without end is stopped at LIMITS.pipeChars, as SIGPIPE would stop it", async () => {
    const r = await run("while true; do echo xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx; done | wc -c; echo status $?");
    expect(r.out).toBe(`${LIMITS.pipeChars}\nstatus 0\n`);
    expect(r.err).toBe(`sh: output over ${LIMITS.pipeChars} bytes into a pipe: stopped\n`);
  });

  it("so is a command substitution", async () => {
    const r = await run(
      "x=$(while true; do echo yyyyyyyyyyyyyyyyyy; done); echo got; for w in $x; do :; done; echo $w",
    );
    expect(r.out).toMatch(/^got\ny+\n$/);
    expect(r.err).toBe(`sh: output over ${LIMITS.pipeChars} bytes into a pipe: stopped\n`);
  });

  it("a command line's output to the terminal is bounded", async () => {
    let written = 0;
    let final = "";
    const ctl = new AbortController();
    const io: ExecIO = {
      stdout: (d) => void (written += d.length),
      stderr: (d) => void (final += d.toString()),
      onStdin: () => {},
      onStdinEnd: (cb) => cb(),
      onResize: () => {},
      signal: ctl.signal,
    };
    const code = await execSession(
      {
        namespace: "default",
        pod: "bb",
        command: ["sh", "-c", 'x="$(seq 1 100000)"; while true; do echo "$x"; sh -c \'echo "$x"\'; done'],
        tty: false,
        stdin: false,
      },
      io,
      shellEnv(ctl.signal),
    );
    expect(code).toBe(2);
    expect(written).toBeLessThanOrEqual(LIMITS.outputChars);
    expect(final).toBe(`sh: output over ${LIMITS.outputChars} characters: stopped\n`);
  });

  it("stdin larger than LIMITS.stdinBytes is refused", async () => {
    let err = "";
    const ctl = new AbortController();
    const data: ((d: Buffer) => void)[] = [];
    const end: (() => void)[] = [];
    const io: ExecIO = {
      stdout: () => {},
      stderr: (d) => void (err += d.toString()),
      onStdin: (cb) => void data.push(cb),
      onStdinEnd: (cb) => void end.push(cb),
      onResize: () => {},
      signal: ctl.signal,
    };
    const p = execSession(
      { namespace: "default", pod: "bb", command: ["grep", "x"], tty: false, stdin: true },
      io,
      shellEnv(ctl.signal),
    );
    const chunk = Buffer.alloc(64 * 1024, "a");
    for (let i = 0; i <= LIMITS.stdinBytes / chunk.length; i++) for (const cb of data) cb(chunk);
    for (const cb of end) cb();
    expect(await p).toBe(1);
    expect(err).toBe(`sh: standard input over ${LIMITS.stdinBytes} bytes: not run\n`);
  });
});

describe("an interactive shell", () => {
  it("echoes a pasted chunk in one write and keeps a line within LIMITS.scriptChars", async () => {
    const writes: string[] = [];
    const data: ((d: Buffer) => void)[] = [];
    const ctl = new AbortController();
    const io: ExecIO = {
      stdout: (d) => void writes.push(d.toString()),
      stderr: (d) => void writes.push(d.toString()),
      onStdin: (cb) => void data.push(cb),
      onStdinEnd: () => {},
      onResize: () => {},
      signal: ctl.signal,
    };
    const done = execSession(
      { namespace: "default", pod: "bb", command: ["sh"], tty: true, stdin: true },
      io,
      shellEnv(ctl.signal),
    );
    const before = writes.length;
    const paste = Buffer.from("echo " + "a".repeat(LIMITS.scriptChars + 1000));
    for (const cb of data) cb(paste);
    expect(writes.length - before).toBe(1);
    expect(writes.at(-1)).toHaveLength(LIMITS.scriptChars);
    for (const cb of data) cb(Buffer.from("\rexit 3\r"));
    expect(await done).toBe(3);
    expect(writes.join("")).toContain("a".repeat(LIMITS.scriptChars - 5) + "\r\n");
  });
});
