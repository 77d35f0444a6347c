/** The page's dialogs: the list of keyboard shortcuts (`?`), and the completion screen at the end of the workshop. */
import { h } from "./dom.ts";
import { altShortcuts, otherShortcuts } from "./keys.ts";

export interface Dialog {
  kind: "shortcuts" | "completion";
  el: HTMLElement;
  /** Moves the keyboard focus into the dialog. */
  focus(): void;
}

function dialog(kind: Dialog["kind"], label: string, close: () => void, ...body: HTMLElement[]): Dialog {
  const closeBtn = h("button", { class: "btn btn-primary", type: "button", onclick: close }, "Close");
  const box = h(
    "div",
    { class: `dialog dialog-${kind}`, role: "dialog", "aria-modal": "true", "aria-label": label, id: kind },
    ...body,
    h("div", { class: "dialog-buttons" }, closeBtn),
  );
  const backdrop = h("div", {
    class: "dialog-backdrop",
    onclick: (e: Event) => {
      if (e.target === backdrop) close();
    },
  });
  backdrop.append(box);
  return { kind, el: backdrop, focus: () => closeBtn.focus() };
}

export function shortcutsDialog(close: () => void): Dialog {
  const row = (keys: string, what: string): HTMLElement =>
    h("tr", {}, h("td", {}, h("kbd", {}, keys)), h("td", {}, what));
  return dialog(
    "shortcuts",
    "Keyboard shortcuts",
    close,
    h("h2", {}, "Keyboard shortcuts"),
    h(
      "table",
      { class: "shortcuts" },
      h(
        "tbody",
        {},
        ...altShortcuts.map((s) => row(s.keys, s.what)),
        ...otherShortcuts.map((s) => row(s.keys, s.what)),
      ),
    ),
    h("p", { class: "muted" }, "On a Mac, Alt is the Option (⌥) key."),
  );
}

export interface StageSummary {
  index: number;
  title: string;
  passed: boolean;
}

export function completionDialog(
  labTitle: string,
  stages: readonly StageSummary[],
  on: { close: () => void; go: (stage: number) => void },
): Dialog {
  const open = stages.filter((s) => !s.passed);
  const done = open.length === 0;
  return dialog(
    "completion",
    done ? "Workshop complete" : "Almost there",
    on.close,
    h("h2", {}, done ? "🎉 Workshop complete" : "Almost there"),
    h(
      "p",
      {},
      done
        ? `You passed every stage of “${labTitle}”. Your cluster stays as you left it: keep exploring in the terminal.`
        : `${stages.length - open.length} of ${stages.length} stages passed. Still open:`,
    ),
    h(
      "ol",
      { class: "completion-stages", start: "0" },
      ...stages.map((s) =>
        h(
          "li",
          { class: s.passed ? "pass" : "open", "data-stage": s.index },
          s.passed ? "✓ " : "○ ",
          s.passed
            ? s.title
            : h("button", { class: "btn-link", type: "button", onclick: () => on.go(s.index) }, s.title),
        ),
      ),
    ),
  );
}
