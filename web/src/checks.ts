/** The check panel: answer fields for the stage's questions, the Check and Reset buttons, and each check's result. */
import type { CheckOutcome } from "../../server/src/realtime/protocol.ts";
import type { StageInfo } from "./api.ts";
import { clear, h } from "./dom.ts";

export interface CheckPanelHandlers {
  check(answers: Record<string, string>): Promise<void>;
  reset(): Promise<void>;
  saveAnswers(answers: Record<string, string>): void;
}

export class CheckPanel {
  private readonly form: HTMLFormElement;
  private readonly results: HTMLElement;
  private readonly checkBtn: HTMLButtonElement;
  private readonly resetBtn: HTMLButtonElement;
  /** The outcome in a few words, beside the Check button, where the learner's eyes are after clicking it. */
  private readonly status: HTMLElement;
  private inputs: HTMLInputElement[] = [];
  private saveTimer: number | undefined;

  constructor(
    readonly el: HTMLElement,
    private readonly handlers: CheckPanelHandlers,
  ) {
    this.form = h("form", {
      class: "answers",
      onsubmit: (e: Event) => (e.preventDefault(), void this.runCheck()),
    });
    this.checkBtn = h(
      "button",
      {
        class: "btn btn-primary",
        type: "button",
        id: "check-button",
        title: "Run this stage's checks (Alt+Enter)",
        onclick: () => void this.runCheck(),
      },
      "Check",
    );
    this.resetBtn = h(
      "button",
      {
        class: "btn btn-ghost",
        type: "button",
        id: "reset-button",
        title: "Undo your changes for this stage and set it up again",
        onclick: () => void this.runReset(),
      },
      "Reset stage",
    );
    this.results = h("div", { class: "results", id: "check-results", "aria-live": "polite" });
    this.status = h("span", { class: "check-status", id: "check-status" });
    el.append(
      this.form,
      h("div", { class: "check-bar" }, this.checkBtn, this.resetBtn, this.status),
      this.results,
    );
  }

  show(stage: StageInfo, answers: Record<string, string>, last: CheckOutcome | undefined): void {
    clear(this.form);
    this.inputs = stage.questions.map((q) => {
      const input = h("input", {
        id: `answer-${q.id}`,
        name: q.id,
        type: "text",
        autocomplete: "off",
        spellcheck: "false",
        placeholder: q.placeholder ?? "",
      });
      input.value = answers[q.id] ?? "";
      input.addEventListener("input", () => this.scheduleSave());
      this.form.append(h("label", { for: `answer-${q.id}` }, q.prompt), input);
      return input;
    });
    this.form.hidden = this.inputs.length === 0;
    if (last) this.showResult(last, false);
    else {
      clear(this.results);
      this.setStatus(undefined);
    }
  }

  private answers(): Record<string, string> {
    return Object.fromEntries(this.inputs.map((i) => [i.name, i.value]));
  }

  private scheduleSave(): void {
    if (this.saveTimer !== undefined) window.clearTimeout(this.saveTimer);
    this.saveTimer = window.setTimeout(() => this.handlers.saveAnswers(this.answers()), 600);
  }

  async runCheck(): Promise<void> {
    if (this.checkBtn.disabled) return;
    this.busy(true, "Checking…");
    try {
      await this.handlers.check(this.answers());
    } finally {
      this.busy(false);
    }
  }

  private async runReset(): Promise<void> {
    if (
      !window.confirm(
        "Reset this stage? Its objects are removed and set up again; your files in the terminal stay.",
      )
    )
      return;
    this.busy(true, "Resetting…");
    try {
      await this.handlers.reset();
      clear(this.results);
      this.setStatus(undefined);
    } finally {
      this.busy(false);
    }
  }

  private busy(on: boolean, label?: string): void {
    this.checkBtn.disabled = on;
    this.resetBtn.disabled = on;
    this.checkBtn.textContent = on && label === "Checking…" ? label : "Check";
    this.el.classList.toggle("busy", on);
  }

  private setStatus(r: CheckOutcome | undefined): void {
    if (!r) {
      this.status.textContent = "";
      this.status.className = "check-status";
      return;
    }
    const failing = r.checks.filter((c) => !c.passed && !c.blockedBy).length;
    const blocked = r.checks.filter((c) => c.blockedBy).length;
    this.status.className = `check-status ${r.passed ? "pass" : "fail"}`;
    this.status.textContent = r.passed
      ? "✓ Stage passed"
      : `✗ ${failing} of ${r.checks.length} checks fail${blocked ? `, ${blocked} not checked` : ""}`;
  }

  /**
   * Shows a check's outcome: in a few words beside the Check button and in full below it, scrolled so the summary and
   * the first failing check are in sight (`reveal`: not for the last outcome shown again when a stage opens).
   */
  showResult(r: CheckOutcome, reveal = true): void {
    this.setStatus(r);
    this.renderResult(r);
    if (reveal) this.reveal();
  }

  /** Scrolls the panel (and only the panel) so the results start at its top edge, Check button just above if it fits. */
  private reveal(): void {
    const panel = this.el;
    const bar = this.checkBtn.parentElement ?? this.results;
    const top = bar.getBoundingClientRect().top - panel.getBoundingClientRect().top + panel.scrollTop;
    const room = panel.clientHeight - bar.getBoundingClientRect().height;
    const resultsTop =
      this.results.getBoundingClientRect().top - panel.getBoundingClientRect().top + panel.scrollTop;
    panel.scrollTop = room > 80 ? top - 4 : resultsTop - 4;
  }

  private renderResult(r: CheckOutcome): void {
    const passed = r.checks.filter((c) => c.passed).length;
    this.results.replaceChildren(
      h(
        "div",
        { class: `summary ${r.passed ? "pass" : "fail"}`, "data-passed": String(r.passed), "data-at": r.at },
        r.passed ? "Stage passed" : "Not yet",
        h("span", { class: "count" }, ` ${passed}/${r.checks.length} checks pass`),
      ),
      h(
        "ul",
        { class: "check-list" },
        ...r.checks.map((c) =>
          h(
            "li",
            {
              class: c.passed ? "pass" : c.blockedBy ? "blocked" : "fail",
              "data-check-id": c.id,
              "data-blocked-by": c.blockedBy,
            },
            h(
              "span",
              { class: "mark", "aria-label": c.passed ? "passed" : c.blockedBy ? "not checked" : "failed" },
              c.passed ? "✓" : c.blockedBy ? "–" : "✗",
            ),
            h(
              "div",
              {},
              h("div", { class: "check-title" }, c.title),
              h("div", { class: "seen" }, c.seen),
              !c.passed && c.hint ? h("div", { class: "hint" }, "Hint: ", c.hint) : null,
            ),
          ),
        ),
      ),
    );
  }
}
