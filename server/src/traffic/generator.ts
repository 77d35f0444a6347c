/**
 * Background traffic: every running pod of a workload that declares `egresslab.io/traffic` makes its requests on the
 * cluster clock, through the same network path as `kubectl exec … curl` (DNS first, then the connection), so the
 * flow log fills as a real cluster's would. Seeded: the same seed gives the same schedule.
 */
import { timestamp } from "../shared/object.ts";
import type { PodNet } from "../net/podnet.ts";
import type { ContainerLogs } from "../sim/runtime/logs.ts";
import { isIp } from "../shared/ipv4.ts";
import { fnv32a } from "../shared/hash.ts";
import type { Clock } from "../shared/clock.ts";
import { ValidationError, formatProblems } from "../shared/errors.ts";
import type { Logger } from "../shared/logger.ts";
import type { KubeObject, ObjectStore } from "../store/types.ts";
import { parseTraffic, TRAFFIC_ANNOTATION, type TrafficItem } from "./spec.ts";

export interface TrafficContext {
  store: ObjectStore;
  clock: Clock;
  seed: number;
  logger: Logger;
  logs: ContainerLogs;
  /** The network as seen from a pod. */
  podNet(pod: KubeObject): PodNet;
}

interface Schedule {
  ns: string;
  pod: string;
  item: TrafficItem;
  index: number;
  next: number;
  n: number;
}

const WORKLOAD_KEYS = ["apps/deployments", "apps/statefulsets", "apps/daemonsets"];

function running(p: KubeObject): boolean {
  const st = (p.status ?? {}) as { phase?: string; podIP?: string };
  return st.phase === "Running" && Boolean(st.podIP) && !p.metadata.deletionTimestamp;
}

function selects(w: KubeObject, pod: KubeObject): boolean {
  const ml = (w.spec as { selector?: { matchLabels?: Record<string, string> } } | undefined)?.selector
    ?.matchLabels;
  if (!ml || Object.keys(ml).length === 0) return false;
  return Object.entries(ml).every(([k, v]) => pod.metadata.labels?.[k] === v);
}

/** Performs one declared request from a pod; returns the line the pod would log. */
export function fire(net: PodNet, item: TrafficItem): string {
  const url = `${item.scheme}://${item.host}${(item.scheme === "https" && item.port === 443) || (item.scheme === "http" && item.port === 80) ? "" : `:${item.port}`}${item.scheme.startsWith("http") ? item.path : ""}`;
  let ip = item.host;
  if (!isIp(item.host)) {
    const r = net.resolve(item.host).result;
    if (r.kind !== "answer") return `${item.method} ${url} error: could not resolve host ${item.host}`;
    ip = r.ips[0]!;
  }
  const c = net.connect({
    dstIp: ip,
    dstPort: item.port,
    protocol: item.protocol,
    domain: isIp(item.host) ? undefined : item.host,
    bytesOut: 200,
  });
  if (c.kind === "dropped") return `${item.method} ${url} error: connection timed out`;
  if (c.kind === "refused") return `${item.method} ${url} error: connection refused`;
  if (c.kind === "unreachable") return `${item.method} ${url} error: no route to host`;
  if (!item.scheme.startsWith("http") || !c.peer.speaksHttp)
    return `${item.protocol.toLowerCase()} ${item.host}:${item.port} connected`;
  const resp = c.peer.http({
    method: item.method,
    scheme: item.scheme as "http" | "https",
    host: item.host,
    port: item.port,
    path: item.path,
    headers: { "user-agent": "egresslab-traffic/1.0" },
    body: "",
  });
  return `${item.method} ${url} ${resp.status}`;
}

/**
 * Parsed annotations by text, shared by every cluster (each copy of a lab's workloads declares the same traffic): valid
 * texts of at most 4 KiB, at most 1,000 of them, frozen.
 */
const parsed = new Map<string, readonly TrafficItem[]>();

function parseCached(text: string, where: string): readonly TrafficItem[] {
  const hit = parsed.get(text);
  if (hit) return hit;
  const items = Object.freeze(parseTraffic(text, where).map((i) => Object.freeze(i)));
  if (text.length > 4096) return items;
  if (parsed.size >= 1000) parsed.clear();
  parsed.set(text, items);
  return items;
}

/** Starts generating; returns the stop function. */
export function startTraffic(ctx: TrafficContext): () => void {
  let stopped = false;
  /** The current sleep's controller: a relevant change or stop() wakes the loop through it. */
  let wake = new AbortController();
  let dirty = true;
  let schedules: Schedule[] = [];
  const reported = new Set<string>();
  const rand = (s: string): number => fnv32a(`${ctx.seed}/${s}`) / 0x100000000;

  const declared = (obj: KubeObject): readonly TrafficItem[] => {
    const text = obj.metadata.annotations?.[TRAFFIC_ANNOTATION];
    if (!text) return [];
    try {
      return parseCached(
        text,
        `${obj.kind}/${obj.metadata.namespace}/${obj.metadata.name}: ${TRAFFIC_ANNOTATION}`,
      );
    } catch (e) {
      const key = `${obj.metadata.namespace}/${obj.metadata.name}/${obj.metadata.resourceVersion ?? ""}`;
      if (!reported.has(key)) {
        reported.add(key);
        ctx.logger.warn("traffic: ignoring invalid annotation", {
          problems: e instanceof ValidationError ? formatProblems(e.problems) : String(e),
        });
      }
      return [];
    }
  };

  const rebuild = (now: number): void => {
    dirty = false;
    const old = new Map(
      schedules.map((s) => [`${s.ns}/${s.pod}/${s.index}/${s.item.host}:${s.item.port}`, s]),
    );
    const next: Schedule[] = [];
    const add = (pod: KubeObject, items: readonly TrafficItem[]): void => {
      items.forEach((item, index) => {
        const ns = pod.metadata.namespace ?? "default";
        const key = `${ns}/${pod.metadata.name}/${index}/${item.host}:${item.port}`;
        const prev = old.get(key);
        if (prev && prev.item.everyMs === item.everyMs) return void next.push({ ...prev, item });
        const first = item.afterMs ?? Math.floor(rand(key) * item.everyMs);
        next.push({ ns, pod: pod.metadata.name, item, index, next: now + first, n: 0 });
      });
    };
    const pods = ctx.store.list("core/pods").filter(running);
    for (const p of pods) add(p, declared(p));
    for (const key of WORKLOAD_KEYS)
      for (const w of ctx.store.list(key)) {
        const items = declared(w);
        if (items.length)
          for (const p of pods)
            if (p.metadata.namespace === w.metadata.namespace && selects(w, p)) add(p, items);
      }
    schedules = next;
  };

  const step = (now: number): void => {
    for (const s of schedules) {
      let guard = 0;
      while (s.next <= now && guard++ < 100) {
        const pod = ctx.store.get("core/pods", s.ns, s.pod);
        if (pod && running(pod)) {
          const line = fire(ctx.podNet(pod), s.item);
          if (s.item.log) ctx.logs.write(s.ns, s.pod, now, `${timestamp(now)} ${line}`);
        }
        s.n++;
        const j = s.item.jitter * (rand(`${s.ns}/${s.pod}/${s.index}/${s.n}`) * 2 - 1);
        s.next += Math.max(1000, Math.round(s.item.everyMs * (1 + j)));
      }
    }
  };

  const unsubscribe = ctx.store.subscribe((c) => {
    if (c.key === "core/pods" || WORKLOAD_KEYS.includes(c.key)) {
      dirty = true;
      wake.abort();
    }
  });

  void (async () => {
    while (!stopped) {
      const now = ctx.clock.now();
      if (dirty) rebuild(now);
      step(now);
      const due = schedules.reduce((m, s) => Math.min(m, s.next), Infinity);
      wake = new AbortController();
      try {
        await ctx.clock.sleep(due === Infinity ? 3_600_000 : Math.max(0, due - ctx.clock.now()), wake.signal);
      } catch {
        // woken by a change or stopped
      }
    }
  })().catch((e: unknown) => ctx.logger.error("traffic: generator failed", { error: String(e) }));

  return () => {
    stopped = true;
    wake.abort();
    unsubscribe();
  };
}
