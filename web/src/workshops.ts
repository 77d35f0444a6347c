/**
 * The instructor page's workshops panel: every workshop this token may see, with its state, attendees and
 * pre-warming progress; open, pause and end (confirmed); which one the board shows; and, for the server's owner, a
 * form that creates a workshop and shows its instructor token once.
 */
import type { WireError } from "../../server/src/realtime/protocol.ts";
import type { WorkshopView } from "../../server/src/http/workshop-view.ts";
import { h, toast } from "./dom.ts";

/** The workshop the board shows, kept for this tab. */
export const workshopKey = "egresslab-instructor-workshop";

async function call<T>(token: string, method: string, url: string, body?: unknown): Promise<T> {
  const res = await fetch(url, {
    method,
    headers: {
      Authorization: `Bearer ${token}`,
      ...(method !== "GET" ? { "Content-Type": "application/json" } : {}),
    },
    body: method !== "GET" ? JSON.stringify(body ?? {}) : undefined,
  });
  const json = (await res.json().catch(() => ({}))) as T & { error?: WireError };
  if (!res.ok) {
    const e = json.error;
    throw new Error(
      e?.problems?.length
        ? e.problems.map((p) => `${p.where}: ${p.message}`).join("; ")
        : (e?.message ?? `the server answered ${res.status}`),
    );
  }
  return json;
}

const stateText: Record<WorkshopView["state"], string> = {
  draft: "not open yet",
  open: "open",
  paused: "joins paused",
  ended: "ended",
};

/** The panel; `onChoose` switches the board to another workshop. */
export function workshopsPanel(
  token: string,
  current: string | undefined,
  onChoose: (id: string) => void,
): HTMLElement {
  const list = h("div", { class: "workshops-list", id: "workshops-list" });
  const error = h("div", { class: "form-error", role: "alert" });
  const created = h("div", { class: "workshop-created", id: "workshop-created" });
  const panel = h(
    "section",
    { class: "workshops-panel", id: "workshops-panel", "aria-label": "Workshops", hidden: "" },
    h("h2", {}, "Workshops"),
    list,
    error,
    created,
    createForm(token, (out) => {
      created.replaceChildren(
        h("p", {}, `Created “${out.workshop.title}”. Its instructor token is shown only now:`),
        h("code", { class: "resume-code" }, out.instructorToken),
        h(
          "p",
          { class: "fine" },
          "Board: ",
          h("a", { href: out.boardUrl ?? "/instructor" }, out.boardUrl ?? "/instructor"),
        ),
      );
      void refresh();
    }),
  );
  const act = (w: WorkshopView, action: "open" | "pause" | "end"): void => {
    if (
      action === "end" &&
      !confirm(`End “${w.title}”? Every attendee's cluster is torn down; results are kept.`)
    )
      return;
    call<WorkshopView>(token, "POST", `/api/instructor/workshops/${w.id}/${action}`).then(
      () => (
        toast(`${w.title}: ${action === "end" ? "ended" : action === "open" ? "open" : "joins paused"}`),
        void refresh()
      ),
      (err: unknown) => (error.textContent = err instanceof Error ? err.message : String(err)),
    );
  };
  const refresh = async (): Promise<void> => {
    try {
      const { workshops } = await call<{ workshops: WorkshopView[] }>(
        token,
        "GET",
        "/api/instructor/workshops",
      );
      error.textContent = "";
      list.replaceChildren(
        ...workshops.map((w) =>
          h(
            "div",
            { class: `workshop-row ${w.id === current ? "current" : ""}`, "data-workshop": w.id },
            h("strong", {}, w.title),
            h(
              "span",
              { class: "fine" },
              ` ${w.lab.title} · ${stateText[w.state]} · ${w.attendees}${w.capacity ? `/${w.capacity}` : ""} attendees` +
                (w.pool.target
                  ? ` · clusters ready ${w.pool.ready}/${w.pool.target}${w.pool.filling ? " (preparing…)" : ""}`
                  : ""),
            ),
            h("button", { class: "btn btn-ghost", type: "button", onclick: () => onChoose(w.id) }, "Board"),
            w.state !== "open"
              ? h("button", { class: "btn", type: "button", onclick: () => act(w, "open") }, "Open")
              : h("button", { class: "btn", type: "button", onclick: () => act(w, "pause") }, "Pause joins"),
            h("button", { class: "btn btn-danger", type: "button", onclick: () => act(w, "end") }, "End"),
          ),
        ),
      );
    } catch (err) {
      error.textContent = err instanceof Error ? err.message : String(err);
    }
  };
  // Pre-warming progress while the panel is open; the timer stops once the page replaced the panel.
  const timer = setInterval(() => {
    if (!panel.isConnected) clearInterval(timer);
    else if (!panel.hidden) void refresh();
  }, 2000);
  const button = h(
    "button",
    {
      class: "btn btn-ghost",
      type: "button",
      id: "workshops-button",
      onclick: () => {
        panel.hidden = !panel.hidden;
        if (!panel.hidden) void refresh();
      },
    },
    "Workshops",
  );
  return h("span", { class: "workshops" }, button, panel);
}

function createForm(
  token: string,
  done: (out: { workshop: WorkshopView; instructorToken: string; boardUrl?: string }) => void,
): HTMLElement {
  const field = (id: string, label: string, attrs: Record<string, string | number | boolean>) => {
    const input = h("input", { id, ...attrs });
    return { input, el: h("label", { for: id }, label, input) };
  };
  const title = field("ws-title", "Title", { type: "text", maxlength: 80, required: true });
  const lab = field("ws-lab", "Lab", { type: "text", value: "egress-workshop", required: true });
  const code = field("ws-code", "Join code", { type: "text", minlength: 4, maxlength: 40, required: true });
  const capacity = field("ws-capacity", "Capacity", { type: "number", min: 1, max: 1000, value: 30 });
  const starts = field("ws-starts", "Starts", { type: "datetime-local" });
  const ends = field("ws-ends", "Ends", { type: "datetime-local" });
  const error = h("div", { class: "form-error", role: "alert" });
  const iso = (v: string): string | undefined => (v ? new Date(v).toISOString() : undefined);
  return h(
    "form",
    {
      class: "workshop-create",
      id: "workshop-create",
      onsubmit: (e: Event) => {
        e.preventDefault();
        error.textContent = "";
        call<{ workshop: WorkshopView; instructorToken: string; boardUrl?: string }>(
          token,
          "POST",
          "/api/instructor/workshops",
          {
            title: title.input.value,
            lab: lab.input.value,
            joinCode: code.input.value,
            capacity: Number(capacity.input.value),
            startsAt: iso(starts.input.value),
            endsAt: iso(ends.input.value),
          },
        ).then(
          done,
          (err: unknown) => (error.textContent = err instanceof Error ? err.message : String(err)),
        );
      },
    },
    h("h3", {}, "New workshop"),
    title.el,
    lab.el,
    code.el,
    capacity.el,
    starts.el,
    ends.el,
    error,
    h("button", { class: "btn btn-primary", type: "submit" }, "Create (clusters start pre-warming)"),
  );
}
