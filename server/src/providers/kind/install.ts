/**
 * Installs Calico into a fresh kind cluster with the tigera-operator and waits until it is ready, reporting each
 * step. Everything goes through `kubectl --kubeconfig <file>`, so the same steps run against fake executables in tests.
 */
import path from "node:path";
import type { Cmder } from "../cmd.ts";
import { CommandError } from "../cmd.ts";
import { EgresslabError } from "../../shared/errors.ts";
import type { Clock } from "../../shared/clock.ts";
import { manifestLocation, type CalicoInstall } from "./settings.ts";

export interface EnterpriseFiles {
  /** Calico Enterprise licence (a LicenseKey manifest from Tigera). */
  licenseFile: string;
  /** A `.dockerconfigjson` with credentials for quay.io/tigera. */
  pullSecretFile: string;
}

export interface InstallOptions {
  cmder: Cmder;
  kubeconfig: string;
  install: CalicoInstall;
  /** Where files named in the settings (the storage class) live. */
  dataDir: string;
  /** A local directory holding the manifests under the same names, instead of downloading them. */
  mirrorDir?: string;
  enterprise?: EnterpriseFiles;
  onProgress: (step: string) => void;
  signal?: AbortSignal;
}

/** Runs the operator install: manifests in order (plus, for Enterprise, storage class, pull secret and licence). */
export async function installCalico(o: InstallOptions): Promise<void> {
  const kubectl = (args: string[], what: string): Promise<unknown> =>
    o.cmder
      .run("kubectl", ["--kubeconfig", o.kubeconfig, ...args], { signal: o.signal, timeoutMs: 5 * 60_000 })
      .catch((err: unknown) => {
        throw installError(err, what);
      });
  const edition = o.enterprise ? "Calico Enterprise" : "Calico";
  if (o.enterprise && o.install.storageClass) {
    o.onProgress(`creating StorageClass for ${edition} log storage`);
    await kubectl(["create", "-f", path.join(o.dataDir, o.install.storageClass)], o.install.storageClass);
  }
  for (const file of o.install.manifests) {
    o.onProgress(`installing ${edition} ${o.install.version}: kubectl create -f ${file}`);
    await kubectl(["create", "-f", manifestLocation(o.install, file, o.mirrorDir)], file);
    if (o.enterprise && file === o.install.pullSecretAfter) {
      o.onProgress("creating the Tigera pull secret");
      await kubectl(
        [
          "create",
          "secret",
          "generic",
          "tigera-pull-secret",
          "--type=kubernetes.io/dockerconfigjson",
          "-n",
          "tigera-operator",
          `--from-file=.dockerconfigjson=${o.enterprise.pullSecretFile}`,
        ],
        "the pull secret",
      );
    }
  }
  for (const file of o.install.apply) {
    o.onProgress(`${describeApply(file)}: kubectl apply -f ${file}`);
    // Server-side apply: the objects may exist already (created by custom-resources.yaml), and CRs take no strategic merge.
    await kubectl(
      [
        "apply",
        "--server-side",
        "--force-conflicts",
        "--field-manager=egresslab",
        "-f",
        path.join(o.dataDir, file),
      ],
      file,
    );
  }
  if (o.enterprise) {
    o.onProgress("applying the Calico Enterprise licence");
    await kubectl(["create", "-f", o.enterprise.licenseFile], "the licence");
  }
}

/** What applying one of the settings' extra files does, for progress displays. */
function describeApply(file: string): string {
  return file === "observability.yaml" ? "enabling Goldmane and Whisker (flow logs)" : `applying ${file}`;
}

function installError(err: unknown, what: string): EgresslabError {
  if (err instanceof CommandError) {
    const line = err.stderr.trim().split("\n").filter(Boolean).at(-1) ?? err.message;
    return new EgresslabError("unavailable", `installing Calico failed at ${what}: ${line}`, { cause: err });
  }
  return err instanceof EgresslabError ? err : new EgresslabError("internal", String(err), { cause: err });
}

export interface WaitOptions {
  cmder: Cmder;
  kubeconfig: string;
  /** tigerastatus names that must be Available. */
  components: readonly string[];
  clock: Clock;
  /** The longest wait between polls; the first waits are shorter (from a quarter second, doubling). */
  pollMs: number;
  timeoutMs: number;
  onProgress: (step: string) => void;
  signal?: AbortSignal;
}

export interface Readiness {
  nodesReady: number;
  nodesTotal: number;
  available: string[];
  /** Components not yet Available, with the operator's message when it gives one. */
  waiting: { name: string; message?: string }[];
  /** The last line of the last failed `kubectl get`, if one failed on this look. */
  kubectlError?: string;
}

/** Polls nodes and tigerastatus until every node is Ready and every component Available; reports each change. */
export async function waitForCalico(o: WaitOptions): Promise<Readiness> {
  const deadline = o.clock.now() + o.timeoutMs;
  let last = "";
  let wait = Math.min(250, o.pollMs);
  for (;;) {
    const state = await readReadiness(o);
    const line = describeReadiness(state);
    if (line !== last) o.onProgress(line);
    last = line;
    if (state.nodesTotal > 0 && state.nodesReady === state.nodesTotal && state.waiting.length === 0)
      return state;
    if (o.clock.now() >= deadline) {
      const why = state.waiting.map((w) => `${w.name}${w.message ? ` (${w.message})` : ""}`).join(", ");
      throw new EgresslabError(
        "unavailable",
        `Calico did not become ready within ${Math.round(o.timeoutMs / 1000)}s: ${state.nodesReady}/${state.nodesTotal} nodes Ready` +
          (why ? `; not Available: ${why}` : "") +
          (state.kubectlError ? `; last kubectl error: ${state.kubectlError}` : ""),
      );
    }
    await o.clock.sleep(wait, o.signal);
    wait = Math.min(wait * 2, o.pollMs);
  }
}

/** One line for progress displays. */
export function describeReadiness(s: Readiness): string {
  const nodes = `nodes Ready ${s.nodesReady}/${s.nodesTotal}`;
  const total = s.available.length + s.waiting.length;
  const calico = `Calico components Available ${s.available.length}/${total}`;
  return `waiting: ${nodes}; ${calico}${s.waiting.length ? ` (waiting for ${s.waiting.map((w) => w.name).join(", ")})` : ""}`;
}

async function readReadiness(o: WaitOptions): Promise<Readiness> {
  let kubectlError: string | undefined;
  const get = async (resource: string): Promise<Item[]> => {
    try {
      const r = await o.cmder.run("kubectl", ["--kubeconfig", o.kubeconfig, "get", resource, "-o", "json"], {
        signal: o.signal,
        timeoutMs: 60_000,
      });
      const parsed = JSON.parse(r.stdout) as { items?: Item[] };
      return parsed.items ?? [];
    } catch (err) {
      // Before the operator has created its CRDs (or while the API server starts) there is nothing to read yet.
      if (err instanceof CommandError && (err.failure === "exit" || err.failure === "timeout")) {
        kubectlError = err.stderr.trim().split("\n").filter(Boolean).at(-1) ?? err.message;
        return [];
      }
      if (err instanceof SyntaxError) return [];
      throw err;
    }
  };
  const nodes = await get("nodes");
  const statuses = await get("tigerastatus");
  const byName = new Map(statuses.map((s) => [s.metadata?.name ?? "", s]));
  const available: string[] = [];
  const waiting: Readiness["waiting"] = [];
  for (const name of o.components) {
    const s = byName.get(name);
    if (s && condition(s, "Available")?.status === "True") available.push(name);
    else {
      const degraded = s ? condition(s, "Degraded") : undefined;
      const message =
        degraded?.status === "True"
          ? degraded.message
          : (s && condition(s, "Progressing")?.message) || undefined;
      waiting.push(message ? { name, message } : { name });
    }
  }
  return {
    nodesTotal: nodes.length,
    nodesReady: nodes.filter((n) => condition(n, "Ready")?.status === "True").length,
    available,
    waiting,
    ...(kubectlError ? { kubectlError } : {}),
  };
}

interface Condition {
  type?: string;
  status?: string;
  message?: string;
}
interface Item {
  metadata?: { name?: string };
  status?: { conditions?: Condition[] };
}

function condition(item: Item, type: string): Condition | undefined {
  return item.status?.conditions?.find((c) => c.type === type);
}
