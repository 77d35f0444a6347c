import { describe, expect, it } from "vitest";
import { altShortcut, asksForShortcuts, typedLines } from "./keys.ts";

describe("typed guide actions", () => {
  it("clear what is half-typed before each command (Ctrl-E Ctrl-U), then press Enter", () => {
    expect(typedLines(["kubectl get pods -A"])).toBe("\x05\x15kubectl get pods -A\r");
    expect(typedLines(["cd ~/stage-2", "ls\n"])).toBe("\x05\x15cd ~/stage-2\r\x05\x15ls\r");
  });
  it("type a multi-line command (a heredoc) as lines, clearing only before its first", () => {
    expect(typedLines(["cat <<'EOF'\na: 1\nEOF\n"])).toBe("\x05\x15cat <<'EOF'\ra: 1\rEOF\r");
  });
});

describe("shortcuts", () => {
  const key = (code: string, mods: Partial<Record<"altKey" | "ctrlKey" | "metaKey", boolean>> = {}) => ({
    code,
    altKey: false,
    ctrlKey: false,
    metaKey: false,
    ...mods,
  });
  it("read the physical key, so macOS Option+1 (key '¡') is Alt+1", () => {
    expect(altShortcut({ ...key("Digit1", { altKey: true }) })).toBe("terminal");
    expect(altShortcut(key("Digit2", { altKey: true }))).toBe("flows");
    expect(altShortcut(key("NumpadEnter", { altKey: true }))).toBe("check");
    expect(altShortcut(key("ArrowRight", { altKey: true }))).toBe("next");
    expect(altShortcut(key("Digit1"))).toBeUndefined();
    expect(altShortcut(key("Digit1", { altKey: true, metaKey: true }))).toBeUndefined();
    expect(altShortcut(key("KeyB", { altKey: true }))).toBeUndefined();
  });
  it("open the list on ? only outside text fields and the terminal", () => {
    const q = { key: "?", ctrlKey: false, metaKey: false, altKey: false };
    const el = (tagName: string, inTerminal = false) => ({
      tagName,
      isContentEditable: false,
      closest: (sel: string) => (inTerminal && sel === ".xterm" ? {} : null),
    });
    expect(asksForShortcuts(q, el("BODY"))).toBe(true);
    expect(asksForShortcuts(q, null)).toBe(true);
    expect(asksForShortcuts(q, el("INPUT"))).toBe(false);
    expect(asksForShortcuts(q, el("TEXTAREA", true))).toBe(false);
    expect(asksForShortcuts(q, el("DIV", true))).toBe(false);
    expect(asksForShortcuts({ ...q, key: "/" }, el("BODY"))).toBe(false);
  });
});
