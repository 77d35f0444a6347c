/**
 * The learner's terminal on a real cluster (kind, kubeconfig pool): `kubectl exec -it` into a toolbox pod in the
 * learner's own cluster, never a shell on the server's host. The pod, its ServiceAccount and role come from
 * `clusters/toolbox.yaml`; the lab's files (stage directories, `.bashrc`, the `flows` helper) are copied into the
 * pod's HOME without replacing what the learner changed. The server keeps the cluster's kubeconfig to itself: only
 * the `kubectl exec` that carries the terminal uses it, and the shell inside the pod has the ServiceAccount's rights.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseAllDocuments, stringify } from "yaml";
import { CommandError, type Cmder } from "../providers/cmd.ts";
import { EgresslabError } from "../shared/errors.ts";
import type { HomeSpec } from "./home.ts";
import { bashrc, safeRelative } from "./home.ts";
import { flowsScript } from "./flows-helper.ts";
import type { ShellLaunch } from "./sandbox.ts";

/** `clusters/toolbox.yaml` in this repository. */
export const toolboxManifestFile = fileURLToPath(new URL("../../../clusters/toolbox.yaml", import.meta.url));

export const toolboxNamespace = "egresslab-toolbox";
export const toolboxPod = "toolbox";
/** The learner's HOME inside the toolbox pod. */
export const toolboxHome = "/home/learner";

export interface ToolboxOptions {
  cmder: Cmder;
  /** Multi-document YAML of the toolbox's objects (default: `clusters/toolbox.yaml`). */
  manifests?: string;
  /** Seconds to wait for the pod to be Ready (default 300: a first image pull on kind takes a while). */
  readySeconds?: number;
}

/** The toolbox's objects, split into the RBAC ones (a cluster without the RBAC API has no use for them) and the rest. */
export function splitToolboxManifests(text: string): { rbac: string; rest: string } {
  const rbac: string[] = [];
  const rest: string[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length)
      throw new EgresslabError("invalid", `toolbox manifests: ${doc.errors[0]!.message}`);
    const obj = doc.toJS() as { apiVersion?: unknown } | null;
    if (!obj) continue;
    (String(obj.apiVersion).startsWith("rbac.authorization.k8s.io/") ? rbac : rest).push(stringify(obj));
  }
  return { rbac: rbac.join("---\n"), rest: rest.join("---\n") };
}

const EXEC_BINDING = "egresslab-toolbox-exec";

/**
 * The toolbox's objects for a lab: the exec RoleBindings (and the namespaces they are in) are the lab's
 * `toolbox.execNamespaces`, replacing those clusters/toolbox.yaml names for the egress workshop; without a list the
 * file's own are kept.
 */
export function toolboxManifestsFor(text: string, execNamespaces?: readonly string[]): string {
  if (!execNamespaces?.length) return text;
  const kept: string[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length)
      throw new EgresslabError("invalid", `toolbox manifests: ${doc.errors[0]!.message}`);
    const obj = doc.toJS() as { kind?: unknown; metadata?: { name?: unknown } } | null;
    if (!obj) continue;
    if (obj.kind === "RoleBinding" && obj.metadata?.name === EXEC_BINDING) continue;
    if (obj.kind === "Namespace" && obj.metadata?.name !== toolboxNamespace) continue;
    kept.push(stringify(obj));
  }
  for (const ns of execNamespaces) {
    kept.push(stringify({ apiVersion: "v1", kind: "Namespace", metadata: { name: ns } }));
    kept.push(
      stringify({
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "RoleBinding",
        metadata: { name: EXEC_BINDING, namespace: ns, labels: { "app.kubernetes.io/part-of": "egresslab" } },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: EXEC_BINDING },
        subjects: [{ kind: "ServiceAccount", name: "toolbox", namespace: toolboxNamespace }],
      }),
    );
  }
  return kept.join("---\n");
}

/** Where the terminal's login shell starts: the stage directory named in `~/.egresslab-stage` (see `setStartDir`). */
export const bashProfile = `# egresslab: a login shell in the toolbox reads the learner's rc, then goes to the current stage's directory
[ -r ~/.bashrc ] && . ~/.bashrc
d=$(cat ~/.egresslab-stage 2>/dev/null); [ -n "$d" ] && cd ~/"$d" 2>/dev/null; unset d
`;

/** Quotes `s` for a POSIX shell. */
function shq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * The script (run by `sh -s` in the pod) that writes the learner's files into HOME: stage directories and lab files
 * only where nothing exists yet (the learner's edits stay), `.bashrc` and `bin/flows` always (the server owns them).
 * Contents travel base64-encoded, paths are checked to stay inside HOME and are quoted.
 */
export function homeSyncScript(spec: Pick<HomeSpec, "dirs" | "files">, home = toolboxHome): string {
  const b64 = (s: string): string => Buffer.from(s, "utf8").toString("base64");
  const lines = ["set -e", `cd ${shq(home)}`, "mkdir -p bin"];
  const dirs = new Set<string>();
  for (const d of spec.dirs) dirs.add(safeRelative(d));
  for (const f of spec.files) {
    const dir = path.posix.dirname(safeRelative(f.path));
    if (dir !== ".") dirs.add(dir);
  }
  for (const d of [...dirs].sort()) lines.push(`mkdir -p ${shq(d)}`);
  for (const f of spec.files) {
    const p = shq(safeRelative(f.path));
    lines.push(`[ -e ${p} ] || printf '%s' ${shq(b64(f.content))} | base64 -d > ${p}`);
  }
  for (const [p, content, mode] of [
    [".bashrc", bashrc, "644"],
    [".bash_profile", bashProfile, "644"],
    ["bin/flows", flowsScript, "755"],
  ] as const) {
    lines.push(
      `printf '%s' ${shq(b64(content))} | base64 -d > ${shq(p)}.new && chmod ${mode} ${shq(p)}.new && mv -f ${shq(p)}.new ${shq(p)}`,
    );
  }
  lines.push("echo synced");
  return lines.join("\n") + "\n";
}

export class Toolboxes {
  private readonly manifests: string;

  constructor(private readonly o: ToolboxOptions) {
    this.manifests = o.manifests ?? readFileSync(toolboxManifestFile, "utf8");
  }

  /**
   * Creates the toolbox objects in the cluster of `kubeconfigFile` (server-side apply: unchanged objects stay as they
   * are), waits until the pod is Ready, then copies the lab's files into its HOME (a failed copy is reported through
   * `onProgress` as a warning). Rejects with the step that failed otherwise.
   */
  async prepare(
    kubeconfigFile: string,
    spec: Pick<HomeSpec, "dirs" | "files" | "toolboxExecNamespaces">,
    onProgress: (step: string) => void = () => {},
  ): Promise<void> {
    const kubectl = (args: string[], what: string, input?: string, timeoutMs = 60_000) =>
      this.o.cmder
        .run("kubectl", ["--kubeconfig", kubeconfigFile, ...args], {
          timeoutMs,
          ...(input !== undefined ? { input } : {}),
        })
        .catch((err: unknown) => {
          throw toolboxError(err, what);
        });
    const { rbac, rest } = splitToolboxManifests(
      toolboxManifestsFor(this.manifests, spec.toolboxExecNamespaces),
    );
    // Server-side apply: the same on every run, and Calico's kinds take no strategic merge patch.
    const apply = [
      "apply",
      "--server-side",
      "--force-conflicts",
      "--field-manager=egresslab-toolbox",
      "-f",
      "-",
    ];
    onProgress("creating the toolbox pod (kubectl, curl, jq) in your cluster");
    await kubectl(apply, "creating the toolbox pod", rest);
    // Without the RBAC API the cluster authorizes without roles: there is nothing to bind.
    const versions = await kubectl(["api-versions"], "reading the cluster's API versions");
    if (rbac && versions.stdout.split("\n").includes("rbac.authorization.k8s.io/v1"))
      await kubectl(apply, "granting the toolbox its role", rbac);
    onProgress("waiting for the toolbox pod to be Ready");
    const seconds = this.o.readySeconds ?? 300;
    await kubectl(
      ["wait", "--for=condition=Ready", `pod/${toolboxPod}`, "-n", toolboxNamespace, `--timeout=${seconds}s`],
      "waiting for the toolbox pod",
      undefined,
      (seconds + 30) * 1000,
    );
    onProgress("copying the lab's files into the toolbox");
    // Without its files the terminal still works (the guide shows every file): a failed copy is said, not fatal.
    await kubectl(
      ["exec", "-i", "-n", toolboxNamespace, toolboxPod, "-c", "toolbox", "--", "sh", "-s"],
      "copying the lab's files into the toolbox",
      homeSyncScript(spec),
    ).catch((err: unknown) => onProgress(`warning: ${err instanceof Error ? err.message : String(err)}`));
  }

  /**
   * Records `startDir` (relative to HOME) as where the next terminal starts (its login profile reads it). Best
   * effort: a failure leaves the terminal starting in HOME.
   */
  async setStartDir(kubeconfigFile: string, startDir: string): Promise<void> {
    const dir = startDir ? safeRelative(startDir) : "";
    await this.o.cmder.run(
      "kubectl",
      [
        "--kubeconfig",
        kubeconfigFile,
        "exec",
        "-n",
        toolboxNamespace,
        toolboxPod,
        "-c",
        "toolbox",
        "--",
        "sh",
        "-c",
        `printf '%s\\n' ${shq(dir)} > ~/.egresslab-stage`,
      ],
      { timeoutMs: 20_000 },
    );
  }

  /**
   * The terminal's command: `kubectl exec -it` into the toolbox, an interactive login bash (its profile reads the
   * rc and goes to the stage directory `setStartDir` recorded).
   */
  launch(kubeconfigFile: string, hostPath: string, cacheDir: string): ShellLaunch {
    return {
      file: "kubectl",
      args: [
        "--kubeconfig",
        kubeconfigFile,
        "exec",
        "-it",
        "-n",
        toolboxNamespace,
        toolboxPod,
        "-c",
        "toolbox",
        "--",
        "bash",
        "-il",
      ],
      env: {
        PATH: hostPath,
        HOME: cacheDir,
        KUBECACHEDIR: path.join(cacheDir, "cache"),
        TERM: "xterm-256color",
        LANG: "C.UTF-8",
      },
      cwd: cacheDir,
    };
  }
}

function toolboxError(err: unknown, what: string): EgresslabError {
  if (err instanceof CommandError) {
    const line = err.stderr.trim().split("\n").filter(Boolean).at(-1) ?? err.message;
    return new EgresslabError("unavailable", `${what} failed: ${line}`, { cause: err });
  }
  return err instanceof EgresslabError ? err : new EgresslabError("internal", String(err), { cause: err });
}
