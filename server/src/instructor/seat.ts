/**
 * Help from the seat: what the instructor sees of one attendee besides the board — their last check results, their
 * cluster's recent denied flows (read from Calico Whisker, as grading reads them), their policies, and which of their
 * objects were created or changed since the stage they are on started (from each object's creation time and its
 * managed fields' times; a deletion leaves nothing to read, so it is not listed).
 */
import type { ClusterClient, ClusterObject } from "../grading/cluster.ts";
import { recordOfWhiskerFlow, whiskerFlowsPath } from "../grading/whisker-flows.ts";
import type { AttendeeDetail, DeniedFlow, ObjectChange, PolicyRow } from "./wire.ts";

export type { AttendeeDetail, DeniedFlow, ObjectChange, PolicyRow } from "./wire.ts";

/** The policy kinds the seat view lists, in the order Calico evaluates tiers of them. */
export const policyKinds: readonly { apiVersion: string; kind: string }[] = [
  { apiVersion: "projectcalico.org/v3", kind: "GlobalNetworkPolicy" },
  { apiVersion: "projectcalico.org/v3", kind: "NetworkPolicy" },
  { apiVersion: "projectcalico.org/v3", kind: "StagedGlobalNetworkPolicy" },
  { apiVersion: "projectcalico.org/v3", kind: "StagedNetworkPolicy" },
  { apiVersion: "networking.k8s.io/v1", kind: "NetworkPolicy" },
];

/** What an attendee changes in the labs: policies, sets, tiers, gateways, workloads, namespaces. */
export const changeKinds: readonly { apiVersion: string; kind: string }[] = [
  ...policyKinds,
  { apiVersion: "projectcalico.org/v3", kind: "StagedKubernetesNetworkPolicy" },
  { apiVersion: "projectcalico.org/v3", kind: "Tier" },
  { apiVersion: "projectcalico.org/v3", kind: "NetworkSet" },
  { apiVersion: "projectcalico.org/v3", kind: "GlobalNetworkSet" },
  { apiVersion: "projectcalico.org/v3", kind: "EgressGatewayPolicy" },
  { apiVersion: "operator.tigera.io/v1", kind: "EgressGateway" },
  { apiVersion: "apps/v1", kind: "Deployment" },
  { apiVersion: "v1", kind: "Namespace" },
  { apiVersion: "v1", kind: "ConfigMap" },
];

const MAX_ROWS = 200;
const message = (err: unknown): string => (err instanceof Error ? err.message : String(err)).split("\n")[0]!;
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null;
const str = (v: unknown): string | undefined => (typeof v === "string" && v ? v : undefined);

/** Denied flows of the last `seconds`, newest first. */
export async function deniedFlows(client: ClusterClient, seconds = 900): Promise<DeniedFlow[]> {
  const r = await client.whisker(whiskerFlowsPath({ action: "deny" }, seconds));
  if (r.status !== 200) throw new Error(`Whisker answered ${r.status}`);
  const body = JSON.parse(r.body) as unknown;
  const items = isObj(body) && Array.isArray(body.items) ? body.items : [];
  const out: DeniedFlow[] = [];
  for (const w of items) {
    if (!isObj(w)) continue;
    const f = recordOfWhiskerFlow(w);
    if (f.action !== "deny") continue;
    const enforced = (f.policies as { enforced_policies: string[] }).enforced_policies;
    const pending = (f.policies as { pending_policies: string[] }).pending_policies;
    const end = Number(f.end_time);
    out.push({
      at: Number.isFinite(end) ? new Date(end * 1000).toISOString() : "",
      source: `${String(f.source_namespace)}/${String(f.source_name)}`,
      dest:
        (f.dest_domains as string[])[0] ??
        (f.dest_namespace && f.dest_namespace !== "-"
          ? `${String(f.dest_namespace)}/${String(f.dest_name)}`
          : String(f.dest_name)),
      port: Number(f.dest_port),
      proto: String(f.proto),
      ...(enforced.length ? { policy: enforced.find((t) => t.includes("|deny|")) ?? enforced.at(-1)! } : {}),
      ...(pending.length ? { pending: pending.at(-1)! } : {}),
    });
  }
  return out.sort((a, b) => b.at.localeCompare(a.at)).slice(0, MAX_ROWS);
}

const rulesOf = (spec: Record<string, unknown>): number =>
  (Array.isArray(spec.ingress) ? spec.ingress.length : 0) +
  (Array.isArray(spec.egress) ? spec.egress.length : 0);

/** The cluster's policies: Calico's by tier name then order, then Kubernetes ones. */
export async function policies(client: ClusterClient): Promise<PolicyRow[]> {
  const lists = await Promise.all(policyKinds.map((k) => client.list(k.apiVersion, k.kind)));
  const rows: PolicyRow[] = lists.flat().map((o) => {
    const spec = isObj(o.spec) ? o.spec : {};
    const calico = o.apiVersion.startsWith("projectcalico.org");
    const sel = calico
      ? str(spec.selector)
      : isObj(spec.podSelector)
        ? JSON.stringify(spec.podSelector.matchLabels ?? {})
        : undefined;
    return {
      kind: calico ? o.kind : `Kubernetes ${o.kind}`,
      ...(o.metadata.namespace ? { namespace: o.metadata.namespace } : {}),
      name: o.metadata.name,
      ...(calico ? { tier: str(spec.tier) ?? "default" } : {}),
      ...(typeof spec.order === "number" ? { order: spec.order } : {}),
      rules: rulesOf(spec),
      ...(sel ? { selector: sel } : {}),
    };
  });
  return rows
    .sort(
      (a, b) =>
        Number(a.tier === undefined) - Number(b.tier === undefined) ||
        (a.tier ?? "").localeCompare(b.tier ?? "") ||
        (a.order ?? Infinity) - (b.order ?? Infinity) ||
        a.name.localeCompare(b.name),
    )
    .slice(0, MAX_ROWS);
}

/** When an object was created and last written by each manager (ms). */
function times(o: ClusterObject): { created: number; writes: { manager: string; at: number }[] } {
  const created = Date.parse(str(o.metadata.creationTimestamp) ?? "");
  const mf = Array.isArray(o.metadata.managedFields) ? o.metadata.managedFields : [];
  const writes = mf.filter(isObj).map((m) => ({
    manager: str(m.manager) ?? "unknown",
    at: Date.parse(str(m.time) ?? ""),
  }));
  return { created, writes: writes.filter((w) => Number.isFinite(w.at)) };
}

/** Objects created or changed at or after `since` (ms), newest first. Objects the stage's setup made count too. */
export async function changesSince(client: ClusterClient, since: number): Promise<ObjectChange[]> {
  const lists = await Promise.all(changeKinds.map((k) => client.list(k.apiVersion, k.kind).catch(() => [])));
  const out: ObjectChange[] = [];
  for (const o of lists.flat()) {
    const t = times(o);
    const later = t.writes.filter((w) => w.at >= since);
    const created = Number.isFinite(t.created) && t.created >= since;
    if (!created && !later.length) continue;
    const at = Math.max(created ? t.created : 0, ...later.map((w) => w.at));
    out.push({
      kind: o.kind,
      ...(o.metadata.namespace ? { namespace: o.metadata.namespace } : {}),
      name: o.metadata.name,
      change: created ? "created" : "changed",
      at: new Date(at).toISOString(),
      by: [...new Set(later.map((w) => w.manager))].sort(),
    });
  }
  return out.sort((a, b) => b.at.localeCompare(a.at)).slice(0, MAX_ROWS);
}

/** Everything the seat view shows of an attendee's cluster; a part that cannot be read says why, the rest is shown. */
export async function clusterDetail(
  client: ClusterClient,
  stageStartedAt: number | undefined,
): Promise<Omit<AttendeeDetail, "checks">> {
  const [flows, pol, changes] = await Promise.allSettled([
    deniedFlows(client),
    policies(client),
    stageStartedAt === undefined ? Promise.resolve([]) : changesSince(client, stageStartedAt),
  ]);
  return {
    flows:
      flows.status === "fulfilled" ? { denied: flows.value } : { denied: [], error: message(flows.reason) },
    policies: pol.status === "fulfilled" ? { items: pol.value } : { items: [], error: message(pol.reason) },
    changes: {
      ...(stageStartedAt !== undefined ? { since: new Date(stageStartedAt).toISOString() } : {}),
      ...(changes.status === "fulfilled"
        ? { items: changes.value }
        : { items: [], error: message(changes.reason) }),
    },
  };
}
