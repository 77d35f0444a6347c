/**
 * `egresslab clusters` as an instructor runs it, in a child process, with the fake kind/docker/kubectl first on PATH:
 * create kind clusters into a kubeconfig pool directory, list them through both providers, delete them.
 */
import { mkdir, mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { environment } from "../../server/src/config/options.ts";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const fakes = path.join(root, "test", "fixtures", "bin");
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "egresslab-clusters-cli-"));
  await mkdir(path.join(dir, "fake"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function egresslab(...args: string[]) {
  return execa(
    process.execPath,
    [
      "--import",
      "tsx",
      path.join(root, "server", "src", "main.ts"),
      "clusters",
      ...args,
      "--data",
      path.join(dir, "data"),
    ],
    {
      cwd: root,
      reject: false,
      extendEnv: false,
      env: {
        ...environment(),
        PATH: `${fakes}${path.delimiter}${environment().PATH ?? ""}`,
        EGRESSLAB_FAKE_DIR: path.join(dir, "fake"),
        EGRESSLAB_PROVIDER: "",
      },
    },
  );
}

describe("egresslab clusters", () => {
  it("creates kind clusters with progress, writes a kubeconfig pool, lists and deletes them", async () => {
    const pool = path.join(dir, "pool");
    const created = await egresslab(
      "create",
      "--provider",
      "kind",
      "--count",
      "2",
      "--prefix",
      "ws",
      "--out-dir",
      pool,
      "--parallel",
      "2",
    );
    expect(created.stderr).toContain(
      "[ws-1] creating kind cluster egresslab-ws-1 (3 nodes); this takes a few minutes",
    );
    expect(created.stderr).toContain("[ws-2] waiting: nodes Ready 3/3; Calico components Available 5/5");
    expect(created.stdout.split("\n").sort()).toEqual([
      expect.stringMatching(
        new RegExp(`^ws-1\\tready \\(kind, Calico oss, \\d+s\\)\\t${path.join(pool, "ws-1.yaml")}$`),
      ),
      expect.stringMatching(/^ws-2\tready \(kind, Calico oss, \d+s\)\t/),
    ]);
    expect(created.exitCode).toBe(0);
    expect((await readdir(pool)).sort()).toEqual(["ws-1.yaml", "ws-2.yaml"]);
    expect(await readFile(path.join(pool, "ws-1.yaml"), "utf8")).toContain(
      "current-context: kind-egresslab-ws-1",
    );

    const listed = await egresslab("list", "--provider", "kind");
    expect(listed.stdout.split("\n").map((l) => l.split("\t")[0])).toEqual(["ws-1", "ws-2"]);

    const asJson = await egresslab("list", "--provider", "kind", "--output", "json");
    expect(JSON.parse(asJson.stdout)).toEqual([
      {
        id: "ws-1",
        provider: "kind",
        detail: "kind cluster egresslab-ws-1",
        kubeconfigPath: expect.stringMatching(/egresslab-ws-1\.kubeconfig$/),
      },
      {
        id: "ws-2",
        provider: "kind",
        detail: "kind cluster egresslab-ws-2",
        kubeconfigPath: expect.stringMatching(/egresslab-ws-2\.kubeconfig$/),
      },
    ]);

    const asPool = await egresslab("list", "--kubeconfig-dir", pool);
    expect(asPool.stdout).toMatch(/^ws-1\tws-1 \(oss, https:\/\/127\.0\.0\.1:40123\): free\t/m);

    const deleted = await egresslab("delete", "--provider", "kind", "--all");
    expect(deleted.stdout).toBe("ws-1\tdeleted\nws-2\tdeleted");
    expect((await egresslab("list", "--provider", "kind")).stdout).toBe("no kind clusters");
    expect(JSON.parse((await egresslab("list", "--provider", "kind", "-o", "json")).stdout)).toEqual([]);
  });

  it("on Ctrl-C stops creating and deletes the half-made kind cluster", async () => {
    const child = execa(
      process.execPath,
      [
        "--import",
        "tsx",
        path.join(root, "server", "src", "main.ts"),
        "clusters",
        "create",
        "--provider",
        "kind",
        "--id",
        "int",
        "--data",
        path.join(dir, "data3"),
      ],
      {
        cwd: root,
        reject: false,
        env: {
          PATH: `${fakes}${path.delimiter}${environment().PATH ?? ""}`,
          EGRESSLAB_FAKE_DIR: path.join(dir, "fake"),
          FAKE_CALICO: "never",
        },
      },
    );
    child.stderr?.on("data", (chunk: Buffer) => {
      if (chunk.toString().includes("Available 4/5")) child.kill("SIGINT");
    });
    const r = await child;
    expect(r.stderr).toContain("interrupted: stopping and cleaning up");
    expect(r.stderr).toContain("[int] cleaning up: deleting kind cluster egresslab-int");
    expect(r.exitCode).toBe(1);
    const log = (await readFile(path.join(dir, "fake", "calls.log"), "utf8")).trim().split("\n");
    expect(log.at(-1)).toBe("kind delete cluster --name egresslab-int");
  });

  it("rejects bad invocations with every problem and exit code 2, changing nothing", async () => {
    const r = await egresslab("create", "--count", "0", "--id", "a", "--parallel", "0");
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain("--count: give either --id or --count, not both");
    expect(r.stderr).toContain("--count: must be a whole number from 1 to 500, got 0");
    expect(r.stderr).toContain("--parallel: must be a whole number from 1 to 32, got 0");
    const d = await egresslab("frobnicate");
    expect(d.exitCode).toBe(2);
    expect(d.stderr).toContain("frobnicate: unknown action: use create, delete or list");
  });

  it("reports a missing Docker engine in the instructor's terms", async () => {
    const r = await execa(
      process.execPath,
      [
        "--import",
        "tsx",
        path.join(root, "server", "src", "main.ts"),
        "clusters",
        "create",
        "--provider",
        "kind",
        "--id",
        "x",
        "--data",
        path.join(dir, "data2"),
      ],
      {
        cwd: root,
        reject: false,
        env: {
          PATH: `${fakes}${path.delimiter}${environment().PATH ?? ""}`,
          EGRESSLAB_FAKE_DIR: path.join(dir, "fake"),
          FAKE_DOCKER: "stopped",
        },
      },
    );
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain(
      "egresslab clusters: kind needs a Docker engine: the Docker daemon is not running",
    );
  });
});
