/**
 * The simulator's kubelet: the `PodRuntime` the API server hands exec, attach, logs and port-forward to, and the
 * containers' main processes. A started container whose command ends on its own (`echo hi`, `sh -c 'exit 3'`) is
 * run once in the pod's shell, without stdin; what it prints becomes the pod's log and its exit code the container's
 * terminated state, per restartPolicy (Always: CrashLoopBackOff, then a restart on the cluster clock). A container
 * with stdin is run by whoever attaches (`kubectl run -i`), and its end is recorded the same way. Long-running
 * commands and image entrypoints keep running, untouched.
 */
import { PodLogs } from "../../net/logs.ts";
import type { Clock } from "../../shared/clock.ts";
import type { Logger } from "../../shared/logger.ts";
import { ApiError, type KubeObject, type ObjectStore } from "../../store/types.ts";
import type { ExecIO, ExecRequest, PodRuntime } from "../types.ts";
import { attachCommand, mainCommand, runsToCompletion } from "./lifecycle.ts";
import { recordExit, recordRestart, type PodWriter } from "./pod-status.ts";
import { backoffMs } from "./status.ts";

export interface KubeletOptions {
  store: ObjectStore;
  /** Where pod status is written. */
  api: PodWriter;
  clock: Clock;
  /**
   * The container runtime (the dataplane's): runs commands in a pod's shell, holds the logs its images and traffic
   * write, and opens port-forward connections.
   */
  containers: PodRuntime;
  logger: Logger;
}

export interface Kubelet {
  runtime: PodRuntime;
  /** Stops running main processes and pending restarts. */
  close(): void;
}

interface Container {
  name?: unknown;
  command?: unknown;
  args?: unknown;
  stdin?: unknown;
}

interface ContainerStatus {
  name?: string;
  restartCount?: number;
  state?: { running?: unknown; waiting?: { reason?: string } };
}

/** Starts the kubelet of one cluster: it watches pods and runs the main processes that end on their own. */
export function startKubelet(o: KubeletOptions): Kubelet {
  const logs = new PodLogs();
  /** Pods whose log is their main process's output, by `ns/name`. */
  const owned = new Set<string>();
  /** `uid/container/restartCount[/backoff]` already acted on. */
  const seen = new Set<string>();
  const aborts = new Map<string, AbortController>();
  const base = o.containers;
  let closed = false;

  const abortFor = (k: string): AbortSignal => {
    let ac = aborts.get(k);
    if (!ac) aborts.set(k, (ac = new AbortController()));
    return ac.signal;
  };

  const run = async (
    pod: KubeObject,
    container: string,
    argv: string[],
    signal: AbortSignal,
  ): Promise<void> => {
    const ns = pod.metadata.namespace ?? "default";
    const name = pod.metadata.name;
    owned.add(`${ns}/${name}`);
    let partial = "";
    const write = (d: string | Uint8Array): void => {
      const lines = (partial + (typeof d === "string" ? d : Buffer.from(d).toString("utf8"))).split("\n");
      partial = lines.pop() ?? "";
      for (const l of lines) logs.write(ns, name, o.clock.now(), l);
    };
    const io: ExecIO = {
      stdout: write,
      stderr: write,
      onStdin: () => {},
      onStdinEnd: (cb) => cb(),
      onResize: () => {},
      signal,
    };
    const code = await base.exec(
      { namespace: ns, pod: name, container, command: argv, tty: false, stdin: false },
      io,
    );
    if (partial) logs.write(ns, name, o.clock.now(), partial);
    if (signal.aborted || closed) return;
    recordExit(o.api, pod, container, code, o.clock.now(), { backoff: true });
  };

  const restartLater = async (pod: KubeObject, cs: ContainerStatus, signal: AbortSignal): Promise<void> => {
    await o.clock.sleep(backoffMs(cs.restartCount ?? 1), signal);
    if (!closed) recordRestart(o.api, pod, String(cs.name), o.clock.now());
  };

  const settle = (what: string, p: Promise<void>): void => {
    p.catch((err: unknown) => {
      if (closed) return;
      o.logger.debug(`main process: ${what} did not finish`, {
        error: err instanceof Error ? err.message : String(err),
      });
    });
  };

  const consider = (pod: KubeObject): void => {
    const status = (pod.status ?? {}) as { phase?: string; containerStatuses?: ContainerStatus[] };
    if (status.phase !== "Running" || pod.metadata.deletionTimestamp) return;
    const containers = ((pod.spec as { containers?: Container[] } | undefined)?.containers ??
      []) as Container[];
    for (const c of containers) {
      if (c.stdin) continue;
      const argv = mainCommand(c);
      if (!runsToCompletion(argv)) continue;
      const cs = status.containerStatuses?.find((s) => s.name === c.name);
      const restarting = cs?.state?.waiting?.reason === "CrashLoopBackOff";
      if (!cs || (!cs.state?.running && !restarting)) continue;
      const key = `${pod.metadata.uid ?? ""}/${String(c.name)}/${cs.restartCount ?? 0}${restarting ? "/backoff" : ""}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const signal = abortFor(`${pod.metadata.namespace ?? ""}/${pod.metadata.name}`);
      // After the write that started it has settled, like a kubelet that sees the pod a moment later.
      settle(
        restarting ? "restart" : "run",
        Promise.resolve().then(() =>
          restarting ? restartLater(pod, cs, signal) : run(pod, String(c.name), argv, signal),
        ),
      );
    }
  };

  const forget = (pod: KubeObject): void => {
    const k = `${pod.metadata.namespace ?? ""}/${pod.metadata.name}`;
    aborts.get(k)?.abort(new Error("pod deleted"));
    aborts.delete(k);
    owned.delete(`${pod.metadata.namespace ?? "default"}/${pod.metadata.name}`);
    logs.forget(pod.metadata.namespace ?? "default", pod.metadata.name);
    const uid = `${pod.metadata.uid ?? ""}/`;
    for (const s of seen) if (s.startsWith(uid)) seen.delete(s);
  };

  for (const p of o.store.list("core/pods")) consider(p);
  const unsubscribe = o.store.subscribe((c) => {
    if (c.key !== "core/pods") return;
    if (c.type === "DELETED") forget(c.object);
    else consider(c.object);
  });

  const runtime: PodRuntime = {
    exec: (req, io) => base.exec(req, io),
    async attach(req, io) {
      const pod = o.store.get("core/pods", req.namespace, req.pod);
      if (!pod)
        throw new ApiError(404, "NotFound", `pods "${req.pod}" not found`, { name: req.pod, kind: "pods" });
      const argv = attachCommand(pod, req.container);
      if (!argv) return streamOutput(req, io);
      const code = await base.exec({ ...req, command: argv }, io);
      if (!closed) recordExit(o.api, pod, req.container, code, o.clock.now());
      return code;
    },
    logs(ns, name, opts) {
      const text = base.logs(ns, name, opts);
      return owned.has(`${ns}/${name}`) ? logs.read(ns, name, opts, o.clock.now()) : text;
    },
    ...(base.followLogs
      ? {
          followLogs(ns, name, opts, cb, onEnd) {
            if (owned.has(`${ns}/${name}`)) return logs.follow(ns, name, opts, cb, onEnd);
            return base.followLogs!(ns, name, opts, cb, onEnd);
          },
        }
      : {}),
    ...(base.portForward ? { portForward: (ns: string, name: string) => base.portForward!(ns, name) } : {}),
  };

  /** Attaching to a container without stdin: its log so far, then each new line until the pod goes or the client. */
  const streamOutput = (req: ExecRequest, io: ExecIO): Promise<number> => {
    const only = req.container ? { container: req.container } : {};
    const text = runtime.logs(req.namespace, req.pod, only);
    if (text) io.stdout(text);
    return new Promise((resolve) => {
      const stop = runtime.followLogs?.(req.namespace, req.pod, { ...only, tailLines: 0 }, io.stdout, () =>
        resolve(0),
      );
      io.signal.addEventListener(
        "abort",
        () => {
          stop?.();
          resolve(0);
        },
        { once: true },
      );
    });
  };

  return {
    runtime,
    close() {
      closed = true;
      unsubscribe();
      for (const ac of aborts.values()) ac.abort(new Error("cluster closed"));
      aborts.clear();
    },
  };
}

/** `dp` whose runtime is the kubelet's over the dataplane's containers; closing it stops the kubelet first. */
export function withKubelet<D extends { runtime: PodRuntime; close(): void }>(
  dp: D,
  o: Omit<KubeletOptions, "containers">,
): D {
  const kubelet = startKubelet({ ...o, containers: dp.runtime });
  return {
    ...dp,
    runtime: kubelet.runtime,
    close: () => {
      kubelet.close();
      dp.close();
    },
  };
}
