/**
 * The stage lifecycle against a cluster connection: setup → (the learner works) → grade → solve → reset.
 */
import type { ClusterConnection } from "../providers/provider.ts";
import type { LabParams, StageResult } from "../labs/api.ts";
import { renderStage } from "../labs/model/stage.ts";
import type { Lab, Manifest, RenderedStage, SetupCommand } from "../labs/model/types.ts";
import { EgresslabError } from "../shared/errors.ts";
import { noopLogger, type Logger } from "../shared/logger.ts";
import { mergedKinds, refOf, type ClusterClient, type ClusterObject } from "./cluster.ts";
import { createKubeClient } from "./kube-client.ts";
import { deleteProbePods } from "./probe-keeper.ts";
import { choosePod, rootCauseFirst, runChecks } from "./run-check.ts";
import { rotateDomain, type RotateOptions, type RotationResult } from "./rotation.ts";

export interface StageOptions {
  /** The client to use instead of one made from the connection's kubeconfig. */
  client?: ClusterClient;
  logger?: Logger;
  /** How long setup waits for the stage's workloads to be ready (default 120 s). */
  readyTimeoutMs?: number;
  /** How long a probe's connection may take before it counts as denied (default: 0.5 s on the simulator, else 1 s). */
  connectTimeoutMs?: number;
}

const clients = new Map<string, ClusterClient>();

/** The simulator answers instantly, so a dropped connection is certain after half a second of its clock. */
export const simConnectTimeoutMs = 500;

/** The client for a connection (cached per kubeconfig). */
export function clientFor(conn: ClusterConnection, opts?: StageOptions): ClusterClient {
  if (opts?.client) return opts.client;
  let c = clients.get(conn.kubeconfig);
  if (!c) {
    if (clients.size > 256) clients.clear();
    c = createKubeClient(conn.kubeconfig);
    clients.set(conn.kubeconfig, c);
  }
  return c;
}

const firstKinds = ["Namespace", "ServiceAccount", "Tier", "IPPool", "FelixConfiguration", "ConfigMap"];

/** Manifests in the order they can be created: namespaces and cluster setup first, the rest as written. */
export function applyOrder(manifests: readonly Manifest[]): Manifest[] {
  const rank = (m: Manifest): number => {
    const i = firstKinds.indexOf(m.object.kind);
    return i < 0 ? firstKinds.length : i;
  };
  return manifests
    .map((m, i) => ({ m, i }))
    .sort((a, b) => rank(a.m) - rank(b.m) || a.i - b.i)
    .map((x) => x.m);
}

/** Applies manifests in order; an error names the file and line of the object. */
export async function applyManifests(client: ClusterClient, manifests: readonly Manifest[]): Promise<void> {
  for (const m of applyOrder(manifests)) {
    try {
      await client.apply(m.object as ClusterObject);
    } catch (err) {
      if (err instanceof EgresslabError)
        throw new EgresslabError(err.code, `${m.file}:${m.line}: ${err.message}`, { cause: err });
      throw err;
    }
  }
}

/** Deletes the objects manifests name, in reverse order; absent objects are fine. */
export async function deleteManifests(client: ClusterClient, manifests: readonly Manifest[]): Promise<void> {
  for (const m of [...applyOrder(manifests)].reverse()) await client.delete(refOf(m.object as ClusterObject));
}

async function runCommands(
  client: ClusterClient,
  commands: readonly SetupCommand[],
  log: Logger,
): Promise<void> {
  for (const c of commands) {
    if (c.kind === "wait") await new Promise((r) => setTimeout(r, c.seconds * 1000));
    else if (c.kind === "rotate") await rotateDomain(client, c.domain);
    else if (c.kind === "post") {
      const r = await client.request("POST", c.path, c.body);
      if (r.status >= 400)
        throw new EgresslabError(
          "unavailable",
          `setup: POST ${c.path} answered ${r.status}: ${r.body.slice(0, 200)}`,
        );
    } else {
      const pod = await choosePod(client, c.from);
      if (typeof pod === "string") {
        if (c.ignoreFailure) log.warn("setup exec skipped", { reason: pod });
        else throw new EgresslabError("unavailable", `setup: ${pod}`);
        continue;
      }
      const r = await client.exec(c.from.namespace, pod.name, pod.container, c.command, 30_000);
      if (r.code !== 0 && !c.ignoreFailure)
        throw new EgresslabError(
          "unavailable",
          `setup: ${c.command.join(" ")} exited ${r.code}: ${r.stderr.slice(0, 200)}`,
        );
    }
  }
}

/** Waits until every Deployment the manifests create has its replicas ready. */
export async function waitReady(
  client: ClusterClient,
  manifests: readonly Manifest[],
  timeoutMs: number,
): Promise<void> {
  const deployments = manifests.filter((m) => m.object.kind === "Deployment");
  const deadline = Date.now() + timeoutMs;
  for (const d of deployments) {
    for (;;) {
      const o = await client.get(refOf(d.object as ClusterObject));
      const want = Number((o?.spec as { replicas?: number } | undefined)?.replicas ?? 1);
      const ready = Number((o?.status as { readyReplicas?: number } | undefined)?.readyReplicas ?? 0);
      if (o && ready >= want) break;
      if (Date.now() > deadline)
        throw new EgresslabError(
          "unavailable",
          `setup: Deployment ${d.object.metadata.namespace}/${d.object.metadata.name} has ${ready}/${want} ready replicas after ${Math.round(timeoutMs / 1000)}s`,
        );
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

function render(lab: Lab, stageIndex: number, params: LabParams): RenderedStage {
  return renderStage(lab, stageIndex, params);
}

/** Applies the stage's setup objects, runs its setup commands and waits for its workloads. */
export async function setupStage(
  conn: ClusterConnection,
  lab: Lab,
  stageIndex: number,
  params: LabParams,
  opts?: StageOptions,
): Promise<void> {
  const stage = render(lab, stageIndex, params);
  await setupRendered(
    clientFor(conn, opts),
    stage,
    (opts?.logger ?? noopLogger).child({ lab: lab.id }),
    opts?.readyTimeoutMs,
  );
}

/** Sets up an already-rendered stage: objects, readiness, then commands. */
export async function setupRendered(
  client: ClusterClient,
  stage: RenderedStage,
  log: Logger,
  readyTimeoutMs = 120_000,
): Promise<void> {
  await applyManifests(client, stage.setup);
  await waitReady(client, stage.setup, readyTimeoutMs);
  await runCommands(client, stage.commands, log);
  log.debug("stage set up", {
    stage: stage.id,
    objects: stage.setup.length,
    commands: stage.commands.length,
  });
}

/** Runs every check of the stage (in parallel) and reports each result. */
export async function gradeStage(
  conn: ClusterConnection,
  lab: Lab,
  stageIndex: number,
  params: LabParams,
  answers: Record<string, string>,
  opts?: StageOptions,
): Promise<StageResult> {
  const client = clientFor(conn, opts);
  const stage = render(lab, stageIndex, params);
  const checks = await runChecks(client, stage.checks, answers, {
    connectTimeoutMs: opts?.connectTimeoutMs ?? (conn.provider === "sim" ? simConnectTimeoutMs : 1000),
  });
  return {
    stageIndex,
    passed: checks.every((c) => c.passed),
    checks: rootCauseFirst(checks, stage.checks),
    at: new Date().toISOString(),
  };
}

/**
 * Takes what grading left in the cluster out of it (the probe pods kept warm for the next check, probe-keeper.ts): the
 * session is over and the cluster outlives it (a kubeconfig pool's goes back to the pool).
 */
export async function endGrading(conn: ClusterConnection, opts?: StageOptions): Promise<void> {
  await deleteProbePods(clientFor(conn, opts));
}

/** Makes the lab's internet rotate `domain` in the connection's cluster (a guide's `rotate` action). */
export function rotateOn(
  conn: ClusterConnection,
  domain: string,
  opts?: StageOptions & { rotate?: RotateOptions },
): Promise<RotationResult> {
  return rotateDomain(clientFor(conn, opts), domain, opts?.rotate);
}

/** Applies the stage's reference solution. */
export async function solveStage(
  conn: ClusterConnection,
  lab: Lab,
  stageIndex: number,
  params: LabParams,
  opts?: StageOptions,
): Promise<void> {
  const client = clientFor(conn, opts);
  const stage = render(lab, stageIndex, params);
  await applyManifests(client, stage.solution);
  await waitReady(client, stage.solution, opts?.readyTimeoutMs ?? 120_000);
}

/**
 * Brings a cluster to the start of stage `stageIndex` for a learner who skips ahead: every earlier stage is set up and
 * solved in order, then this stage is set up.
 */
export async function startAtStage(
  conn: ClusterConnection,
  lab: Lab,
  stageIndex: number,
  params: LabParams,
  opts?: StageOptions,
): Promise<void> {
  for (let i = 0; i < stageIndex; i++) {
    await setupStage(conn, lab, i, params, opts);
    await solveStage(conn, lab, i, params, opts);
  }
  await setupStage(conn, lab, stageIndex, params, opts);
}

/**
 * Undoes the stage, then sets it up again. Objects the stage's `cleanup/`, solution and wrong solutions create are
 * deleted, except those any stage's setup so far owns; shared objects that labs merge into (Namespaces,
 * FelixConfiguration) are never deleted: the annotations and settings the stage adds are removed instead.
 */
export async function resetStage(
  conn: ClusterConnection,
  lab: Lab,
  stageIndex: number,
  params: LabParams,
  opts?: StageOptions,
): Promise<void> {
  const client = clientFor(conn, opts);
  const stage = render(lab, stageIndex, params);
  const owned = new Set<string>();
  for (let i = 0; i <= stageIndex; i++) for (const m of render(lab, i, params).setup) owned.add(key(m));
  const undo = dedupe([...stage.cleanup, ...stage.solution, ...stage.wrong.flatMap((w) => w.manifests)]);
  const shared = undo.filter((m) => mergedKinds.has(m.object.kind));
  await deleteManifests(
    client,
    undo.filter((m) => !owned.has(key(m)) && !mergedKinds.has(m.object.kind)),
  );
  for (const m of shared) {
    const ref = refOf(m.object as ClusterObject);
    if (await client.get(ref)) await client.apply(unmergePatch(m.object as ClusterObject));
  }
  await setupStage(conn, lab, stageIndex, params, opts);
}

/** A merge patch that removes what `obj` would add: its annotations and its top-level spec fields. */
export function unmergePatch(obj: ClusterObject): ClusterObject {
  const nulls = (o: unknown): Record<string, null> | undefined =>
    o && typeof o === "object" ? Object.fromEntries(Object.keys(o).map((k) => [k, null])) : undefined;
  const annotations = nulls(obj.metadata.annotations);
  const spec = nulls(obj.spec);
  return {
    apiVersion: obj.apiVersion,
    kind: obj.kind,
    metadata: {
      name: obj.metadata.name,
      ...(obj.metadata.namespace ? { namespace: obj.metadata.namespace } : {}),
      ...(annotations ? { annotations } : {}),
    },
    ...(spec ? { spec } : {}),
  } as ClusterObject;
}

function key(m: Manifest): string {
  const o = m.object;
  return `${o.apiVersion}/${o.kind}/${o.metadata.namespace ?? ""}/${o.metadata.name}`;
}

function dedupe(ms: Manifest[]): Manifest[] {
  const seen = new Set<string>();
  return ms.filter((m) => (seen.has(key(m)) ? false : (seen.add(key(m)), true)));
}
