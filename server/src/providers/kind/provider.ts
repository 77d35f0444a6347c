/**
 * The kind provider: a real kind cluster per attendee (1 control plane, 2 workers) with Calico installed by the
 * tigera-operator. Clusters live in Docker, so they outlive the server: acquiring an id whose cluster exists returns it.
 */
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { stringify } from "yaml";
import { CommandError, type Cmder } from "../cmd.ts";
import { InFlight } from "../in-flight.ts";
import type {
  AcquireOptions,
  ClusterConnection,
  ClusterProvider,
  ProviderCapabilities,
} from "../provider.ts";
import type { ClusterSummary } from "../summary.ts";
import { EgresslabError } from "../../shared/errors.ts";
import { realClock, type Clock } from "../../shared/clock.ts";
import { noopLogger, type Logger } from "../../shared/logger.ts";
import { realProfileManifests } from "./profile.ts";
import { installCalico, waitForCalico, type EnterpriseFiles } from "./install.ts";
import { kindClusterName, kindNamePrefix } from "./names.ts";
import { loadKindSettings, renderKindConfig, type KindSettings } from "./settings.ts";
import { checkKindTools, dockerError, kindCreateError, kindMissing } from "./tools.ts";
import { forwardClusterDns, routeNodes, startInternet, stopInternet } from "./internet-docker.ts";
import { defaultCatalogue } from "../../net/catalogue-file.ts";
import type { Catalogue } from "../../net/catalogue.ts";

export interface KindProviderOptions {
  cmder: Cmder;
  /** Where kind configs and kubeconfigs are written (`<dataDir>/kind/`). */
  dataDir: string;
  /** Settings from `clusters/kind/` (loaded from the repository when absent). */
  settings?: KindSettings;
  /** A local directory holding the Calico manifests, instead of downloading them. */
  mirrorDir?: string;
  /** Licence and pull secret: install Calico Enterprise instead of Calico Open Source. */
  enterprise?: EnterpriseFiles;
  /**
   * Manifests (multi-document YAML) for a profile's workloads on a real cluster, or undefined when it has none
   * (default: the profile's own objects from `clusters/<profile>.yaml`, see `realProfileManifests`).
   */
  profileManifests?: (profile: string) => Promise<string | undefined>;
  /**
   * The lab's internet: the catalogue whose domains answer from containers on kind's network instead of the real
   * internet (default: `clusters/internet.yaml`); false leaves the cluster on the real internet.
   */
  internet?: Catalogue | false;
  clock?: Clock;
  /** Overrides of the timings in `calico.yaml` (tests use short ones). */
  pollMs?: number;
  readyTimeoutMs?: number;
  logger?: Logger;
}

/** Creates a kind provider, reading `clusters/kind/` unless settings are given. */
export async function createKindProvider(opts: KindProviderOptions): Promise<KindProvider> {
  return new KindProvider({
    // The profile's objects for the edition the clusters run (Open Source unless an Enterprise licence is given).
    profileManifests: (profile) =>
      realProfileManifests(profile, undefined, opts.enterprise ? "enterprise" : "oss"),
    ...opts,
    settings: opts.settings ?? (await loadKindSettings()),
  });
}

export class KindProvider implements ClusterProvider {
  readonly name = "kind" as const;
  readonly capabilities: ProviderCapabilities;
  private readonly o: KindProviderOptions & { settings: KindSettings };
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly inFlight = new InFlight<ClusterConnection>();
  private toolsChecked: Promise<unknown> | undefined;
  private warnedEdition = false;

  constructor(opts: KindProviderOptions & { settings: KindSettings }) {
    this.o = opts;
    this.log = (opts.logger ?? noopLogger).child({ provider: "kind" });
    this.clock = opts.clock ?? realClock;
    this.capabilities = {
      canCreate: true,
      realDataplane: true,
      calicoEdition: opts.enterprise ? "enterprise" : "oss",
      typicalReadySeconds: opts.enterprise ? 900 : 180,
    };
  }

  /**
   * Checks once that docker (with a running engine), a recent kind and kubectl are there; later calls reuse a success.
   * Rejects with an error saying what is missing and how to get it.
   */
  preflight(signal?: AbortSignal): Promise<void> {
    this.toolsChecked ??= checkKindTools(this.o.cmder, this.o.settings.calico.kind.minVersion, signal).then(
      () => undefined,
      (err: unknown) => {
        this.toolsChecked = undefined;
        throw err;
      },
    );
    return this.toolsChecked as Promise<void>;
  }

  /** The kind cluster name for an attendee id. */
  clusterName(id: string): string {
    return kindClusterName(id);
  }

  /** Where the kubeconfig of `id`'s cluster is written. */
  kubeconfigPath(id: string): string {
    return path.join(this.o.dataDir, "kind", `${this.clusterName(id)}.kubeconfig`);
  }

  acquire(opts: AcquireOptions): Promise<ClusterConnection> {
    return this.inFlight.run(opts.id, () => this.acquireOnce(opts));
  }

  private async acquireOnce(opts: AcquireOptions): Promise<ClusterConnection> {
    const progress = (step: string): void => {
      this.log.info(step, { id: opts.id });
      opts.onProgress?.(step);
    };
    const { settings } = this.o;
    const edition = this.capabilities.calicoEdition;
    if (opts.edition === "enterprise" && edition === "oss" && !this.warnedEdition) {
      this.warnedEdition = true;
      this.log.warn(
        "kind clusters run Calico Open Source: DNS policy (destination.domains) and egress gateways need Calico Enterprise; give --enterprise-license and --enterprise-pull-secret, or use the simulated cluster for those stages",
      );
    }
    progress("checking docker, kind and kubectl");
    await this.preflight(opts.signal);

    const name = this.clusterName(opts.id);
    const kubeconfig = this.kubeconfigPath(opts.id);
    await mkdir(path.dirname(kubeconfig), { recursive: true });

    if ((await this.clusterNames(opts.signal)).includes(name)) {
      progress(`kind cluster ${name} already exists; reusing it`);
      const r = await this.o.cmder.run("kind", ["get", "kubeconfig", "--name", name], {
        signal: opts.signal,
      });
      await writeFile(kubeconfig, r.stdout, { mode: 0o600 });
      await this.checkOnce(kubeconfig, progress, opts.signal);
      await this.hermeticInternet(name, kubeconfig, progress, opts.signal).catch((err: unknown) => {
        if (opts.signal?.aborted) throw err;
        const why = err instanceof Error ? err.message : String(err);
        this.log.warn("could not give an existing kind cluster the lab's internet", { name, why });
        progress(`warning: ${why}`);
      });
      return { id: opts.id, provider: "kind", kubeconfig: r.stdout, edition };
    }

    const configFile = path.join(path.dirname(kubeconfig), `${name}.kind.yaml`);
    await writeFile(
      configFile,
      stringify(renderKindConfig(settings.clusterConfig, settings.calico.kind.nodeImage)),
    );
    const nodes = Array.isArray(settings.clusterConfig.nodes) ? settings.clusterConfig.nodes.length : 0;
    progress(`creating kind cluster ${name} (${nodes} nodes); this takes a few minutes`);
    try {
      await this.o.cmder.run(
        "kind",
        ["create", "cluster", "--name", name, "--config", configFile, "--kubeconfig", kubeconfig],
        {
          signal: opts.signal,
          timeoutMs: settings.calico.timeouts.createSeconds * 1000,
        },
      );
    } catch (err) {
      // kind removes its nodes when it fails by itself, but not when it is stopped half-way.
      if (err instanceof CommandError && (err.failure === "cancelled" || err.failure === "timeout")) {
        progress(`cleaning up: deleting kind cluster ${name}`);
        await this.deleteCluster(name).catch((e: unknown) =>
          this.log.error("could not delete kind cluster after a failure", { name, error: String(e) }),
        );
      }
      await rm(configFile, { force: true });
      throw kindCreateError(err, name);
    }

    try {
      const install = this.o.enterprise ? settings.calico.enterprise : settings.calico.oss;
      if (!install)
        throw new EgresslabError(
          "invalid",
          "clusters/kind/calico.yaml has no `enterprise` section, but an Enterprise licence was given",
        );
      await installCalico({
        cmder: this.o.cmder,
        kubeconfig,
        install,
        dataDir: settings.dir,
        mirrorDir: this.o.mirrorDir,
        enterprise: this.o.enterprise,
        onProgress: progress,
        signal: opts.signal,
      });
      await waitForCalico({
        cmder: this.o.cmder,
        kubeconfig,
        components: install.components,
        clock: this.clock,
        pollMs: this.o.pollMs ?? settings.calico.timeouts.pollSeconds * 1000,
        timeoutMs: this.o.readyTimeoutMs ?? settings.calico.timeouts.readySeconds * 1000,
        onProgress: progress,
        signal: opts.signal,
      });
      await this.hermeticInternet(name, kubeconfig, progress, opts.signal);
      if (opts.profile) await this.applyProfile(opts.profile, kubeconfig, progress, opts.signal);
      progress(`kind cluster ${name} is ready`);
      return { id: opts.id, provider: "kind", kubeconfig: await readFile(kubeconfig, "utf8"), edition };
    } catch (err) {
      progress(`cleaning up: deleting kind cluster ${name}`);
      await this.deleteCluster(name).catch((e: unknown) =>
        this.log.error("could not delete kind cluster after a failure", { name, error: String(e) }),
      );
      throw err;
    }
  }

  /**
   * Gives the cluster the lab's internet: the shared containers (started once), a route to the web container on each
   * node (routes do not survive a node restart, so this runs for an existing cluster too), CoreDNS's forward block.
   */
  private async hermeticInternet(
    name: string,
    kubeconfig: string,
    progress: (s: string) => void,
    signal?: AbortSignal,
  ): Promise<void> {
    const catalogue = this.o.internet === undefined ? defaultCatalogue() : this.o.internet;
    if (!catalogue) return;
    const o = { cmder: this.o.cmder, catalogue, onProgress: progress, ...(signal ? { signal } : {}) };
    const workDir = path.join(this.o.dataDir, "kind", "internet");
    const { webIp, dnsIp } = await startInternet({
      ...o,
      images: this.o.settings.calico.kind.internetImages,
      workDir,
    });
    const nodes = await this.o.cmder.run("kind", ["get", "nodes", "--name", name], {
      signal,
      timeoutMs: 60_000,
    });
    const names = nodes.stdout
      .split("\n")
      .map((l) => l.trim())
      .filter(Boolean);
    progress(
      `the lab's internet: routing its ${catalogue.domains.length} domains' addresses to ${webIp} on ${names.length} nodes`,
    );
    await routeNodes({ ...o, workDir }, names, webIp);
    await forwardClusterDns(o, kubeconfig, dnsIp);
  }

  private async applyProfile(
    profile: string,
    kubeconfig: string,
    progress: (s: string) => void,
    signal?: AbortSignal,
  ): Promise<void> {
    const manifests = await this.o.profileManifests?.(profile);
    if (!manifests) {
      this.log.info("profile has no manifests for real clusters; the cluster starts with Calico only", {
        profile,
      });
      return;
    }
    progress(`applying the ${profile} profile's workloads`);
    try {
      await this.o.cmder.run("kubectl", ["--kubeconfig", kubeconfig, "apply", "-f", "-"], {
        input: manifests,
        signal,
      });
    } catch (err) {
      throw new EgresslabError(
        "unavailable",
        `applying the ${profile} profile's workloads failed: ${err instanceof Error ? err.message : String(err)}`,
        { cause: err },
      );
    }
  }

  async release(id: string): Promise<void> {
    const name = this.clusterName(id);
    await this.deleteCluster(name);
    // The lab's internet serves every egresslab cluster on this machine: it goes with the last of them.
    if (this.o.internet !== false && !(await this.clusterNames()).some((n) => n.startsWith(kindNamePrefix)))
      await stopInternet(this.o.cmder);
  }

  /** One readiness look at a cluster that already existed; a problem is reported, never fatal (it may be mid-install). */
  private async checkOnce(
    kubeconfig: string,
    progress: (s: string) => void,
    signal?: AbortSignal,
  ): Promise<void> {
    const install = this.o.enterprise ? this.o.settings.calico.enterprise : this.o.settings.calico.oss;
    try {
      await waitForCalico({
        cmder: this.o.cmder,
        kubeconfig,
        components: install?.components ?? [],
        clock: this.clock,
        pollMs: 0,
        timeoutMs: 0,
        onProgress: () => {},
        signal,
      });
    } catch (err) {
      if (signal?.aborted) throw err;
      const why = err instanceof Error ? err.message : String(err);
      this.log.warn("an existing kind cluster is not ready", { kubeconfig, why });
      progress(
        `warning: the existing cluster is not ready yet (${why.replace(/^Calico did not become ready within 0s: /, "")})`,
      );
    }
  }

  private async deleteCluster(name: string): Promise<void> {
    try {
      await this.o.cmder.run("kind", ["delete", "cluster", "--name", name], { timeoutMs: 5 * 60_000 });
    } catch (err) {
      if (err instanceof CommandError && err.failure === "not-found") {
        throw new EgresslabError("unavailable", kindMissing(this.o.settings.calico.kind.minVersion));
      }
      throw dockerError(err);
    }
    const dir = path.join(this.o.dataDir, "kind");
    await rm(path.join(dir, `${name}.kubeconfig`), { force: true });
    await rm(path.join(dir, `${name}.kind.yaml`), { force: true });
  }

  private async clusterNames(signal?: AbortSignal): Promise<string[]> {
    const r = await this.o.cmder
      .run("kind", ["get", "clusters"], { signal, timeoutMs: 60_000 })
      .catch((err: unknown) => {
        if (err instanceof CommandError && err.failure === "not-found")
          throw new EgresslabError("unavailable", kindMissing(this.o.settings.calico.kind.minVersion));
        throw err;
      });
    return r.stdout
      .split("\n")
      .map((l) => l.trim())
      .filter(Boolean);
  }

  /** The egresslab kind clusters on this machine. */
  async list(): Promise<ClusterSummary[]> {
    const names = (await this.clusterNames()).filter((n) => n.startsWith(kindNamePrefix));
    return names.map((name) => ({
      id: name.slice(kindNamePrefix.length),
      provider: "kind" as const,
      detail: `kind cluster ${name}`,
      kubeconfigPath: path.join(this.o.dataDir, "kind", `${name}.kubeconfig`),
    }));
  }

  async close(): Promise<void> {}
}
