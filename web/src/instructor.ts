/** The instructor's board: every attendee × every stage, live. The token printed at server start opens it. */
import type { BoardRow, PoolView } from "../../server/src/realtime/protocol.ts";
import { h } from "./dom.ts";
import { connect } from "./socket.ts";

const key = "egresslab-instructor";

function ask(root: HTMLElement, message = ""): void {
  const input = h("input", {
    id: "token",
    type: "password",
    autocomplete: "off",
    placeholder: "instructor token",
  });
  root.replaceChildren(
    h(
      "main",
      { class: "join" },
      h(
        "form",
        {
          class: "join-card",
          onsubmit: (e: Event) => (
            e.preventDefault(),
            sessionStorage.setItem(key, input.value.trim()),
            board(root)
          ),
        },
        h("h1", {}, "Instructor board"),
        h("label", { for: "token" }, "Instructor token (printed when the server started)"),
        input,
        h("div", { class: "form-error", role: "alert" }, message),
        h("button", { class: "btn btn-primary", type: "submit" }, "Open"),
      ),
    ),
  );
  input.focus();
}

function board(root: HTMLElement): void {
  const token = sessionStorage.getItem(key);
  if (!token) return ask(root);
  const socket = connect({ instructor: token });
  const table = h("table", { class: "board", id: "board" });
  const status = h("span", { class: "conn" }, "connecting…");
  const pool = h("span", { class: "conn", id: "pool" });
  root.replaceChildren(
    h("header", { class: "topbar" }, h("div", { class: "brand" }, "Instructor board"), pool, status),
    h("main", { class: "board-wrap" }, table),
  );
  socket.on("connect", () => ((status.textContent = "live"), status.classList.add("live")));
  socket.on("disconnect", () => ((status.textContent = "reconnecting…"), status.classList.remove("live")));
  socket.on("connect_error", (err) => {
    if ((err as Error & { data?: { code?: string } }).data?.code === "unauthorized") {
      socket.close();
      sessionStorage.removeItem(key);
      ask(root, "That token is not this workshop's.");
    }
  });
  socket.on("board:pool", (p: PoolView) => {
    pool.textContent = p.target
      ? `clusters ready ${p.ready}/${p.target}${p.filling && p.ready < p.target ? " (preparing…)" : ""}`
      : "";
  });
  const notice = h("div", { class: "notice", role: "alert", hidden: "" });
  root.prepend(notice);
  socket.on("server:notice", (n) => {
    if (n.kind !== "storage") return;
    notice.textContent = n.cleared ? "" : n.message;
    notice.toggleAttribute("hidden", !!n.cleared);
  });
  socket.on("board:update", (rows: BoardRow[]) => {
    const stages = rows[0]?.stages.length ?? 0;
    const done = (s: number) => rows.filter((r) => r.stages[s]?.status === "passed").length;
    table.replaceChildren(
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          h("th", {}, `Attendees (${rows.length})`),
          ...Array.from({ length: stages }, (_, i) =>
            h("th", {}, `Stage ${i}`, h("div", { class: "fine" }, `${done(i)} passed`)),
          ),
        ),
      ),
      h(
        "tbody",
        {},
        ...rows.map((r) =>
          h(
            "tr",
            {},
            h(
              "th",
              { scope: "row" },
              h("span", { class: `dot ${r.online ? "on" : "off"}`, title: r.online ? "online" : "offline" }),
              r.name,
              ...(r.problem ? [h("div", { class: "fine problem" }, r.problem)] : []),
            ),
            ...r.stages.map((s) =>
              h(
                "td",
                {
                  class: `cell ${s.status} ${s.index === r.currentStage ? "current" : ""}`,
                  title: `${s.checks} checks`,
                },
                s.status === "passed" ? "✓" : s.status === "started" ? "…" : "",
              ),
            ),
          ),
        ),
      ),
    );
  });
}

board(document.getElementById("app")!);
