/**
 * The learner's shell as a tenant boundary, tried as a hostile attendee would, against a real server with real
 * bubblewrap and simulated clusters: planted links, host ports, another learner's token, setuid, the host's
 * environment, and limits (a bounded fork bomb and memory hog hit them).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import net from "node:net";
import { createHash } from "node:crypto";
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parse } from "yaml";
import { startWorkshopServer, type WorkshopServer } from "../../server/src/http/server.ts";
import { createProvider } from "../../server/src/providers/select.ts";
import type { LabRunner } from "../../server/src/sessions/lab-runner.ts";
import type { ClusterProvider } from "../../server/src/providers/provider.ts";
import { homesSeenAs } from "../../server/src/terminal/sandbox-setup.ts";
import { probeHomeFilesystems } from "../../server/src/terminal/home-fs.ts";
import { Learner, TermWatcher, connected, type TestSocket } from "./web-client.ts";

const asRoot = process.getuid?.() === 0;
let server: WorkshopServer;
let provider: ClusterProvider;
let dataDir: string;
let outside: string;
const sockets: TestSocket[] = [];
const limits = {
  processes: 48,
  memoryMiB: 256,
  addressSpaceMiB: 1536,
  openFiles: 200,
  fileSizeMiB: 8,
  homeMiB: 48,
};
const repoRoot = path.resolve(import.meta.dirname, "..", "..");
/** Why homes cannot be filesystems of their own here (not root, no loop device), or undefined: they are. */
const plainHomes = probeHomeFilesystems(
  path.join(tmpdir(), "egl-escape-probe"),
  process.env.PATH ?? "/usr/bin:/bin",
);

/** A lab with nothing to set up: the clusters are what is under test. */
const lab: LabRunner = {
  summary: { id: "sandbox-lab", title: "Sandbox", description: "", durationMinutes: 5, stageCount: 2 },
  profile: "bare",
  edition: "oss",
  params: () => ({}),
  stages: () => [
    { index: 0, id: "s0", title: "zero", questions: [] },
    { index: 1, id: "s1", title: "one", questions: [] },
  ],
  guide: () => ({ html: "", actions: [] }),
  setup: async () => undefined,
  grade: async (_c, i) => ({ stageIndex: i, passed: false, at: new Date().toISOString(), checks: [] }),
  reset: async () => undefined,
};

interface Attendee {
  l: Learner;
  id: string;
  home: string;
  s?: TestSocket;
  w?: TermWatcher;
}
const ada = {} as Attendee;
const bob = {} as Attendee;

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(tmpdir(), "egl-escape-"));
  outside = mkdtempSync(path.join(tmpdir(), "egl-outside-"));
  provider = await createProvider({ provider: "sim", dataDir });
  server = await startWorkshopServer({
    port: 0,
    host: "127.0.0.1",
    dataDir,
    provider,
    lab,
    local: false,
    shellMode: "bwrap",
    idleTimeoutSeconds: 600,
    pool: 0,
    buildWeb: false,
    shellLimits: limits,
  });
  for (const [who, name] of [
    [ada, "Ada"],
    [bob, "Bob"],
  ] as const) {
    who.l = new Learner(server.url);
    who.id = (await who.l.join(name)).learner.id;
    who.home = path.join(dataDir, "learners", who.id, "home");
  }
}, 60_000);

afterAll(async () => {
  for (const s of sockets) s.close();
  await server?.close();
  rmSync(dataDir, { recursive: true, force: true });
  rmSync(outside, { recursive: true, force: true });
});

async function open(a: Attendee): Promise<void> {
  a.s?.close();
  a.s = a.l.socket();
  sockets.push(a.s);
  a.w = new TermWatcher(a.s);
  await connected(a.s);
  a.s.emit("term:attach", { cols: 200, rows: 50 });
  await a.w.waitText(/learner@egresslab:~\/stage-0\$ $/, 20_000);
}

let marker = 0;
/** Runs `cmd` in the attendee's shell and returns what it printed. */
async function run(a: Attendee, cmd: string, ms = 30_000): Promise<string> {
  if (!a.w) await open(a);
  const n = ++marker;
  const from = a.w!.plain().length;
  a.s!.emit("term:input", { data: `${cmd}; echo "__DO""NE_${n}__"\r` });
  await a.w!.waitFor(() => a.w!.plain().slice(from).includes(`__DONE_${n}__\r`), `command ${n}`, ms);
  const out = a.w!.plain().slice(from);
  return out.slice(out.indexOf("\n") + 1, out.lastIndexOf(`__DONE_${n}__`));
}

const tokenOf = (a: Attendee): string =>
  (
    parse(readFileSync(path.join(a.home, ".kube", "config"), "utf8")) as {
      users: { user: { token: string } }[];
    }
  ).users[0]!.user.token;
const serverOf = (a: Attendee): string =>
  (
    parse(readFileSync(path.join(a.home, ".kube", "config"), "utf8")) as {
      clusters: { cluster: { server: string } }[];
    }
  ).clusters[0]!.cluster.server;

describe("the way out is the learner's own cluster", () => {
  it("kubectl inside the sandbox reaches the learner's own cluster through 127.0.0.1", async () => {
    expect(serverOf(ada)).toMatch(/^https:\/\/127\.0\.0\.1:6443\/clusters\/[a-z0-9-]+$/);
    const out = await run(ada, "kubectl get namespace default -o name");
    expect(out).toContain("namespace/default");
  });

  it("streams through the socket too: kubectl exec into a pod of the learner's cluster", async () => {
    await run(
      ada,
      "kubectl run probe --image=busybox --restart=Never -- sleep infinity >/dev/null 2>&1; kubectl wait --for=condition=Ready pod/probe --timeout=30s >/dev/null 2>&1",
      60_000,
    );
    expect(await run(ada, "kubectl exec probe -- echo EXEC-$((20+1)) 2>&1")).toContain("EXEC-21");
  }, 90_000);

  it("the flows helper port-forwards to the learner's own Whisker on the sandbox's loopback", async () => {
    const out = await run(ada, "flows --json -s 600 2>&1 | head -c 40; echo; flows -n nowhere 2>&1");
    expect(out).toContain('{"total":{"totalPages":');
    expect(out).toMatch(/no flows|needs jq/);
  }, 60_000);

  it("refuses another learner's token on this learner's socket, whatever cluster path it names", async () => {
    const adaToken = tokenOf(ada);
    const adaServer = serverOf(ada);
    const own = await run(bob, "kubectl get namespace default -o name");
    expect(own).toContain("namespace/default");
    for (const srv of [adaServer, serverOf(bob), "https://127.0.0.1:6443"]) {
      const out = await run(
        bob,
        `kubectl --server=${srv} --token=${adaToken} get namespace default -o name 2>&1`,
      );
      expect(out).not.toContain("namespace/default");
      expect(out).toMatch(/Unauthorized|must be logged in/);
    }
    // The upgrade path (exec), without kubectl's GET of the pod first: a raw WebSocket upgrade to Ada's pod with
    // Ada's token is refused from Bob's sandbox, and accepted from Ada's.
    const script = [
      "import socket, ssl, sys",
      "c = ssl._create_unverified_context()",
      "s = c.wrap_socket(socket.create_connection(('127.0.0.1', 6443)), server_hostname='localhost')",
      "h = ['GET %s/api/v1/namespaces/default/pods/probe/exec?command=echo&stdout=true HTTP/1.1' % sys.argv[1],",
      "     'Host: x', 'Authorization: Bearer ' + sys.argv[2], 'Connection: Upgrade', 'Upgrade: websocket',",
      "     'Sec-WebSocket-Version: 13', 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',",
      "     'Sec-WebSocket-Protocol: v5.channel.k8s.io', '', '']",
      "s.sendall('\\r\\n'.join(h).encode())",
      "print('UPGRADE-STATUS', s.recv(200).split(b' ')[1].decode())",
    ].join("\n");
    for (const a of [ada, bob]) writeFileSync(path.join(a.home, "upgrade.py"), script + "\n");
    const args = `${new URL(adaServer).pathname} ${adaToken}`;
    expect(await run(bob, `python3 ~/upgrade.py ${args} 2>&1`)).toContain("UPGRADE-STATUS 401");
    expect(await run(ada, `python3 ~/upgrade.py ${args} 2>&1`)).toContain("UPGRADE-STATUS 101");
  });

  it("cannot reach a host port, the web server or the API's TCP port", async () => {
    const host = net.createServer((c) => {
      c.on("error", () => c.destroy());
      c.end("HOST-LISTENER\n");
    });
    await new Promise<void>((r) => host.listen(0, "127.0.0.1", r));
    const hostPort = (host.address() as net.AddressInfo).port;
    const webPort = server.port;
    const apiPort = (
      JSON.parse(readFileSync(path.join(dataDir, "sim", "host.json"), "utf8")) as { port: number }
    ).port;
    expect(apiPort).toBeGreaterThan(0);
    try {
      // The host listener itself is reachable from the host: the check below can fail.
      const viaHost = await new Promise<boolean>((resolve) => {
        const c = net.connect(hostPort, "127.0.0.1", () => {
          c.destroy();
          resolve(true);
        });
        c.on("error", () => resolve(false));
      });
      expect(viaHost).toBe(true);
      for (const port of [hostPort, webPort, apiPort].filter((p) => p > 0)) {
        const out = await run(
          ada,
          `timeout 5 bash -c 'echo > /dev/tcp/127.0.0.1/${port}' 2>/dev/null && echo PORT-OPEN-${port} || echo PORT-CLOSED-${port}`,
        );
        expect(out).toContain(`PORT-CLOSED-${port}`);
      }
      const ifaces = await run(ada, "cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d ' ' | tr '\\n' ,");
      expect(ifaces.trim()).toBe("lo,");
      const listeners = await run(ada, "cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | wc -l");
      // Headers plus socat's own listener (and perhaps kubectl's finished connections), never the host's sockets.
      expect(Number(listeners.trim())).toBeLessThan(12);
      const hex = hostPort.toString(16).toUpperCase().padStart(4, "0");
      expect(await run(ada, "cat /proc/net/tcp")).not.toContain(`:${hex} `);
    } finally {
      host.close();
    }
  });
});

describe("nothing of the host", () => {
  it("shows no host path or host environment, in the shell or in PID 1", async () => {
    const out = await run(
      ada,
      "env; cat /proc/1/environ /proc/1/cmdline 2>&1 | tr '\\0' ' '; echo; cat /proc/self/cmdline | tr '\\0' ' '",
    );
    for (const hostThing of [dataDir, outside, process.cwd(), tmpdir() + "/egl", process.env.HOME ?? "/root"])
      expect(out).not.toContain(hostThing);
    expect(out).toContain("HOME=/home/learner");
    const ps = await run(ada, "ps -eo args | cat");
    expect(ps).not.toContain(dataDir);
    expect(ps).not.toContain("node");
  });

  it("names no host directory in its mount tables, any process's environment, command line or open files", async () => {
    const out = await run(
      ada,
      "cat /proc/self/mountinfo /proc/mounts /proc/1/mountinfo; for p in /proc/[0-9]*; do tr '\\0' ' ' < $p/cmdline; echo; tr '\\0' '\\n' < $p/environ; ls -l $p/fd $p/cwd 2>/dev/null; done 2>/dev/null",
    );
    expect(out).toContain("/run/egresslab");
    const lines = out.split("\n");
    const homeLines = lines.filter((l) => l.split(" ")[4] === "/home/learner");
    expect(homeLines.length).toBeGreaterThanOrEqual(2);
    // With plain directories, the home's own bind mount (mountinfo's root field) is the one place its host path
    // shows, as the start log says; a home that is its own filesystem shows its root, `/`.
    for (const l of homeLines)
      expect(l.split(" ")[3]).toBe(
        plainHomes === undefined
          ? "/"
          : path.join(
              homesSeenAs(path.join(dataDir, "learners"), readFileSync("/proc/self/mountinfo", "utf8")),
              ada.id,
              "home",
            ),
      );
    const mentions = (text: string, p: string): boolean =>
      new RegExp(`(^|[\\s=:'"])${p.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}(/|[\\s'"]|$)`).test(text);
    for (const hostPath of [
      dataDir,
      outside,
      process.cwd(),
      process.env.HOME ?? "/root",
      "/work",
      "/dev/shm",
    ]) {
      const leaks = lines.filter((l) => mentions(l, hostPath) && !homeLines.includes(l));
      expect([hostPath, leaks]).toEqual([hostPath, []]);
    }
  });

  it("runs as an unprivileged host user that owns the learner's home (its own uid per learner as root)", async () => {
    const a = Number((await run(ada, "id -u")).trim());
    const b = Number((await run(bob, "id -u")).trim());
    expect(a).not.toBe(0);
    expect(await run(ada, "grep -E '^(CapEff|CapBnd|NoNewPrivs)' /proc/self/status")).toMatch(
      /CapEff:\s+0+\s[\s\S]*CapBnd:\s+0+\s[\s\S]*NoNewPrivs:\s+1/,
    );
    if (asRoot) {
      expect(a).not.toBe(b);
      expect(statSync(ada.home).uid).toBe(a);
      expect(statSync(path.join(ada.home, ".kube", "config")).uid).toBe(a);
    }
  });

  it("gives setuid and device files no effect: the home is nosuid,nodev and chown to root fails", async () => {
    const out = await run(
      ada,
      "cp /bin/bash ~/suid && chmod 4755 ~/suid && ls -ln ~/suid; chown 0:0 ~/suid 2>&1 || echo CHOWN-REFUSED; ~/suid -p -c 'echo EUID=$EUID'; mknod ~/dev c 1 3 2>&1 || echo MKNOD-REFUSED; grep ' /home/learner ' /proc/self/mountinfo",
    );
    expect(out).toContain("CHOWN-REFUSED");
    expect(out).toContain("MKNOD-REFUSED");
    expect(out).not.toContain("EUID=0");
    expect(out).toMatch(/ \/home\/learner \S*nosuid/);
    expect(out).toMatch(/ \/home\/learner \S*nodev/);
    expect(statSync(path.join(ada.home, "suid")).uid).not.toBe(0);
  });
});

describe.skipIf(plainHomes !== undefined)(
  `the home, a filesystem of its own (${plainHomes ?? "root, loop devices work"})`,
  () => {
    it("no line of the sandbox's /proc/self/mountinfo contains the data dir, the repo root or the server's cwd", async () => {
      const table = await run(bob, "cat /proc/self/mountinfo");
      const lines = table.split("\n").filter((l) => l.trim());
      expect(lines.find((l) => l.split(" ")[4] === "/home/learner")).toMatch(
        /^\S+ \S+ \S+ \/ \/home\/learner \S*nosuid\S*( \S+)* - ext4 \/dev\/loop\d+ /,
      );
      for (const hostPath of [dataDir, repoRoot, process.cwd(), process.env.HOME ?? "/root"]) {
        const leaks = lines.filter((l) => l.includes(hostPath));
        expect([hostPath, leaks]).toEqual([hostPath, []]);
      }
    });

    it("a full home is 'No space left on device' inside the sandbox, and clears when the learner removes files", async () => {
      const out = await run(
        bob,
        "for i in 1 2 3 4 5 6 7 8; do { head -c 7M /dev/zero > ~/fill$i; } 2>&1 || { echo FULL-AT-$i; break; }; done; df -k ~ | tail -1",
        60_000,
      );
      await run(bob, "rm -f ~/fill*");
      expect(out).toMatch(/No space left on device/);
      expect(out).toMatch(/FULL-AT-[4-8]/);
      const total = Number(/\s(\d+)\s+\d+\s+\d+\s+\d+%/.exec(out)?.[1]);
      expect(total).toBeGreaterThan(32 * 1024);
      expect(total).toBeLessThanOrEqual(limits.homeMiB * 1024);
      expect(await run(bob, "echo ok > ~/after && cat ~/after")).toContain("ok");
      // Full to the last block, the learner still gets a new shell (to make room in).
      await run(
        bob,
        "{ cat /dev/zero > ~/fill-a; cat /dev/zero > ~/fill-b; } 2>/dev/null; echo x > ~/one-more 2>&1",
      );
      bob.s!.emit("term:input", { data: "exit\r" });
      await bob.w!.waitFor(() => !server.terminals.get(bob.id), "the shell to end");
      await open(bob);
      expect(await run(bob, "rm -f ~/fill-a ~/fill-b; echo roomy > ~/after && cat ~/after")).toContain(
        "roomy",
      );
    }, 90_000);

    it("what the learner wrote is there in their next shell, kept in their image of the home's size", async () => {
      await run(bob, "echo kept-$((6*7)) > ~/stage-1/kept.txt");
      bob.s!.emit("term:input", { data: "exit\r" });
      await bob.w!.waitFor(() => !server.terminals.get(bob.id), "the shell to end");
      await open(bob);
      expect(await run(bob, "cat ~/stage-1/kept.txt")).toContain("kept-42");
      expect(statSync(path.join(dataDir, "learners", bob.id, "home.img")).size).toBe(
        limits.homeMiB * 1024 * 1024,
      );
    }, 60_000);
  },
);

describe("home preparation on a planted link", () => {
  it("follows no link the learner plants (files and directories) when their shell restarts", async () => {
    const victim = path.join(outside, "passwd");
    writeFileSync(victim, "root:x:0:0:host file\n");
    const victimDir = path.join(outside, "dir");
    mkdirSync(victimDir);
    writeFileSync(path.join(victimDir, "keep"), "host dir\n");
    const digest = (): string => {
      const h = createHash("sha256");
      for (const f of readdirSync(outside, { recursive: true, withFileTypes: true }).sort((x, y) =>
        path.join(x.parentPath, x.name).localeCompare(path.join(y.parentPath, y.name)),
      )) {
        const p = path.join(f.parentPath, f.name);
        const st = lstatSync(p);
        h.update(`${p}:${st.mode}:${st.uid}:${f.isFile() ? readFileSync(p, "utf8") : ""}\n`);
      }
      return h.digest("hex");
    };
    const before = digest();
    await run(
      bob,
      [
        `ln -sf ${victim} ~/.bashrc`,
        `ln -sf ${victim} ~/.kube/config`,
        `ln -sf ${victim} ~/.kube/completion.bash`,
        `rm -rf ~/stage-1 && ln -sfn ${victimDir} ~/stage-1`,
      ].join(" && "),
    );
    bob.s!.emit("term:input", { data: "exit\r" });
    await bob.w!.waitFor(() => !server.terminals.get(bob.id), "the shell to end");
    await open(bob);
    // The .kube directory itself replaced by a link, then another restart.
    await run(bob, `rm -rf ~/.kube && ln -sfn ${victimDir} ~/.kube`);
    bob.s!.emit("term:input", { data: "exit\r" });
    await bob.w!.waitFor(() => !server.terminals.get(bob.id), "the shell to end");
    await open(bob);
    expect(digest()).toBe(before);
    expect(readFileSync(victim, "utf8")).toBe("root:x:0:0:host file\n");
    for (const rel of [".bashrc", ".kube/config", ".kube/completion.bash"])
      expect([rel, lstatSync(path.join(bob.home, rel)).isFile()]).toEqual([rel, true]);
    for (const rel of [".kube", "stage-1"])
      expect([rel, lstatSync(path.join(bob.home, rel)).isDirectory()]).toEqual([rel, true]);
    expect(await run(bob, "kubectl get namespace default -o name")).toContain("namespace/default");
  }, 90_000);
});

describe("limits", () => {
  it("sets hard limits on processes, open files, address space and file size", async () => {
    const out = await run(
      ada,
      "echo U=$(ulimit -Hu) N=$(ulimit -Hn) V=$(ulimit -Hv) F=$(ulimit -Hf); ulimit -n 100000 2>&1 || echo RAISE-REFUSED",
    );
    expect(out).toContain(
      `U=${limits.processes} N=${limits.openFiles} V=${limits.addressSpaceMiB * 1024} F=${limits.fileSizeMiB * 1024}`,
    );
    expect(out).toContain("RAISE-REFUSED");
  });

  it("stops a bounded fork bomb at the process limit (EAGAIN), and the other learner's shell still answers", async () => {
    const bomb = [
      "python3 -c 'import os, sys, time, errno",
      "n = 0",
      "try:",
      "    while n < 500:",
      "        if os.fork() == 0:",
      "            time.sleep(3); os._exit(0)",
      "        n += 1",
      '    print("NO-LIMIT", n)',
      "except OSError as e:",
      '    print("FORK-FAILED", errno.errorcode[e.errno], n)',
      "sys.stdout.flush()",
      "'",
    ].join("\n");
    const out = await run(ada, `${bomb.replaceAll("\n", "\r")}`, 60_000);
    expect(out).toMatch(/FORK-FAILED EAGAIN \d+/);
    const n = Number(/FORK-FAILED EAGAIN (\d+)/.exec(out)![1]);
    expect(n).toBeLessThan(limits.processes);
    expect(await run(bob, "echo B-$((40+2))")).toContain("B-42");
    await new Promise((r) => setTimeout(r, 3500));
    expect(await run(ada, "echo A-$((40+2))")).toContain("A-42");
  }, 90_000);

  it("stops a memory hog at the limit", async () => {
    const out = await run(
      ada,
      `python3 -c 'b = bytearray(${limits.addressSpaceMiB + 256} * 1024 * 1024); print("ALLOCATED")' 2>&1 | tail -1`,
    );
    expect(out).toContain("MemoryError");
    expect(out).not.toContain("ALLOCATED");
    const cgroupMemory = readFileSync("/proc/self/cgroup", "utf8").includes("memory")
      ? path.join(
          "/sys/fs/cgroup/memory",
          readFileSync("/proc/self/cgroup", "utf8")
            .split("\n")
            .find((l) => /:memory:/.test(l))!
            .split(":")[2]!,
          "egresslab-shells",
          ada.id,
        )
      : undefined;
    if (asRoot && cgroupMemory && existsSync(cgroupMemory)) {
      // Under the address-space limit but over the shell's memory: the cgroup stops it.
      const killed = await run(
        ada,
        `python3 -c 'b = b"x" * (${limits.memoryMiB + 128} * 1024 * 1024); print("ALLOCATED")'; echo RC=$?`,
      );
      expect(killed).not.toContain("ALLOCATED");
      expect(killed).toMatch(/RC=(137|1)/);
    }
  }, 60_000);
});
