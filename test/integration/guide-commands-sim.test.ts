/**
 * Every command in the egress workshop's guide, and every check, works unchanged on the simulator (issue 12's "Done
 * when", first half): for each edition, one cluster from the sim provider and one learner who walks every stage in
 * order (test/helpers/guide-walk.ts) in the simulator's multi-user terminal: HOME as the terminal prepares it, the
 * sandbox's own launch (bubblewrap, its network namespace with only the learner's API socket, the real kubectl 1.32,
 * curl, jq and the `flows` helper), on pipes rather than a pty (test/helpers/guide-learner.ts `simLearner`).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSimProvider, type SimProvider } from "../../server/src/providers/sim/provider.ts";
import type { Edition, Lab } from "../../server/src/labs/index.ts";
import { transcript, walkStage, type StageWalk } from "../helpers/guide-walk.ts";
import {
  learnerWrites,
  notForTheTerminal,
  loadWorkshop,
  simLearner,
  type Learner,
} from "../helpers/guide-learner.ts";

let provider: SimProvider;
let lab: Lab;
const learners: Learner[] = [];

beforeAll(async () => {
  provider = await createSimProvider({ hostOptions: { port: 0 } });
  lab = await loadWorkshop();
});

afterAll(async () => {
  for (const l of learners) l.close();
  await provider?.close();
});

describe("the egress workshop's guide on the simulator", () => {
  it("reports a command that does not work and an expected value not printed, with stage, command and output", async () => {
    const mutant = structuredClone(lab);
    const guide = mutant.stages[1]!.guide;
    guide.text = guide.text
      .replace(
        "kubectl exec -n shop deploy/checkout -- curl -s -o /dev/null -w '%{http_code}\\n' -m 3 https://api.stripe.com/v1/charges\n```\n\nExpected: `200`",
        "kubectl exec -n shop deploy/checkuot -- curl -s -o /dev/null -w '%{http_code}\\n' -m 3 https://api.stripe.com/v1/charges\n```\n\nExpected: `200`",
      )
      .replace("Expected: `000` and exit code 28", "Expected: `404` and exit code 28");
    expect(guide.text).toContain("deploy/checkuot");
    expect(guide.text).toContain("`404`");
    const conn = await provider.acquire({ id: "guide-mutant", profile: lab.profile, seed: 1 });
    const learner = await simLearner(mutant, "enterprise", 1, conn, (s) => provider.connectApi(conn.id, s));
    learners.push(learner);
    const walk = await walkStage(learner, 1);
    expect(walk.problems).toEqual([
      expect.stringMatching(
        /^stage 01-default-deny: `kubectl exec -n shop deploy\/checkuot -- curl [^`]*` exited 1; it printed:\nError from server \(NotFound\): deployments.apps "checkuot" not found$/,
      ),
      expect.stringMatching(
        /^stage 01-default-deny: `kubectl exec -n shop deploy\/checkout [^`]*; echo "exit \$\?"` expected `404` in the output; it printed:\n000\n/,
      ),
    ]);
  });

  it.concurrent.each([
    ["enterprise", 1],
    ["oss", 2],
  ] as [Edition, number][])(
    "%s: every guide command works and every check passes, stage after stage (seed %i)",
    async (edition, seed) => {
      const conn = await provider.acquire({ id: `guide-${edition}`, profile: lab.profile, edition, seed });
      const learner = await simLearner(lab, edition, seed, conn, (s) => provider.connectApi(conn.id, s));
      learners.push(learner);
      const walks: StageWalk[] = [];
      for (const s of lab.stages) walks.push(await walkStage(learner, s.index));
      const problems = walks.flatMap((w) => w.problems);
      expect(problems, transcript(walks)).toEqual([]);
      // Every stage ran: its commands were typed, and the stages with checks passed all of them.
      expect(walks.map((w) => w.stage)).toEqual(lab.stages.map((s) => s.id));
      expect(walks.every((w) => w.commands.length > 1)).toBe(true);
      // What the learner writes themselves from the reference solution ("Write the same for …") and nothing more: a
      // guide that lost one of its apply blocks fails here rather than being made up for by the solution.
      expect(Object.fromEntries(walks.map((w) => [w.stage, w.written]))).toEqual(learnerWrites[edition]);
      // The guide's rotate action (stage 2) rotated Stripe, to addresses of its own.
      expect(walks.flatMap((w) => w.rotated)).toEqual([
        expect.stringMatching(/^api\.stripe\.com: \S+ → \S+$/),
      ]);
      // Copy blocks not run: only those meant for another machine than the terminal.
      expect(walks.flatMap((w) => w.copied)).toEqual(notForTheTerminal[edition]);
    },
    600_000,
  );
});
