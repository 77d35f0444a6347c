/** The instructor's board: every attendee × every stage, live. The token printed at server start opens it. */
import type { PoolView } from "../../server/src/realtime/protocol.ts";
import { h, toast } from "./dom.ts";
import { connect } from "./socket.ts";
import { BoardView } from "./board.ts";
import { workshopKey, workshopsPanel } from "./workshops.ts";
import { SeatPanel, type InstructorApi } from "./seat.ts";
import { showResults } from "./results.ts";
import "@xterm/xterm/css/xterm.css";

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
  // The instructor's API, for the workshop this board shows.
  const call = async (method: string, path: string, body?: unknown): Promise<Response> => {
    const url = new URL(path, location.origin);
    if (workshop) url.searchParams.set("workshop", workshop);
    const res = await fetch(url.pathname + url.search, {
      method,
      headers: {
        Authorization: `Bearer ${token}`,
        ...(body !== undefined ? { "Content-Type": "application/json" } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    if (!res.ok) {
      const err = (await res.json().catch(() => ({}))) as { error?: { message?: string } };
      throw new Error(err.error?.message ?? `the server answered ${res.status}`);
    }
    return res;
  };
  const api: InstructorApi = async <T>(method: string, path: string, body?: unknown) => {
    const res = await call(method, path, body);
    return (res.status === 204 ? undefined : await res.json()) as T;
  };
  const seat = new SeatPanel(socket, api);
  const view = new BoardView((id) => void seat.show(id, view.attendee(id)?.name ?? id));
  const status = h("span", { class: "conn" }, "connecting…");
  const pool = h("span", { class: "conn", id: "pool" });
  const title = h("div", { class: "brand" }, "Instructor board");
  const workshops = workshopsPanel(token, workshop, (id) => {
    sessionStorage.setItem(workshopKey, id);
    socket.close();
    board(root);
  });
  let paused = false;
  const pauseBtn = h(
    "button",
    {
      class: "btn",
      type: "button",
      id: "room-pause",
      onclick: () => {
        const next = !paused;
        const text = next
          ? window.prompt("Pause everyone's page: what should they see?", "Pause — look at the screen")
          : "";
        if (text === null) return;
        void api("POST", "/api/instructor/pause", { paused: next, ...(text ? { text } : {}) })
          .then(() => {
            paused = next;
            pauseBtn.textContent = paused ? "Resume room" : "Pause room";
          })
          .catch((e: Error) => toast(e.message, "error"));
      },
    },
    "Pause room",
  );
  const broadcastBtn = h(
    "button",
    {
      class: "btn",
      type: "button",
      id: "room-broadcast",
      onclick: () => {
        const text = window.prompt("A message for everyone's page");
        if (text?.trim())
          void api("POST", "/api/instructor/broadcast", { text })
            .then(() => toast("Sent to everyone"))
            .catch((e: Error) => toast(e.message, "error"));
      },
    },
    "Message everyone",
  );
  const layout = h("div", { class: "board-layout" }, view.el, seat.el);
  const resultsBtn = h(
    "button",
    {
      class: "btn",
      type: "button",
      id: "open-results",
      onclick: () =>
        void showResults(
          root,
          api,
          async (path) => (await call("GET", path)).text(),
          () => showBoard(),
        ),
    },
    "Results",
  );
  const header = h(
    "header",
    { class: "topbar" },
    title,
    pool,
    workshops,
    h("div", { class: "topbar-actions" }, broadcastBtn, pauseBtn, resultsBtn),
    status,
  );
  const notice = h("div", { class: "notice", role: "alert", hidden: "" });
  const showBoard = (): void => root.replaceChildren(notice, header, layout);
  showBoard();
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
