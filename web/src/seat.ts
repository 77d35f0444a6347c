/**
 * Help from the seat: one attendee opened beside the board — their terminal read-only and live, their last check
 * results, their cluster's denied flows, policies and what changed since the stage started — and the actions (reset
 * the stage, jump to a stage, send a message), each confirmed before it is sent.
 */
import { Terminal } from "@xterm/xterm";
import { FitAddon } from "@xterm/addon-fit";
import type { AttendeeDetail, BoardAttendee, BoardStage } from "../../server/src/instructor/wire.ts";
import type { LabSocket } from "./socket.ts";
import { h, toast } from "./dom.ts";

export type InstructorApi = <T = unknown>(method: string, path: string, body?: unknown) => Promise<T>;

type Detail = AttendeeDetail & { attendee?: BoardAttendee; stages: BoardStage[] };

const time = (iso: string): string => (iso ? new Date(iso).toLocaleTimeString() : "");

function table(head: string[], rows: (string | number | undefined)[][], empty: string): HTMLElement {
  if (!rows.length) return h("p", { class: "fine" }, empty);
  return h(
    "table",
    { class: "seat-table" },
    h("thead", {}, h("tr", {}, ...head.map((x) => h("th", {}, x)))),
    h(
      "tbody",
      {},
      ...rows.map((r) => h("tr", {}, ...r.map((c) => h("td", {}, c === undefined ? "" : String(c))))),
    ),
  );
}

export class SeatPanel {
  readonly el = h("aside", { class: "seat", id: "seat", hidden: true, "aria-label": "Attendee" });
  private term: Terminal | undefined;
  private fit: FitAddon | undefined;
  private attendeeId: string | undefined;

  constructor(
    private readonly socket: LabSocket,
    private readonly api: InstructorApi,
  ) {
    socket.on("seat:term", (o) => {
      if (o.attendeeId !== this.attendeeId || !this.term) return;
      if (o.replay) this.term.reset();
      this.term.write(o.data);
      this.el.querySelector(".seat-live")!.textContent = o.live ? "live" : "not running (last saved output)";
    });
    socket.on("seat:term-exit", (e) => {
      if (e.attendeeId === this.attendeeId) this.term?.write(`\r\n[the shell ended: ${e.code}]\r\n`);
    });
    socket.on("connect", () => {
      if (this.attendeeId) socket.emit("seat:watch", { attendeeId: this.attendeeId });
    });
  }

  get open(): string | undefined {
    return this.attendeeId;
  }

  close(): void {
    this.attendeeId = undefined;
    this.socket.emit("seat:unwatch");
    this.term?.dispose();
    this.term = undefined;
    this.el.hidden = true;
    this.el.replaceChildren();
  }

  async show(id: string, name: string): Promise<void> {
    if (this.attendeeId !== id) {
      this.close();
      this.attendeeId = id;
      this.el.hidden = false;
      const host = h("div", { class: "seat-term", id: "seat-term" });
      this.el.replaceChildren(
        h(
          "header",
          { class: "seat-head" },
          h("h2", {}, name),
          h("button", { class: "btn", type: "button", onclick: () => this.close() }, "Close"),
        ),
        h(
          "div",
          { class: "fine" },
          "Terminal (read-only): ",
          h("span", { class: "seat-live" }, "connecting…"),
        ),
        host,
        h("div", { class: "seat-actions", id: "seat-actions" }),
        h("div", { class: "seat-detail", id: "seat-detail" }, h("p", { class: "fine" }, "Loading…")),
      );
      this.term = new Terminal({
        disableStdin: true,
        cursorBlink: false,
        fontSize: 12,
        scrollback: 3000,
        theme: { background: "#0f1720", foreground: "#d8e1ea" },
      });
      this.fit = new FitAddon();
      this.term.loadAddon(this.fit);
      this.term.open(host);
      this.fit.fit();
      this.socket.emit("seat:watch", { attendeeId: id });
    }
    await this.refresh();
  }

  /** Reads the attendee's detail again (after an action, or on demand). */
  async refresh(): Promise<void> {
    const id = this.attendeeId;
    if (!id) return;
    let d: Detail;
    try {
      d = await this.api<Detail>("GET", `/api/instructor/attendees/${encodeURIComponent(id)}`);
    } catch (err) {
      toast(err instanceof Error ? err.message : String(err), "error");
      return;
    }
    if (id !== this.attendeeId) return;
    this.actions(id, d);
    const detail = this.el.querySelector("#seat-detail")!;
    const title = (i: number) => d.stages[i]?.title ?? `stage ${i}`;
    detail.replaceChildren(
      h("h3", {}, "Last checks"),
      ...(d.checks.length
        ? d.checks.map((c) =>
            h(
              "div",
              { class: "seat-check" },
              h(
                "strong",
                {},
                `${c.stage} · ${title(c.stage)}: ${c.outcome.passed ? "passed" : "failed"} at ${time(c.outcome.at)}`,
              ),
              h(
                "ul",
                {},
                ...c.outcome.checks.map((x) =>
                  h(
                    "li",
                    { class: x.passed ? "pass" : "fail", "data-check-id": x.id },
                    `${x.passed ? "✓" : "✗"} ${x.title}`,
                    !x.passed && x.hint && !x.blockedBy
                      ? h("div", { class: "fine" }, `Hint: ${x.hint}`)
                      : null,
                  ),
                ),
              ),
            ),
          )
        : [h("p", { class: "fine" }, "No checks yet.")]),
      h("h3", {}, "Denied flows (last 15 minutes)"),
      d.flows.error
        ? h("p", { class: "fine problem" }, d.flows.error)
        : table(
            ["time", "source", "destination", "port", "denied by"],
            d.flows.denied.map((f) => [time(f.at), f.source, f.dest, `${f.port}/${f.proto}`, f.policy]),
            "No denied flows.",
          ),
      h("h3", {}, "Policies"),
      d.policies.error
        ? h("p", { class: "fine problem" }, d.policies.error)
        : table(
            ["kind", "name", "tier", "order", "rules", "selector"],
            d.policies.items.map((p) => [
              p.kind,
              p.namespace ? `${p.namespace}/${p.name}` : p.name,
              p.tier,
              p.order,
              p.rules,
              p.selector,
            ]),
            "No policies.",
          ),
      h("h3", {}, `Changed since the stage started${d.changes.since ? ` (${time(d.changes.since)})` : ""}`),
      d.changes.error
        ? h("p", { class: "fine problem" }, d.changes.error)
        : table(
            ["time", "object", "change", "by"],
            d.changes.items.map((c) => [
              time(c.at),
              `${c.kind} ${c.namespace ? `${c.namespace}/` : ""}${c.name}`,
              c.change,
              c.by.join(", "),
            ]),
            "Nothing created or changed yet (deletions are not shown).",
          ),
    );
  }

  private actions(id: string, d: Detail): void {
    const current = d.attendee?.currentStage ?? 0;
    const stageSelect = (sel: string) =>
      h(
        "select",
        { class: "stage-select", id: sel },
        ...d.stages.map((s) =>
          h(
            "option",
            { value: s.index, ...(s.index === current ? { selected: true } : {}) },
            `${s.index} · ${s.title}`,
          ),
        ),
      );
    const resetSel = stageSelect("seat-reset-stage");
    const jumpSel = stageSelect("seat-jump-stage");
    const msg = h("input", { id: "seat-message", placeholder: "A message for their page", maxlength: 500 });
    const act = async (what: string, path: string, body: unknown): Promise<void> => {
      if (!window.confirm(what)) return;
      try {
        await this.api("POST", `/api/instructor/attendees/${encodeURIComponent(id)}${path}`, body);
        toast(`Done: ${what}`);
        await this.refresh();
      } catch (err) {
        toast(err instanceof Error ? err.message : String(err), "error");
      }
    };
    const name = d.attendee?.name ?? "the attendee";
    this.el.querySelector("#seat-actions")!.replaceChildren(
      h(
        "div",
        { class: "seat-action" },
        resetSel,
        h(
          "button",
          {
            class: "btn",
            type: "button",
            id: "seat-reset",
            onclick: () =>
              void act(
                `Reset stage ${resetSel.value} for ${name}? Their changes in it are undone.`,
                "/reset",
                {
                  stage: Number(resetSel.value),
                },
              ),
          },
          "Reset stage",
        ),
      ),
      h(
        "div",
        { class: "seat-action" },
        jumpSel,
        h(
          "button",
          {
            class: "btn",
            type: "button",
            id: "seat-jump",
            onclick: () =>
              void act(
                `Move ${name} to stage ${jumpSel.value}? The stages before it are set up with their solutions.`,
                "/jump",
                { stage: Number(jumpSel.value) },
              ),
          },
          "Jump to stage",
        ),
      ),
      h(
        "form",
        {
          class: "seat-action",
          onsubmit: (e: Event) => {
            e.preventDefault();
            if (msg.value.trim())
              void act(`Send “${msg.value.trim()}” to ${name}?`, "/message", { text: msg.value }).then(
                () => void (msg.value = ""),
              );
          },
        },
        msg,
        h("button", { class: "btn", type: "submit", id: "seat-send" }, "Send"),
      ),
    );
  }
}
