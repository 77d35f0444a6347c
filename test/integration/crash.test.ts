/**
 * Acknowledged means durable: `egresslab sim` serving two clusters is killed with SIGKILL at seeded random moments
 * during a stream of creates, patches and deletes (and deployment scales, whose pods the controllers make); after
 * each restart every acknowledged change is there, every unacknowledged one is either wholly there or wholly absent,
 * and each deployment has exactly the pods its replicas ask for.
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { call, killHard, readTarget, startSim, type SimChild, type Target } from "../helpers/sim-child.ts";
import { mulberry32 } from "../../server/src/shared/mulberry32.ts";

const dir = mkdtempSync(path.join(os.tmpdir(), "egresslab-crash-"));
let running: SimChild | undefined;
afterAll(async () => {
  if (running) await killHard(running);
  rmSync(dir, { recursive: true, force: true });
});

/** What an object should be: absent (`null`) or a ConfigMap value / a deployment's replicas. */
type State = null | number;

interface Slot {
  cluster: "alice" | "bob";
  kind: "cm" | "deploy";
  name: string;
  acked: State;
  /** The state an unanswered request would leave (set while it is in flight). */
  inflight?: State;
}

const NS = "crash";
const cmPath = (name?: string) => `/api/v1/namespaces/${NS}/configmaps${name ? `/${name}` : ""}`;
const dPath = (name?: string) => `/apis/apps/v1/namespaces/${NS}/deployments${name ? `/${name}` : ""}`;
const deployment = (name: string, replicas: number) => ({
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: { name },
  spec: {
    replicas,
    selector: { matchLabels: { app: name } },
    template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: "c", image: "nginx" }] } },
  },
});

/** Reads the state of every slot; throws on a half-applied object. */
async function observe(t: Target, slots: Slot[]): Promise<Map<string, State>> {
  const out = new Map<string, State>();
  const cms = JSON.parse((await call(t, "GET", cmPath())).body) as {
    items: { metadata: { name: string }; data?: Record<string, string> }[];
  };
  for (const c of cms.items) {
    if (!c.metadata.name.startsWith("cm-")) continue;
    // Both keys are written by every request: a half-applied write shows different values.
    expect(c.data?.a, `configmap ${c.metadata.name} is half-applied: ${JSON.stringify(c.data)}`).toBe(
      c.data?.b,
    );
    out.set(c.metadata.name, Number(c.data?.a));
  }
  const ds = JSON.parse((await call(t, "GET", dPath())).body) as {
    items: { metadata: { name: string }; spec: { replicas: number } }[];
  };
  const pods = JSON.parse((await call(t, "GET", `/api/v1/namespaces/${NS}/pods`)).body) as {
    items: { metadata: { labels?: Record<string, string>; deletionTimestamp?: string } }[];
  };
  for (const d of ds.items) {
    out.set(d.metadata.name, d.spec.replicas);
    const mine = pods.items.filter(
      (p) => p.metadata.labels?.app === d.metadata.name && !p.metadata.deletionTimestamp,
    );
    expect(mine.length, `pods of deployment ${d.metadata.name}`).toBe(d.spec.replicas);
  }
  for (const s of slots) if (!out.has(s.name)) out.set(s.name, null);
  return out;
}

/** Sends one change for the slot; resolves true when the API acknowledged it. */
async function step(t: Target, s: Slot, next: State): Promise<void> {
  let r;
  if (s.kind === "cm") {
    const data = { a: String(next), b: String(next) };
    if (next === null) r = await call(t, "DELETE", cmPath(s.name));
    else if (s.acked === null)
      r = await call(t, "POST", cmPath(), {
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: s.name },
        data,
      });
    else r = await call(t, "PATCH", cmPath(s.name), { data }, "application/merge-patch+json");
  } else if (next === null) r = await call(t, "DELETE", dPath(s.name));
  else if (s.acked === null) r = await call(t, "POST", dPath(), deployment(s.name, next));
  else
    r = await call(t, "PATCH", dPath(s.name), { spec: { replicas: next } }, "application/merge-patch+json");
  if (r.status >= 200 && r.status < 300) return;
  throw new Error(`${s.name}: unexpected ${r.status} ${r.body}`);
}

describe("a kill -9 during a stream of writes", () => {
  it("loses no acknowledged change and leaves nothing half-applied", { timeout: 240_000 }, async () => {
    const data = path.join(dir, "data");
    mkdirSync(path.join(dir, "home"), { recursive: true });
    const kube = (id: string) => path.join(dir, `${id}.kubeconfig`);
    // Two clusters on one host: the first run makes alice, the second brings her back and makes bob.
    running = await startSim(dir, ["--data", data, "--id", "alice", "--kubeconfig", kube("alice")]);
    await killHard(running);
    running = await startSim(dir, ["--data", data, "--id", "bob", "--kubeconfig", kube("bob")]);
    const targets = { alice: readTarget(kube("alice")), bob: readTarget(kube("bob")) };
    for (const t of Object.values(targets)) {
      const r = await call(t, "POST", "/api/v1/namespaces", {
        apiVersion: "v1",
        kind: "Namespace",
        metadata: { name: NS },
      });
      expect(r.status).toBe(201);
    }
    const slots: Slot[] = [];
    for (const cluster of ["alice", "bob"] as const) {
      for (let i = 0; i < 12; i++) slots.push({ cluster, kind: "cm", name: `cm-${i}`, acked: null });
      for (let i = 0; i < 2; i++) slots.push({ cluster, kind: "deploy", name: `web-${i}`, acked: null });
    }
    const seed = 20261205;
    const random = mulberry32(seed);
    let value = 0;
    let acknowledged = 0;
    const kills = 4;
    for (let round = 0; round < kills; round++) {
      let stop = false;
      // Four writers, each owning its own slots, so every slot has at most one request in flight.
      const writers = [0, 1, 2, 3].map(async (w) => {
        const mine = slots.filter((_, i) => i % 4 === w);
        while (!stop) {
          const s = mine[Math.floor(random() * mine.length)]!;
          const next: State =
            s.acked !== null && random() < 0.25 ? null : s.kind === "cm" ? ++value : Math.floor(random() * 4);
          s.inflight = next;
          try {
            await step(targets[s.cluster], s, next);
          } catch (err) {
            if (stop) return; // killed mid-request: the slot keeps its in-flight state for the check
            throw err;
          }
          s.acked = next;
          delete s.inflight;
          acknowledged++;
        }
      });
      const failed = Promise.all(writers).then(() => undefined);
      await Promise.race([new Promise((r) => setTimeout(r, 300 + random() * 1500)), failed]);
      stop = true;
      await killHard(running);
      running = undefined;
      await failed;
      running = await startSim(dir, ["--data", data, "--id", "bob", "--kubeconfig", kube("bob")]);
      for (const cluster of ["alice", "bob"] as const) {
        const seen = await observe(
          targets[cluster],
          slots.filter((s) => s.cluster === cluster),
        );
        for (const s of slots.filter((x) => x.cluster === cluster)) {
          const actual = seen.get(s.name) ?? null;
          const allowed = [s.acked, ...(s.inflight !== undefined ? [s.inflight] : [])];
          expect(allowed, `seed ${seed} round ${round}: ${cluster}/${s.name}`).toContainEqual(actual);
          // The server's state is the truth from here on.
          s.acked = actual;
          delete s.inflight;
        }
      }
    }
    expect(acknowledged).toBeGreaterThan(40);
    await killHard(running);
    running = undefined;
  });
});
