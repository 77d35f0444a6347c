/**
 * A container's main process as the kubelet sees it: its command line, whether it runs to completion or keeps
 * running, and what `kubectl attach` connects to. A command runs to completion when the pod shell would finish it:
 * scripts are read with the shell's own parser, and a program ends on its own when it is one of the shell's commands
 * (its command registry) used in a way that ends — not `sleep infinity`, `tail -f`, `ping` without a count, `nc -l`
 * or a loop. Anything else (an image's entrypoint, `nginx`, `etcd`) is a server the simulator keeps running.
 */
import { LIMITS } from "../../shell/budget.ts";
import { coreCommands, parseSleep } from "../../shell/commands/core.ts";
import { netCommands } from "../../shell/commands/index.ts";
import { parseScript, ShellSyntaxError, type Command, type Script, type Word } from "../../shell/parse.ts";

/** The longest `sleep` the simulator waits out; longer ones (and `infinity`) mean "keeps running". */
const LONGEST_SLEEP_MS = 300_000;
const SHELLS = new Set(["sh", "ash", "bash", "dash", "zsh"]);

const baseName = (p: string): string => p.slice(p.lastIndexOf("/") + 1);
const isCommand = (name: string): boolean =>
  Object.hasOwn(coreCommands, name) || Object.hasOwn(netCommands, name);

/** The container's command and args, as the kubelet starts them (empty: the image's own entrypoint). */
export function mainCommand(container: { command?: unknown; args?: unknown }): string[] {
  const list = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : []);
  return [...list(container.command), ...list(container.args)];
}

interface ContainerSpec {
  name?: unknown;
  command?: unknown;
  args?: unknown;
  stdin?: unknown;
}

const containersOf = (pod: { spec?: unknown }): ContainerSpec[] => {
  const cs = (pod.spec as { containers?: unknown } | undefined)?.containers;
  return Array.isArray(cs) ? (cs as ContainerSpec[]) : [];
};

/** The container `name` of the pod (the first when not given), or undefined. */
export function containerOf(pod: { spec?: unknown }, name: string | undefined): ContainerSpec | undefined {
  const all = containersOf(pod);
  return (name ? all.find((c) => c.name === name) : undefined) ?? all[0];
}

/**
 * What `kubectl attach` (and `kubectl run -it`) connects to: the container's main process, its command and args
 * run by the pod's shell (`sh` when none is given). A container started without stdin has no interactive process:
 * `undefined` means "stream its output only".
 */
export function attachCommand(pod: { spec?: unknown }, container: string | undefined): string[] | undefined {
  const c = containerOf(pod, container);
  if (!c?.stdin) return undefined;
  const cmd = mainCommand(c);
  return cmd.length ? cmd : ["sh"];
}

/**
 * Whether the simulator runs this main process to its end: a command of the pod shell that ends on its own
 * (`echo hi`, `sh -c 'exit 3'`, `wget -qO- …`). The image's entrypoint, servers, `sleep infinity`, `tail -f` and
 * loops keep running.
 */
export function runsToCompletion(argv: readonly string[]): boolean {
  return argv.length > 0 && endsAlone(argv, 0);
}

/** Whether one program with its arguments, run `depth` shells deep, ends on its own. */
function endsAlone(argv: readonly string[], depth: number): boolean {
  const prog = baseName(argv[0] ?? "");
  const args = argv.slice(1);
  if (SHELLS.has(prog)) return args[0] === "-c" && args[1] !== undefined && scriptEnds(args[1], depth + 1);
  if (!isCommand(prog)) return false;
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

/**
 * Whether `sh -c script` ends: a script the shell refuses (too long, too deep, a syntax error) ends at once with
 * exit 2, as the pod shell runs it.
 */
function scriptEnds(script: string, depth: number): boolean {
  if (script.length > LIMITS.scriptChars || depth > LIMITS.depth) return true;
  let parsed: Script;
  try {
    parsed = parseScript(script);
  } catch (e) {
    if (e instanceof ShellSyntaxError) return true;
    throw e;
  }
  return listEnds(parsed, depth);
}

function listEnds(script: Script, depth: number): boolean {
  return script.every((ao) =>
    [ao.first, ...ao.rest.map((r) => r.pipeline)].every((p) =>
      p.commands.every((c) => commandEnds(c, depth)),
    ),
  );
}

function commandEnds(c: Command, depth: number): boolean {
  switch (c.kind) {
    case "cmd": {
      if (![...c.assigns.map((a) => a.value), ...c.words].every((w) => substitutionsEnd(w, depth)))
        return false;
      if (c.words.length === 0) return true;
      const argv = c.words.map(literal);
      // A program named by a variable or a substitution: nothing tells what it is.
      if (argv[0] === undefined) return false;
      return endsAlone(
        argv.map((a) => a ?? "$"),
        depth,
      );
    }
    case "for":
      return c.items.every((w) => substitutionsEnd(w, depth)) && listEnds(c.body, depth);
    case "subshell":
      return listEnds(c.body, depth);
    case "if":
      return (
        c.branches.every((b) => listEnds(b.cond, depth) && listEnds(b.body, depth)) &&
        (!c.otherwise || listEnds(c.otherwise, depth))
      );
    case "while":
      // Loops are how containers keep running (`while true; do …; done`).
      return false;
  }
}

/** The word's text when it is all literal, else undefined. */
function literal(w: Word): string | undefined {
  let s = "";
  for (const p of w) {
    if (p.kind !== "lit") return undefined;
    s += p.text;
  }
  return s;
}

/** Whether every command substitution in the word ends. */
function substitutionsEnd(w: Word, depth: number): boolean {
  return w.every((p) => p.kind !== "sub" || scriptEnds(p.script, depth + 1));
}
