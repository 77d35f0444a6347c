/**
 * Checks that the tools the kind provider drives are present and working, and turns their failures into errors in
 * the instructor's terms.
 */
import { CommandError, type Cmder } from "../cmd.ts";
import { ConflictError, EgresslabError } from "../../shared/errors.ts";
import { compareVersions } from "./settings.ts";

const installKind = "install it from https://kind.sigs.k8s.io/docs/user/quick-start/#installation";

/** Verifies docker (with a running engine), kind (recent enough) and kubectl; throws the first thing missing. */
export async function checkKindTools(
  cmder: Cmder,
  minKindVersion: string,
  signal?: AbortSignal,
): Promise<{ kindVersion: string }> {
  if (!cmder.which("docker")) {
    throw new EgresslabError(
      "unavailable",
      "kind needs a Docker engine: `docker` was not found on PATH. Install Docker Engine or Docker Desktop, or use the simulated cluster (--provider sim).",
    );
  }
  try {
    await cmder.run("docker", ["info", "--format", "{{.ServerVersion}}"], { signal, timeoutMs: 30_000 });
  } catch (err) {
    throw dockerError(err);
  }
  if (!cmder.which("kind")) {
    throw new EgresslabError("unavailable", kindMissing(minKindVersion));
  }
  const out = await cmder.run("kind", ["version"], { signal, timeoutMs: 30_000 });
  const version = /v\d+\.\d+\.\d+/.exec(out.stdout)?.[0];
  if (!version)
    throw new EgresslabError(
      "unavailable",
      `could not read the kind version from \`kind version\`: ${out.stdout.trim()}`,
    );
  if (compareVersions(version, minKindVersion) < 0) {
    throw new EgresslabError(
      "unavailable",
      `kind ${version} is too old: egresslab needs ${minKindVersion} or newer (Kubernetes 1.32 nodes for Calico 3.32); ${installKind}.`,
    );
  }
  if (!cmder.which("kubectl")) {
    throw new EgresslabError(
      "unavailable",
      "the kind provider needs `kubectl` on PATH to install Calico: see https://kubernetes.io/docs/tasks/tools/",
    );
  }
  return { kindVersion: version };
}

/** The message for a missing `kind` command. */
export function kindMissing(minKindVersion: string): string {
  return `the kind provider needs the \`kind\` command, which is not on PATH: ${installKind} (${minKindVersion} or newer).`;
}

/** Maps a failed docker command to what to do about it. */
export function dockerError(err: unknown): EgresslabError {
  if (!(err instanceof CommandError))
    return err instanceof EgresslabError ? err : new EgresslabError("internal", String(err), { cause: err });
  const text = err.stderr + err.stdout;
  if (/Cannot connect to the Docker daemon|Is the docker daemon running/i.test(text)) {
    return new EgresslabError(
      "unavailable",
      `kind needs a Docker engine: the Docker daemon is not running (${firstLine(text)}). Start it (e.g. \`sudo systemctl start docker\`) and try again.`,
      { cause: err },
    );
  }
  if (/permission denied/i.test(text)) {
    return new EgresslabError(
      "unavailable",
      `kind needs a Docker engine: permission denied on the Docker socket (${firstLine(text)}). Add this user to the docker group and log in again.`,
      { cause: err },
    );
  }
  return new EgresslabError(
    "unavailable",
    `kind needs a Docker engine: \`docker info\` failed: ${firstLine(text) || err.message}`,
    { cause: err },
  );
}

/** Maps a failed `kind create cluster` to an error naming the cause and the way out. */
export function kindCreateError(err: unknown, name: string): EgresslabError {
  if (!(err instanceof CommandError))
    return err instanceof EgresslabError ? err : new EgresslabError("internal", String(err), { cause: err });
  const text = err.stderr + "\n" + err.stdout;
  if (err.failure === "timeout")
    return new EgresslabError("unavailable", `kind did not finish creating cluster "${name}" in time`, {
      cause: err,
    });
  if (err.failure === "cancelled")
    return new EgresslabError("unavailable", `creating kind cluster "${name}" was cancelled`, { cause: err });
  if (/node\(s\) already exist for a cluster with the name/.test(text)) {
    const e = new ConflictError(
      `a kind cluster named "${name}" already exists: delete it with \`kind delete cluster --name ${name}\` first`,
    );
    return Object.assign(e, { cause: err });
  }
  if (/Cannot connect to the Docker daemon/.test(text)) return dockerError(err);
  if (/port is already allocated|address already in use/.test(text)) {
    return new EgresslabError(
      "unavailable",
      `kind could not create cluster "${name}": a port it needs is already in use (${errorLine(text)})`,
      { cause: err },
    );
  }
  if (/failed to pull image|error pulling image|pull access denied|manifest unknown/i.test(text)) {
    return new EgresslabError(
      "unavailable",
      `kind could not pull the node image for "${name}": check network access and the node image in clusters/kind/calico.yaml (${errorLine(text)})`,
      { cause: err },
    );
  }
  return new EgresslabError(
    "unavailable",
    `kind could not create cluster "${name}": ${errorLine(text) || err.message}`,
    { cause: err },
  );
}

/** The most telling line of kind's output: the last `ERROR:` line, else the last non-empty one. */
export function errorLine(text: string): string {
  const lines = text
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean);
  return lines.filter((l) => l.startsWith("ERROR:")).at(-1) ?? lines.at(-1) ?? "";
}

function firstLine(text: string): string {
  return (
    text
      .split("\n")
      .map((l) => l.trim())
      .find(Boolean) ?? ""
  );
}
