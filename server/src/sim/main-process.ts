/**
 * A container's main process as the kubelet sees it: whether its command runs to completion (and so is run once by
 * the simulator) or keeps running, and the pod's status after it exits (restartPolicy Never → Succeeded/Failed with
 * the exit code; OnFailure → Succeeded or a restart; Always → a restart, after a CrashLoopBackOff when asked).
 */
import { timestamp } from "../shared/object.ts";
import { parseSleep } from "../shell/commands/core.ts";
import type { KubeObject } from "../store/types.ts";

interface ContainerStatus {
  name?: string;
  ready?: boolean;
  started?: boolean;
  restartCount?: number;
  state?: Record<string, unknown>;
  lastState?: Record<string, unknown>;
  [k: string]: unknown;
}

interface Condition {
  type?: string;
  status?: string;
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
}

/** The longest `sleep` the simulator waits out; longer ones (and `infinity`) mean "keeps running". */
const LONGEST_SLEEP_MS = 300_000;
/** The kubelet's restart back-off: 10s, doubled per restart, at most 5 minutes. */
const BACKOFF_MS = 10_000;
const MAX_BACKOFF_MS = 300_000;

const SHELLS = new Set(["sh", "ash", "bash", "dash", "zsh"]);
/** Programs and builtins of the pod shell that end on their own (given the checks in `endsAlone`). */
const ENDS = new Set(
  "echo printf true false : exit env printenv hostname cat grep head tail wc ls id whoami date pwd cd export unset test [ which seq ip sleep nslookup dig getent wget curl ping nc".split(
    " ",
  ),
);
const KEYWORDS = new Set(["if", "then", "else", "elif", "fi", "do", "done", "{", "}", "!", "(", ")"]);

const baseName = (p: string): string => p.slice(p.lastIndexOf("/") + 1);

/** Whether one simple command (argv) ends on its own; unknown programs are servers for all we know. */
function endsAlone(argv: string[]): boolean {
  const prog = baseName(argv[0] ?? "");
  const args = argv.slice(1);
  if (SHELLS.has(prog)) return args[0] === "-c" && args[1] !== undefined && scriptEnds(args[1]);
  if (!ENDS.has(prog)) return false;
  const flags = args.filter((a) => /^-[a-zA-Z]+$/.test(a)).join("");
  switch (prog) {
    case "sleep": {
      const ms = args.map(parseSleep);
      return ms.every((x) => x !== undefined) && ms.reduce((a, b) => a + b, 0) < LONGEST_SLEEP_MS;
    }
    case "tail":
      return !/[fF]/.test(flags) && !args.includes("--follow");
    case "ping":
      return /[cw]/.test(flags);
    case "nc":
      return !flags.includes("l");
    default:
      return true;
  }
}

/** Whether a `sh -c` script ends on its own: no `while`/`until` loop, and every simple command ends. */
function scriptEnds(script: string): boolean {
  if (/(^|[\s;&|(])(while|until)\s/.test(script)) return false;
  for (const part of script.split(/;|&&|\|\||\||(?<![<>])&|\n/)) {
    const words = part
      .trim()
      .split(/\s+/)
      .map((w) => w.replace(/^['"]|['"]$/g, ""))
      .filter((w) => w !== "");
    while (words.length && (KEYWORDS.has(words[0]!) || /^[A-Za-z_]\w*=/.test(words[0]!))) words.shift();
    if (!words.length || words[0] === "for" || words[0] === "case" || words[0] === "esac") continue;
    if (!endsAlone(words)) return false;
  }
  return true;
}

/** The container's command and args, as the kubelet starts them (empty: the image's own entrypoint). */
export function mainCommand(container: { command?: unknown; args?: unknown }): string[] {
  const list = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : []);
  return [...list(container.command), ...list(container.args)];
}

/**
 * Whether the simulator runs this main process to its end: a command of the pod shell that ends on its own
 * (`echo hi`, `sh -c 'exit 3'`, `wget -qO- …`). The image's entrypoint, servers, `sleep infinity`, `tail -f` and
 * loops keep running, as they always have.
 */
export function runsToCompletion(argv: string[]): boolean {
  return argv.length > 0 && endsAlone(argv);
}

/** How long the kubelet waits before starting a container that has restarted `restartCount` times. */
export function backoffMs(restartCount: number): number {
  return Math.min(MAX_BACKOFF_MS, BACKOFF_MS * 2 ** Math.max(0, restartCount - 1));
}

const rfc3339 = timestamp;

function setReady(status: Record<string, unknown>, ready: boolean, reason: string, now: number): void {
  const conditions = (status.conditions as Condition[] | undefined) ?? [];
  const unready = ((status.containerStatuses as ContainerStatus[] | undefined) ?? [])
    .filter((s) => !s.ready)
    .map((s) => s.name);
  for (const c of conditions) {
    if (c.type !== "Ready" && c.type !== "ContainersReady") continue;
    const next = ready ? "True" : "False";
    if (c.status !== next) c.lastTransitionTime = rfc3339(now);
    c.status = next;
    if (ready) {
      delete c.reason;
      delete c.message;
    } else {
      c.reason = reason;
      if (reason === "ContainersNotReady")
        c.message = `containers with unready status: [${unready.join(" ")}]`;
      else delete c.message;
    }
  }
}

/**
 * The pod's status after its main process (in `container`) exited with `code`. A restart is immediate unless
 * `backoff` is set: then the container waits in CrashLoopBackOff until `statusAfterBackoff`.
 */
export function statusAfterExit(
  pod: KubeObject,
  container: string | undefined,
  code: number,
  now: number,
  opts: { backoff?: boolean } = {},
): Record<string, unknown> {
  const spec = (pod.spec ?? {}) as { restartPolicy?: string; containers?: { name?: string }[] };
  const status = structuredClone((pod.status ?? {}) as Record<string, unknown>);
  const policy = spec.restartPolicy ?? "Always";
  const name = container ?? spec.containers?.[0]?.name;
  const statuses = (status.containerStatuses as ContainerStatus[] | undefined) ?? [];
  const cs = statuses.find((s) => s.name === name) ?? statuses[0];
  const running = cs?.state?.running as { startedAt?: string } | undefined;
  const terminated = {
    exitCode: code,
    reason: code === 0 ? "Completed" : "Error",
    startedAt: running?.startedAt ?? rfc3339(now),
    finishedAt: rfc3339(now),
    ...(cs && typeof cs.containerID === "string" ? { containerID: cs.containerID } : {}),
  };
  const restart = policy === "Always" || (policy === "OnFailure" && code !== 0);
  if (cs) {
    if (restart) {
      cs.lastState = { terminated };
      cs.restartCount = (cs.restartCount ?? 0) + 1;
      if (opts.backoff) {
        const ns = pod.metadata.namespace ?? "default";
        cs.state = {
          waiting: {
            reason: "CrashLoopBackOff",
            message: `back-off ${backoffMs(cs.restartCount) / 1000}s restarting failed container=${String(cs.name)} pod=${pod.metadata.name}_${ns}(${pod.metadata.uid ?? ""})`,
          },
        };
        cs.ready = false;
        cs.started = false;
      } else cs.state = { running: { startedAt: rfc3339(now) } };
    } else {
      cs.state = { terminated };
      cs.ready = false;
      cs.started = false;
    }
  }
  const allEnded = statuses.every((s) => s.state?.terminated !== undefined);
  if (!restart && allEnded) {
    const failed = statuses.some((s) => (s.state?.terminated as { exitCode?: number }).exitCode !== 0);
    status.phase = failed ? "Failed" : "Succeeded";
    setReady(status, false, "PodCompleted", now);
  } else if (cs && !cs.ready) setReady(status, false, "ContainersNotReady", now);
  return status;
}

/** The pod's status when a container waiting in CrashLoopBackOff starts again. */
export function statusAfterBackoff(pod: KubeObject, container: string, now: number): Record<string, unknown> {
  const status = structuredClone((pod.status ?? {}) as Record<string, unknown>);
  const statuses = (status.containerStatuses as ContainerStatus[] | undefined) ?? [];
  const cs = statuses.find((s) => s.name === container);
  if (!cs?.state?.waiting) return status;
  cs.state = { running: { startedAt: rfc3339(now) } };
  cs.ready = true;
  cs.started = true;
  if (statuses.every((s) => s.ready)) setReady(status, true, "", now);
  return status;
}
