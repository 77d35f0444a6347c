/**
 * A copied cluster is, for the lab, the cluster it was copied from: the egress workshop's first stage set up once and
 * copied holds the same objects (field by field, apart from identity) and the same flow log as the stage set up on a
 * cluster of its own, grades the same, and is reached with its own credentials only.
 */
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSimProvider, type SimProvider } from "../../server/src/providers/sim/provider.ts";
import type { ClusterConnection } from "../../server/src/providers/provider.ts";
import { createSimCluster } from "../../server/src/sim/cluster.ts";
import { VirtualClock } from "../../server/src/shared/clock.ts";
import { loadLab, type Lab } from "../../server/src/labs/index.ts";
import * as grading from "../../server/src/grading/index.ts";
import { labRunner, type LabRunner } from "../../server/src/sessions/lab-runner.ts";
import type { KubeObject } from "../../server/src/store/types.ts";
import type { SimHost } from "../../server/src/sim/host.ts";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
let provider: SimProvider;
let lab: LabRunner;
let model: Lab;
// One clock that does not move: clusters built at different moments get the same timestamps.
const clock = new VirtualClock(Date.UTC(2026, 0, 1, 9));

beforeAll(async () => {
  model = await loadLab(path.join(root, "labs", "egress-workshop"));
  lab = labRunner(model, grading);
  provider = await createSimProvider({
    hostOptions: {
      port: 0,
      clusterFactory: (spec) =>
        createSimCluster({
          id: spec.id,
          ...(spec.profile !== undefined ? { profile: spec.profile } : {}),
          ...(spec.image ? { image: spec.image } : {}),
          logger: spec.logger,
          clock,
        }),
    },
  });
});
afterAll(async () => {
  await provider?.close();
});

const host = (): SimHost => provider.simHost as SimHost;

/** Objects keyed `resource/namespace/name`; uids replaced by the key of the object carrying them. */
function normalised(id: string): Map<string, KubeObject> {
  const c = host().getCluster(id)!;
  const store = c.store as unknown as { keys(): string[]; list(k: string): KubeObject[] };
  const objects = store.keys().flatMap((k) => store.list(k).map((o) => [k, o] as const));
  const names = new Map<string, string>();
  for (const [k, o] of objects)
    if (o.metadata.uid)
      names.set(o.metadata.uid, `uid-of:${k}/${o.metadata.namespace ?? ""}/${o.metadata.name}`);
  const swap = (v: unknown): unknown =>
    typeof v === "string"
      ? (names.get(v) ?? v)
      : Array.isArray(v)
        ? v.map(swap)
        : v && typeof v === "object"
          ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, swap(x)]))
          : v;
  const out = new Map<string, KubeObject>();
  for (const [k, o] of objects) {
    const n = swap(o) as KubeObject;
    delete n.metadata.uid;
    delete n.metadata.creationTimestamp;
    out.set(`${k}/${o.metadata.namespace ?? ""}/${o.metadata.name}`, n);
  }
  return out;
}

const flows = (id: string): unknown =>
  host()
    .getCluster(id)!
    .dataplane.queryFlows(new URLSearchParams({ limit: "1000" }));

async function built(id: string, seed: number): Promise<ClusterConnection> {
  const conn = await provider.acquire({ id, profile: lab.profile, edition: lab.edition });
  await lab.setup(conn, 0, lab.params(seed));
  return conn;
}

describe("a copy of the egress workshop's stage-0 cluster", () => {
  it("is the cluster the stage's setup builds, field by field, flows and grades included", async () => {
    const seed = 11;
    const fresh = await built("fresh", seed);
    const tpl = await built("template", seed);
    await provider.templates!.save(tpl.id, "stage-0");
    expect(host().getCluster("template")).toBeUndefined();
    const copy = await provider.templates!.acquire("stage-0", { id: "copy" });
    const other = await provider.templates!.acquire("stage-0", { id: "other" });

    const want = normalised("fresh");
    const got = normalised("copy");
    expect(want.size).toBeGreaterThan(100);
    expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
    for (const [key, o] of want) expect(got.get(key), key).toEqual(o);
    expect(flows("copy")).toEqual(flows("fresh"));
    expect((flows("copy") as { items: unknown[] }).items.length).toBeGreaterThan(5);

    // Its own identity: uids and credentials.
    const uids = (id: string) =>
      new Set(
        (host().getCluster(id)!.store as unknown as { keys(): string[]; list(k: string): KubeObject[] })
          .keys()
          .flatMap((k) =>
            host()
              .getCluster(id)!
              .store.list(k)
              .map((o) => o.metadata.uid),
          ),
      );
    const mine = uids("copy");
    expect([...uids("other")].filter((u) => mine.has(u))).toEqual([]);
    expect(copy.kubeconfig).not.toBe(other.kubeconfig);
    const token = (kc: string) => /token: (\S+)/.exec(kc)?.[1];
    expect(token(copy.kubeconfig)).toBeTruthy();
    expect(token(copy.kubeconfig)).not.toBe(token(other.kubeconfig));

    // The lab sees the same cluster: the same checks pass and fail with the same evidence.
    const params = lab.params(seed);
    const strip = (r: Awaited<ReturnType<LabRunner["grade"]>>) =>
      r.checks.map((c) => ({ id: c.id, passed: c.passed, seen: c.seen }));
    const answers = { external: "shop/catalog", suspect: params.compromised!, c2: params.c2Domain! };
    const a = await lab.grade(fresh, 0, params, answers);
    const b = await lab.grade(copy, 0, params, answers);
    expect(strip(b)).toEqual(strip(a));
    const passed = Object.fromEntries(b.checks.map((c) => [c.id, c.passed]));
    expect(passed).toMatchObject({ "external-inventory": false, suspect: true });

    // Independent: the learner's work in one copy is not in the other.
    await grading.createKubeClient(copy.kubeconfig).apply({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "mine", namespace: "shop" },
      data: { a: "b" },
    });
    expect(normalised("copy").has("core/configmaps/shop/mine")).toBe(true);
    expect(normalised("other")).toEqual(want);
  });

  it(
    "passes the whole lab: every stage's setup, known-wrong solutions and reference solution behave as on a built cluster",
    { timeout: 240_000 },
    async () => {
      // The real clock: probes of denied destinations wait for their timeouts.
      const real = await createSimProvider({ hostOptions: { port: 0 } });
      try {
        const seed = 12;
        const tpl = await real.acquire({ id: "template-v", profile: lab.profile, edition: lab.edition });
        await lab.setup(tpl, 0, lab.params(seed));
        await real.templates!.save(tpl.id, "stage-0-v");
        const copy = await real.templates!.acquire("stage-0-v", { id: "validated" });
        const report = await grading.validateLab(
          grading.createKubeClient(copy.kubeconfig),
          model,
          lab.params(seed),
        );
        expect(report.stages.flatMap((s) => s.problems)).toEqual([]);
        expect(report.passed).toBe(true);
        expect(report.stages).toHaveLength(5);
      } finally {
        await real.close();
      }
    },
  );
});
