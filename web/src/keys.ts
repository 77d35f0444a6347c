/**
 * The page's keyboard: what the terminal types for a guide action, and the Alt shortcuts. Shortcuts are matched on
 * `KeyboardEvent.code` (the physical key), because on macOS Option+1 produces `key` "¡" and Option+Enter may not be
 * "Enter" in every layout.
 */

/** Ctrl-E then Ctrl-U: to the end of the line, then erase it (bash's readline, and the pod shell's line editor). */
export const CLEAR_LINE = "\x05\x15";

/** What the terminal sends for `commands` typed in turn: each on a cleared line, each ended by Enter. */
export function typedLines(commands: readonly string[]): string {
  return commands.map((c) => CLEAR_LINE + c.replace(/\r?\n$/, "").replace(/\r?\n/g, "\r") + "\r").join("");
}

export type ShortcutAction = "terminal" | "flows" | "check" | "previous" | "next";

/** The Alt shortcuts, in the order the `?` list shows them. */
export const altShortcuts: readonly {
  codes: readonly string[];
  keys: string;
  action: ShortcutAction;
  what: string;
}[] = [
  { codes: ["Digit1", "Numpad1"], keys: "Alt+1", action: "terminal", what: "Show the terminal" },
  { codes: ["Digit2", "Numpad2"], keys: "Alt+2", action: "flows", what: "Show the flows and the egress map" },
  { codes: ["Enter", "NumpadEnter"], keys: "Alt+Enter", action: "check", what: "Check this stage" },
  { codes: ["ArrowLeft"], keys: "Alt+←", action: "previous", what: "Previous stage" },
  { codes: ["ArrowRight"], keys: "Alt+→", action: "next", what: "Next stage" },
];

/** Other keys the page understands, for the `?` list. */
export const otherShortcuts: readonly { keys: string; what: string }[] = [
  { keys: "?", what: "Show this list (outside the terminal and text fields)" },
  { keys: "Esc", what: "Close this list" },
  { keys: "Ctrl+Shift+C", what: "Copy the terminal's selection" },
  { keys: "Ctrl+V", what: "Paste into the terminal" },
];

/** The page action an Alt (Option) key press stands for, if any: Alt alone, without Ctrl or Meta (Cmd). */
export function altShortcut(
  e: Pick<KeyboardEvent, "altKey" | "ctrlKey" | "metaKey" | "code">,
): ShortcutAction | undefined {
  if (!e.altKey || e.ctrlKey || e.metaKey) return undefined;
  return altShortcuts.find((s) => s.codes.includes(e.code))?.action;
}

/** True when a `?` typed at `target` asks for the shortcut list: not while typing in a field or the terminal. */
export function asksForShortcuts(
  e: Pick<KeyboardEvent, "key" | "ctrlKey" | "metaKey" | "altKey">,
  target: { tagName?: string; isContentEditable?: boolean; closest?: (sel: string) => unknown } | null,
): boolean {
  if (e.key !== "?" || e.ctrlKey || e.metaKey || e.altKey) return false;
  if (!target) return true;
  const tag = (target.tagName ?? "").toUpperCase();
  if (tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || target.isContentEditable) return false;
  return !target.closest?.(".xterm");
}
