/**
 * The kubelet's part the pod controller leaves out: a started container whose command ends on its own (`echo hi`,
 * `sh -c 'exit 3'`) is run once through the pod runtime, without stdin; what it prints becomes the pod's log and its
 * exit code the container's terminated state, per restartPolicy (Always: CrashLoopBackOff, then a restart on the
 * cluster clock). Containers with stdin are run by whoever attaches (`kubectl run -i`); long-running commands and
 * image entrypoints keep running, untouched.
 */
import { PodLogs } from "../net/logs.ts";
import type { Clock } from "../shared/clock.ts";
import type { Logger } from "../shared/logger.ts";
import type { SimClusterApi } from "../store/cluster-api.ts";
import type { KubeObject, ObjectStore } from "../store/types.ts";
import {
  backoffMs,
  mainCommand,
  runsToCompletion,
  statusAfterBackoff,
  statusAfterExit,
} from "./main-process.ts";
import type { ExecIO, PodRuntime } from "./types.ts";

export interface MainProcessOptions {
  store: ObjectStore;
  api: SimClusterApi;
  clock: Clock;
  /** Runs the commands (the dataplane's runtime); its `logs` serve every pod whose command was not run here. */
  runtime: PodRuntime;
  logger: Logger;
}

export interface MainProcesses {
  /** `runtime` with the logs of the main processes run here. */
  runtime: PodRuntime;
  /** Stops running processes and pending restarts. */
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

/** Watches pods and runs the main processes that end on their own. */
export function runMainProcesses(o: MainProcessOptions): MainProcesses {
  const logs = new PodLogs();
  /** Pods whose log is their main process's output, by `ns/name`. */
  const owned = new Set<string>();
  /** `uid/container/restartCount[/backoff]` already acted on. */
  const seen = new Set<string>();
  const aborts = new Map<string, AbortController>();
  let closed = false;

  const abortFor = (k: string): AbortSignal => {
    let ac = aborts.get(k);
    if (!ac) aborts.set(k, (ac = new AbortController()));
    return ac.signal;
  };

  const patchStatus = (pod: KubeObject, next: (current: KubeObject) => Record<string, unknown>): void => {
    if (closed) return;
    o.api.patchInternal("core/pods", pod.metadata.namespace, pod.metadata.name, (cur) => {
      if (cur.metadata.uid === pod.metadata.uid && !cur.metadata.deletionTimestamp) cur.status = next(cur);
    });
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
    const code = await o.runtime.exec(
      { namespace: ns, pod: name, container, command: argv, tty: false, stdin: false },
      io,
    );
    if (partial) logs.write(ns, name, o.clock.now(), partial);
    if (signal.aborted) return;
    patchStatus(pod, (cur) => statusAfterExit(cur, container, code, o.clock.now(), { backoff: true }));
  };

  const restartLater = async (pod: KubeObject, cs: ContainerStatus, signal: AbortSignal): Promise<void> => {
    await o.clock.sleep(backoffMs(cs.restartCount ?? 1), signal);
    patchStatus(pod, (cur) => statusAfterBackoff(cur, String(cs.name), o.clock.now()));
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

  const base = o.runtime;
  const runtime: PodRuntime = {
    exec: (req, io) => base.exec(req, io),
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

/** `dp` whose runtime also serves the main processes run here; closing it stops them first. */
export function withMainProcesses<D extends { runtime: PodRuntime; close(): void }>(
  dp: D,
  o: Omit<MainProcessOptions, "runtime">,
): D {
  const main = runMainProcesses({ ...o, runtime: dp.runtime });
  return {
    ...dp,
    runtime: main.runtime,
    close: () => {
      main.close();
      dp.close();
    },
  };
}
