/**
 * The kind provider's data: `clusters/kind/kind-config.yaml` (the cluster shape) and `clusters/kind/calico.yaml`
 * (pinned Calico versions and manifests). Parsing is pure; `loadKindSettings` reads the files.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import { z } from "zod";
import { ValidationError, type Problem } from "../../shared/errors.ts";

/** `clusters/kind/` in this repository. */
export const defaultKindDataDir = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  "..",
  "..",
  "..",
  "..",
  "clusters",
  "kind",
);

const edition = z.object({
  version: z.string().regex(/^v\d+\.\d+\.\d+$/, "must look like v3.32.1"),
  operatorVersion: z.string(),
  manifestsUrl: z.string().min(1),
  manifests: z.array(z.string().min(1)).min(1),
  /** Files of this directory applied with `kubectl apply -f` after the manifests (Goldmane and Whisker on OSS). */
  apply: z.array(z.string().min(1)).default([]),
  components: z.array(z.string().min(1)).min(1),
  storageClass: z.string().optional(),
  pullSecretAfter: z.string().optional(),
});

const calicoFile = z.object({
  kind: z.object({
    minVersion: z.string().regex(/^v\d+\.\d+\.\d+$/),
    nodeImage: z.string().default(""),
    /** The images of the lab's hermetic internet (`internet-docker.ts`). */
    internetImages: z
      .object({ web: z.string().min(1), dns: z.string().min(1) })
      .default({ web: "nginx:1.27-alpine", dns: "coredns/coredns:1.12.1" }),
  }),
  oss: edition,
  enterprise: edition.optional(),
  timeouts: z.object({
    createSeconds: z.number().positive(),
    readySeconds: z.number().positive(),
    pollSeconds: z.number().positive(),
  }),
});

export type CalicoInstall = z.infer<typeof edition>;
export type CalicoSettings = z.infer<typeof calicoFile>;

export interface KindSettings {
  /** The directory the files came from (manifests named there, such as the storage class, are read from it). */
  dir: string;
  /** The kind cluster configuration, as parsed YAML. */
  clusterConfig: Record<string, unknown>;
  calico: CalicoSettings;
}

/** Parses `calico.yaml`; throws a ValidationError naming the file and every bad field. */
export function parseCalicoSettings(text: string, where: string): CalicoSettings {
  let raw: unknown;
  try {
    raw = parse(text);
  } catch (err) {
    throw new ValidationError([{ where, message: `not valid YAML: ${(err as Error).message}` }]);
  }
  const result = calicoFile.safeParse(raw);
  if (!result.success) {
    const problems: Problem[] = result.error.issues.map((i) => ({
      where: `${where}: ${i.path.join(".") || "(top)"}`,
      message: i.message,
    }));
    throw new ValidationError(problems);
  }
  return result.data;
}

/** Checks the kind cluster configuration has what Calico needs: no default CNI and a pod subnet. */
export function parseKindConfig(text: string, where: string): Record<string, unknown> {
  let raw: unknown;
  try {
    raw = parse(text);
  } catch (err) {
    throw new ValidationError([{ where, message: `not valid YAML: ${(err as Error).message}` }]);
  }
  const problems: Problem[] = [];
  if (!raw || typeof raw !== "object" || Array.isArray(raw)) {
    throw new ValidationError([{ where, message: "must be a kind Cluster configuration (a YAML mapping)" }]);
  }
  const cfg = raw as Record<string, unknown>;
  if (cfg.kind !== "Cluster") problems.push({ where, message: 'kind must be "Cluster"' });
  if (cfg.apiVersion !== "kind.x-k8s.io/v1alpha4")
    problems.push({ where, message: 'apiVersion must be "kind.x-k8s.io/v1alpha4"' });
  const net = (cfg.networking ?? {}) as Record<string, unknown>;
  if (net.disableDefaultCNI !== true)
    problems.push({
      where,
      message: "networking.disableDefaultCNI must be true, or kind installs its own CNI instead of Calico",
    });
  if (typeof net.podSubnet !== "string")
    problems.push({ where, message: "networking.podSubnet must be set (Calico's pool: 192.168.0.0/16)" });
  if (!Array.isArray(cfg.nodes) || cfg.nodes.length === 0)
    problems.push({ where, message: "nodes must list at least the control plane" });
  if (problems.length) throw new ValidationError(problems);
  return cfg;
}

/** The kind configuration to write for one cluster: the template, with the pinned node image on every node. */
export function renderKindConfig(
  template: Record<string, unknown>,
  nodeImage: string,
): Record<string, unknown> {
  if (!nodeImage) return template;
  const nodes = (template.nodes as Record<string, unknown>[]).map((n) => ({ ...n, image: nodeImage }));
  return { ...template, nodes };
}

/** Reads `kind-config.yaml` and `calico.yaml` from `dir` (default: the repository's `clusters/kind/`). */
export async function loadKindSettings(dir = defaultKindDataDir): Promise<KindSettings> {
  const read = async (name: string): Promise<[string, string]> => {
    const file = path.join(dir, name);
    try {
      return [await readFile(file, "utf8"), file];
    } catch (err) {
      throw new ValidationError([{ where: file, message: `cannot read: ${(err as Error).message}` }]);
    }
  };
  const [cfgText, cfgFile] = await read("kind-config.yaml");
  const [calicoText, calicoFile] = await read("calico.yaml");
  return {
    dir,
    clusterConfig: parseKindConfig(cfgText, cfgFile),
    calico: parseCalicoSettings(calicoText, calicoFile),
  };
}

/** Where `kubectl create -f` reads a manifest: a local mirror directory when given, else the pinned URL. */
export function manifestLocation(install: CalicoInstall, file: string, mirrorDir?: string): string {
  if (mirrorDir) return path.join(mirrorDir, file);
  return `${install.manifestsUrl.replace(/\/$/, "")}/${file}`;
}

/** Compares `v0.27.0`-style versions; negative when a < b. */
export function compareVersions(a: string, b: string): number {
  const pa = a
    .replace(/^v/, "")
    .split(/[.-]/)
    .map((x) => Number.parseInt(x, 10) || 0);
  const pb = b
    .replace(/^v/, "")
    .split(/[.-]/)
    .map((x) => Number.parseInt(x, 10) || 0);
  for (let i = 0; i < 3; i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}
