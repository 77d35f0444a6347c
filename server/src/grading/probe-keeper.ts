/**
 * How long the grader's probe pods (probe-pod.ts) live. A learner who checks a stage once usually checks again within
 * minutes, and a pod takes seconds to start on a real cluster (and memory on a kind node while it runs): so a probe
 * pod stays for `idleMs` after its last use (default 2 min), then is deleted. Nothing outlives a session:
 * `deleteProbePods` takes every probe pod out of a cluster — found by label, so also those an earlier server process
 * left — before a cluster that outlives its session (a kubeconfig pool's) is returned, and when `validate` is done
 * with a cluster. Clusters that are deleted on release (sim, kind) take their probe pods with them.
 */
import type { ClusterClient } from "./cluster.ts";
import type { ClusterObject } from "./cluster.ts";
import { PROBE_LABEL, ensureProbePod, probePodOf } from "./probe-pod.ts";

/** Milliseconds a probe pod is kept after its last use. */
export const defaultProbeIdleMs = 120_000;
/** How long a deletion waits for the pod to be gone before a new one of that name may be created. */
const GONE_WAIT_MS = 30_000;

interface Kept {
  namespace: string;
  name: string;
  /** Checks using the pod now. */
  uses: number;
  timer?: NodeJS.Timeout;
  /** The deletion under way: resolves once the pod is gone (or the wait gave up). */
  deleting?: Promise<void>;
}

interface Keeper {
  kept: Map<string, Kept>;
  /** The first use's sweep: probe pods already in the cluster get an idle timer too. */
  adopted?: Promise<void>;
}

const keepers = new WeakMap<ClusterClient, Keeper>();

function keeperOf(client: ClusterClient): Keeper {
  let k = keepers.get(client);
  if (!k) keepers.set(client, (k = { kept: new Map() }));
  return k;
}

const listProbePods = (client: ClusterClient): Promise<ClusterObject[]> =>
  client.list("v1", "Pod", { labelSelector: `${PROBE_LABEL}=true` });

/** Deletes the pod and waits until it is gone (a terminating pod of that name would refuse a new one). */
async function deleteAndWait(client: ClusterClient, namespace: string, name: string): Promise<void> {
  const ref = { apiVersion: "v1", kind: "Pod", namespace, name };
  if (!(await client.delete(ref))) return;
  const t0 = Date.now();
  for (let delay = 50; Date.now() - t0 < GONE_WAIT_MS; delay = Math.min(delay * 2, 1000)) {
    if (!(await client.get(ref))) return;
    await new Promise((r) => setTimeout(r, delay));
  }
}

function entry(k: Keeper, namespace: string, name: string): Kept {
  const key = `${namespace}/${name}`;
  let e = k.kept.get(key);
  if (!e) k.kept.set(key, (e = { namespace, name, uses: 0 }));
  return e;
}

function scheduleExpiry(client: ClusterClient, k: Keeper, e: Kept, idleMs: number): void {
  clearTimeout(e.timer);
  e.timer = setTimeout(() => {
    e.timer = undefined;
    if (e.uses > 0 || e.deleting) return;
    e.deleting = deleteAndWait(client, e.namespace, e.name)
      .catch(() => undefined)
      .finally(() => {
        e.deleting = undefined;
        if (e.uses === 0 && !e.timer) k.kept.delete(`${e.namespace}/${e.name}`);
      });
  }, idleMs);
  e.timer.unref();
}

/**
 * Runs `use` with a running probe pod for `source` (its container `container`), started or reused; the pod is deleted
 * once no check has used it for `idleMs`. Resolves with what `use` returned, or the reason there is no probe pod.
 */
export async function withProbePod<T>(
  client: ClusterClient,
  source: ClusterObject,
  container: string,
  use: (pod: { name: string; container: string }) => Promise<T>,
  idleMs = defaultProbeIdleMs,
): Promise<T | { failed: string }> {
  const k = keeperOf(client);
  k.adopted ??= listProbePods(client).then(
    (pods) => {
      for (const p of pods) {
        const e = entry(k, p.metadata.namespace ?? "default", p.metadata.name);
        if (e.uses === 0 && !e.timer) scheduleExpiry(client, k, e, idleMs);
      }
    },
    () => undefined,
  );
  await k.adopted;
  const want = probePodOf(source, container);
  const e = entry(k, want.metadata.namespace ?? "default", want.metadata.name);
  e.uses++;
  clearTimeout(e.timer);
  e.timer = undefined;
  try {
    await e.deleting;
    const pod = await ensureProbePod(client, source, container);
    if (typeof pod === "string") return { failed: pod };
    return await use(pod);
  } finally {
    e.uses--;
    if (e.uses === 0) scheduleExpiry(client, k, e, idleMs);
  }
}

/**
 * Deletes every probe pod in the cluster (the grader is done with it) and forgets their timers; resolves with how many
 * were there. Probe pods that checks still use are deleted too: the session is over.
 */
export async function deleteProbePods(client: ClusterClient): Promise<number> {
  const k = keepers.get(client);
  if (k) for (const e of k.kept.values()) clearTimeout(e.timer);
  const pods = await listProbePods(client);
  await Promise.all(
    pods.map((p) => deleteAndWait(client, p.metadata.namespace ?? "default", p.metadata.name)),
  );
  if (k) {
    for (const e of k.kept.values()) if (e.uses === 0) k.kept.delete(`${e.namespace}/${e.name}`);
    k.adopted = undefined;
  }
  return pods.length;
}
