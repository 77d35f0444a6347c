/**
 * The terminal pane: xterm.js fitted to its pane, wired to the learner's shell over the socket. It remembers the
 * offset of the last output written, so after a dropped connection it asks only for what it missed, and it
 * acknowledges what it has written so the server can pause a flood.
 */
import { Terminal } from "@xterm/xterm";
import { FitAddon } from "@xterm/addon-fit";
import type { LabSocket } from "./socket.ts";
import { copyText, h, toast } from "./dom.ts";
import { altShortcut, typedLines } from "./keys.ts";

const ackEvery = 16 * 1024;

export class TerminalPane {
  readonly term: Terminal;
  private readonly fit = new FitAddon();
  private end: number | undefined;
  private written = 0;
  private acked = 0;
  private ackTimer: number | undefined;
  private overlay: HTMLElement | undefined;
  private attached = false;

  constructor(
    private readonly host: HTMLElement,
    private readonly socket: LabSocket,
  ) {
    this.term = new Terminal({
      cursorBlink: true,
      fontFamily: '"DejaVu Sans Mono", "Cascadia Mono", Menlo, Consolas, monospace',
      fontSize: 14,
      lineHeight: 1.15,
      scrollback: 5000,
      allowProposedApi: false,
      theme: {
        background: "#0f1720",
        foreground: "#d8e1ea",
        cursor: "#7dd3fc",
        selectionBackground: "#334155",
      },
    });
    this.term.loadAddon(this.fit);
    this.term.open(host);
    this.term.attachCustomKeyEventHandler((e) => this.keys(e));
    this.term.onData((data) => {
      if (this.attached) socket.emit("term:input", { data });
    });
    this.term.onResize(({ cols, rows }) => {
      if (this.attached) socket.emit("term:resize", { cols, rows });
    });
    new ResizeObserver(() => this.refit()).observe(host);
    this.refit();

    socket.on("connect", () => this.attach());
    socket.on("disconnect", () => {
      this.attached = false;
      this.showOverlay("Connection lost — reconnecting…", undefined);
    });
    socket.on("term:output", (out) => {
      const target = out.end;
      this.term.write(out.data, () => {
        this.written = Math.max(this.written, target);
        this.scheduleAck();
      });
      this.end = target;
      if (out.replay) this.hideOverlay();
    });
    socket.on("term:reset", () => {
      this.term.reset();
      this.written = 0;
      this.acked = 0;
    });
    socket.on("term:replaced", () => {
      this.attached = false;
      this.showOverlay("This terminal is open in another tab.", {
        label: "Use it here",
        run: () => this.attach(),
      });
    });
    socket.on("term:exit", ({ code }) => {
      this.attached = false;
      this.end = undefined;
      this.showOverlay(`The shell ended (exit code ${code}).`, {
        label: "Start a new shell",
        run: () => this.attach(),
      });
    });
    if (socket.connected) this.attach();
  }

  private attach(): void {
    this.refit();
    this.hideOverlay();
    this.attached = true;
    this.socket.emit("term:attach", {
      cols: this.term.cols,
      rows: this.term.rows,
      ...(this.end !== undefined ? { since: this.end } : {}),
    });
  }

  private scheduleAck(): void {
    if (this.written - this.acked >= ackEvery) return this.sendAck();
    if (this.ackTimer === undefined) this.ackTimer = window.setTimeout(() => this.sendAck(), 50);
  }

  private sendAck(): void {
    if (this.ackTimer !== undefined) window.clearTimeout(this.ackTimer);
    this.ackTimer = undefined;
    if (this.written > this.acked && this.attached) {
      this.acked = this.written;
      this.socket.emit("term:ack", { end: this.written });
    }
  }

  /** Ctrl+Shift+C copies the selection; Ctrl+Shift+V (and Ctrl+V) leave pasting to the browser. */
  private keys(e: KeyboardEvent): boolean {
    if (e.type !== "keydown") return true;
    const k = e.key.toLowerCase();
    if (e.ctrlKey && e.shiftKey && k === "c") {
      const sel = this.term.getSelection();
      if (sel)
        void copyText(sel).then((ok) =>
          toast(ok ? "Copied" : "The browser did not allow copying", ok ? "info" : "error"),
        );
      e.preventDefault();
      return false;
    }
    if (e.ctrlKey && k === "v") return false;
    // The page's Alt shortcuts (by physical key, see keys.ts) are the page's, not the shell's.
    if (altShortcut(e)) return false;
    return true;
  }

  refit(): void {
    if (this.host.clientWidth > 0 && this.host.clientHeight > 0) {
      try {
        this.fit.fit();
      } catch {
        /* not visible yet */
      }
    }
  }

  /**
   * Types `text` into the shell as if the learner had, then presses Enter. Whatever is half-typed at the prompt is
   * cleared first, never run with it: Ctrl-E moves to the end of the line, Ctrl-U erases it (readline in bash, and the
   * pod shell's line editor). `before` lines (such as a `cd`) are typed first, each on its own line.
   */
  run(text: string, before: readonly string[] = []): void {
    this.socket.emit("term:input", { data: typedLines([...before, text]) });
    this.focus();
  }

  focus(): void {
    this.term.focus();
  }

  private showOverlay(message: string, action: { label: string; run: () => void } | undefined): void {
    this.hideOverlay();
    this.overlay = h(
      "div",
      { class: "term-overlay", role: "alert" },
      h("p", {}, message),
      action ? h("button", { class: "btn btn-primary", onclick: () => action.run() }, action.label) : null,
    );
    this.host.parentElement?.append(this.overlay);
  }

  private hideOverlay(): void {
    this.overlay?.remove();
    this.overlay = undefined;
  }
}
