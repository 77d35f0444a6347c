/**
 * The board's table and summary: attendees × stages, each cell saying why (state, time in stage, attempts, the failing
 * check and the mistake matched), the per-stage summary above, and sorting, filtering and search. Kept as a map of
 * attendees that diffs update; only the rows that changed are built again.
 */
import {
  applyBoardDiff,
  stuckReason,
  summarize,
  type BoardAttendee,
  type BoardCell,
  type BoardDiff,
  type BoardSnapshot,
  type BoardStage,
} from "../../server/src/instructor/wire.ts";
import { h } from "./dom.ts";

export type SortKey = "stuck" | "name" | "progress" | "joined";
export type FilterKey = "all" | "stuck" | "unfinished" | "online";

/** "3 min", "1 h 05". */
export function duration(ms: number): string {
  const m = Math.max(0, Math.floor(ms / 60_000));
  if (m < 60) return `${m} min`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, "0")}`;
}

const stuckCount = (a: BoardAttendee): number => a.cells.filter((c) => c.state === "stuck").length;
const passedCount = (a: BoardAttendee): number => a.cells.filter((c) => c.state === "passed").length;

export class BoardView {
  readonly el: HTMLElement;
  private readonly summaryEl = h("section", { class: "board-summary", id: "board-summary" });
  private readonly table = h("table", { class: "board", id: "board" });
  private readonly tbody = h("tbody");
  private readonly thead = h("thead");
  private readonly rowsEl = new Map<string, HTMLTableRowElement>();
  private readonly attendees = new Map<string, BoardAttendee>();
  private stages: BoardStage[] = [];
  private sort: SortKey = "stuck";
  private filter: FilterKey = "all";
  private search = "";
  private joinOrder = new Map<string, number>();
  private scheduled = false;

  constructor(private readonly onOpen: (id: string) => void) {
    const searchBox = h("input", {
      type: "search",
      id: "board-search",
      placeholder: "Search by name",
      "aria-label": "Search attendees by name",
      oninput: (e: Event) => {
        this.search = (e.target as HTMLInputElement).value.trim().toLowerCase();
        this.render();
      },
    });
    const select = <K extends string>(
      id: string,
      label: string,
      options: [K, string][],
      set: (k: K) => void,
    ) =>
      h(
        "label",
        { class: "board-control" },
        label,
        h(
          "select",
          { id, onchange: (e: Event) => (set((e.target as HTMLSelectElement).value as K), this.render()) },
          ...options.map(([v, t]) => h("option", { value: v }, t)),
        ),
      );
    this.table.append(this.thead, this.tbody);
    this.el = h(
      "div",
      { class: "board-main" },
      this.summaryEl,
      h(
        "div",
        { class: "board-controls" },
        searchBox,
        select<FilterKey>(
          "board-filter",
          "Show",
          [
            ["all", "everyone"],
            ["stuck", "stuck only"],
            ["unfinished", "not finished"],
            ["online", "online"],
          ],
          (k) => (this.filter = k),
        ),
        select<SortKey>(
          "board-sort",
          "Sort",
          [
            ["stuck", "stuck first"],
            ["name", "name"],
            ["progress", "least progress first"],
            ["joined", "joined"],
          ],
          (k) => (this.sort = k),
        ),
      ),
      h("div", { class: "board-wrap" }, this.table),
    );
    // Times in stage move on by themselves.
    setInterval(() => this.refreshAll(), 30_000);
  }

  /** The attendee's row as last received. */
  attendee(id: string): BoardAttendee | undefined {
    return this.attendees.get(id);
  }

  stageList(): BoardStage[] {
    return this.stages;
  }

  snapshot(s: BoardSnapshot): void {
    this.stages = s.stages;
    this.attendees.clear();
    this.rowsEl.clear();
    this.joinOrder.clear();
    for (const a of s.attendees) {
      this.joinOrder.set(a.id, this.joinOrder.size);
      this.attendees.set(a.id, a);
    }
    this.thead.replaceChildren(
      h(
        "tr",
        {},
        h("th", { class: "who" }, "Attendee"),
        ...s.stages.map((st) =>
          h(
            "th",
            { "data-stage": st.index },
            h("div", { class: "stage-head" }, `${st.index} · ${st.title}`),
            h("div", { class: "fine stage-count" }),
          ),
        ),
      ),
    );
    this.render();
  }

  diff(d: BoardDiff): void {
    for (const c of d.changes) if (!this.joinOrder.has(c.id)) this.joinOrder.set(c.id, this.joinOrder.size);
    for (const id of applyBoardDiff(this.attendees, d)) this.rowsEl.delete(id);
    if (this.scheduled) return;
    this.scheduled = true;
    requestAnimationFrame(() => {
      this.scheduled = false;
      this.render();
    });
  }

  private refreshAll(): void {
    this.rowsEl.clear();
    this.render();
  }

  private visible(): BoardAttendee[] {
    const list = [...this.attendees.values()].filter((a) => {
      if (this.search && !a.name.toLowerCase().includes(this.search)) return false;
      if (this.filter === "stuck") return stuckCount(a) > 0;
      if (this.filter === "unfinished") return passedCount(a) < a.cells.length;
      if (this.filter === "online") return a.online;
      return true;
    });
    const join = (a: BoardAttendee) => this.joinOrder.get(a.id) ?? 0;
    const byName = (a: BoardAttendee, b: BoardAttendee) => a.name.localeCompare(b.name) || join(a) - join(b);
    const cmp: Record<SortKey, (a: BoardAttendee, b: BoardAttendee) => number> = {
      stuck: (a, b) => stuckCount(b) - stuckCount(a) || passedCount(a) - passedCount(b) || byName(a, b),
      name: byName,
      progress: (a, b) => passedCount(a) - passedCount(b) || a.currentStage - b.currentStage || byName(a, b),
      joined: (a, b) => join(a) - join(b),
    };
    return list.sort(cmp[this.sort]);
  }

  private render(): void {
    const rows = this.visible().map((a) => {
      let tr = this.rowsEl.get(a.id);
      if (!tr) {
        tr = this.row(a);
        this.rowsEl.set(a.id, tr);
      }
      return tr;
    });
    this.tbody.replaceChildren(...rows);
    const lines = summarize(this.stages, this.attendees.values());
    this.summaryEl.replaceChildren(
      h("h2", {}, `Attendees: ${this.attendees.size}`),
      h(
        "ul",
        { class: "summary-lines" },
        ...lines
          .filter((l) => l.counts.working + l.counts.stuck + l.counts.passed > 0)
          .map((l) =>
            h(
              "li",
              { "data-stage": l.stage, class: l.counts.stuck ? "has-stuck" : "" },
              h("strong", {}, l.text),
              ...(l.mistakes.length
                ? [
                    h(
                      "div",
                      { class: "fine" },
                      "Mistakes seen: ",
                      ...l.mistakes
                        .slice(0, 3)
                        .flatMap((m, i) => [
                          i ? ", " : "",
                          h("span", { title: m.why, class: "mistake" }, `${m.label} (${m.count})`),
                        ]),
                    ),
                  ]
                : []),
            ),
          ),
      ),
    );
    for (const l of lines) {
      const th = this.thead.querySelector(`th[data-stage="${l.stage}"] .stage-count`);
      if (th)
        th.textContent = `${l.counts.passed} passed · ${l.counts.working} working · ${l.counts.stuck} stuck`;
    }
  }

  private row(a: BoardAttendee): HTMLTableRowElement {
    return h(
      "tr",
      { "data-attendee": a.id },
      h(
        "th",
        { scope: "row", class: "who" },
        h(
          "button",
          {
            class: "btn-link attendee-open",
            type: "button",
            title: `Open ${a.name}: terminal, checks, flows, actions`,
            onclick: () => this.onOpen(a.id),
          },
          h("span", { class: `dot ${a.online ? "on" : "off"}`, title: a.online ? "online" : "offline" }),
          a.name,
        ),
        ...(a.problem ? [h("div", { class: "fine problem" }, a.problem)] : []),
      ),
      ...a.cells.map((c) => this.cell(a, c)),
    );
  }

  private cell(a: BoardAttendee, c: BoardCell): HTMLTableCellElement {
    const now = Date.now();
    const started = c.startedAt ? Date.parse(c.startedAt) : undefined;
    const end = c.passedAt ? Date.parse(c.passedAt) : now;
    const time = started !== undefined ? duration(end - started) : "";
    const root = c.failing.find((f) => !f.blockedBy) ?? c.failing[0];
    const tip = [
      c.state === "stuck" && c.stuck
        ? `Stuck (${c.stuck.reason === "idle" ? "idle" : "failing the same checks"}) since ${new Date(c.stuck.since).toLocaleTimeString()}`
        : "",
      c.mistake ? `Mistake: ${c.mistake.label} — ${c.mistake.why}` : "",
      ...c.failing.map((f) =>
        f.blockedBy ? `✗ ${f.title} (not checked)` : `✗ ${f.title}${f.hint ? `\n   Hint: ${f.hint}` : ""}`,
      ),
    ]
      .filter(Boolean)
      .join("\n");
    const mark = c.state === "passed" ? "✓" : c.state === "stuck" ? "⚠" : c.state === "working" ? "…" : "";
    return h(
      "td",
      {
        class: `cell ${c.state}${c.stage === a.currentStage ? " current" : ""}`,
        "data-stage": c.stage,
        "data-state": c.state,
        ...(tip ? { title: tip } : {}),
      },
      h(
        "div",
        { class: "cell-head" },
        h("span", { class: "mark" }, mark),
        time ? h("span", { class: "time" }, time) : null,
      ),
      c.attempts
        ? h("div", { class: "fine attempts" }, `${c.attempts} check${c.attempts === 1 ? "" : "s"}`)
        : null,
      root && c.state !== "passed"
        ? h("div", { class: "failing", "data-check-id": root.id }, `✗ ${root.title}`)
        : null,
      c.mistake && c.state !== "passed" ? h("div", { class: "mistake" }, c.mistake.label) : null,
      c.state === "stuck" && !root ? h("div", { class: "fine" }, stuckReason(c)) : null,
    );
  }
}
