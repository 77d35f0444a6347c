/**
 * The guide pane: the stage's rendered markdown (safe HTML from the server), with a button on each fenced action:
 * "Run" types the command into the terminal, "Copy" copies, "Apply" applies the YAML through the terminal,
 * "Check" runs the stage's checks, "Rotate" asks the server to make the lab's internet rotate the block's domain and
 * shows the addresses before and after under the block.
 */
import type { Guide, Rotation } from "./api.ts";
import { copyText, h, toast } from "./dom.ts";

export interface GuideHandlers {
  run(text: string): void;
  check(): void;
  /** Performs a `rotate` action on the server (by its id); rejects with the server's error. */
  rotate(actionId: string): Promise<Rotation>;
}

/** What the page shows under a `rotate` block once the rotation is done. */
function rotationText(r: Rotation): string {
  return `${r.domain}: ${r.previous.join(", ") || "(none)"} → ${r.ips.join(", ")}`;
}

async function rotate(el: HTMLElement, button: HTMLButtonElement, id: string, handlers: GuideHandlers) {
  button.disabled = true;
  const old = el.querySelector(".rotate-result");
  try {
    const r = await handlers.rotate(id);
    const result = h(
      "p",
      { class: "rotate-result", role: "status" },
      h("strong", {}, "Rotated. "),
      rotationText(r),
    );
    if (old) old.replaceWith(result);
    else el.append(result);
  } catch (err) {
    toast(err instanceof Error ? err.message : String(err), "error");
  } finally {
    button.disabled = false;
  }
}

/** The shell command that applies a YAML block, shown in the terminal so the learner sees what happens. */
export function applyCommand(yaml: string): string {
  const body = yaml.endsWith("\n") ? yaml : yaml + "\n";
  return `kubectl apply -f - <<'EOF'\n${body}EOF`;
}

async function copy(text: string): Promise<void> {
  if (await copyText(text)) toast("Copied to the clipboard");
  else toast("The browser did not allow copying; select the text instead", "error");
}

export function renderGuide(host: HTMLElement, guide: Guide, handlers: GuideHandlers): void {
  // The HTML is the server's rendering of the lab's markdown (no raw HTML passes through it); a template keeps it inert
  // until it is in place.
  const tpl = document.createElement("template");
  tpl.innerHTML = guide.html;
  host.replaceChildren(tpl.content);
  const root = host;
  // The server renders markdown without raw HTML; links still open outside the page.
  for (const a of root.querySelectorAll("a")) {
    a.setAttribute("target", "_blank");
    a.setAttribute("rel", "noopener noreferrer");
  }
  const byId = new Map(guide.actions.map((a) => [a.id, a]));
  for (const el of root.querySelectorAll<HTMLElement>("[data-action-id]")) {
    const action = byId.get(el.dataset.actionId ?? "");
    if (!action) continue;
    const bar = h("div", { class: "action-bar" });
    const label = { run: "Run", copy: "Copy", apply: "Apply", check: "Check", rotate: "Rotate" }[action.kind];
    const title = {
      run: "Type this command into the terminal and run it",
      copy: "Copy to the clipboard",
      apply: "Apply this YAML with kubectl in the terminal",
      check: "Run this stage's checks",
      rotate: `Make ${action.text}'s provider move it to new addresses in your cluster`,
    }[action.kind];
    const onclick = (e: Event): void => {
      if (action.kind === "run") handlers.run(action.text);
      else if (action.kind === "apply") handlers.run(applyCommand(action.text));
      else if (action.kind === "check") handlers.check();
      else if (action.kind === "rotate")
        void rotate(el, e.currentTarget as HTMLButtonElement, action.id, handlers);
      else void copy(action.text);
    };
    bar.append(
      h(
        "button",
        {
          class: `btn btn-action btn-${action.kind}`,
          type: "button",
          title,
          "data-action": action.kind,
          onclick,
        },
        label,
      ),
    );
    if (action.kind === "run" || action.kind === "apply")
      bar.append(
        h(
          "button",
          {
            class: "btn btn-ghost",
            type: "button",
            title: "Copy to the clipboard",
            onclick: () => void copy(action.kind === "apply" ? applyCommand(action.text) : action.text),
          },
          "Copy",
        ),
      );
    el.prepend(bar);
  }
  host.scrollTop = 0;
}
