/**
 * The container runtime under the kubelet (containerd's part): commands run in a pod's shell with its environment,
 * files and network; the log each pod's image and traffic write; and port-forward connections to the pod's own
 * listeners (`port-forward.ts`), inside its network namespace. Commands still running when their pod goes are killed,
 * as the kubelet kills its containers.
 */
import { randomBytes } from "node:crypto";
import { hostsFileFor, resolvConfFor } from "../../net/dns.ts";
import type { PodNet } from "../../net/podnet.ts";
import type { SavedPodFiles } from "../../net/state.ts";
import { podSpec, podStatus } from "../../net/topology.ts";
import type { Clock } from "../../shared/clock.ts";
import { containerEnv } from "../../shell/environment.ts";
import { newDisk, PodFileSystem } from "../../shell/files.ts";
import { ExecNotFoundError, execSession } from "../../shell/session.ts";
import type { ShellEnv } from "../../shell/types.ts";
import { ApiError, type KubeObject, type ObjectStore } from "../../store/types.ts";
import type { ExecIO, ExecRequest, PodRuntime } from "../types.ts";
import { imageProfile } from "./images.ts";
import type { PodListeners } from "./listeners.ts";
import { mainCommand, runsToCompletion } from "./lifecycle.ts";
import { logAttempt, logContainer } from "./log-request.ts";
import type { ContainerLogs } from "./logs.ts";
import { checkForwardable, dialInPod } from "./port-forward.ts";
import { podImage } from "./ports.ts";

export interface ContainerDeps {
  store: ObjectStore;
  clock: Clock;
  /** Every container's log (the network writes access logs to it, traffic its reports). */
  logs: ContainerLogs;
  /** The cluster's upstream resolver, for pods whose DNS policy is `Default`. */
  upstream: string;
  /** The network as seen from inside the pod. */
  podNet(pod: KubeObject): PodNet;
  /** What answers on the pods' ports. */
  listeners: PodListeners;
  /** Pods' files saved by `Containers.savedFiles` (after a restart, or on another replica). */
  restoreFiles?: Record<string, SavedPodFiles>;
  /**
   * Called when a command has changed a pod's files, before its exit status is reported; resolves once they are
   * saved (what an exec reported done survives a restart).
   */
  filesChanged?(): Promise<void>;
  /** The ServiceAccount token the kubelet projects into the pod, if the cluster issues one. */
  serviceAccountToken?(pod: KubeObject): string | undefined;
}

export interface Containers {
  runtime: PodRuntime;
  /** The files commands wrote in each pod that still exists, for saving (`ContainerDeps.restoreFiles`). */
  savedFiles(): Record<string, SavedPodFiles>;
  /** Stops watching pods. */
  close(): void;
}

/**
 * The error the kubelet reports when the container runtime cannot start an exec's program (containerd and runc's
 * words, wrapped by the kubelet's `NewInternalError`): kubectl prints it after `error: ` and exits 1.
 */
function execFailed(e: ExecNotFoundError): ApiError {
  const cause = `error executing command in container: failed to exec in container: failed to start exec "${randomBytes(32).toString("hex")}": OCI runtime exec failed: exec failed: unable to start container process: ${e.message}: unknown`;
  return new ApiError(500, "InternalError", `Internal error occurred: ${cause}`, {
    causes: [{ message: cause }],
  });
}

/** Starts the container runtime of one cluster. */
export function startContainers(d: ContainerDeps): Containers {
  const files = new Map<string, PodFileSystem>();
  /** The cluster's disk, shared by its pods' files. */
  const disk = newDisk();
  /** Each pod's files encoded for saving, kept until they change. */
  const encoded = new WeakMap<PodFileSystem, { version: number; saved: SavedPodFiles }>();
  /** The commands running in each pod (by uid), ended when their pod goes. */
  const execs = new Map<string, Set<AbortController>>();

  /** The start-up lines of each container's image, once: not for a command of its own that runs to its end. */
  const writeStartup = (pod: KubeObject, now: number): void => {
    const ns = pod.metadata.namespace ?? "default";
    if (podStatus(pod).phase !== "Running") return;
    const started = Date.parse((pod.status as { startTime?: string } | undefined)?.startTime ?? "") || now;
    for (const c of podSpec(pod).containers ?? []) {
      if (
        d.logs.latest(ns, pod.metadata.name, c.name) !== undefined ||
        runsToCompletion(mainCommand(c as { command?: unknown; args?: unknown }))
      )
        continue;
      for (const l of imageProfile(c.image ?? "").startup(podStatus(pod).podIP ?? ""))
        d.logs.write(ns, pod.metadata.name, started, l, c.name);
    }
  };

  for (const p of d.store.list("core/pods")) writeStartup(p, d.clock.now());
  const unsubscribe = d.store.subscribe((c) => {
    if (c.key !== "core/pods") return;
    const ns = c.object.metadata.namespace ?? "default";
    if (c.type === "DELETED") {
      for (const ac of execs.get(c.object.metadata.uid ?? "") ?? []) ac.abort(new Error("pod deleted"));
      d.logs.forget(ns, c.object.metadata.name);
      files.get(`${ns}/${c.object.metadata.name}`)?.release();
      files.delete(`${ns}/${c.object.metadata.name}`);
    } else writeStartup(c.object, d.clock.now());
  });

  const podOr404 = (ns: string, name: string): KubeObject => {
    const p = d.store.get("core/pods", ns, name);
    if (!p) throw new ApiError(404, "NotFound", `pods "${name}" not found`, { name, kind: "pods" });
    return p;
  };
  const checkContainer = (pod: KubeObject, container: string | undefined): void => {
    const names = (podSpec(pod).containers ?? []).map((c) => c.name);
    if (container !== undefined && !names.includes(container))
      throw new ApiError(
        400,
        "BadRequest",
        `container ${container} is not valid for pod ${pod.metadata.name}`,
      );
  };

  const filesFor = (pod: KubeObject): PodFileSystem => {
    const ns = pod.metadata.namespace ?? "default";
    const k = `${ns}/${pod.metadata.name}`;
    let f = files.get(k);
    if (!f) {
      const image = podSpec(pod).containers?.[0]?.image ?? "";
      const sa = (pod.spec as { serviceAccountName?: string } | undefined)?.serviceAccountName ?? "default";
      const fixed = (): Record<string, string> => {
        const current = d.store.get("core/pods", ns, pod.metadata.name) ?? pod;
        const rc = resolvConfFor(current, d.upstream);
        const hostname = (podSpec(current).hostname ?? current.metadata.name) + "\n";
        return {
          "/etc/resolv.conf":
            (rc.search.length ? `search ${rc.search.join(" ")}\n` : "") +
            rc.nameservers.map((n) => `nameserver ${n}\n`).join("") +
            (rc.ndots !== 1 ? `options ndots:${rc.ndots}\n` : ""),
          "/etc/hosts": hostsFileFor(current),
          "/etc/hostname": hostname,
          "/etc/os-release": `PRETTY_NAME="${imageProfile(image).os}"\n`,
          "/var/run/secrets/kubernetes.io/serviceaccount/namespace": ns,
          // Made when read (the first token of a cluster makes its signing key).
          get "/var/run/secrets/kubernetes.io/serviceaccount/token"(): string {
            return (
              d.serviceAccountToken?.(current) ??
              `eyJhbGciOiJSUzI1NiJ9.${Buffer.from(JSON.stringify({ sub: `system:serviceaccount:${ns}:${sa}` })).toString("base64url")}.c2ln`
            );
          },
          "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt":
            "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n",
          "/proc/1/cmdline": image,
        };
      };
      f = new PodFileSystem(fixed, disk, imageProfile(image).workdir ? [imageProfile(image).workdir!] : []);
      files.set(k, f);
    }
    return f;
  };

  /** A shell environment for one exec in a pod. */
  const shellEnv = (
    pod: KubeObject,
    container: string | undefined,
    signal: AbortSignal,
    tty: boolean,
  ): ShellEnv => {
    const vars = containerEnv(
      pod,
      d.store.list("core/services", pod.metadata.namespace),
      d.store.get("core/services", "default", "kubernetes"),
    );
    const spec = podSpec(pod).containers ?? [];
    const c = spec.find((x) => x.name === container) ?? spec[0];
    const image = c ? imageProfile(c.image ?? "") : podImage(pod);
    const env = new Map(Object.entries(vars));
    env.set("PWD", image.workdir ?? "/");
    return {
      vars: env,
      exported: new Set(env.keys()),
      lastStatus: 0,
      clock: d.clock,
      signal,
      net: d.podNet(pod),
      files: filesFor(pod),
      tools: new Set(image.tools),
      image,
      tty,
    };
  };

  // Pods' files from before a restart: each restored into its pod when that pod (the same uid) still exists.
  for (const [k, saved] of Object.entries(d.restoreFiles ?? {})) {
    const [ns = "", name = ""] = k.split("/");
    const pod = d.store.get("core/pods", ns, name);
    if (!pod || pod.metadata.uid !== saved.uid) continue;
    filesFor(pod).restore(Object.entries(saved.files).map(([p, b64]) => [p, Buffer.from(b64, "base64")]));
  }

  const savedFiles = (): Record<string, SavedPodFiles> => {
    const out: Record<string, SavedPodFiles> = {};
    for (const [k, f] of files) {
      if (f.version === 0) continue;
      const [ns = "", name = ""] = k.split("/");
      const uid = d.store.get("core/pods", ns, name)?.metadata.uid;
      if (uid === undefined) continue;
      let e = encoded.get(f);
      if (e?.version !== f.version || e.saved.uid !== uid) {
        e = { version: f.version, saved: { uid, files: f.encodedFiles() } };
        encoded.set(f, e);
      }
      if (Object.keys(e.saved.files).length) out[k] = e.saved;
    }
    return out;
  };

  const runtime: PodRuntime = {
    async exec(req: ExecRequest, io: ExecIO) {
      const pod = podOr404(req.namespace, req.pod);
      checkContainer(pod, req.container);
      if (podStatus(pod).phase !== "Running" || !podStatus(pod).podIP)
        throw new ApiError(
          400,
          "BadRequest",
          `unable to upgrade connection: container not found ("${req.container ?? podSpec(pod).containers?.[0]?.name ?? ""}")`,
        );
      const uid = pod.metadata.uid ?? "";
      const killed = new AbortController();
      const running = execs.get(uid) ?? new Set();
      execs.set(uid, running.add(killed));
      const signal = AbortSignal.any([io.signal, killed.signal]);
      const fs = filesFor(pod);
      const before = fs.version;
      try {
        const code = await execSession(req, { ...io, signal }, shellEnv(pod, req.container, signal, req.tty));
        if (fs.version !== before) await d.filesChanged?.();
        // SIGKILL, as for a process whose container was stopped.
        return killed.signal.aborted && !io.signal.aborted ? 137 : code;
      } catch (e) {
        if (e instanceof ExecNotFoundError) throw execFailed(e);
        throw e;
      } finally {
        running.delete(killed);
        if (!running.size) execs.delete(uid);
      }
    },
    logs(ns, name, opts) {
      const pod = podOr404(ns, name);
      const container = logContainer(pod, opts.container);
      // A pod no node runs yet has no log: the API server answers an empty one.
      if (!podSpec(pod).nodeName) return "";
      const { attempt } = logAttempt(pod, container, opts.previous === true);
      writeStartup(pod, d.clock.now());
      return d.logs.read(ns, name, container, attempt, opts, d.clock.now());
    },
    followLogs(ns, name, opts, cb, onEnd) {
      const pod = podOr404(ns, name);
      const container = logContainer(pod, opts.container);
      const at = podSpec(pod).nodeName ? logAttempt(pod, container, opts.previous === true) : undefined;
      // A container that is not running writes no more: the kubelet ends the follow at the end of its log.
      if (!at?.running) {
        onEnd?.();
        return () => {};
      }
      return d.logs.follow(ns, name, container, at.attempt, opts, cb, onEnd);
    },
    portForward(ns, name) {
      const pod = podOr404(ns, name);
      checkForwardable(d.store, pod);
      return (port) =>
        new Promise((resolve) =>
          resolve(dialInPod(pod, d.store.get("core/pods", ns, name), port, d.listeners)),
        );
    },
  };

  return {
    runtime,
    savedFiles,
    close: unsubscribe,
  };
}
