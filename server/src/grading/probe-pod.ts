/**
 * The grader's probe pods. A probe must meet the same policy as the workload it speaks for, yet its traffic must never
 * pass for that workload's own: flows carry no process, only the source pod, so a probe run inside the workload's pod
 * would be indistinguishable in Calico Whisker from the workload's traffic (and in stage 4 would point at innocent
 * workloads). So a probe runs in a pod of its own beside the workload: the same namespace, labels (without the
 * controllers' hash labels, so no ReplicaSet adopts it), service account, egress-gateway annotations, DNS settings,
 * security contexts and image, plus the label `egresslab.io/probe=true` and a name starting `egresslab-probe-`, both of which Whisker
 * reports (`source_labels`, `source_name`). A readiness gate nobody sets keeps it out of the Services that select the
 * workload. The page's flow view, the `flows` helper and the checks leave these flows out (see labs/README.md).
 */
import { createHash } from "node:crypto";
import type { ClusterClient, ClusterObject } from "./cluster.ts";

export const PROBE_LABEL = "egresslab.io/probe";
/** The workload a probe pod speaks for (`<namespace>.<name>`-free: the pod's base name). */
export const PROBE_FOR_LABEL = "egresslab.io/probe-for";
export const PROBE_NAME_PREFIX = "egresslab-probe-";
/** The readiness gate that keeps a probe pod out of Service endpoints. */
export const PROBE_READINESS_GATE = "egresslab.io/probe-only";

/** Labels the controllers set on the pods they own; a copy must not carry them (it would be adopted or counted). */
const CONTROLLER_LABELS = new Set([
  "pod-template-hash",
  "controller-revision-hash",
  "pod-template-generation",
  "statefulset.kubernetes.io/pod-name",
  "apps.kubernetes.io/pod-index",
  "batch.kubernetes.io/controller-uid",
  "controller-uid",
  "batch.kubernetes.io/job-name",
  "job-name",
]);

type Rec = Record<string, unknown>;
const rec = (v: unknown): Rec => (v && typeof v === "object" && !Array.isArray(v) ? (v as Rec) : {});
const strings = (v: unknown): Record<string, string> =>
  Object.fromEntries(Object.entries(rec(v)).filter((e): e is [string, string] => typeof e[1] === "string"));

/**
 * Whether a flow (Whisker's JSON or the flow log's fields) was made by a probe pod: its source carries the probe label
 * or the probe name prefix.
 */
export function isProbeFlow(flow: Rec): boolean {
  const labels = flow.source_labels;
  const list = Array.isArray(labels)
    ? labels.map(String)
    : typeof labels === "string"
      ? labels.split(" | ")
      : [];
  if (list.includes(`${PROBE_LABEL}=true`)) return true;
  const name = flow.source_name;
  return typeof name === "string" && name.startsWith(PROBE_NAME_PREFIX);
}

/** The workload's base name: a controller's pod name without its generated suffix, or the pod's own name. */
export function workloadBase(pod: ClusterObject): string {
  const gen = typeof pod.metadata.generateName === "string" ? pod.metadata.generateName : "";
  const hash = strings(rec(pod.metadata).labels)["pod-template-hash"];
  let base = gen ? gen.replace(/-$/, "") : pod.metadata.name;
  if (hash && base.endsWith(`-${hash}`)) base = base.slice(0, -hash.length - 1);
  return base;
}

/** The probe pod that speaks for `source` (a running pod) with its container `container`. */
export function probePodOf(source: ClusterObject, container: string): ClusterObject {
  const meta = rec(source.metadata);
  const spec = rec(source.spec);
  const labels = Object.fromEntries(
    Object.entries(strings(meta.labels)).filter(([k]) => !CONTROLLER_LABELS.has(k) && k !== PROBE_LABEL),
  );
  const annotations = Object.fromEntries(
    Object.entries(strings(meta.annotations)).filter(([k]) => k.startsWith("egress.projectcalico.org/")),
  );
  const c = (Array.isArray(spec.containers) ? spec.containers : [])
    .map(rec)
    .find((x) => x.name === container);
  const image = typeof c?.image === "string" ? c.image : "";
  const carried: Rec = {};
  for (const k of [
    "serviceAccountName",
    "dnsPolicy",
    "dnsConfig",
    "hostNetwork",
    "nodeSelector",
    "tolerations",
    "securityContext",
    "imagePullSecrets",
  ])
    if (spec[k] !== undefined) carried[k] = spec[k];
  const base = workloadBase(source);
  const fingerprint = createHash("sha256")
    .update(JSON.stringify([labels, annotations, image, container, carried, c?.securityContext]))
    .digest("hex")
    .slice(0, 8);
  const name = `${PROBE_NAME_PREFIX}${base.slice(0, 63 - PROBE_NAME_PREFIX.length - 9)}-${fingerprint}`;
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name,
      namespace: source.metadata.namespace ?? "default",
      labels: { ...labels, [PROBE_LABEL]: "true", [PROBE_FOR_LABEL]: base.slice(0, 63) },
      ...(Object.keys(annotations).length ? { annotations } : {}),
    },
    spec: {
      ...carried,
      automountServiceAccountToken: false,
      terminationGracePeriodSeconds: 0,
      readinessGates: [{ conditionType: PROBE_READINESS_GATE }],
      // The container's security context too, so a namespace's Pod Security admission takes the probe as it took
      // the workload.
      containers: [
        {
          name: container,
          image,
          command: ["sleep", "infinity"],
          ...(c?.securityContext !== undefined ? { securityContext: c.securityContext } : {}),
        },
      ],
    },
  };
}

const phaseOf = (p: ClusterObject | undefined): string => String(rec(p?.status).phase ?? "");

/**
 * A running probe pod for `source`: the one already there when it still matches the workload, else a new one (older
 * probe pods of the same workload are deleted). Resolves with its name, or a reason in the learner's terms.
 */
export function ensureProbePod(
  client: ClusterClient,
  source: ClusterObject,
  container: string,
  timeoutMs = 90_000,
): Promise<{ name: string; container: string } | string> {
  // Checks of one stage probe in parallel, often from the same workload: one start per probe pod at a time.
  const want = probePodOf(source, container);
  const key = `${want.metadata.namespace}/${want.metadata.name}`;
  let starting = inFlight.get(client);
  if (!starting) inFlight.set(client, (starting = new Map()));
  const running = starting.get(key);
  if (running) return running;
  const started = startProbePod(client, want, container, timeoutMs).finally(() => starting.delete(key));
  starting.set(key, started);
  return started;
}

const inFlight = new WeakMap<
  ClusterClient,
  Map<string, Promise<{ name: string; container: string } | string>>
>();

async function startProbePod(
  client: ClusterClient,
  want: ClusterObject,
  container: string,
  timeoutMs: number,
): Promise<{ name: string; container: string } | string> {
  const ns = want.metadata.namespace!;
  const base = String(rec(rec(want.metadata).labels)[PROBE_FOR_LABEL]);
  const existing = await client.list("v1", "Pod", {
    namespace: ns,
    labelSelector: `${PROBE_LABEL}=true,${PROBE_FOR_LABEL}=${base}`,
  });
  for (const p of existing)
    if (p.metadata.name !== want.metadata.name)
      await client.delete({ apiVersion: "v1", kind: "Pod", namespace: ns, name: p.metadata.name });
  let pod = existing.find((p) => p.metadata.name === want.metadata.name && !p.metadata.deletionTimestamp);
  if (!pod) {
    try {
      await client.apply(want);
    } catch (err) {
      return `the grader could not start its probe pod ${ns}/${want.metadata.name} (${err instanceof Error ? err.message.split("\n")[0] : String(err)})`;
    }
  }
  const t0 = Date.now();
  for (let delay = 50; ; delay = Math.min(delay * 2, 1000)) {
    if (phaseOf(pod) === "Running") return { name: want.metadata.name, container };
    if (Date.now() - t0 > timeoutMs) break;
    await new Promise((r) => setTimeout(r, delay));
    pod = await client.get({ apiVersion: "v1", kind: "Pod", namespace: ns, name: want.metadata.name });
    if (["Failed", "Succeeded"].includes(phaseOf(pod))) {
      await client.delete({ apiVersion: "v1", kind: "Pod", namespace: ns, name: want.metadata.name });
      return `the grader's probe pod ${ns}/${want.metadata.name} stopped (${phaseOf(pod)})`;
    }
  }
  return `the grader's probe pod ${ns}/${want.metadata.name} did not start within ${Math.round(timeoutMs / 1000)} s`;
}
