/**
 * The contract between the simulated cluster (store, controllers, dataplane) and its edges (the HTTPS API server,
 * `kubectl exec`, the flow API). The HTTP layer sees a cluster only through `SimClusterHandle`.
 */
import type { Duplex } from "node:stream";
import type { HttpRequest, HttpResponse } from "../net/podnet.ts";
import type { ClusterApi, ObjectStore } from "../store/types.ts";
import type { Clock } from "../shared/clock.ts";

export type CalicoEdition = "enterprise" | "oss";

export interface ExecRequest {
  namespace: string;
  pod: string;
  container?: string;
  command: string[];
  tty: boolean;
  stdin: boolean;
}

export interface TerminalSize {
  cols: number;
  rows: number;
}

/** The streams of one exec session, as the HTTP layer wires them to the WebSocket. */
export interface ExecIO {
  /** Output to the client's stdout. Under a TTY, write what would go to stderr here as well. */
  stdout(data: string | Uint8Array): void;
  stderr(data: string | Uint8Array): void;
  /** Registers the consumer of stdin; bytes arrive as the client sends them. */
  onStdin(cb: (data: Buffer) => void): void;
  /** Called when the client closes stdin. */
  onStdinEnd(cb: () => void): void;
  onResize(cb: (size: TerminalSize) => void): void;
  /** Aborted when the client goes away; a running command must stop. */
  signal: AbortSignal;
}

/** `PodLogOptions` as the API server decoded and validated them. */
export interface LogOptions {
  container?: string;
  tailLines?: number;
  sinceSeconds?: number;
  /** `sinceTime`, in milliseconds since the epoch. */
  sinceTime?: number;
  /** At most this many bytes (the last line may be cut). */
  limitBytes?: number;
  timestamps?: boolean;
  /** The last terminated attempt of the container instead of the current one. */
  previous?: boolean;
}

/** What runs inside pods: `kubectl exec`, `attach`, `logs` and `port-forward` (the kubelet, `sim/runtime/`). */
export interface PodRuntime {
  /**
   * Runs a command in a pod and resolves with its exit code. Rejects with an `ApiError` (404) if the pod or container
   * does not exist, or (400) if the pod is not running.
   */
  exec(req: ExecRequest, io: ExecIO): Promise<number>;
  /**
   * `kubectl attach`: connects to the container's main process and resolves with its exit code once it ends (the
   * pod's status then says so, as the kubelet's does). A container without stdin has no process to talk to: its
   * output streams until the pod is gone or the client leaves. Rejects like `exec`.
   */
  attach?(req: ExecRequest, io: ExecIO): Promise<number>;
  /**
   * What the pod's container has written, as `kubectl logs` shows it: the current attempt's log, or with `previous`
   * the last terminated one's. Throws the API server's and the kubelet's `ApiError`s (404 no pod; 400 no such
   * container, no container named in a pod of several, no previous attempt).
   */
  logs(namespace: string, pod: string, opts: LogOptions): string;
  /**
   * Follows the log: calls `cb` with each new chunk until the returned function is called, and `onEnd` once when
   * the log can grow no more (the attempt is not running or stops, its pod is gone, `limitBytes` is reached), as the
   * kubelet ends a follow when the container stops.
   */
  followLogs?(
    namespace: string,
    pod: string,
    opts: LogOptions,
    cb: (chunk: string) => void,
    onEnd?: () => void,
  ): () => void;
  /**
   * `kubectl port-forward`: checks the pod can be forwarded to — an `ApiError` as the API server answers (404 no
   * such pod or node, 400 no node assigned), a `KubeletError` as the kubelet answers (its runtime has no running
   * sandbox for the pod: not started yet, or ended) — and returns an opener of connections to its ports inside the
   * pod's network namespace (no policy, as the kubelet's). The opener rejects with the message the kubelet writes on
   * the error stream (nothing listens on the port, the sandbox is gone).
   */
  portForward?(namespace: string, pod: string): (port: number) => Promise<Duplex>;
}

/** The flow log and the virtual internet, as the HTTP layer serves them under `/egresslab/v1/`. */
export interface DataplaneApi {
  /** `GET /egresslab/v1/flows?…`: the aggregated flow records matching the query (filters parsed by the dataplane). */
  queryFlows(query: URLSearchParams): unknown;
  /** `GET /egresslab/v1/flows?watch=true&…`: calls `cb` with each new or updated record; returns an unsubscribe function. */
  watchFlows(query: URLSearchParams, cb: (record: unknown) => void): () => void;
  /** `POST /egresslab/v1/internet/rotate` with a JSON body such as `{"domain": "api.payments.example"}`. */
  rotate(body: unknown): unknown;
  /**
   * The API server's `services/{name}:{port}/proxy/…`: one HTTP request from the API server (the host-networked
   * kube-apiserver pod on the control-plane node) to a ready endpoint of the Service's port, network policy applied
   * as to any connection from that host; recorded in the flow log. Throws a 404 ApiError when the Service does not
   * exist; `unavailable` carries the API server's message when it cannot reach an endpoint.
   */
  proxyToService?(
    namespace: string,
    service: string,
    port: string,
    req: HttpRequest,
  ): { kind: "answer"; response: HttpResponse } | { kind: "unavailable"; message: string };
}

/** One simulated cluster, as its edges see it. */
export interface SimClusterHandle {
  readonly id: string;
  readonly edition: CalicoEdition;
  readonly api: ClusterApi;
  readonly store: ObjectStore;
  readonly runtime: PodRuntime;
  readonly dataplane: DataplaneApi;
  readonly clock: Clock;
  /**
   * Stops controllers and background traffic and flushes state to disk (when persistent). With `save: false` it
   * writes nothing more: another replica has taken the cluster over and owns its saved state now.
   */
  close(opts?: { save?: boolean }): Promise<void>;
  /**
   * Resolves once every change up to `resourceVersion` (default: every change so far) is durable, which is what a
   * response that shows or acknowledges them waits for; rejects with the `ApiError` to answer when one of them could
   * not be saved and was undone. Absent: changes are durable when made.
   */
  committed?(resourceVersion?: number): Promise<void>;
}

/**
 * An answer of the kubelet that the API server's upgrade proxy passes through to the client as it is: a status and a
 * plain-text body (`streaming.WriteError`), not a `Status` object.
 */
export class KubeletError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
    this.name = "KubeletError";
  }
}
