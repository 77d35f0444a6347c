/**
 * The simulator's kubelet: the `PodRuntime` the API server hands exec, attach, logs and port-forward to, and the
 * containers' main processes. A started container whose command ends on its own (`echo hi`, `sh -c 'exit 3'`) is
 * run once in the pod's shell, without stdin; what it prints becomes the log of the container's attempt and its exit
 * code the container's terminated state, per restartPolicy (Always: CrashLoopBackOff, then a restart on the cluster
 * clock, whose output is the next attempt's log while the last one stays for `--previous`). A container with stdin
 * is run by whoever attaches (`kubectl run -i`); what it prints is logged too, and its end is recorded the same way.
 * Long-running commands and image entrypoints keep running, untouched.
 */
import type { Clock } from "../../shared/clock.ts";
import type { Logger } from "../../shared/logger.ts";
import { ApiError, type KubeObject, type ObjectStore } from "../../store/types.ts";
import type { ExecIO, ExecRequest, PodRuntime } from "../types.ts";
import { attachCommand, containerOf, mainCommand, runsToCompletion } from "./lifecycle.ts";
import { lineSplitter, type ContainerLogs } from "./logs.ts";
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
  /** Every container's log (the dataplane's): main processes' output goes there, attempt by attempt. */
  logs: ContainerLogs;
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
  const logs = o.logs;
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
    attempt: number,
    argv: string[],
    signal: AbortSignal,
  ): Promise<void> => {
    const ns = pod.metadata.namespace ?? "default";
    const name = pod.metadata.name;
    // From the beginning: a process run again for the same attempt (after a server restart) logs it anew.
    logs.begin(ns, name, container, attempt, { fresh: true });
    const out = lineSplitter((l, partial) => logs.write(ns, name, o.clock.now(), l, container, partial));
    const io: ExecIO = {
      stdout: out.write,
      stderr: out.write,
      onStdin: () => {},
      onStdinEnd: (cb) => cb(),
      onResize: () => {},
      signal,
    };
    const code = await base.exec(
      { namespace: ns, pod: name, container, command: argv, tty: false, stdin: false },
      io,
    );
    out.flush();
    if (signal.aborted || closed) return;
    recordExit(o.api, pod, container, code, o.clock.now(), { backoff: true });
    logs.end(ns, name, container, attempt);
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
    const ns = pod.metadata.namespace ?? "default";
    // A container started again: its new attempt is the one its output now goes to, the last one its previous.
    for (const cs of status.containerStatuses ?? [])
      if (cs.state?.running && cs.name && (cs.restartCount ?? 0) > 0)
        logs.begin(ns, pod.metadata.name, cs.name, cs.restartCount ?? 0);
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
          restarting
            ? restartLater(pod, cs, signal)
            : run(pod, String(c.name), cs.restartCount ?? 0, argv, signal),
        ),
      );
    }
  };

  const forget = (pod: KubeObject): void => {
    const k = `${pod.metadata.namespace ?? ""}/${pod.metadata.name}`;
    aborts.get(k)?.abort(new Error("pod deleted"));
    aborts.delete(k);
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
      if (!argv) return streamOutput(req, io, pod);
      // What the attached process prints is the container's output, so its log as well.
      const container = String(containerOf(pod, req.container)?.name ?? "");
      const attempt =
        (pod.status as { containerStatuses?: ContainerStatus[] } | undefined)?.containerStatuses?.find(
          (s) => s.name === container,
        )?.restartCount ?? 0;
      const ns = req.namespace;
      logs.begin(ns, req.pod, container, attempt);
      const out = lineSplitter((l, partial) => logs.write(ns, req.pod, o.clock.now(), l, container, partial));
      const code = await base.exec(
        { ...req, command: argv },
        {
          ...io,
          stdout: (d) => {
            io.stdout(d);
            out.write(d);
          },
          stderr: (d) => {
            io.stderr(d);
            out.write(d);
          },
        },
      );
      out.flush();
      if (!closed) {
        recordExit(o.api, pod, req.container, code, o.clock.now());
        logs.end(ns, req.pod, container, attempt);
      }
      return code;
    },
    logs: (ns, name, opts) => base.logs(ns, name, opts),
    ...(base.followLogs
      ? { followLogs: (ns, name, opts, cb, onEnd) => base.followLogs!(ns, name, opts, cb, onEnd) }
      : {}),
    ...(base.portForward ? { portForward: (ns: string, name: string) => base.portForward!(ns, name) } : {}),
  };

  /**
   * Attaching to a container without stdin: its log so far, then each new line until the container stops, the pod
   * goes or the client leaves.
   */
  const streamOutput = (req: ExecRequest, io: ExecIO, pod: KubeObject): Promise<number> => {
    const only = { container: String(containerOf(pod, req.container)?.name ?? "") };
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
export function withKubelet<D extends { runtime: PodRuntime; logs: ContainerLogs; close(): void }>(
  dp: D,
  o: Omit<KubeletOptions, "containers" | "logs">,
): D {
  const kubelet = startKubelet({ ...o, containers: dp.runtime, logs: dp.logs });
  return {
    ...dp,
    runtime: kubelet.runtime,
    close: () => {
      kubelet.close();
      dp.close();
    },
  };
}
