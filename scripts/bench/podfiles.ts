/**
 * Pod file figures: `kubectl cp` in and out of a pod (the pod's `tar` reading and writing a 4 MiB binary file through
 * exec's streams), a pod's files in the saved dataplane state, and `jq` on a page of Whisker flows — each with the
 * longest the event loop was held meanwhile; and an exec that appends one byte in a saved cluster whose pods' files
 * are at the cluster's cap (saved before the exec reports its end).
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { dataplaneStateBytes } from "../../server/src/net/state.ts";
import { createTestCluster } from "../../server/src/net/testkit.ts";
import { createSimCluster } from "../../server/src/sim/cluster.ts";
import type { ExecIO, PodRuntime } from "../../server/src/sim/types.ts";

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** One ustar archive holding `name` with `body`, as kubectl's Go archive/tar writes it. */
function archive(name: string, body: Buffer): Buffer {
  const h = Buffer.alloc(512);
  h.write(name, 0);
  h.write("0000644\0", 100);
  h.write(body.length.toString(8).padStart(11, "0") + "\0", 124);
  h.write("00000000000\0", 136);
  h.write("        ", 148);
  h.write("0", 156);
  h.write("ustar\0" + "00", 257);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, "0") + "\0 ", 148);
  return Buffer.concat([h, body, Buffer.alloc((512 - (body.length % 512)) % 512), Buffer.alloc(1024)]);
}

/** Runs a command with `stdin` (bytes), returning its exit code, stdout bytes, the time and the longest loop block. */
async function timed(
  c: { dataplane: { runtime: PodRuntime } } | { runtime: PodRuntime },
  command: string[],
  stdin?: Buffer,
  pod = "box",
): Promise<{ code: number; out: Buffer; ms: number; blockMs: number }> {
  const out: Buffer[] = [];
  const io: ExecIO = {
    stdout: (d) => void out.push(Buffer.from(d)),
    stderr: () => {},
    onStdin: (cb) => {
      if (stdin) for (let i = 0; i < stdin.length; i += 32 * 1024) cb(stdin.subarray(i, i + 32 * 1024));
    },
    onStdinEnd: (cb) => cb(),
    onResize: () => {},
    signal: new AbortController().signal,
  };
  // The longest gap between two turns of a 1 ms timer while the command runs.
  let last = performance.now();
  let blockMs = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    blockMs = Math.max(blockMs, now - last);
    last = now;
  }, 1);
  const t = performance.now();
  const runtime = "runtime" in c ? c.runtime : c.dataplane.runtime;
  const code = await runtime.exec(
    { namespace: "default", pod, command, tty: false, stdin: stdin !== undefined },
    io,
  );
  const ms = performance.now() - t;
  await new Promise((r) => setTimeout(r, 2));
  clearInterval(timer);
  return { code, out: Buffer.concat(out), ms, blockMs: Math.max(blockMs, performance.now() - last) };
}

/**
 * A saved cluster (state in files) whose pods' files are at the cluster's cap, then execs that each append one byte
 * to a file: each is saved before it reports its end.
 */
async function touchAtCap(): Promise<void> {
  const dataDir = mkdtempSync(path.join(tmpdir(), "egresslab-bench-"));
  const c = await createSimCluster({ id: "bench", dataDir });
  try {
    const pods = ["a", "b"];
    for (const name of pods)
      c.api.create(c.api.findType("pods")!, "default", {
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name },
        spec: { containers: [{ name: "main", image: "alpine/k8s:1.32.3" }] },
      });
    for (let i = 0; i < 200; i++) {
      const p = pods.map(
        (n) => c.api.get(c.api.findType("pods")!, "default", n) as { status?: { phase?: string } },
      );
      if (p.every((x) => x.status?.phase === "Running")) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    // Two files of just under 4 MiB in each pod: the cluster's 16 MiB, less room for the touches.
    for (const pod of pods)
      for (const f of ["one.bin", "two.bin"]) {
        const r = await timed(
          c,
          ["tar", "-xmf", "-", "-C", "/tmp"],
          archive(f, randomBytes(4 * 1024 * 1024 - 8192)),
          pod,
        );
        if (r.code !== 0) throw new Error(`tar x exited ${r.code}`);
      }
    const ms: number[] = [];
    const block: number[] = [];
    for (let i = 0; i < 20; i++) {
      const r = await timed(c, ["sh", "-c", "printf x >> /tmp/touched"], undefined, "a");
      if (r.code !== 0) throw new Error(`sh exited ${r.code}`);
      ms.push(r.ms);
      block.push(r.blockMs);
    }
    console.log(
      `exec touching one byte, cluster's files at the cap (16 MiB, saved): median ${median(ms).toFixed(1)} ms; loop held median ${median(block).toFixed(1)} ms, longest ${Math.max(...block).toFixed(1)} ms`,
    );
  } finally {
    await c.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

export async function run(): Promise<void> {
  await touchAtCap();
  const c = createTestCluster({ traffic: false });
  c.addPod({ name: "box", ip: "192.168.1.11", image: "alpine/k8s:1.32.3" });
  try {
    const body = randomBytes(4 * 1024 * 1024);
    const tarIn = archive("blob.bin", body);
    const put: number[] = [];
    const putBlock: number[] = [];
    const get: number[] = [];
    const getBlock: number[] = [];
    for (let i = 0; i < 5; i++) {
      const p = await timed(c, ["tar", "-xmf", "-", "-C", "/tmp"], tarIn);
      if (p.code !== 0) throw new Error(`tar x exited ${p.code}`);
      put.push(p.ms);
      putBlock.push(p.blockMs);
      const g = await timed(c, ["tar", "cf", "-", "/tmp/blob.bin"]);
      if (g.code !== 0 || !g.out.subarray(512, 512 + body.length).equals(body))
        throw new Error("tar c differs");
      get.push(g.ms);
      getBlock.push(g.blockMs);
    }
    console.log(
      `kubectl cp in, 4 MiB binary (pod tar -x):   median ${median(put).toFixed(1)} ms, loop held at most ${median(putBlock).toFixed(1)} ms`,
    );
    console.log(
      `kubectl cp out, 4 MiB binary (pod tar -c):  median ${median(get).toFixed(1)} ms, loop held at most ${median(getBlock).toFixed(1)} ms`,
    );
    const t = performance.now();
    const state = JSON.stringify(c.dataplane.snapshot());
    const json = performance.now() - t;
    const t2 = performance.now();
    const pieces = dataplaneStateBytes(c.dataplane.snapshot());
    const saved = performance.now() - t2;
    if (!Buffer.concat(pieces).equals(Buffer.from(state))) throw new Error("saved bytes differ");
    console.log(
      `dataplane state with that pod's files:      ${(state.length / 1024 / 1024).toFixed(1)} MiB, snapshot + JSON.stringify ${json.toFixed(1)} ms, snapshot + the pieces saved ${saved.toFixed(1)} ms`,
    );

    const flow = (i: number) => ({
      start_time: "2026-01-01T00:00:00Z",
      end_time: "2026-01-01T00:00:15Z",
      action: i % 7 ? "Allow" : "Deny",
      source_namespace: i % 2 ? "shop" : "ops",
      source_name: `api-${i % 40}-*`,
      dest_name: "PUBLIC NETWORK",
      dest_domains: ["api.stripe.com"],
      dest_port: 443,
      reporter: "Src",
      policies: { enforced: [], pending: [{ action: "Pass" }, { action: "Deny" }] },
      packets_in: 3,
      packets_out: 4,
      bytes_in: 300,
      bytes_out: 400,
    });
    const page = Buffer.from(
      JSON.stringify({ total: { totalPages: 1 }, items: Array.from({ length: 1000 }, (_, i) => flow(i)) }),
    );
    const filter =
      '.items[] | select(.source_namespace == "shop" and .reporter == "Src") | select([.policies.pending // [] | .[] | select(.action != "Pass") | .action] | last == "Deny") | "\\(.source_namespace)/\\(.source_name) → \\((.dest_domains // [])[0] // .dest_name):\\(.dest_port)"';
    const jqMs: number[] = [];
    const jqBlock: number[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await timed(c, ["jq", "-r", filter], page);
      if (r.code !== 0) throw new Error(`jq exited ${r.code}`);
      jqMs.push(r.ms);
      jqBlock.push(r.blockMs);
    }
    console.log(
      `jq, guide's stage-1 filter, 1000 flows (${(page.length / 1024).toFixed(0)} KiB): median ${median(jqMs).toFixed(1)} ms, loop held at most ${median(jqBlock).toFixed(1)} ms`,
    );
  } finally {
    c.close();
  }
}
