/**
 * The kind provider against fake `kind`, `docker` and `kubectl` executables (test/fixtures/bin) put first on PATH:
 * the exact command lines, their order, progress reports, error mapping and cleanup.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { environment } from "../../server/src/config/options.ts";
import { createCmder } from "../../server/src/providers/cmd.ts";
import { createKindProvider, type KindProviderOptions } from "../../server/src/providers/kind/provider.ts";
import { EgresslabError } from "../../server/src/shared/errors.ts";

const fakes = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "fixtures", "bin");
const M = "https://raw.githubusercontent.com/projectcalico/calico/v3.32.1/manifests";
const kindDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "clusters", "kind");

let dir: string;
let fakeDir: string;

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "egresslab-kind-"));
  fakeDir = path.join(dir, "fake");
  await import("node:fs/promises").then((fs) => fs.mkdir(fakeDir));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function provider(env: Record<string, string> = {}, extra: Partial<KindProviderOptions> = {}) {
  const cmder = createCmder({
    env: {
      PATH: `${fakes}${path.delimiter}${environment().PATH ?? ""}`,
      EGRESSLAB_FAKE_DIR: fakeDir,
      ...env,
    },
  });
  return createKindProvider({ cmder, dataDir: path.join(dir, "data"), pollMs: 1, ...extra });
}

async function calls(): Promise<string[]> {
  const text = await readFile(path.join(fakeDir, "calls.log"), "utf8").catch(() => "");
  return text.split("\n").filter(Boolean);
}

describe("kind provider", () => {
  it("creates the cluster, installs Calico with the pinned manifests in order, waits, and returns the kubeconfig", async () => {
    const p = await provider();
    const steps: string[] = [];
    const conn = await p.acquire({ id: "alice", onProgress: (s) => steps.push(s) });
    const kc = path.join(dir, "data", "kind", "egresslab-alice.kubeconfig");
    const cfg = path.join(dir, "data", "kind", "egresslab-alice.kind.yaml");
    expect(await calls()).toEqual([
      "docker info --format {{.ServerVersion}}",
      "kind version",
      "kind get clusters",
      `kind create cluster --name egresslab-alice --config ${cfg} --kubeconfig ${kc}`,
      `kubectl --kubeconfig ${kc} create -f ${M}/v1_crd_projectcalico_org.yaml`,
      `kubectl --kubeconfig ${kc} create -f ${M}/tigera-operator.yaml`,
      `kubectl --kubeconfig ${kc} create -f ${M}/custom-resources.yaml`,
      `kubectl --kubeconfig ${kc} apply --server-side --force-conflicts --field-manager=egresslab -f ${kindDir}/observability.yaml`,
      `kubectl --kubeconfig ${kc} get nodes -o json`,
      `kubectl --kubeconfig ${kc} get tigerastatus -o json`,
      `kubectl --kubeconfig ${kc} get nodes -o json`,
      `kubectl --kubeconfig ${kc} get tigerastatus -o json`,
      `kubectl --kubeconfig ${kc} get nodes -o json`,
      `kubectl --kubeconfig ${kc} get tigerastatus -o json`,
    ]);
    expect(conn).toMatchObject({ id: "alice", provider: "kind", edition: "oss" });
    expect(conn.kubeconfig).toContain("server: https://127.0.0.1:40123");
    expect(conn.kubeconfig).toBe(await readFile(kc, "utf8"));
    // The kind config handed to kind is the one Calico needs.
    const written = parse(await readFile(path.join(fakeDir, "last-kind-config.yaml"), "utf8")) as Record<
      string,
      unknown
    >;
    expect(written).toMatchObject({
      kind: "Cluster",
      nodes: [{ role: "control-plane" }, { role: "worker" }, { role: "worker" }],
      networking: { disableDefaultCNI: true, podSubnet: "192.168.0.0/16" },
    });
    expect(steps).toEqual([
      "checking docker, kind and kubectl",
      "creating kind cluster egresslab-alice (3 nodes); this takes a few minutes",
      "installing Calico v3.32.1: kubectl create -f v1_crd_projectcalico_org.yaml",
      "installing Calico v3.32.1: kubectl create -f tigera-operator.yaml",
      "installing Calico v3.32.1: kubectl create -f custom-resources.yaml",
      "enabling Goldmane and Whisker (flow logs): kubectl apply -f observability.yaml",
      "waiting: nodes Ready 0/3; Calico components Available 0/5 (waiting for apiserver, calico, goldmane, ippools, whisker)",
      "waiting: nodes Ready 3/3; Calico components Available 2/5 (waiting for goldmane, ippools, whisker)",
      "waiting: nodes Ready 3/3; Calico components Available 5/5",
      "kind cluster egresslab-alice is ready",
    ]);
  });

  it("returns the existing cluster for the same id, also from a new provider instance", async () => {
    await (await provider()).acquire({ id: "bob" });
    const before = (await calls()).length;
    const again = await (await provider()).acquire({ id: "bob" });
    const after = (await calls()).slice(before);
    expect(after).toEqual([
      "docker info --format {{.ServerVersion}}",
      "kind version",
      "kind get clusters",
      "kind get kubeconfig --name egresslab-bob",
      expect.stringMatching(/^kubectl --kubeconfig \S+egresslab-bob.kubeconfig get nodes -o json$/),
      expect.stringMatching(/^kubectl --kubeconfig \S+egresslab-bob.kubeconfig get tigerastatus -o json$/),
    ]);
    expect(again.kubeconfig).toContain("kind-egresslab-bob");
  });

  it("reuses an existing cluster that is not ready, with a warning instead of deleting it", async () => {
    await (await provider()).acquire({ id: "bea" });
    const steps: string[] = [];
    const conn = await (
      await provider({ FAKE_CALICO: "never" })
    ).acquire({ id: "bea", onProgress: (s) => steps.push(s) });
    expect(conn.kubeconfig).toContain("kind-egresslab-bea");
    expect(steps.at(-1)).toBe(
      "warning: the existing cluster is not ready yet (3/3 nodes Ready; not Available: goldmane (Error creating goldmane deployment: quota exceeded))",
    );
    expect(await calls()).not.toContain("kind delete cluster --name egresslab-bea");
  });

  it("shares one creation between concurrent acquires of the same id", async () => {
    const p = await provider();
    const [a, b] = await Promise.all([p.acquire({ id: "carol" }), p.acquire({ id: "carol" })]);
    expect(a).toBe(b);
    expect((await calls()).filter((c) => c.startsWith("kind create"))).toHaveLength(1);
  });

  it("deletes the cluster and its files on release, and lists only egresslab clusters", async () => {
    const p = await provider();
    await p.acquire({ id: "dave" });
    await p.acquire({ id: "Eve@Example.com" });
    const listed = await p.list();
    const ids = listed.map((c) => c.id).sort();
    expect(ids).toHaveLength(2);
    expect(ids[0]).toBe("dave");
    expect(ids[1]).toMatch(/^eve-example-com-[0-9a-f]{8}$/);
    await p.release("dave");
    expect(await calls()).toContain("kind delete cluster --name egresslab-dave");
    expect(existsSync(path.join(dir, "data", "kind", "egresslab-dave.kubeconfig"))).toBe(false);
    expect((await p.list()).map((c) => c.id)).not.toContain("dave");
    await expect(p.release("never-created")).resolves.toBeUndefined();
  });

  it("says plainly when the Docker daemon is not running, before touching kind", async () => {
    const p = await provider({ FAKE_DOCKER: "stopped" });
    const err = await p.acquire({ id: "x" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EgresslabError);
    expect((err as Error).message).toMatch(
      /^kind needs a Docker engine: the Docker daemon is not running \(Cannot connect/,
    );
    expect((await calls()).some((c) => c.startsWith("kind"))).toBe(false);
  });

  it("says when docker or kind is missing from PATH", async () => {
    const empty = path.join(dir, "empty");
    await import("node:fs/promises").then((fs) => fs.mkdir(empty));
    const cmder = createCmder({ env: { PATH: empty, EGRESSLAB_FAKE_DIR: fakeDir } });
    const p = await createKindProvider({ cmder, dataDir: path.join(dir, "data") });
    await expect(p.acquire({ id: "x" })).rejects.toThrow(
      /kind needs a Docker engine: `docker` was not found on PATH/,
    );
  });

  it("refuses a kind that is too old for Calico 3.32", async () => {
    const p = await provider({ FAKE_KIND_VERSION: "v0.20.0" });
    await expect(p.acquire({ id: "x" })).rejects.toThrow(
      /kind v0\.20\.0 is too old: egresslab needs v0\.27\.0 or newer/,
    );
  });

  it("maps a node image pull failure to a clear error and leaves nothing behind", async () => {
    const p = await provider({ FAKE_KIND_CREATE: "pull-fails" });
    const err = (await p.acquire({ id: "x" }).catch((e: unknown) => e)) as EgresslabError;
    expect(err.message).toMatch(
      /^kind could not pull the node image for "egresslab-x": check network access/,
    );
    expect(err.message).toContain(
      'ERROR: failed to create cluster: failed to pull image "kindest/node:v1.33.1"',
    );
    expect(existsSync(path.join(dir, "data", "kind", "egresslab-x.kind.yaml"))).toBe(false);
    expect((await calls()).some((c) => c.startsWith("kubectl"))).toBe(false);
  });

  it("deletes the cluster when the Calico install fails, naming the manifest", async () => {
    const p = await provider({ FAKE_KUBECTL_FAIL: "tigera-operator.yaml" });
    const steps: string[] = [];
    const err = (await p
      .acquire({ id: "gina", onProgress: (s) => steps.push(s) })
      .catch((e: unknown) => e)) as Error;
    expect(err.message).toMatch(
      /^installing Calico failed at tigera-operator.yaml: error: unable to read URL .* 404 Not Found/,
    );
    const log = await calls();
    expect(log.at(-1)).toBe("kind delete cluster --name egresslab-gina");
    expect(log.some((c) => c.includes("custom-resources.yaml"))).toBe(false);
    expect(steps.at(-1)).toBe("cleaning up: deleting kind cluster egresslab-gina");
  });

  it("gives up waiting with the operator's message, and cleans up", async () => {
    // A clock on which every pause passes at once: the deadline is reached after a fixed number of polls.
    let t = 0;
    const instant = { now: () => t, sleep: (ms: number) => Promise.resolve(void (t += ms)) };
    const p = await provider({ FAKE_CALICO: "never" }, { readyTimeoutMs: 1000, pollMs: 400, clock: instant });
    const err = (await p.acquire({ id: "hal" }).catch((e: unknown) => e)) as Error;
    expect(err.message).toMatch(
      /^Calico did not become ready within 1s: 3\/3 nodes Ready; not Available: goldmane \(Error creating goldmane deployment: quota exceeded\)/,
    );
    expect((await calls()).at(-1)).toBe("kind delete cluster --name egresslab-hal");
  });

  it("stops and cleans up when the caller aborts", async () => {
    const p = await provider({ FAKE_CALICO: "never" }, { readyTimeoutMs: 60_000, pollMs: 20 });
    const ac = new AbortController();
    const steps: string[] = [];
    const run = p.acquire({
      id: "ivy",
      signal: ac.signal,
      onProgress: (s) => {
        steps.push(s);
        if (s.includes("Available 4/5")) ac.abort(new Error("attendee left"));
      },
    });
    await expect(run).rejects.toThrow("attendee left");
    expect((await calls()).at(-1)).toBe("kind delete cluster --name egresslab-ivy");
  });

  it("deletes a cluster whose creation was stopped half-way", async () => {
    const p = await provider({ FAKE_KIND_CREATE: "slow" });
    const ac = new AbortController();
    const run = p.acquire({
      id: "nia",
      signal: ac.signal,
      onProgress: (s) => {
        if (s.startsWith("creating kind cluster"))
          setTimeout(() => ac.abort(new Error("attendee left")), 300);
      },
    });
    await expect(run).rejects.toThrow('creating kind cluster "egresslab-nia" was cancelled');
    expect((await calls()).at(-1)).toBe("kind delete cluster --name egresslab-nia");
    expect(await p.list()).toEqual([]);
  });

  it("applies the profile's manifests to a real cluster when the profile has them", async () => {
    const p = await provider(
      {},
      {
        profileManifests: (name) =>
          Promise.resolve(
            name === "shop" ? "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n" : undefined,
          ),
      },
    );
    await p.acquire({ id: "jo", profile: "shop" });
    expect((await calls()).at(-1)).toMatch(/^kubectl --kubeconfig \S+egresslab-jo.kubeconfig apply -f -$/);
    expect(await readFile(path.join(fakeDir, "applied.yaml"), "utf8")).toContain("name: shop");
    await p.acquire({ id: "kim", profile: "bare" });
    expect((await calls()).filter((c) => c.includes("apply -f -"))).toHaveLength(1);
  });

  it("installs Calico Enterprise with storage class, pull secret and licence when configured", async () => {
    const p = await provider(
      {},
      {
        enterprise: { licenseFile: "/secrets/license.yaml", pullSecretFile: "/secrets/config.json" },
        readyTimeoutMs: 100,
      },
    );
    expect(p.capabilities.calicoEdition).toBe("enterprise");
    const conn = await p.acquire({ id: "lee" }).catch((e: unknown) => e);
    // The fake tigerastatus has no log-storage/manager: the wait is what fails, after every install step ran in order.
    expect(conn).toBeInstanceOf(Error);
    const creates = (await calls()).filter((c) => c.startsWith("kubectl") && c.includes(" create "));
    expect(creates.map((c) => c.replace(/^kubectl --kubeconfig \S+ /, ""))).toEqual([
      expect.stringMatching(/^create -f \S+clusters\/kind\/enterprise-storageclass.yaml$/),
      "create -f https://downloads.tigera.io/ee/v3.22.7/manifests/operator-crds.yaml",
      "create -f https://downloads.tigera.io/ee/v3.22.7/manifests/tigera-operator.yaml",
      "create secret generic tigera-pull-secret --type=kubernetes.io/dockerconfigjson -n tigera-operator --from-file=.dockerconfigjson=/secrets/config.json",
      "create -f https://downloads.tigera.io/ee/v3.22.7/manifests/tigera-prometheus-operator.yaml",
      "create -f https://downloads.tigera.io/ee/v3.22.7/manifests/custom-resources.yaml",
      "create -f /secrets/license.yaml",
    ]);
  });

  it("reads manifests from a local mirror when one is given", async () => {
    const p = await provider({}, { mirrorDir: "/mirror/calico" });
    await p.acquire({ id: "mo" });
    expect((await calls()).filter((c) => c.includes("create -f")).map((c) => c.split(" ").at(-1))).toEqual([
      "/mirror/calico/v1_crd_projectcalico_org.yaml",
      "/mirror/calico/tigera-operator.yaml",
      "/mirror/calico/custom-resources.yaml",
    ]);
  });
});
