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
import { parseCatalogue } from "../../server/src/net/catalogue.ts";

const fakes = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "fixtures", "bin");
const M = "https://raw.githubusercontent.com/projectcalico/calico/v3.32.1/manifests";
const inspect = (name: string) =>
  `docker inspect --type container --format {{.State.Running}} {{range $k, $v := .NetworkSettings.Networks}}{{if eq $k "kind"}}{{$v.IPAddress}}{{end}}{{end}} {{index .Config.Labels "egresslab.internet/config"}} ${name}`;
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
      // The lab's internet: two containers on kind's network, routes on every node, CoreDNS forwarding its zones.
      inspect("egresslab-internet-dns"),
      expect.stringMatching(
        /^docker create --name egresslab-internet-dns --network kind --restart unless-stopped --label egresslab.internet\/config=[0-9a-f]{16} coredns\/coredns:1.12.1 -conf \/etc\/coredns\/Corefile$/,
      ),
      `docker cp ${dir}/data/kind/internet/egresslab-internet-dns/. egresslab-internet-dns:/etc/coredns`,
      "docker start egresslab-internet-dns",
      inspect("egresslab-internet-dns"),
      inspect("egresslab-internet-web"),
      expect.stringMatching(
        /^docker create --name egresslab-internet-web --network kind --restart unless-stopped --label egresslab.internet\/config=[0-9a-f]{16} --cap-add NET_ADMIN nginx:1.27-alpine \/bin\/sh \/etc\/nginx\/egresslab\/start.sh$/,
      ),
      `docker cp ${dir}/data/kind/internet/egresslab-internet-web/. egresslab-internet-web:/etc/nginx`,
      "docker start egresslab-internet-web",
      inspect("egresslab-internet-web"),
      "kind get nodes --name egresslab-alice",
      "docker exec -i egresslab-alice-control-plane ip -batch -",
      "docker exec -i egresslab-alice-worker ip -batch -",
      "docker exec -i egresslab-alice-worker2 ip -batch -",
      `kubectl --kubeconfig ${kc} -n kube-system get configmap coredns -o json`,
      expect.stringMatching(
        /^kubectl --kubeconfig \S+ -n kube-system patch configmap coredns --type merge -p \{/,
      ),
      `kubectl --kubeconfig ${kc} -n kube-system rollout restart deployment coredns`,
      `kubectl --kubeconfig ${kc} -n kube-system rollout status deployment coredns --timeout=180s`,
    ]);
    // Every node routes the catalogue's addresses (the C2 server's among them) to the web container.
    const routes = await readFile(path.join(fakeDir, "routes.egresslab-alice-worker"), "utf8");
    expect(routes).toContain("route replace 198.51.100.66/32 via 172.18.0.250\n");
    expect(routes).toContain("route replace 203.0.113.50/32 via 172.18.0.250\n");
    expect(await readFile(path.join(dir, "data", "kind", "internet", "routes"), "utf8")).toBe(routes);
    // CoreDNS keeps its own configuration and forwards the lab's zones to the DNS container.
    const corefile = (
      JSON.parse(await readFile(path.join(fakeDir, "coredns.json"), "utf8")) as {
        data: { Corefile: string };
      }
    ).data.Corefile;
    expect(corefile).toMatch(/^\.:53 \{\n {4}forward \. \/etc\/resolv\.conf\n/);
    expect(corefile).toMatch(
      /\n[^\n]*beacon\.darkhollow-c2\.net:53 [^\n]*\{\n {4}errors\n {4}cache 30\n {4}forward \. 172\.18\.0\.251\n\}\n/,
    );
    // The DNS container answers the C2 domain with the catalogue's address.
    const zone = await readFile(
      path.join(
        fakeDir,
        "containers",
        "egresslab-internet-dns",
        "fs",
        "etc",
        "coredns",
        "zones",
        "beacon.darkhollow-c2.net.zone",
      ),
      "utf8",
    );
    expect(zone).toContain("@ 30 IN A 198.51.100.66\n");
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
      "starting the lab's internet: egresslab-internet-dns (coredns/coredns:1.12.1) on Docker network kind",
      "starting the lab's internet: egresslab-internet-web (nginx:1.27-alpine) on Docker network kind",
      "the lab's internet: routing its 24 domains' addresses to 172.18.0.250 on 3 nodes",
      "the lab's internet: CoreDNS forwards the lab's domains to 172.18.0.251",
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
      // The lab's internet runs already and CoreDNS has its block: only the nodes' routes are set again.
      inspect("egresslab-internet-dns"),
      inspect("egresslab-internet-web"),
      "kind get nodes --name egresslab-bob",
      "docker exec -i egresslab-bob-control-plane ip -batch -",
      "docker exec -i egresslab-bob-worker ip -batch -",
      "docker exec -i egresslab-bob-worker2 ip -batch -",
      expect.stringMatching(
        /^kubectl --kubeconfig \S+egresslab-bob.kubeconfig -n kube-system get configmap coredns -o json$/,
      ),
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
    expect(steps).toContain(
      "warning: the existing cluster is not ready yet (3/3 nodes Ready; not Available: goldmane (Error creating goldmane deployment: quota exceeded))",
    );
    expect(await calls()).not.toContain("kind delete cluster --name egresslab-bea");
  });

  it("shares the lab's internet between clusters, and makes it again when the catalogue changed", async () => {
    await (await provider()).acquire({ id: "uma" });
    const before = (await calls()).length;
    await (await provider()).acquire({ id: "vic" });
    const second = (await calls()).slice(before);
    expect(second.filter((c) => /^docker (create|rm|start)/.test(c))).toEqual([]);
    expect(second).toContain("docker exec -i egresslab-vic-worker ip -batch -");

    const changed = parseCatalogue(
      "domains:\n  beacon.darkhollow-c2.net: {ips: [198.51.100.77], ttl: 30}\n",
      "changed.yaml",
    );
    const mark = (await calls()).length;
    await (await provider({}, { internet: changed })).acquire({ id: "wes" });
    const third = (await calls()).slice(mark);
    expect(
      third.filter((c) => /^docker (create|rm|start)/.test(c)).map((c) => c.split(" ").slice(0, 4).join(" ")),
    ).toEqual([
      "docker rm -f egresslab-internet-dns",
      "docker create --name egresslab-internet-dns",
      "docker start egresslab-internet-dns",
      "docker rm -f egresslab-internet-web",
      "docker create --name egresslab-internet-web",
      "docker start egresslab-internet-web",
    ]);
    expect(await readFile(path.join(fakeDir, "routes.egresslab-wes-worker"), "utf8")).toBe(
      "route replace 198.51.100.77/32 via 172.18.0.250\n",
    );
  });

  it("keeps an existing cluster when its lab internet cannot be set up, with a warning", async () => {
    await (await provider()).acquire({ id: "xia" });
    const steps: string[] = [];
    const conn = await (
      await provider({ FAKE_DOCKER_EXEC: "fails" })
    ).acquire({ id: "xia", onProgress: (s) => steps.push(s) });
    expect(conn.kubeconfig).toContain("kind-egresslab-xia");
    expect(steps.at(-1)).toMatch(
      /^warning: the lab's internet: routing the lab's internet on node egresslab-xia-control-plane failed: Error response from daemon: container \S+ is not running$/,
    );
    expect(await calls()).not.toContain("kind delete cluster --name egresslab-xia");
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
    // The lab's internet stays while a cluster uses it, and goes with the last one.
    expect((await calls()).filter((c) => c.startsWith("docker rm"))).toEqual([]);
    await p.release(ids[1]!);
    expect((await calls()).filter((c) => c.startsWith("docker rm"))).toEqual([
      "docker rm -f egresslab-internet-web",
      "docker rm -f egresslab-internet-dns",
    ]);
    expect(existsSync(path.join(fakeDir, "containers", "egresslab-internet-web"))).toBe(false);
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
