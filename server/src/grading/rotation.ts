/**
 * Makes a provider rotate a domain's addresses in a learner's cluster, the one way the guide's Rotate button and the
 * checks' `before: {rotate: …}` both use, through the cluster's API only:
 * - a cluster with the lab's internet in its CoreDNS (kind, and pool clusters made by `egresslab clusters create`):
 *   the domain's next addresses (`net/rotation.ts`, seeded by the cluster's kube-system namespace) go into a `hosts`
 *   stanza of the lab's block in `kube-system/coredns`, then CoreDNS is restarted as `kubectl rollout restart` does and
 *   the rollout waited for, so the next lookup sees them;
 * - the simulator: its own rotation, `POST /egresslab/v1/internet/rotate` (a simulator extension);
 * - any other cluster has no lab internet to rotate: `NoLabInternetError` says so.
 */
import type { Catalogue, DomainEntry } from "../net/catalogue.ts";
import { defaultCatalogue } from "../net/catalogue-file.ts";
import { readLabBlock, rotateInCorefile } from "../net/corefile-block.ts";
import { addressesAt, rotationCandidates, seedOf } from "../net/rotation.ts";
import { EgresslabError, NotFoundError, ValidationError } from "../shared/errors.ts";
import type { ClusterClient, ClusterObject, ObjectRef } from "./cluster.ts";

export interface RotationResult {
  domain: string;
  previous: string[];
  ips: string[];
}

export interface RotateOptions {
  /** The lab's internet (default `clusters/internet.yaml`). */
  catalogue?: Catalogue;
  /** How long CoreDNS's restart may take (default 3 min, as `kubectl rollout status --timeout=180s`). */
  timeoutMs?: number;
  /** How often the rollout is looked at (default 500 ms). */
  pollMs?: number;
  signal?: AbortSignal;
}

/** The cluster has neither the lab's internet in its CoreDNS nor the simulator's rotation. */
export class NoLabInternetError extends EgresslabError {
  constructor() {
    super(
      "unavailable",
      "this cluster has no lab internet to rotate: kube-system/coredns has no block of the lab's internet, and the " +
        "API server is not the simulator's. Create the cluster with `egresslab clusters create --provider kind`, or " +
        "see docs/real-clusters.md (“The lab's internet”)",
    );
  }
}

const coredns: ObjectRef = { apiVersion: "v1", kind: "ConfigMap", namespace: "kube-system", name: "coredns" };
const deployment: ObjectRef = {
  apiVersion: "apps/v1",
  kind: "Deployment",
  namespace: "kube-system",
  name: "coredns",
};
const simulatorPath = "/egresslab/v1/internet/rotate";

/** The catalogue entry of a domain that can rotate, or a validation error saying why not. */
export function rotatingDomain(catalogue: Catalogue, domain: string): DomainEntry {
  const name = domain.trim().toLowerCase().replace(/\.$/, "");
  const d = catalogue.domains.find((x) => x.name === name);
  if (!d) throw new NotFoundError(`domain "${name}" is not in the lab's internet (${catalogue.file})`);
  if (!d.rotate)
    throw new ValidationError([
      { where: "domain", message: `domain "${name}" has fixed addresses (no rotate.pool in the catalogue)` },
    ]);
  return d;
}

/** Rotates `domain`'s addresses in the cluster behind `client`; resolves with the addresses before and after. */
export async function rotateDomain(
  client: ClusterClient,
  domain: string,
  opts: RotateOptions = {},
): Promise<RotationResult> {
  const catalogue = opts.catalogue ?? defaultCatalogue();
  const d = rotatingDomain(catalogue, domain);
  for (let attempt = 0; ; attempt++) {
    const cm = await client.get(coredns);
    const corefile = (cm?.data as Record<string, unknown> | undefined)?.Corefile;
    const block = typeof corefile === "string" ? readLabBlock(corefile) : undefined;
    if (!cm || typeof corefile !== "string" || !block) return simulatorRotation(client, d);
    const candidates = rotationCandidates(catalogue);
    const ns = await client.get({ apiVersion: "v1", kind: "Namespace", name: "kube-system" });
    const seed = seedOf(String(ns?.metadata.uid ?? "kube-system"));
    const earlier = block.rotations.find((r) => r.domain === d.name);
    const generation = (earlier?.generation ?? 0) + 1;
    const previous = earlier?.ips ?? [...d.ips];
    const ips = addressesAt(d, candidates, seed, generation);
    const patched = rotateInCorefile(
      corefile,
      { domain: d.name, generation, ips },
      (name) => catalogue.domains.find((x) => x.name === name)?.ttl ?? d.ttl,
    );
    try {
      await client.patch(coredns, {
        metadata: { resourceVersion: cm.metadata.resourceVersion },
        data: { Corefile: patched },
      });
    } catch (err) {
      // Someone changed CoreDNS's configuration between the read and the write: read it again.
      if (err instanceof EgresslabError && err.code === "conflict" && attempt < 3) continue;
      throw err;
    }
    await restartCoreDns(client, opts);
    return { domain: d.name, previous, ips };
  }
}

async function simulatorRotation(client: ClusterClient, d: DomainEntry): Promise<RotationResult> {
  const r = await client.request("POST", simulatorPath, { domain: d.name });
  if (r.status === 404) throw new NoLabInternetError();
  if (r.status >= 400)
    throw new EgresslabError(
      "unavailable",
      `the cluster refused the rotation (${r.status}): ${statusMessage(r.body)}`,
    );
  const body = JSON.parse(r.body) as Partial<RotationResult>;
  if (!Array.isArray(body.ips) || !Array.isArray(body.previous))
    throw new EgresslabError("unavailable", `the cluster's rotation answered ${r.body.slice(0, 160)}`);
  return { domain: d.name, previous: body.previous.map(String), ips: body.ips.map(String) };
}

function statusMessage(body: string): string {
  try {
    const m = (JSON.parse(body) as { message?: unknown }).message;
    if (typeof m === "string") return m;
  } catch {
    // not JSON
  }
  return body.slice(0, 160);
}

/**
 * Restarts CoreDNS as `kubectl rollout restart` does (the template's `kubectl.kubernetes.io/restartedAt`), then waits
 * as `kubectl rollout status` does: the new generation observed, every replica updated and available, no old one left.
 */
async function restartCoreDns(client: ClusterClient, opts: RotateOptions): Promise<void> {
  const at = new Date().toISOString().replace(/\.\d+Z$/, "Z");
  await client.patch(deployment, {
    spec: { template: { metadata: { annotations: { "kubectl.kubernetes.io/restartedAt": at } } } },
  });
  const timeoutMs = opts.timeoutMs ?? 180_000;
  const pollMs = opts.pollMs ?? 500;
  const deadline = Date.now() + timeoutMs;
  let why: string;
  for (;;) {
    const dep = await client.get(deployment);
    if (!dep) throw new EgresslabError("unavailable", "kube-system/coredns: the Deployment is gone");
    const done = rolledOut(dep);
    if (done === true) return;
    why = done;
    if (opts.signal?.aborted) throw new EgresslabError("unavailable", "the rotation was cancelled");
    if (Date.now() >= deadline)
      throw new EgresslabError(
        "unavailable",
        `CoreDNS did not restart within ${Math.round(timeoutMs / 1000)} s: ${why} (kubectl -n kube-system rollout status deployment coredns)`,
      );
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

/** True when the Deployment's rollout is complete, else what it waits for (kubectl's DeploymentStatusViewer). */
export function rolledOut(dep: ClusterObject): true | string {
  const generation = Number(dep.metadata.generation ?? 0);
  const st = (dep.status ?? {}) as {
    observedGeneration?: number;
    replicas?: number;
    updatedReplicas?: number;
    availableReplicas?: number;
    conditions?: { type?: string; reason?: string }[];
  };
  const want = Number((dep.spec as { replicas?: number } | undefined)?.replicas ?? 1);
  if (generation > (st.observedGeneration ?? 0)) return "the restart was not observed yet";
  if (st.conditions?.some((c) => c.type === "Progressing" && c.reason === "ProgressDeadlineExceeded"))
    throw new EgresslabError("unavailable", "CoreDNS's rollout exceeded its progress deadline");
  const updated = st.updatedReplicas ?? 0;
  if (updated < want) return `${updated} of ${want} new replicas updated`;
  if ((st.replicas ?? 0) > updated) return `${(st.replicas ?? 0) - updated} old replicas pending termination`;
  if ((st.availableReplicas ?? 0) < updated)
    return `${st.availableReplicas ?? 0} of ${updated} updated replicas available`;
  return true;
}
