import { describe, expect, it } from "vitest";
import { BoardModel, type ModelAttendee } from "./model.ts";
import { matchMistake, type KnownMistake } from "./mistakes.ts";
import { applyBoardDiff, summarize, type BoardAttendee } from "./wire.ts";
import type { CheckOutcome } from "../realtime/protocol.ts";

const t0 = Date.parse("2026-03-01T09:00:00Z");
const min = 60_000;

// The default-deny stage's wrong solutions, as the egress lab declares them.
const stage1Mistakes: KnownMistake[] = [
  { name: "no-dns", why: "no DNS allow", fails: ["dns-resolves", "dns-over-tcp"], first: "dns-resolves" },
  {
    name: "catches-kube-system",
    why: "CoreDNS isolated",
    fails: ["dns-resolves", "dns-over-tcp"],
    first: "dns-resolves",
  },
  { name: "udp-only-dns", why: "UDP only", fails: ["dns-over-tcp"], first: "dns-over-tcp" },
  {
    name: "explicit-deny-first",
    why: "an explicit Deny at a low order is final",
    fails: ["shop-internal-works"],
    first: "shop-internal-works",
  },
  {
    name: "staged-only",
    why: "staged is not enforced",
    fails: ["shop-egress-denied", "ops-egress-denied", "no-outside-resolvers"],
    first: "shop-egress-denied",
  },
];

function setup(opts: { failingMin?: number; idleMin?: number; typed?: Map<string, number> } = {}) {
  let now = t0;
  const model = new BoardModel({
    lab: { id: "egress", title: "Egress" },
    stages: [
      { index: 0, id: "00-map", title: "Map exposure" },
      { index: 1, id: "01-deny", title: "Default deny" },
    ],
    rule: { failingMs: (opts.failingMin ?? 5) * min, idleMs: (opts.idleMin ?? 10) * min },
    now: () => now,
    mistakes: (_id, stage) => (stage === 1 ? stage1Mistakes : []),
    activity: (id) => opts.typed?.get(id),
  });
  const people: ModelAttendee[] = [
    { id: "a", name: "Ada", currentStage: 1, joinedAt: t0, online: true },
    { id: "b", name: "Bob", currentStage: 0, joinedAt: t0 + 1, online: false },
  ];
  model.setAttendees(people);
  model.setStageTimes("a", [{ startedAt: t0, passedAt: t0 }, { startedAt: t0 }]);
  model.setStageTimes("b", [{ startedAt: t0 }]);
  return {
    model,
    people,
    advance: (ms: number) => (now += ms),
    at: () => now,
  };
}

const outcome = (stageIndex: number, at: number, failing: string[]): CheckOutcome => ({
  stageIndex,
  passed: failing.length === 0,
  at: new Date(at).toISOString(),
  checks: [
    "dns-resolves",
    "dns-over-tcp",
    "shop-internal-works",
    "shop-egress-denied",
    "ops-egress-denied",
    "no-outside-resolvers",
  ].map((id) => ({
    id,
    title: `title of ${id}`,
    passed: !failing.includes(id),
    seen: "…",
    ...(failing.includes(id) ? { hint: `hint for ${id}` } : {}),
  })),
});

const cell = (rows: BoardAttendee[], id: string, stage: number) =>
  rows.find((r) => r.id === id)!.cells[stage]!;

describe("BoardModel", () => {
  it("computes not started / working / passed, attempts and the checks failing now with their hints", () => {
    const { model } = setup();
    model.recordCheck("a", outcome(1, t0 + 1000, ["shop-internal-works"]));
    const rows = model.rows();
    expect(cell(rows, "a", 0).state).toBe("passed");
    expect(cell(rows, "a", 1)).toMatchObject({
      state: "working",
      attempts: 1,
      failing: [
        {
          id: "shop-internal-works",
          title: "title of shop-internal-works",
          hint: "hint for shop-internal-works",
        },
      ],
      mistake: { names: ["explicit-deny-first"], label: "explicit deny first" },
      startedAt: new Date(t0).toISOString(),
    });
    expect(cell(rows, "b", 1).state).toBe("not-started");
  });

  it("is stuck after failing the same checks for N minutes, counted from the first such check", () => {
    const { model, advance, at } = setup({ failingMin: 5, idleMin: 60 });
    model.recordCheck("a", outcome(1, at(), ["dns-resolves", "dns-over-tcp"]));
    advance(3 * min);
    model.recordCheck("a", outcome(1, at(), ["dns-resolves", "dns-over-tcp"]));
    advance(1 * min);
    expect(cell(model.rows(), "a", 1).state).toBe("working");
    advance(1 * min);
    const c = cell(model.rows(), "a", 1);
    expect(c.state).toBe("stuck");
    expect(c.stuck).toEqual({ reason: "failing", since: new Date(t0).toISOString() });
    expect(c.mistake?.label).toBe("catches kube system or no dns");
  });

  it("starts counting again when different checks fail, and stops when the stage passes", () => {
    const { model, advance, at } = setup({ failingMin: 5, idleMin: 60 });
    model.recordCheck("a", outcome(1, at(), ["dns-resolves", "dns-over-tcp"]));
    advance(4 * min);
    model.recordCheck("a", outcome(1, at(), ["dns-over-tcp"]));
    advance(2 * min);
    expect(cell(model.rows(), "a", 1).state).toBe("working");
    expect(cell(model.rows(), "a", 1).mistake?.names).toEqual(["udp-only-dns"]);
    advance(3 * min);
    expect(cell(model.rows(), "a", 1).state).toBe("stuck");
    model.recordCheck("a", outcome(1, at(), []));
    model.setStageTimes("a", [
      { startedAt: t0, passedAt: t0 },
      { startedAt: t0, passedAt: at() },
    ]);
    const c = cell(model.rows(), "a", 1);
    expect(c).toMatchObject({ state: "passed", failing: [], attempts: 3 });
  });

  it("is stuck after M idle minutes on the current stage only; typing in the terminal counts as activity", () => {
    const typed = new Map<string, number>();
    const { model, advance, at } = setup({ failingMin: 60, idleMin: 10, typed });
    advance(9 * min);
    typed.set("a", at());
    advance(9 * min);
    let rows = model.rows();
    expect(cell(rows, "a", 1).state).toBe("working");
    // Bob has been idle 18 minutes on stage 0, his current stage.
    expect(cell(rows, "b", 0)).toMatchObject({
      state: "stuck",
      stuck: { reason: "idle", since: new Date(t0 + 1).toISOString() },
    });
    advance(1 * min);
    rows = model.rows();
    expect(cell(rows, "a", 1)).toMatchObject({ state: "stuck", stuck: { reason: "idle" } });
    expect(cell(rows, "a", 0).state).toBe("passed");
    model.touch("a");
    expect(cell(model.rows(), "a", 1).state).toBe("working");
  });

  it("forgets the failing checks of a stage that was reset after them", () => {
    const { model, advance, at } = setup();
    model.recordCheck("a", outcome(1, at(), ["shop-internal-works"]));
    advance(2 * min);
    model.setStageTimes("a", [{ startedAt: t0, passedAt: t0 }, { startedAt: at() }]);
    expect(cell(model.rows(), "a", 1)).toMatchObject({ state: "working", failing: [], attempts: 1 });
  });

  it("diffs per attendee and per cell, and sends nothing when nothing changed", () => {
    const { model, people, advance, at } = setup({ failingMin: 5, idleMin: 60 });
    const snap = model.snapshot();
    expect(snap.attendees).toHaveLength(2);
    expect(model.diff()).toBeUndefined();
    model.recordCheck("a", outcome(1, at(), ["shop-internal-works"]));
    const d = model.diff()!;
    expect(d.remove).toEqual([]);
    expect(d.changes).toEqual([{ id: "a", cells: [expect.objectContaining({ stage: 1, attempts: 1 })] }]);
    expect(model.diff()).toBeUndefined();
    // Time alone changes a cell when it becomes stuck.
    advance(5 * min);
    expect(model.diff()!.changes).toEqual([
      { id: "a", cells: [expect.objectContaining({ stage: 1, state: "stuck" })] },
    ]);
    // A header change (online) is sent without cells; a departed attendee is removed.
    model.setAttendees([{ ...people[0]!, online: false }]);
    const d2 = model.diff()!;
    expect(d2.remove).toEqual(["b"]);
    expect(d2.changes).toEqual([{ id: "a", attendee: expect.objectContaining({ online: false }) }]);
    expect(d2.changes[0]!.attendee).not.toHaveProperty("cells");
  });

  it("a page applying the diffs to its snapshot holds the same board as a fresh snapshot", () => {
    const { model, people, advance, at } = setup({ failingMin: 5, idleMin: 8 });
    const page = new Map(model.snapshot().attendees.map((a) => [a.id, a]));
    model.setAttendees([...people, { id: "c", name: "Cy", currentStage: 0, joinedAt: at(), online: true }]);
    model.setStageTimes("c", [{ startedAt: at() }]);
    model.recordCheck("a", outcome(1, at(), ["dns-over-tcp"]));
    applyBoardDiff(page, model.diff()!);
    advance(9 * min);
    model.recordCheck("c", outcome(0, at(), ["dns-resolves"]));
    applyBoardDiff(page, model.diff()!);
    // lastActive alone is not sent (typing would flood the page); everything else matches.
    const strip = (rows: BoardAttendee[]) =>
      rows.map((r) => ({ ...r, lastActive: "" })).sort((x, y) => x.id.localeCompare(y.id));
    expect(strip([...page.values()])).toEqual(strip(model.rows()));
    expect(page.get("c")!.cells[0]!.failing.map((f) => f.id)).toEqual(["dns-resolves"]);
  });
});

describe("matchMistake", () => {
  it.each([
    { failing: ["shop-internal-works"], want: ["explicit-deny-first"] },
    // Both wrong solutions fail exactly these checks: the board names them together.
    { failing: ["dns-resolves", "dns-over-tcp"], want: ["catches-kube-system", "no-dns"] },
    // Root cause agrees before fit: dns-resolves first → the DNS mistakes, not udp-only-dns.
    {
      failing: ["dns-resolves", "dns-over-tcp", "shop-internal-works"],
      want: ["catches-kube-system", "no-dns"],
    },
    { failing: ["dns-over-tcp"], want: ["udp-only-dns"] },
    { failing: ["shop-egress-denied", "ops-egress-denied"], want: undefined },
    { failing: [], want: undefined },
  ])("$failing → $want", ({ failing, want }) => {
    expect(matchMistake(failing, stage1Mistakes)?.names).toEqual(want);
  });
});

describe("summarize", () => {
  it("counts states and names the most common reasons of the stuck", () => {
    const { model, advance, at } = setup({ failingMin: 5, idleMin: 60 });
    model.setAttendees([
      { id: "a", name: "Ada", currentStage: 1, joinedAt: t0, online: true },
      { id: "c", name: "Cy", currentStage: 1, joinedAt: t0, online: true },
      { id: "d", name: "Di", currentStage: 1, joinedAt: t0, online: true },
      { id: "e", name: "Ed", currentStage: 1, joinedAt: t0, online: true },
    ]);
    for (const id of ["a", "c", "d", "e"])
      model.setStageTimes(id, [{ startedAt: t0, passedAt: t0 }, { startedAt: t0 }]);
    model.recordCheck("a", outcome(1, at(), ["dns-resolves", "dns-over-tcp"]));
    model.recordCheck("c", outcome(1, at(), ["dns-resolves", "dns-over-tcp"]));
    model.recordCheck("d", outcome(1, at(), ["shop-internal-works"]));
    advance(6 * min);
    model.recordCheck("e", outcome(1, at(), ["shop-internal-works"]));
    const [s0, s1] = summarize(model.stages, model.rows());
    expect(s0!.text).toBe("4 of 4 passed stage 0");
    expect(s1!.counts).toEqual({ "not-started": 0, working: 1, passed: 0, stuck: 3 });
    expect(s1!.text).toBe("3 of 4 stuck on stage 1: 2 catches kube system or no dns, 1 explicit deny first");
    expect(s1!.mistakes).toEqual([
      { label: "catches kube system or no dns", why: "CoreDNS isolated", count: 2 },
      { label: "explicit deny first", why: "an explicit Deny at a low order is final", count: 2 },
    ]);
  });
});
