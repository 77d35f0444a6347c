/** The instructor's board: every attendee × every stage, live. The token printed at server start opens it. */
import type { PoolView } from "../../server/src/realtime/protocol.ts";
import { h } from "./dom.ts";
import { connect } from "./socket.ts";
import { BoardView } from "./board.ts";
import { workshopKey, workshopsPanel } from "./workshops.ts";

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
  const workshop = sessionStorage.getItem(workshopKey) ?? undefined;
  const socket = connect({ instructor: token, ...(workshop ? { workshop } : {}) });
  const view = new BoardView((id) => openAttendee(id));
  const status = h("span", { class: "conn" }, "connecting…");
  const pool = h("span", { class: "conn", id: "pool" });
  const title = h("div", { class: "brand" }, "Instructor board");
  const workshops = workshopsPanel(token, workshop, (id) => {
    sessionStorage.setItem(workshopKey, id);
    socket.close();
    board(root);
  });
  root.replaceChildren(h("header", { class: "topbar" }, title, pool, workshops, status), view.el);
  const openAttendee = (id: string): void => void id;
  socket.on("connect", () => ((status.textContent = "live"), status.classList.add("live")));
  socket.on("disconnect", () => ((status.textContent = "reconnecting…"), status.classList.remove("live")));
  socket.on("connect_error", (err) => {
    if ((err as Error & { data?: { code?: string } }).data?.code === "unauthorized") {
      socket.close();
      sessionStorage.removeItem(key);
      ask(root, "That token is not this workshop's.");
    } else if ((err as Error & { data?: { code?: string } }).data?.code === "not-found") {
      // The workshop this tab showed has ended (or is not this token's): show the token's own board.
      socket.close();
      sessionStorage.removeItem(workshopKey);
      board(root);
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
  socket.on("board:snapshot", (snap) => {
    title.textContent = `Instructor board — ${snap.lab.title}`;
    view.snapshot(snap);
  });
  socket.on("board:diff", (d) => view.diff(d));
}

// `serve` prints the board's address with the token in the fragment (never sent to the server): keep it for this
// tab and take it out of the address bar.
const fromUrl = new URLSearchParams(location.hash.slice(1)).get("token");
if (fromUrl) {
  sessionStorage.setItem(key, fromUrl);
  history.replaceState(null, "", location.pathname + location.search);
}
board(document.getElementById("app")!);
