/**
 * Walks a lab the way a learner does, on one cluster, carrying state from stage to stage: the stage's setup (as the
 * workshop starts it), then every action of its rendered guide in order — each `run` block's commands typed into the
 * learner's shell, each `apply` block applied through it as the page's Apply button types it, each `rotate` performed
 * as the server's Rotate endpoint does, each `copy` block with placeholders filled in as the learner fills it (the
 * workload they found) and run or applied in the shell — and at its `check`: where the guide leaves writing to the
 * learner ("Write the same for …"), the stage's reference solution objects that the guide's own commands did not
 * create, applied through the same shell, then the stage's checks graded as the server grades them, with the
 * reference answers.
 *
 * A command works when it exits 0 and prints none of the ways kubectl, bash and the API server say something went
 * wrong, unless the guide's "Expected:" line right after its block says so; the literal values in that line
 * (`200`, then `000`) must be in the output.
 */
import { stringify } from "yaml";
import type { CheckResult, GuideAction, LabParams, RenderedGuide } from "../../server/src/labs/api.ts";
import { renderGuide, renderStage, type Lab } from "../../server/src/labs/index.ts";
import type { Manifest } from "../../server/src/labs/model/types.ts";
import { refOf, type ClusterClient, type ClusterObject } from "../../server/src/grading/cluster.ts";
import { gradeStage, rotateOn, setupStage } from "../../server/src/grading/index.ts";
import { rotateDomainOf } from "../../server/src/labs/model/guide.ts";
import type { ClusterConnection } from "../../server/src/providers/provider.ts";
import type { CommandResult, LearnerShell } from "./learner-shell.ts";

/** What the page's Apply button types (web/src/guide.ts `applyCommand`, which needs the DOM to import). */
export function applyCommand(yaml: string): string {
  const body = yaml.endsWith("\n") ? yaml : yaml + "\n";
  return `kubectl apply -f - <<'EOF'\n${body}EOF`;
}

/** A run block's commands: one per line, a heredoc's lines with the command that opens it. */
export function splitCommands(text: string): string[] {
  const lines = text.replace(/\n$/, "").split("\n");
  const out: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (!line.trim()) continue;
    const heredoc = /<<-?\s*(['"]?)([A-Za-z_][A-Za-z0-9_]*)\1/.exec(line.replace(/<<</g, "   "));
    if (!heredoc) {
      out.push(line);
      continue;
    }
    const body = [line];
    while (++i < lines.length) {
      body.push(lines[i]!);
      if (lines[i]!.replace(/^\t+/, "") === heredoc[2]) break;
    }
    out.push(body.join("\n"));
  }
  return out;
}

/**
 * What kubectl, bash and the API server print when something went wrong. kubectl's own errors start a line
 * (`error: …`); elsewhere in a line `error:` is what a program reports, such as a workload's log of its failed requests.
 */
export const trouble: readonly { text: string; found: RegExp }[] = [
  { text: "command not found", found: /command not found/i },
  { text: "error:", found: /^error:/im },
  { text: "Error from server", found: /Error from server/i },
  { text: "unknown flag", found: /unknown flag/i },
  {
    text: "the server could not find the requested resource",
    found: /the server could not find the requested resource/i,
  },
];

/** How one backtick span of an "Expected:" line is checked against the output. */
export interface ExpectedValue {
  span: string;
  /** What the output must contain; absent: the span describes rather than quotes (`why`). */
  match?: RegExp;
  why?: string;
  /** The span says the command fails: curl's `000` (no HTTP answer) or an error message. */
  failure: boolean;
}

/**
 * Spans that are not output as written: a column header and its value, a name the sentence mentions, an address
 * range. Everything else is a literal, so a new "Expected:" line is checked as written unless it is added here.
 */
const described: Record<string, { match?: RegExp; why: string }> = {
  "READY 1/1": { match: /\b1\/1\b/, why: "a column and its value" },
  shop: { why: "the namespace the sentence talks about" },
  "ifconfig.me": { why: "the service the sentence talks about" },
  "10.10.10.0/31": { match: /\b10\.10\.10\.[01]\b/, why: "the range the address is from" },
};

const escapeRe = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

export function expectedValue(span: string): ExpectedValue {
  const failure = span === "000" || /error/i.test(span);
  const d = described[span];
  if (d) return { span, ...d, failure };
  // `172.18.0.x`: an address of that network.
  if (/^\d+\.\d+\.\d+\.x$/.test(span))
    return { span, match: new RegExp(`\\b${escapeRe(span.slice(0, -1))}\\d{1,3}\\b`), failure };
  return { span, match: new RegExp(escapeRe(span)), failure };
}

const entities: Record<string, string> = {
  "&quot;": '"',
  "&amp;": "&",
  "&lt;": "<",
  "&gt;": ">",
  "&#39;": "'",
};
const decode = (s: string): string => s.replace(/&(quot|amp|lt|gt|#39);/g, (e) => entities[e]!);

/** The "Expected:" paragraph right after an action of the rendered guide: its text and checked values. */
export function expectedAfter(
  guide: RenderedGuide,
  actionId: string,
): { text: string; values: ExpectedValue[]; exitCodes: number[] } | undefined {
  const at = guide.html.indexOf(`data-action-id="${actionId}"`);
  if (at < 0) return undefined;
  const end = guide.html.indexOf("</div>", at);
  const rest = guide.html.slice(end + "</div>".length).trimStart();
  const p = /^<p>Expected:([\s\S]*?)<\/p>/.exec(rest);
  if (!p) return undefined;
  const html = p[1]!;
  const values = [...html.matchAll(/<code>([\s\S]*?)<\/code>/g)].map((m) => expectedValue(decode(m[1]!)));
  const text = decode(html.replace(/<[^>]+>/g, "")).trim();
  const exitCodes = [...text.matchAll(/exit code (\d+)/g)].map((m) => Number(m[1]));
  return { text, values, exitCodes };
}

/** The exit codes the paragraph right before an action names ("(expected: exit code 28, timed out)"). */
export function expectedBefore(guide: RenderedGuide, actionId: string): number[] {
  const at = guide.html.lastIndexOf("<div", guide.html.indexOf(`data-action-id="${actionId}"`));
  const p = /<p>((?:(?!<p>)[\s\S])*)<\/p>\s*$/.exec(guide.html.slice(0, Math.max(0, at)));
  return p ? [...p[1]!.matchAll(/expected: exit code (\d+)/gi)].map((m) => Number(m[1])) : [];
}

export interface CommandRecord {
  stage: string;
  command: string;
  result: CommandResult;
  /** Why it does not work; absent when it does. */
  problem?: string;
}

export interface StageWalk {
  stage: string;
  commands: CommandRecord[];
  /** Copy blocks (filled in by the learner), by their first line. */
  copied: string[];
  /** Rotations the guide's rotate actions made: the domain, its addresses before and after. */
  rotated: string[];
  /** Solution objects applied because the guide leaves writing them to the learner. */
  written: string[];
  checks: CheckResult[];
  /** Every command that does not work and every check that fails, readably. */
  problems: string[];
}

export interface WalkContext {
  lab: Lab;
  params: LabParams;
  conn: ClusterConnection;
  /** The server's client of the cluster (setup and grading), for finding what exists. */
  client: ClusterClient;
  shell: LearnerShell;
  /**
   * A copy block filled in as the learner fills it (its placeholders replaced with this session's values), or
   * undefined for a block that is not for the terminal (nothing to fill in).
   */
  fill?: (text: string) => string | undefined;
  /** Seconds between typing a background command and the next one (a learner reads in between). */
  afterBackgroundMs?: number;
}

/**
 * Whether a command worked: it finished, exited 0 and printed no trouble. A command whose expected values say it fails
 * (curl's `000`, an error message) may exit otherwise and print trouble, as long as those values are in its output.
 */
export function judgeCommand(result: CommandResult, values: readonly ExpectedValue[]): string | undefined {
  if (result.timedOut) return "did not finish";
  const failing = values.filter((v) => v.failure);
  if (failing.length && failing.every((v) => !v.match || v.match.test(result.output))) return undefined;
  if (result.exitCode !== 0) return `exited ${result.exitCode}`;
  for (const t of trouble) if (t.found.test(result.output)) return `printed "${t.text}"`;
  return undefined;
}

/** Whether `output` holds the expected values, in order, and says each expected exit code (`exit 28`). */
export function judgeOutput(
  output: string,
  values: readonly ExpectedValue[],
  exitCodes: readonly number[],
): string | undefined {
  let from = 0;
  for (const v of values) {
    if (!v.match) continue;
    const m = v.match.exec(output.slice(from));
    if (!m) return `expected \`${v.span}\` in the output${from ? " after the earlier expected values" : ""}`;
    from += m.index + m[0].length;
  }
  for (const code of exitCodes)
    if (!new RegExp(`\\bexit ${code}\\b`).test(output)) return `expected exit code ${code}`;
  return undefined;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function objectName(o: ClusterObject): string {
  return `${o.kind} ${o.metadata.namespace ? `${o.metadata.namespace}/` : ""}${o.metadata.name}`;
}

/** Runs stage `index` as a learner: setup, the guide's actions, the learner's own writing, the checks. */
export async function walkStage(ctx: WalkContext, index: number): Promise<StageWalk> {
  const { lab, params, conn, shell } = ctx;
  const stage = renderStage(lab, index, params);
  const guide: RenderedGuide = renderGuide(lab, index, params);
  const walk: StageWalk = {
    stage: stage.id,
    commands: [],
    copied: [],
    rotated: [],
    written: [],
    checks: [],
    problems: [],
  };
  const record = (r: CommandRecord): void => {
    walk.commands.push(r);
    if (r.problem)
      walk.problems.push(
        `stage ${stage.id}: \`${r.command}\` ${r.problem}; it printed:\n${r.result.output.trimEnd() || "(nothing)"}`,
      );
  };
  /** Types one command; judges it by `values` (what it must print) and `failures` (what may make it fail). */
  const type = async (
    command: string,
    values: readonly ExpectedValue[] = [],
    exitCodes: readonly number[] = [],
    failures: readonly ExpectedValue[] = values,
  ): Promise<CommandResult> => {
    const result = await shell.run(command);
    const problem = judgeCommand(result, failures) ?? judgeOutput(result.output, values, exitCodes);
    record({
      stage: stage.id,
      command,
      result,
      ...(problem ? { problem } : {}),
    });
    if (/&\s*$/.test(command)) await sleep(ctx.afterBackgroundMs ?? 2000);
    return result;
  };

  // The workshop sets a stage up when the learner first opens it.
  await setupStage(conn, lab, index, params);
  // The page's first Run on a stage changes to its directory in plain sight.
  await type(`cd ~/stage-${index}`);

  for (const action of guide.actions as (GuideAction | { kind: string; id: string; text: string })[]) {
    switch (action.kind) {
      case "run": {
        const commands = splitCommands(action.text);
        const expected = expectedAfter(guide, action.id);
        const values = expected?.values ?? [];
        const exitCodes = expected?.exitCodes ?? [];
        const checked = values.filter((v) => v.match);
        if (commands.length === 1) await type(commands[0]!, values, exitCodes);
        else if (checked.length === commands.length) {
          // One value per command ("`200`, then `000`"): each command's own.
          for (const [i, c] of commands.entries()) await type(c, [checked[i]!], []);
        } else {
          // The block's values, in order, over the output of all its commands.
          const failures = values.filter((v) => v.failure);
          const outputs: string[] = [];
          for (const c of commands) outputs.push((await type(c, [], [], failures)).output);
          const problem = judgeOutput(outputs.join(""), values, exitCodes);
          if (problem)
            walk.problems.push(
              `stage ${stage.id}: the block \`${action.text.trim()}\` ${problem}; it printed:\n${outputs.join("").trimEnd()}`,
            );
        }
        break;
      }
      case "apply":
        await type(applyCommand(action.text));
        break;
      case "rotate": {
        // The page's Rotate button: the server rotates the action's domain in the learner's cluster
        // (`Workshop.rotate` → the lab runner's `rotate` → grading's `rotateOn`).
        const domain = rotateDomainOf(action.text);
        try {
          if (!domain) throw new Error(`the rotate block names no one domain: ${action.text.trim()}`);
          const r = await rotateOn(conn, domain);
          walk.rotated.push(`${r.domain}: ${r.previous.join(",")} → ${r.ips.join(",")}`);
          if (r.ips.join() === r.previous.join())
            throw new Error(`${domain} kept its addresses ${r.ips.join(",")}`);
        } catch (err) {
          walk.problems.push(
            `stage ${stage.id}: rotating ${action.text.trim()} failed: ${err instanceof Error ? err.message : String(err)}`,
          );
        }
        break;
      }
      case "copy": {
        // A template the learner fills in (the workload they found) and then runs or applies in the terminal.
        const filled = ctx.fill?.(action.text);
        if (filled === undefined) {
          walk.copied.push(action.text.split("\n")[0]!);
          break;
        }
        if (/^apiVersion:/m.test(filled) && /^kind:/m.test(filled)) {
          await type(applyCommand(filled));
          break;
        }
        const exitCodes = expectedBefore(guide, action.id);
        for (const c of splitCommands(filled)) await type(c, [], exitCodes);
        break;
      }
      case "check": {
        if (stage.guideOnly) {
          walk.problems.push(`stage ${stage.id}: a guide-only stage has a check action`);
          break;
        }
        await writeTheRest(ctx, stage.solution, walk, type);
        const r = await gradeStage(conn, lab, index, params, stage.solutionAnswers);
        walk.checks = r.checks;
        for (const c of r.checks)
          if (!c.passed)
            walk.problems.push(
              `stage ${stage.id}: check ${c.id} (${c.title}) fails: ${c.seen}${c.hint ? ` — hint: ${c.hint}` : ""}`,
            );
        break;
      }
      default:
        walk.problems.push(
          `stage ${stage.id}: the guide has a ${action.kind} action, which this walk does not know how to perform`,
        );
    }
  }
  if (!stage.guideOnly && !guide.actions.some((a) => a.kind === "check"))
    walk.problems.push(`stage ${stage.id}: the guide has no check action`);
  return walk;
}

/** Applies, through the learner's shell, each solution object the guide's commands did not create. */
async function writeTheRest(
  ctx: WalkContext,
  solution: readonly Manifest[],
  walk: StageWalk,
  type: (command: string) => Promise<CommandResult>,
): Promise<void> {
  for (const m of solution) {
    const o = m.object as ClusterObject;
    if (await ctx.client.get(refOf(o))) continue;
    walk.written.push(objectName(o));
    await type(applyCommand(stringify(o)));
  }
}

/** What a walk did, stage by stage: every command with its output and exit code, what the learner wrote, the checks. */
export function transcript(walks: readonly StageWalk[]): string {
  return walks
    .map(
      (w) =>
        `## ${w.stage}\n` +
        w.commands
          .map((c) => `$ ${c.command}\n${c.result.output.trimEnd()}\n[exit ${c.result.exitCode}]`)
          .join("\n") +
        (w.rotated.length ? `\nrotated: ${w.rotated.join("; ")}` : "") +
        (w.copied.length ? `\ncopy blocks (the learner fills them in): ${w.copied.join(" | ")}` : "") +
        (w.written.length ? `\nwritten by the learner (reference solution): ${w.written.join(", ")}` : "") +
        `\nchecks: ${w.checks.map((c) => `${c.id} ${c.passed ? "pass" : "FAIL"}`).join(", ") || "none"}`,
    )
    .join("\n\n");
}
