/**
 * Live flows for the page. One stream per cluster, whatever the number of tabs watching it, read the way Calico's docs
 * read them on any cluster with Whisker (Calico 3.30+): `kubectl port-forward -n calico-system svc/whisker 8081`, then
 * `/whisker-backend/flows` for the current table and `?watch=true` (server-sent events) for what changes — through
 * grading's Whisker client, with the cluster's own kubeconfig. Updates are batched and the table per cluster is bounded.
 */
import { KubeConfig } from "@kubernetes/client-node";
import type { FlowView } from "./protocol.ts";
import { toFlowView } from "./flow-view.ts";
import { WhiskerUnreachable, whiskerGet, whiskerWatch } from "../grading/whisker-client.ts";
import type { Logger } from "../shared/logger.ts";
import { noopLogger } from "../shared/logger.ts";

/** Where flow records come from for one cluster. */
export interface FlowSource {
  /** The current flow records. */
  list(signal: AbortSignal): Promise<unknown[]>;
  /**
   * Streams new or updated records until `signal` aborts; calls `onOpen` once the stream is established. Resolves
   * when the stream ends, rejects on failure.
   */
  watch(onRecord: (record: unknown) => void, signal: AbortSignal, onOpen?: () => void): Promise<void>;
}

/** How far back the page's table starts: Goldmane keeps about an hour of flows by default. */
const LIST_SECONDS = 3600;

/** In the learner's terms: why there is no flow view. */
function unreachable(err: unknown): Error {
  const why = err instanceof Error ? err.message : String(err);
  return err instanceof WhiskerUnreachable
    ? new Error(`Calico Whisker is not reachable (${why}); the flow view needs Calico 3.30+ with Whisker`)
    : new Error(why);
}

/** Calico Whisker's flows on the cluster a kubeconfig reaches, through port-forward to `calico-system/svc/whisker`. */
export function whiskerFlowSource(kubeconfig: string): FlowSource {
  const kc = new KubeConfig();
  kc.loadFromString(kubeconfig);
  return {
    async list(signal) {
      let r: { status: number; body: string };
      try {
        r = await whiskerGet(kc, `/whisker-backend/flows?startTimeGte=-${LIST_SECONDS}`);
      } catch (err) {
        throw unreachable(err);
      }
      if (signal.aborted) return [];
      if (r.status >= 400)
        throw new Error(`Calico Whisker answered HTTP ${r.status}: ${r.body.slice(0, 200)}`);
      const parsed = JSON.parse(r.body) as unknown;
      const items = parsed && typeof parsed === "object" ? (parsed as { items?: unknown }).items : undefined;
      return Array.isArray(items) ? items : [];
    },
    async watch(onRecord, signal, onOpen) {
      try {
        await whiskerWatch(kc, "/whisker-backend/flows?watch=true", onRecord, signal, onOpen);
      } catch (err) {
        throw unreachable(err);
      }
    },
  };
}

/** A page watching a cluster's flows. */
export interface FlowListener {
  /** The whole current table (on subscribing, and again after the stream recovers). */
  snapshot(flows: FlowView[]): void;
  /** Flows that are new or changed since the last call, batched. */
  update(flows: FlowView[]): void;
  /** The stream failed (in the learner's terms); it is retried. */
  error(message: string): void;
}

interface Stream {
  listeners: Set<FlowListener>;
  flows: Map<string, FlowView>;
  pending: Map<string, FlowView>;
  abort: AbortController;
  ready: boolean;
  timer?: NodeJS.Timeout;
}

export interface FlowHubOptions {
  /** Most flows kept (and sent) per cluster. */
  maxFlows?: number;
  /** Milliseconds between batched updates. */
  batchMs?: number;
  /** Milliseconds before a failed stream is retried. */
  retryMs?: number;
  logger?: Logger;
}

/** Shares one flow stream per cluster among every page that watches it. */
export class FlowHub {
  private readonly streams = new Map<string, Stream>();
  private readonly max: number;
  private readonly batchMs: number;
  private readonly retryMs: number;
  private readonly log: Logger;

  constructor(opts: FlowHubOptions = {}) {
    this.max = opts.maxFlows ?? 2000;
    this.batchMs = opts.batchMs ?? 250;
    this.retryMs = opts.retryMs ?? 3000;
    this.log = opts.logger ?? noopLogger;
  }

  /** Starts (or joins) the stream of `clusterId`; returns the function that leaves it. */
  subscribe(clusterId: string, source: () => FlowSource, listener: FlowListener): () => void {
    let s = this.streams.get(clusterId);
    if (!s) {
      s = {
        listeners: new Set(),
        flows: new Map(),
        pending: new Map(),
        abort: new AbortController(),
        ready: false,
      };
      this.streams.set(clusterId, s);
      void this.run(clusterId, s, source);
    }
    s.listeners.add(listener);
    if (s.ready) listener.snapshot(this.rows(s));
    const stream = s;
    return () => {
      stream.listeners.delete(listener);
      if (stream.listeners.size === 0) this.stop(clusterId, stream);
    };
  }

  /** How many cluster streams are open. */
  get size(): number {
    return this.streams.size;
  }

  private stop(clusterId: string, s: Stream): void {
    s.abort.abort();
    if (s.timer) clearTimeout(s.timer);
    if (this.streams.get(clusterId) === s) this.streams.delete(clusterId);
  }

  private rows(s: Stream): FlowView[] {
    return [...s.flows.values()].sort((a, b) => b.lastSeen.localeCompare(a.lastSeen));
  }

  private add(s: Stream, record: unknown): FlowView | undefined {
    const v = toFlowView(record);
    if (!v) return undefined;
    s.flows.delete(v.key);
    s.flows.set(v.key, v);
    if (s.flows.size > this.max) {
      const oldest = s.flows.keys().next().value;
      if (oldest !== undefined) s.flows.delete(oldest);
    }
    return v;
  }

  private queue(s: Stream, rec: unknown): void {
    const v = this.add(s, rec);
    if (!v) return;
    s.pending.set(v.key, v);
    s.timer ??= setTimeout(() => {
      s.timer = undefined;
      const batch = [...s.pending.values()];
      s.pending.clear();
      for (const l of s.listeners) l.update(batch);
    }, this.batchMs);
  }

  private async run(clusterId: string, s: Stream, makeSource: () => FlowSource): Promise<void> {
    const signal = s.abort.signal;
    while (!signal.aborted) {
      const attempt = new AbortController();
      const stopAttempt = (): void => attempt.abort();
      signal.addEventListener("abort", stopAttempt, { once: true });
      try {
        const src = makeSource();
        // Watch first and hold what arrives until the list is in, so nothing between the two is lost.
        let held: unknown[] | undefined = [];
        let opened!: () => void;
        const open = new Promise<void>((resolve) => (opened = resolve));
        const watching = src.watch(
          (rec) => {
            if (held) return void held.push(rec);
            this.queue(s, rec);
          },
          attempt.signal,
          () => opened(),
        );
        watching.catch(() => undefined);
        await Promise.race([open, watching]);
        const listed = await src.list(attempt.signal);
        s.flows.clear();
        for (const r of [...listed, ...held]) this.add(s, r);
        held = undefined;
        s.ready = true;
        const rows = this.rows(s);
        for (const l of s.listeners) l.snapshot(rows);
        await watching;
      } catch (err) {
        if (signal.aborted) return;
        const message = err instanceof Error ? err.message : String(err);
        this.log.warn("flow stream failed; retrying", { cluster: clusterId, error: message });
        for (const l of s.listeners) l.error(`the flow stream failed (${message}); retrying`);
      } finally {
        attempt.abort();
        signal.removeEventListener("abort", stopAttempt);
      }
      if (signal.aborted) return;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, this.retryMs);
        signal.addEventListener("abort", () => (clearTimeout(t), resolve()), { once: true });
      });
    }
  }

  close(): void {
    for (const [id, s] of [...this.streams]) this.stop(id, s);
  }
}
