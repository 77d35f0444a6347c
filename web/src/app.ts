/**
 * The learner's page once joined: stage navigation with progress on top, the guide and check panel on the left, the
 * terminal and the flow view on the right. Keyboard (keys.ts): Alt+1 terminal, Alt+2 flows, Alt+Enter check, Alt+←/→
 * stages, `?` the list of shortcuts.
 */
import type { CheckOutcome, StageProgress } from "../../server/src/realtime/protocol.ts";
import type { RoomMessage, RoomPause } from "../../server/src/instructor/wire.ts";
import { api, ApiError, type LearnerState } from "./api.ts";
import { CheckPanel } from "./checks.ts";
import { clear, h, toast } from "./dom.ts";
import { completionDialog, shortcutsDialog, type Dialog } from "./dialogs.ts";
import { FlowsPane } from "./flows.ts";
import { renderGuide } from "./guide.ts";
import { altShortcut, asksForShortcuts, type ShortcutAction } from "./keys.ts";
import { connect } from "./socket.ts";
import { TerminalPane } from "./terminal.ts";
import { resumeButton } from "./resume.ts";

/** The directory in the learner's HOME that holds a stage's files (the server's `stageDir`). */
export const stageDir = (index: number): string => `stage-${index}`;

export function showError(err: unknown): void {
  toast(err instanceof Error ? err.message : String(err), "error");
}

export class LearnerApp {
  private state: LearnerState;
  private viewing: number;
  private readonly nav: HTMLElement;
  private readonly guideEl: HTMLElement;
  private readonly stageTitle: HTMLElement;
  private readonly checks: CheckPanel;
  private readonly terminal: TerminalPane;
  private readonly flows: FlowsPane;
  private readonly tabs: Record<"terminal" | "flows", { button: HTMLButtonElement; panel: HTMLElement }>;
  private readonly connection: HTMLElement;
  private readonly stageDirEl: HTMLElement;
  /** The stage whose directory the shell was last sent to (undefined: not known yet). */
  private shellStage: number | undefined;
  private dialog: Dialog | undefined;

  constructor(root: HTMLElement, state: LearnerState) {
    this.state = state;
    this.viewing = state.currentStage;
    const socket = connect();
    this.nav = h("nav", { class: "stages", "aria-label": "Stages" });
    this.connection = h(
      "span",
      { class: "conn", id: "connection", title: "Connection to the workshop server" },
      "connecting…",
    );
    const header = h(
      "header",
      { class: "topbar" },
      h(
        "div",
        { class: "brand" },
        h("span", { class: "logo", "aria-hidden": "true" }, "⇥"),
        h("span", { class: "brand-title", title: state.lab.title }, state.lab.title),
      ),
      this.nav,
      h(
        "div",
        { class: "who" },
        this.connection,
        h("span", { class: "name" }, state.learner.name),
        resumeButton(state),
        h(
          "button",
          {
            class: "btn btn-ghost btn-keys",
            type: "button",
            id: "shortcuts-button",
            title: "Keyboard shortcuts (?)",
            "aria-label": "Keyboard shortcuts",
            onclick: () => this.toggleShortcuts(),
          },
          "?",
        ),
      ),
    );
    this.stageTitle = h("h2", { class: "stage-title", id: "stage-title" });
    this.stageDirEl = h("code", {
      class: "stage-dir",
      id: "stage-dir",
      title: "This stage's files; the first Run on a stage changes the shell to it",
    });
    this.guideEl = h("article", { class: "guide", id: "guide", tabindex: "0" });
    const checkEl = h("section", { class: "check-panel", "aria-label": "Check your work" });
    const stepper = h(
      "div",
      { class: "stepper" },
      h(
        "button",
        {
          class: "btn btn-ghost",
          type: "button",
          id: "prev-stage",
          title: "Previous stage (Alt+←)",
          onclick: () => void this.go(this.viewing - 1),
        },
        "← Previous",
      ),
      h(
        "button",
        {
          class: "btn btn-ghost",
          type: "button",
          id: "next-stage",
          title: "Next stage (Alt+→)",
          onclick: () =>
            void (this.viewing === this.state.stages.length - 1
              ? this.showCompletion()
              : this.go(this.viewing + 1)),
        },
        "Next →",
      ),
    );
    const left = h(
      "section",
      { class: "pane left", "aria-label": "Lab guide" },
      h(
        "div",
        { class: "stage-head" },
        h("div", { class: "stage-name" }, this.stageTitle, this.stageDirEl),
        stepper,
      ),
      this.guideEl,
      checkEl,
    );

    const termHost = h("div", { class: "term-host", id: "terminal" });
    const termPanel = h(
      "div",
      { class: "tab-panel term-panel", id: "panel-terminal", role: "tabpanel" },
      termHost,
    );
    const flowsPanel = h("div", {
      class: "tab-panel flows-panel",
      id: "panel-flows",
      role: "tabpanel",
      hidden: true,
    });
    const tabButton = (id: "terminal" | "flows", label: string, key: string) =>
      h(
        "button",
        {
          class: "tab",
          role: "tab",
          type: "button",
          id: `tab-${id}`,
          "aria-controls": `panel-${id}`,
          title: `${label} (Alt+${key})`,
          onclick: () => this.showTab(id),
        },
        label,
      );
    this.tabs = {
      terminal: { button: tabButton("terminal", "Terminal", "1"), panel: termPanel },
      flows: { button: tabButton("flows", "Flows", "2"), panel: flowsPanel },
    };
    const right = h(
      "section",
      { class: "pane right", "aria-label": "Workspace" },
      h("div", { class: "tabs", role: "tablist" }, this.tabs.terminal.button, this.tabs.flows.button),
      termPanel,
      flowsPanel,
    );
    root.replaceChildren(header, h("main", { class: "workspace" }, left, right));

    this.terminal = new TerminalPane(termHost, socket);
    this.flows = new FlowsPane(flowsPanel, socket);
    this.checks = new CheckPanel(checkEl, {
      check: (answers) => this.check(answers),
      reset: () => this.reset(),
      saveAnswers: (answers) => void api.saveAnswers(this.viewing, answers).catch(showError),
    });
    this.showTab("terminal");

    socket.on("connect", () => this.setConnection("live"));
    socket.on("disconnect", () => this.setConnection("reconnecting…"));
    socket.on("connect_error", (err) => {
      const data = (err as Error & { data?: { code?: string; retryAfter?: number } }).data;
      if (data?.code === "unauthorized") window.location.reload();
      this.setConnection("reconnecting…");
      // Refused for now (another server still holds this learner's cluster, or the database is away): socket.io
      // does not retry a refusal by itself. Asking for the session first lets the routing cookie point at the server
      // that serves this learner.
      if (data?.code === "unavailable") {
        const wait = Math.min(10, Math.max(1, data.retryAfter ?? 2)) * 1000;
        void api
          .session()
          .catch(() => undefined)
          .finally(() => window.setTimeout(() => socket.connect(), wait));
      }
    });
    socket.on("error", (e) => toast(e.message, "error"));
    socket.on("server:notice", (n) => toast(n.message, n.cleared ? "info" : "error"));
    socket.on("progress", (p) => this.setProgress(p.stages, p.currentStage));
    socket.on("room:message", (m) => showRoomMessage(m));
    socket.on("room:pause", (p) => showPause(p));
    socket.on("check:result", (r) => {
      if (r.stageIndex === this.viewing) this.checks.showResult(r);
    });
    document.addEventListener("keydown", (e) => this.keys(e), true);
    this.renderNav();
    void this.load(this.viewing);
  }

  private setConnection(text: string): void {
    this.connection.textContent = text;
    this.connection.classList.toggle("live", text === "live");
  }

  private keys(e: KeyboardEvent): void {
    if (e.key === "Escape" && this.dialog) {
      e.preventDefault();
      this.closeDialog();
      return;
    }
    if (asksForShortcuts(e, e.target instanceof Element ? e.target : null)) {
      e.preventDefault();
      this.toggleShortcuts();
      return;
    }
    const action = altShortcut(e);
    if (!action) return;
    const actions: Record<ShortcutAction, () => void> = {
      terminal: () => this.showTab("terminal"),
      flows: () => this.showTab("flows"),
      check: () => void this.checks.runCheck(),
      previous: () => void this.go(this.viewing - 1),
      next: () => void this.go(this.viewing + 1),
    };
    e.preventDefault();
    e.stopPropagation();
    actions[action]();
  }

  private toggleShortcuts(): void {
    if (this.dialog?.kind === "shortcuts") return this.closeDialog();
    this.openDialog(shortcutsDialog(() => this.closeDialog()));
  }

  private openDialog(d: Dialog): void {
    this.closeDialog();
    this.dialog = d;
    document.body.append(d.el);
    d.focus();
  }

  private closeDialog(): void {
    this.dialog?.el.remove();
    this.dialog = undefined;
  }

  /** The end of the workshop: what was done, and what is still open. */
  private showCompletion(justPassed?: number): void {
    this.openDialog(
      completionDialog(
        this.state.lab.title,
        this.state.stages.map((s) => ({
          index: s.index,
          title: s.title,
          passed: s.index === justPassed || this.state.progress[s.index]?.status === "passed",
        })),
        {
          close: () => this.closeDialog(),
          go: (i) => (this.closeDialog(), void this.go(i)),
        },
      ),
    );
  }

  private showTab(id: "terminal" | "flows"): void {
    for (const [k, t] of Object.entries(this.tabs)) {
      const on = k === id;
      t.panel.hidden = !on;
      t.button.setAttribute("aria-selected", String(on));
      t.button.classList.toggle("active", on);
    }
    this.flows.show(id === "flows");
    if (id === "terminal") {
      this.terminal.refit();
      this.terminal.focus();
    }
  }

  private renderNav(): void {
    clear(this.nav);
    const ol = h("ol", {});
    for (const s of this.state.stages) {
      const p = this.state.progress[s.index];
      const status = p?.status ?? "not-started";
      ol.append(
        h(
          "li",
          {},
          h(
            "button",
            {
              type: "button",
              class: `stage-pill ${status} ${s.index === this.viewing ? "viewing" : ""}`,
              "data-stage": s.index,
              "data-status": status,
              "aria-current": s.index === this.viewing ? "step" : undefined,
              title: `${s.title}${status === "passed" ? " — passed" : ""}`,
              onclick: () => void this.go(s.index),
            },
            h("span", { class: "num" }, status === "passed" ? "✓" : String(s.index)),
            h("span", { class: "label" }, s.title),
          ),
        ),
      );
    }
    const passed = this.state.progress.filter((p) => p.status === "passed").length;
    this.nav.append(
      ol,
      h(
        "span",
        { class: "progress-count", id: "progress-count" },
        `${passed}/${this.state.stages.length} passed`,
      ),
    );
  }

  private setProgress(stages: StageProgress[], current: number): void {
    this.state = { ...this.state, progress: stages, currentStage: current };
    this.renderNav();
  }

  private async go(i: number): Promise<void> {
    if (i < 0 || i >= this.state.stages.length || i === this.viewing) return;
    try {
      this.state = await api.go(i);
      this.viewing = i;
      this.flows.stageOpened();
      this.renderNav();
      await this.load(i);
    } catch (err) {
      showError(err);
    }
  }

  private async load(i: number): Promise<void> {
    const stage = this.state.stages[i];
    if (!stage) return;
    this.stageTitle.textContent = `${i}. ${stage.title}`;
    this.stageDirEl.textContent = `~/${stageDir(i)}`;
    (document.getElementById("prev-stage") as HTMLButtonElement).disabled = i === 0;
    const next = document.getElementById("next-stage") as HTMLButtonElement;
    const last = i === this.state.stages.length - 1;
    next.textContent = last ? "Finish ✓" : "Next →";
    next.title = last ? "See what you have done in this workshop" : "Next stage (Alt+→)";
    try {
      const g = await api.guide(i);
      renderGuide(this.guideEl, g, {
        run: (t) => this.runInShell(t, i),
        check: () => void this.checks.runCheck(),
        rotate: (id) => api.action(i, id),
      });
      this.checks.show(stage, g.answers, g.lastCheck);
    } catch (err) {
      showError(err);
    }
  }

  /**
   * Runs a guide command in the terminal. The first Run on a stage the shell is not known to be in changes to that
   * stage's directory first, in plain sight (`cd ~/stage-N`), so the stage's files are where its commands expect them.
   */
  private runInShell(text: string, stage: number): void {
    this.showTab("terminal");
    const before = this.shellStage === stage ? [] : [`cd ~/${stageDir(stage)}`];
    this.shellStage = stage;
    this.terminal.run(text, before);
  }

  private async check(answers: Record<string, string>): Promise<void> {
    try {
      const r: CheckOutcome = await api.check(this.viewing, answers);
      this.checks.showResult(r);
      if (r.passed) toast(`Stage ${r.stageIndex} passed`);
      if (r.passed && r.stageIndex === this.state.stages.length - 1) this.showCompletion(r.stageIndex);
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) window.location.reload();
      showError(err);
    }
  }

  private async reset(): Promise<void> {
    try {
      this.state = await api.reset(this.viewing);
      this.renderNav();
      toast("The stage was set up again");
    } catch (err) {
      showError(err);
    }
  }
}

/** A message from the instructor: a banner at the top of the page until dismissed. */
function showRoomMessage(m: RoomMessage): void {
  let box = document.getElementById("room-messages");
  if (!box) {
    box = h("div", { id: "room-messages", role: "status", "aria-live": "polite" });
    document.body.append(box);
  }
  const item = h(
    "div",
    { class: "room-message" },
    h("strong", {}, m.broadcast ? "Instructor (to everyone): " : "Instructor: "),
    m.text,
    h("button", { class: "btn btn-ghost", type: "button", onclick: () => item.remove() }, "Dismiss"),
  );
  box.append(item);
}

/** The instructor's "look at the screen" overlay over the whole page, while the room is paused. */
function showPause(p: RoomPause): void {
  document.getElementById("room-pause")?.remove();
  if (!p.paused) return;
  document.body.append(
    h(
      "div",
      {
        id: "room-pause",
        class: "room-pause",
        role: "alertdialog",
        "aria-label": "Paused by the instructor",
      },
      h(
        "div",
        { class: "room-pause-box" },
        h("h2", {}, "Pause — look at the screen"),
        p.text ? h("p", {}, p.text) : null,
      ),
    ),
  );
}
