import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parseOptions } from "../config/options.ts";
import { ValidationError } from "../shared/errors.ts";
import type { LogMeta, Logger } from "../shared/logger.ts";
import { createCmder } from "./cmd.ts";
import {
  checkSettings,
  chooseProvider,
  createProvider,
  providerOptionSpecs,
  providerSettings,
  type ProviderSettings,
} from "./select.ts";

describe("chooseProvider", () => {
  const none = { docker: false, kind: false };
  const both = { docker: true, kind: true };
  const cases: [string, ProviderSettings, { docker: boolean; kind: boolean }, string, RegExp][] = [
    ["explicit wins over detection", { provider: "kind" }, none, "kind", /as requested/],
    ["explicit sim wins over a pool", { provider: "sim", kubeconfigDir: "/p" }, both, "sim", /as requested/],
    ["a pool means kubeconfig", { kubeconfigDir: "/p" }, both, "kubeconfig", /a kubeconfig pool was given/],
    [
      "docker and kind still mean sim, said",
      {},
      both,
      "sim",
      /docker and kind are installed, but the default is the simulated cluster: pass --provider kind/,
    ],
    [
      "kind without docker: sim",
      {},
      { docker: false, kind: true },
      "sim",
      /no --provider or EGRESSLAB_PROVIDER given/,
    ],
    ["nothing: sim", {}, none, "sim", /using the simulated cluster/],
  ];
  it.each(cases)("%s", (_, settings, detected, name, reason) => {
    const c = chooseProvider(settings, detected);
    expect(c.name).toBe(name);
    expect(c.reason).toMatch(reason);
  });
});

describe("provider options", () => {
  it("take the provider from EGRESSLAB_PROVIDER when the flag is absent, and the flag first", () => {
    expect(
      providerSettings(parseOptions(providerOptionSpecs, [], { EGRESSLAB_PROVIDER: "kind" })).provider,
    ).toBe("kind");
    expect(
      providerSettings(
        parseOptions(providerOptionSpecs, ["--provider", "sim"], { EGRESSLAB_PROVIDER: "kind" }),
      ).provider,
    ).toBe("sim");
    expect(() => parseOptions(providerOptionSpecs, [], { EGRESSLAB_PROVIDER: "docker" })).toThrow(
      /must be one of sim, kind, kubeconfig; got "docker"/,
    );
  });
  it("collect repeated pool files", () => {
    const s = providerSettings(
      parseOptions(providerOptionSpecs, ["--pool-kubeconfig", "a", "--pool-kubeconfig", "b"], {}),
    );
    expect(s.poolKubeconfigs).toEqual(["a", "b"]);
  });
});

describe("checkSettings", () => {
  it("lists every problem at once", () => {
    expect(checkSettings("kubeconfig", {})).toEqual([
      { where: "--provider kubeconfig", message: expect.stringMatching(/needs --kubeconfig-dir DIR/) },
    ]);
    const kind = checkSettings("kind", {
      enterpriseLicense: "/nonexistent/license.yaml",
      calicoManifests: "/nonexistent/m",
    });
    expect(kind.map((p) => p.where)).toEqual([
      "--enterprise-license",
      "--enterprise-license",
      "--calico-manifests",
    ]);
    expect(checkSettings("sim", { enterpriseLicense: "/nonexistent" })).toEqual([]);
  });
});

function recorder(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const log = (msg: string, meta?: LogMeta) => lines.push(`${msg} ${JSON.stringify(meta ?? {})}`);
  const l: Logger & { lines: string[] } = {
    lines,
    debug() {},
    info: log,
    warn: log,
    error: log,
    child: () => l,
  };
  return l;
}

describe("createProvider", () => {
  it("builds the chosen provider and says why, once", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "egresslab-select-"));
    try {
      await writeFile(
        path.join(dir, "c1.yaml"),
        "clusters: [{name: c, cluster: {server: 'https://c:6443'}}]\nusers: [{name: u, user: {token: t}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n",
      );
      const logger = recorder();
      const pool = await createProvider({ kubeconfigDir: dir, dataDir: path.join(dir, "data"), logger });
      expect(pool.name).toBe("kubeconfig");
      expect(logger.lines.filter((l) => l.includes("using the kubeconfig provider"))).toHaveLength(1);

      await expect(
        createProvider({
          provider: "kind",
          dataDir: path.join(dir, "data"),
          cmder: createCmder({ env: { PATH: "/nonexistent" } }),
        }),
      ).rejects.toThrow(/^kind needs a Docker engine: `docker` was not found on PATH/);
      const fakes = path.resolve(import.meta.dirname, "..", "..", "..", "test", "fixtures", "bin");
      await mkdir(path.join(dir, "fake"));
      const kind = await createProvider({
        provider: "kind",
        dataDir: path.join(dir, "data"),
        cmder: createCmder({
          env: { PATH: `${fakes}:/usr/bin:/bin`, EGRESSLAB_FAKE_DIR: path.join(dir, "fake") },
        }),
      });
      expect(kind.name).toBe("kind");
      expect(kind.capabilities).toMatchObject({ realDataplane: true, calicoEdition: "oss" });

      await expect(createProvider({ provider: "kubeconfig", dataDir: dir })).rejects.toBeInstanceOf(
        ValidationError,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
