/**
 * Which provider to use, decided in one place: the explicit option (`--provider`, or `EGRESSLAB_PROVIDER` through the
 * option table), then what was configured (a kubeconfig pool), then detection (docker and kind installed: still the
 * simulator unless asked, said once), and otherwise the simulator, said once.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import type { OptionSpecs, ParsedOptions } from "../config/options.ts";
import { ValidationError, type Problem } from "../shared/errors.ts";
import { noopLogger, type Logger } from "../shared/logger.ts";
import type { CalicoEdition } from "../sim/types.ts";
import type { SimHostOptions } from "../sim/host.ts";
import { createCmder, type Cmder } from "./cmd.ts";
import type { ProviderName } from "./provider.ts";
import type { ListingProvider } from "./summary.ts";
import type { SimHostApi } from "./sim/provider.ts";

const providerNames = ["sim", "kind", "kubeconfig"] as const satisfies readonly ProviderName[];

/** The provider options, for any command that gets clusters (`serve`, `clusters`). */
export const providerOptionSpecs = {
  provider: {
    type: "string",
    choices: providerNames,
    env: "EGRESSLAB_PROVIDER",
    arg: "NAME",
    description:
      "Where clusters come from: sim (simulated, the default), kind (a real kind cluster each; needs Docker), kubeconfig (a pool of existing clusters)",
  },
  "kubeconfig-dir": {
    type: "string",
    env: "EGRESSLAB_KUBECONFIG_DIR",
    arg: "DIR",
    description: "kubeconfig provider: a directory of kubeconfig files, one cluster each",
  },
  "pool-kubeconfig": {
    type: "list",
    env: "EGRESSLAB_POOL_KUBECONFIGS",
    arg: "FILE",
    description: "kubeconfig provider: a kubeconfig file to add to the pool (repeatable)",
  },
  "pool-edition": {
    type: "string",
    choices: ["oss", "enterprise"],
    env: "EGRESSLAB_POOL_EDITION",
    arg: "EDITION",
    description:
      "kubeconfig provider: the Calico edition of pool clusters whose kubeconfig does not say (default: oss)",
  },
  "calico-manifests": {
    type: "string",
    env: "EGRESSLAB_CALICO_MANIFESTS",
    arg: "DIR",
    description:
      "kind provider: a local directory holding the pinned Calico manifests, instead of downloading them",
  },
  "enterprise-license": {
    type: "string",
    env: "EGRESSLAB_ENTERPRISE_LICENSE",
    arg: "FILE",
    description:
      "kind provider: a Calico Enterprise licence; installs Calico Enterprise instead of Calico Open Source",
  },
  "enterprise-pull-secret": {
    type: "string",
    env: "EGRESSLAB_ENTERPRISE_PULL_SECRET",
    arg: "FILE",
    description: "kind provider: the .dockerconfigjson from Tigera for pulling Calico Enterprise images",
  },
} as const satisfies OptionSpecs;

export interface ProviderSettings {
  provider?: ProviderName;
  kubeconfigDir?: string;
  poolKubeconfigs?: string[];
  poolEdition?: CalicoEdition;
  calicoManifests?: string;
  enterpriseLicense?: string;
  enterprisePullSecret?: string;
}

/** The settings from options parsed with `providerOptionSpecs` (spread into a command's own table). */
export function providerSettings(o: ParsedOptions<typeof providerOptionSpecs>): ProviderSettings {
  const s: ProviderSettings = {};
  if (o.provider) s.provider = o.provider as ProviderName;
  if (o["kubeconfig-dir"]) s.kubeconfigDir = o["kubeconfig-dir"];
  if (o["pool-kubeconfig"]?.length) s.poolKubeconfigs = o["pool-kubeconfig"];
  if (o["pool-edition"]) s.poolEdition = o["pool-edition"] as CalicoEdition;
  if (o["calico-manifests"]) s.calicoManifests = o["calico-manifests"];
  if (o["enterprise-license"]) s.enterpriseLicense = o["enterprise-license"];
  if (o["enterprise-pull-secret"]) s.enterprisePullSecret = o["enterprise-pull-secret"];
  return s;
}

export interface ProviderChoice {
  name: ProviderName;
  /** Why, in one sentence for the log. */
  reason: string;
}

/** The decision itself, pure: requested, then configured, then detected, then the default. */
export function chooseProvider(
  settings: ProviderSettings,
  detected: { docker: boolean; kind: boolean },
): ProviderChoice {
  if (settings.provider)
    return { name: settings.provider, reason: `using the ${settings.provider} provider, as requested` };
  if (settings.kubeconfigDir || settings.poolKubeconfigs?.length) {
    return { name: "kubeconfig", reason: "using the kubeconfig provider: a kubeconfig pool was given" };
  }
  if (detected.docker && detected.kind) {
    return {
      name: "sim",
      reason:
        "docker and kind are installed, but the default is the simulated cluster: pass --provider kind (or set EGRESSLAB_PROVIDER=kind) to give each attendee a real kind cluster",
    };
  }
  return {
    name: "sim",
    reason:
      "using the simulated cluster (no --provider or EGRESSLAB_PROVIDER given; no Docker and kind needed)",
  };
}

/** Checks the settings fit the chosen provider; lists every problem at once. */
export function checkSettings(name: ProviderName, s: ProviderSettings): Problem[] {
  const problems: Problem[] = [];
  const file = (flag: string, value: string | undefined): void => {
    if (value && !existsSync(value))
      problems.push({ where: `--${flag}`, message: `${value} does not exist` });
  };
  if (name === "kubeconfig" && !s.kubeconfigDir && !s.poolKubeconfigs?.length) {
    problems.push({
      where: "--provider kubeconfig",
      message: "needs --kubeconfig-dir DIR or --pool-kubeconfig FILE (one cluster per kubeconfig)",
    });
  }
  if (name === "kind") {
    if (!!s.enterpriseLicense !== !!s.enterprisePullSecret) {
      problems.push({
        where: "--enterprise-license",
        message: "Calico Enterprise on kind needs both --enterprise-license and --enterprise-pull-secret",
      });
    }
    file("enterprise-license", s.enterpriseLicense);
    file("enterprise-pull-secret", s.enterprisePullSecret);
    file("calico-manifests", s.calicoManifests);
  }
  return problems;
}

export interface CreateProviderOptions extends ProviderSettings {
  /** Where providers keep their state: the simulator's under `sim/`, kind's under `kind/`, the pool's leases. */
  dataDir: string;
  /** The shared database (`postgres://…`) of several replicas: the kubeconfig pool's leases are kept there. */
  database?: string;
  /** This replica's name (default the host name and process id). */
  replica?: string;
  logger?: Logger;
  /** The command runner for kind (default: execa with the server's environment). */
  cmder?: Cmder;
  /** sim: a running host to use instead of starting one. */
  simHost?: SimHostApi;
  /** sim: where the host this provider starts listens. */
  simHostOptions?: Omit<SimHostOptions, "dataDir" | "logger">;
  /** kind: workloads for a profile on a real cluster (see KindProviderOptions). */
  profileManifests?: (profile: string) => Promise<string | undefined>;
  /** sim: several replicas share `dataDir`, each serving the clusters it holds the lease of (see `SimHostOptions`). */
  shared?: boolean;
}

/**
 * Chooses, checks and builds the provider; logs the choice once. For kind, also checks docker, kind and kubectl now,
 * so a server started without them fails at once with what to install.
 */
export async function createProvider(opts: CreateProviderOptions): Promise<ListingProvider> {
  const logger = opts.logger ?? noopLogger;
  const cmder = opts.cmder ?? createCmder({ logger: logger.child({ component: "cmd" }) });
  const detected = opts.provider
    ? { docker: false, kind: false }
    : { docker: !!cmder.which("docker"), kind: !!cmder.which("kind") };
  const choice = chooseProvider(opts, detected);
  const problems = checkSettings(choice.name, opts);
  if (problems.length) throw new ValidationError(problems);
  logger.info(choice.reason, { provider: choice.name });

  switch (choice.name) {
    case "kind": {
      const { createKindProvider } = await import("./kind/provider.ts");
      const kind = await createKindProvider({
        cmder,
        dataDir: opts.dataDir,
        logger,
        ...(opts.calicoManifests ? { mirrorDir: path.resolve(opts.calicoManifests) } : {}),
        ...(opts.enterpriseLicense && opts.enterprisePullSecret
          ? {
              enterprise: {
                licenseFile: path.resolve(opts.enterpriseLicense),
                pullSecretFile: path.resolve(opts.enterprisePullSecret),
              },
            }
          : {}),
        ...(opts.profileManifests ? { profileManifests: opts.profileManifests } : {}),
      });
      // Fail at start, not when the first attendee joins.
      await kind.preflight();
      return kind;
    }
    case "kubeconfig": {
      const { createKubeconfigProvider } = await import("./kubeconfig/provider.ts");
      return createKubeconfigProvider({
        dataDir: opts.dataDir,
        logger,
        ...(opts.database ? { database: opts.database } : {}),
        ...(opts.replica ? { replica: opts.replica } : {}),
        ...(opts.kubeconfigDir ? { dir: opts.kubeconfigDir } : {}),
        ...(opts.poolKubeconfigs ? { files: opts.poolKubeconfigs } : {}),
        ...(opts.poolEdition ? { edition: opts.poolEdition } : {}),
      });
    }
    case "sim": {
      const { createSimProvider } = await import("./sim/provider.ts");
      const dataDir = path.join(opts.dataDir, "sim");
      return createSimProvider({
        logger,
        dataDir,
        ...(opts.shared ? { shared: true } : {}),
        ...(opts.simHost
          ? { host: opts.simHost }
          : { hostOptions: { ...opts.simHostOptions, dataDir, logger } }),
      });
    }
  }
}
