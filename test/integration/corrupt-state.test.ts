/**
 * One broken cluster never stops the others: a truncated snapshot or a damaged journal is quarantined (its files
 * moved aside, kept), the log says which file and why, the cluster is made afresh under the same id and token (its
 * kubeconfig keeps working), and every other cluster comes back whole.
 */
import {
  cpSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { SimHost } from "../../server/src/sim/host.ts";
import { journalFile, stateFile } from "../../server/src/sim/persistence.ts";
import type { Logger, LogMeta } from "../../server/src/shared/logger.ts";
import { StorageHealth } from "../../server/src/shared/storage.ts";
import { call, readTarget, type Target } from "../helpers/sim-child.ts";

const dir = mkdtempSync(path.join(os.tmpdir(), "egresslab-corrupt-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function recordingLogger(lines: { level: string; msg: string; meta: LogMeta }[], base: LogMeta = {}): Logger {
  const at =
    (level: string) =>
    (msg: string, meta: LogMeta = {}) =>
      lines.push({ level, msg, meta: { ...base, ...meta } });
  return {
    debug: () => {},
    info: at("info"),
    warn: at("warn"),
    error: at("error"),
    child: (m) => recordingLogger(lines, { ...base, ...m }),
  };
}

const target = (kubeconfig: string): Target => {
  const f = path.join(dir, `${Math.random()}.kubeconfig`);
  writeFileSync(f, kubeconfig);
  return readTarget(f);
};
const cm = (name: string) => ({ apiVersion: "v1", kind: "ConfigMap", metadata: { name }, data: { k: name } });
const names = async (t: Target) =>
  (
    JSON.parse((await call(t, "GET", "/api/v1/namespaces/default/configmaps")).body) as {
      items: { metadata: { name: string } }[];
    }
  ).items.map((o) => o.metadata.name);

describe("a cluster whose saved state cannot be read", () => {
  it("is quarantined and made afresh while the others come back whole", async () => {
    const dataDir = path.join(dir, "data");
    const storage = new StorageHealth();
    let host = await SimHost.start({ dataDir, storage });
    const a = await host.createCluster({ id: "snap" });
    const b = await host.createCluster({ id: "journal" });
    const c = await host.createCluster({ id: "fine" });
    const ta = target(a.kubeconfig);
    const tb = target(b.kubeconfig);
    const tc = target(c.kubeconfig);
    for (const t of [ta, tb, tc])
      for (const n of ["one", "two", "three"])
        expect((await call(t, "POST", "/api/v1/namespaces/default/configmaps", cm(n))).status).toBe(201);
    await host.close();
    host = await SimHost.start({ dataDir, storage });
    for (const t of [ta, tb])
      for (const n of ["four", "five"])
        expect((await call(t, "POST", "/api/v1/namespaces/default/configmaps", cm(n))).status).toBe(201);
    // What a crash leaves: the files as they are while the host runs (journal lines not yet compacted).
    const crashed = path.join(dir, "crashed");
    cpSync(dataDir, crashed, { recursive: true });
    await host.close();
    // A snapshot cut in half; a journal with a damaged line followed by good ones.
    const snap = stateFile(crashed, "snap");
    truncateSync(snap, Math.floor(readFileSync(snap).length / 2));
    const jb = journalFile(crashed, "journal");
    const lines = readFileSync(jb, "utf8").split("\n");
    const at = lines.findIndex((l) => l.includes('"four"'));
    expect(at).toBeGreaterThanOrEqual(0);
    expect(lines.slice(at + 1).some((l) => l.includes('"five"'))).toBe(true);
    lines[at] = lines[at]!.replace('"four"', '"f0ur"');
    writeFileSync(jb, lines.join("\n"));
    const log: { level: string; msg: string; meta: LogMeta }[] = [];
    host = await SimHost.start({ dataDir: crashed, storage, logger: recordingLogger(log) });
    try {
      expect(host.clusterIds().sort()).toEqual(["fine", "journal", "snap"]);
      const rebuilt = host.rebuiltClusters();
      expect(rebuilt.map((r) => r.id).sort()).toEqual(["journal", "snap"]);
      for (const r of rebuilt) {
        expect(existsSync(r.quarantine)).toBe(true);
        expect(readdirSync(r.quarantine)).toContain(`${r.id}.json`);
      }
      expect(rebuilt.find((r) => r.id === "snap")!.reason).toContain(snap);
      expect(rebuilt.find((r) => r.id === "journal")!.reason).toMatch(
        /line \d+ is damaged and later lines are not/,
      );
      const errors = log.filter((l) => l.level === "error");
      expect(errors.map((e) => [e.meta.cluster, e.meta.file])).toEqual(
        expect.arrayContaining([
          ["snap", snap],
          ["journal", jb],
        ]),
      );
      // Same tokens at a new address: the old kubeconfigs' credentials still work.
      const again = (id: string) => target(host.kubeconfig(id));
      expect(again("snap").token).toBe(ta.token);
      expect(await names(again("fine"))).toEqual(["kube-root-ca.crt", "one", "three", "two"]);
      expect(await names(again("snap"))).toEqual(["kube-root-ca.crt"]);
      expect(await names(again("journal"))).toEqual(["kube-root-ca.crt"]);
      expect(
        (await call(again("snap"), "POST", "/api/v1/namespaces/default/configmaps", cm("new"))).status,
      ).toBe(201);
    } finally {
      await host.close();
    }
    // Made afresh, it is an ordinary cluster again: the next start restores it without any quarantine.
    host = await SimHost.start({ dataDir: crashed, storage });
    expect(host.rebuiltClusters()).toEqual([]);
    expect(await names(target(host.kubeconfig("snap")))).toContain("new");
    await host.close();
  }, 60_000);
});
