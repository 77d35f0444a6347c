/**
 * Checking a kubeconfig file before it joins the pool, and reducing it to what one attendee needs: the current
 * context only, with referenced certificate and token files inlined, so `kubectl` accepts the text anywhere.
 * Pure: files referenced by the kubeconfig are read through `readRef`.
 */
import { parse, stringify } from "yaml";
import type { CalicoEdition } from "../../sim/types.ts";
import type { Problem } from "../../shared/errors.ts";

/** Reads a file referenced by a kubeconfig (a path relative to the kubeconfig's directory, or absolute). */
export type ReadRef = (ref: string) => string | undefined;

export interface PoolKubeconfig {
  /** The pool entry's name: the file name without its extension. */
  name: string;
  file: string;
  /** The self-contained kubeconfig (current context only), as YAML. */
  kubeconfig: string;
  server: string;
  /** From the kubeconfig's `egresslab` extension, else the pool's default. */
  edition: CalicoEdition;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

function named(list: unknown, key: string): Map<string, Obj> {
  const out = new Map<string, Obj>();
  if (!Array.isArray(list)) return out;
  for (const item of list)
    if (isObj(item) && typeof item.name === "string" && isObj(item[key])) out.set(item.name, item[key]);
  return out;
}

const refFields: Record<string, [string, "base64" | "text"]> = {
  "certificate-authority": ["certificate-authority-data", "base64"],
  "client-certificate": ["client-certificate-data", "base64"],
  "client-key": ["client-key-data", "base64"],
  tokenFile: ["token", "text"],
};

/**
 * Validates one kubeconfig and returns its self-contained form, or every problem found (each naming the file).
 */
export function parsePoolKubeconfig(
  text: string,
  file: string,
  name: string,
  defaultEdition: CalicoEdition,
  readRef: ReadRef,
): { ok: true; value: PoolKubeconfig } | { ok: false; problems: Problem[] } {
  const problems: Problem[] = [];
  const fail = (message: string): { ok: false; problems: Problem[] } => ({
    ok: false,
    problems: [...problems, { where: file, message }],
  });
  let raw: unknown;
  try {
    raw = parse(text);
  } catch (err) {
    return fail(`not valid YAML: ${(err as Error).message.split("\n")[0]}`);
  }
  if (!isObj(raw)) return fail("is not a kubeconfig (expected a mapping with clusters, contexts and users)");
  if (raw.kind !== undefined && raw.kind !== "Config")
    problems.push({ where: file, message: `kind must be Config, not ${String(raw.kind)}` });

  const clusters = named(raw.clusters, "cluster");
  const users = named(raw.users, "user");
  const contexts = named(raw.contexts, "context");
  let current =
    typeof raw["current-context"] === "string" && raw["current-context"] ? raw["current-context"] : undefined;
  if (!current) {
    if (contexts.size === 1) current = [...contexts.keys()][0];
    else
      return fail(
        contexts.size === 0
          ? "has no contexts"
          : `has ${contexts.size} contexts and no current-context: set one with \`kubectl config use-context\``,
      );
  }
  const context = contexts.get(current!);
  if (!context) return fail(`current-context "${current}" is not among its contexts`);
  const clusterName = typeof context.cluster === "string" ? context.cluster : "";
  const userName = typeof context.user === "string" ? context.user : "";
  const cluster = clusters.get(clusterName);
  const user = users.get(userName);
  if (!cluster)
    problems.push({
      where: file,
      message: `context "${current}" names cluster "${clusterName}", which is not defined`,
    });
  if (!user)
    problems.push({
      where: file,
      message: `context "${current}" names user "${userName}", which is not defined`,
    });
  if (!cluster || !user) return { ok: false, problems };

  const server = typeof cluster.server === "string" ? cluster.server : "";
  if (!/^https?:\/\/[^\s/]+/.test(server))
    problems.push({
      where: file,
      message: `cluster "${clusterName}" has no valid server URL (got "${server}")`,
    });

  const inline = (section: Obj, what: string): Obj => {
    const out: Obj = { ...section };
    for (const [field, [dataField, encoding]] of Object.entries(refFields)) {
      const ref = section[field];
      if (typeof ref !== "string" || !ref) continue;
      const content = readRef(ref);
      if (content === undefined) {
        problems.push({ where: file, message: `${what} refers to ${field} "${ref}", which cannot be read` });
        continue;
      }
      delete out[field];
      out[dataField] = encoding === "base64" ? Buffer.from(content).toString("base64") : content.trim();
    }
    return out;
  };
  const flatCluster = inline(cluster, `cluster "${clusterName}"`);
  const flatUser = inline(user, `user "${userName}"`);
  const hasCreds = ["token", "client-certificate-data", "exec", "auth-provider", "username"].some(
    (k) => flatUser[k] !== undefined,
  );
  if (!hasCreds)
    problems.push({
      where: file,
      message: `user "${userName}" has no credentials (token, client certificate, exec or auth-provider)`,
    });

  let edition = defaultEdition;
  const ext = named(raw.extensions, "extension").get("egresslab");
  if (ext && ext.calicoEdition !== undefined) {
    if (ext.calicoEdition === "oss" || ext.calicoEdition === "enterprise") edition = ext.calicoEdition;
    else
      problems.push({
        where: file,
        message: `extension egresslab.calicoEdition must be oss or enterprise, not "${String(ext.calicoEdition)}"`,
      });
  }
  if (problems.length) return { ok: false, problems };

  const kubeconfig = stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: clusterName, cluster: flatCluster }],
    users: [{ name: userName, user: flatUser }],
    contexts: [{ name: current, context }],
    "current-context": current,
    preferences: {},
  });
  return { ok: true, value: { name, file, kubeconfig, server, edition } };
}

/** The pool name of a kubeconfig file: its base name without a `.yaml`, `.yml`, `.kubeconfig` or `.conf` extension. */
export function poolEntryName(fileName: string): string {
  return fileName.replace(/\.(ya?ml|kubeconfig|conf)$/i, "");
}

/** Whether a file in a pool directory is meant as a kubeconfig (hidden files and docs are skipped). */
export function looksLikeKubeconfigFile(fileName: string): boolean {
  if (fileName.startsWith(".")) return false;
  return /\.(ya?ml|kubeconfig|conf)$/i.test(fileName) || !fileName.includes(".");
}
